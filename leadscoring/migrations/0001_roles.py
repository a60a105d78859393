"""Create the role groups (see leadscoring/roles.py) on every fresh database."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def roles_create(apps, schema_editor):
    # Permissions are normally created by post_migrate, i.e. after ALL migrations: create
    # them now so the groups can hold them. Historical app configs have no models module,
    # which create_permissions takes for "nothing to do"; setting it lets it run.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    from leadscoring.roles import roles_sync

    # Not strict: ROLE_PERMISSIONS may already name permissions of later migrations;
    # `manage.py setup_roles` (run after migrate) grants those and catches typos.
    roles_sync(apps=apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("matrix", "0001_initial"),
        ("leads", "0001_initial"),
    ]

    operations = [migrations.RunPython(roles_create, migrations.RunPython.noop)]
