from django.core.management.base import BaseCommand, CommandError

from leadscoring.roles import UnknownPermission, roles_sync


class Command(BaseCommand):
    """Give every role group exactly its permissions (run after migrations add permissions)."""

    help = "Create or update the role groups from leadscoring.roles.ROLE_PERMISSIONS."

    def handle(self, *args, **options):
        try:
            groups = roles_sync()
        except UnknownPermission as exc:
            raise CommandError(f"unknown permissions in ROLE_PERMISSIONS: {exc}") from None
        for name, group in groups.items():
            self.stdout.write(f"{name}: {group.permissions.count()} permissions")
