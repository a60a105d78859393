"""Roles are groups holding exactly the permissions of leadscoring.roles.ROLE_PERMISSIONS."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.core.management import call_command

from leadscoring import roles
from leadscoring.roles import (
    ADMIN,
    DEMO_PASSWORD,
    DEMO_USERS,
    MARKETING_EDITOR,
    ROLE_PERMISSIONS,
    SALES_EDITOR,
    SALES_MANAGER,
    SALES_REP,
    UnknownPermission,
    roles_sync,
    user_roles,
)


def codes(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_migration_created_the_role_groups(db):
    # Given a freshly migrated database (no roles_sync called yet), then every role is there.
    groups = {g.name: g for g in Group.objects.all()}
    assert set(groups) == set(ROLE_PERMISSIONS)
    assert "matrix.edit_draft" in codes(groups[MARKETING_EDITOR])


@pytest.mark.parametrize("role", [MARKETING_EDITOR, SALES_EDITOR, SALES_REP, SALES_MANAGER])
def test_each_group_has_exactly_its_permissions(db, role):
    groups = roles_sync()
    assert codes(groups[role]) == set(ROLE_PERMISSIONS[role])


def test_admin_group_has_every_permission(db):
    groups = roles_sync()
    assert groups[ADMIN].permissions.count() == Permission.objects.count()


def test_editors_edit_drafts_and_reps_do_not(marketer, saleslead, rep, manager):
    assert marketer.has_perm("matrix.edit_draft")
    assert saleslead.has_perm("matrix.edit_draft")
    assert saleslead.has_perm("matrix.publish_version")
    assert not rep.has_perm("matrix.edit_draft")
    assert not rep.has_perm("matrix.approve_version")
    assert not manager.has_perm("matrix.edit_draft")


def test_reps_and_managers_act_on_leads_but_only_managers_see_all_reports(marketer, rep, manager):
    assert rep.has_perm("leads.act_on_leads")
    assert manager.has_perm("leads.act_on_leads")
    assert not marketer.has_perm("leads.act_on_leads")
    assert manager.has_perm("leads.view_all_reports")
    assert not rep.has_perm("leads.view_all_reports")


def test_every_role_reads_but_only_admin_writes_raw_data(personas):
    for user in personas.values():
        assert user.has_perm("leads.view_lead")
        assert user.has_perm("scoring.view_score")
        assert user.has_perm("leads.change_lead") == (user.username == "admin")
        assert user.has_perm("leads.delete_event") == (user.username == "admin")


def test_only_the_admin_persona_is_staff(personas):
    assert {u.username for u in personas.values() if u.is_staff} == {"admin"}
    assert {u.username for u in personas.values() if u.is_superuser} == {"admin"}


def test_roles_sync_is_idempotent(db):
    first = {name: (g.pk, codes(g)) for name, g in roles_sync().items()}
    second = {name: (g.pk, codes(g)) for name, g in roles_sync().items()}
    assert first == second
    assert Group.objects.count() == len(ROLE_PERMISSIONS)


def test_roles_sync_takes_back_a_permission_granted_by_hand(db):
    groups = roles_sync()
    groups[SALES_REP].permissions.add(Permission.objects.get(codename="edit_draft"))
    assert codes(roles_sync()[SALES_REP]) == set(ROLE_PERMISSIONS[SALES_REP])


def test_unknown_permission_is_an_error_unless_lenient(db, monkeypatch):
    monkeypatch.setitem(roles.ROLE_PERMISSIONS, SALES_REP, ["leads.view_lead", "leads.fly_to_moon"])
    with pytest.raises(UnknownPermission, match="leads.fly_to_moon"):
        roles_sync()
    # The migration is lenient: permissions of later migrations do not exist yet there.
    assert codes(roles_sync(strict=False)[SALES_REP]) == {"leads.view_lead"}


def test_user_roles(personas):
    assert user_roles(personas["rep"]) == {SALES_REP}
    assert user_roles(personas["admin"]) == {ADMIN}
    assert user_roles(AnonymousUser()) == set()


def test_setup_roles_command_lists_the_groups(db, capsys):
    call_command("setup_roles")
    out = capsys.readouterr().out
    for role in ROLE_PERMISSIONS:
        assert f"{role}:" in out


def test_demo_users_command_prints_working_logins(db, capsys, client):
    call_command("demo_users")
    out = capsys.readouterr().out
    for username, group, _first, _last in DEMO_USERS:
        assert username in out and group in out
    # Through the login page: authentication is throttled per request (Client.login has none).
    response = client.post("/accounts/login/", {"username": "rep2", "password": DEMO_PASSWORD})
    assert response.status_code == 302 and "_auth_user_id" in client.session
