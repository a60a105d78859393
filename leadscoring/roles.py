"""Roles as Django groups with permissions, and the demo users that hold them.

`roles_sync()` is idempotent: the migration leadscoring/0001 runs it, `manage.py setup_roles`
runs it again after new permissions appear.
"""

from functools import reduce
from operator import or_

from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

MARKETING_EDITOR = "marketing editor"
SALES_EDITOR = "sales editor"
SALES_REP = "sales rep"
SALES_MANAGER = "sales manager"
ADMIN = "admin"

READ = [
    "matrix.view_scoringmodel",
    "matrix.view_modelversion",
    "matrix.view_approval",
    "matrix.view_auditentry",
    "leads.view_lead",
    "leads.view_event",
    "scoring.view_score",
    "scoring.view_scorehistory",
    "scoring.view_leadstage",
    "scoring.view_stagetransition",
    "scoring.view_rescorejob",
]
EDITOR = READ + ["matrix.edit_draft", "matrix.approve_version", "matrix.publish_version", "matrix.add_modelversion"]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING_EDITOR: EDITOR,
    SALES_EDITOR: EDITOR,
    SALES_REP: READ + ["leads.act_on_leads"],
    SALES_MANAGER: READ + ["leads.act_on_leads", "leads.view_all_reports"],
    ADMIN: [],  # every permission, filled in by roles_sync
}
# Which approval a member of an editor group gives (spec of the sign-off: one of each).
APPROVAL_ROLE_OF_GROUP = {MARKETING_EDITOR: "marketing", SALES_EDITOR: "sales"}

# username, group, first name, last name; all share DEMO_PASSWORD; the README lists these logins.
DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    ("marketer", MARKETING_EDITOR, "Maya", "Marketer"),
    ("saleslead", SALES_EDITOR, "Sam", "Saleslead"),
    ("rep", SALES_REP, "Riley", "Rep"),
    ("rep2", SALES_REP, "Robin", "Rep"),
    ("rep3", SALES_REP, "Reese", "Rep"),
    ("manager", SALES_MANAGER, "Morgan", "Manager"),
    ("admin", ADMIN, "Ada", "Admin"),
]


class UnknownPermission(LookupError):
    """ROLE_PERMISSIONS names a permission that does not exist (a typo, or its migration has not run)."""


def _permissions(Permission, codes: list[str], strict: bool) -> list:
    if not codes:
        return []
    pairs = {tuple(code.split(".")) for code in codes}
    query = reduce(or_, (Q(content_type__app_label=app, codename=name) for app, name in pairs))
    perms = list(Permission.objects.filter(query).select_related("content_type"))
    missing = pairs - {(p.content_type.app_label, p.codename) for p in perms}
    if missing and strict:
        raise UnknownPermission(", ".join(sorted(f"{app}.{name}" for app, name in missing)))
    return perms


@transaction.atomic
def roles_sync(apps=global_apps, strict: bool = True) -> dict:
    """Make each role's group hold exactly its permissions; returns the groups by name.

    `apps` is the app registry to take Group and Permission from: the migration passes its
    historical one, so this stays the only code that turns ROLE_PERMISSIONS into groups.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    groups = {}
    for name, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = list(Permission.objects.all()) if name == ADMIN else _permissions(Permission, codes, strict)
        group.permissions.set(perms)
        groups[name] = group
    return groups


@transaction.atomic
def demo_users_ensure() -> dict:
    """Create (or reset) the demo logins; returns users by username."""
    groups = roles_sync()
    users = {}
    User = get_user_model()
    for username, group, first, last in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.first_name, user.last_name = first, last
        user.email = f"{username}@demo.example"
        user.is_staff = group == ADMIN
        user.is_superuser = group == ADMIN
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.set([groups[group]])
        users[username] = user
    return users


def user_roles(user) -> set[str]:
    """The role names of a user (one query); a superuser is an admin whatever their groups."""
    if not user.is_authenticated:
        return set()
    names = {g.name for g in user.groups.all()}
    if user.is_superuser:
        names.add(ADMIN)
    return names
