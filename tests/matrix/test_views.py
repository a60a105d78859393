"""The matrix workspace pages (/matrix/): every role reads them, with pinned query counts; only
editors (and admins) approve, publish and restore; publishing redirects to the rescore job."""

import copy
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from matrix.choices import VersionStatus
from matrix.models import Approval, ModelVersion
from matrix.selectors import workspace_settings
from matrix.services import model_draft_update, model_import, model_version_approve
from scoring.models import RescoreJob
from tests.leads.workspace_data import SLUG, model_document, workspace_build

ROLES = ["marketer", "saleslead", "rep", "manager", "admin"]
READERS = ["rep", "manager"]


@pytest.fixture
def ws(db, personas):
    ws = workspace_build(rep=personas["rep"], rep2=personas["rep2"])
    edited = model_document()
    edited["criteria"][0]["points"] += 5
    ws.draft = model_import(data=edited, note="More for VPs")
    return ws


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def get(client, user, url, queries=None):
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    if queries is not None:
        assert len(captured) == queries, "\n".join(q["sql"] for q in captured.captured_queries)
    return response


# Per page: session, user, the user's groups (roles in the header) and unread notifications,
# then the page's own reads; the permission checks load the user's permissions once (2 queries,
# none for a superuser).
@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_models_list(client, personas, ws, role):
    response = get(client, personas[role], "/matrix/", queries=LIST_QUERIES[role])
    page = text(response)
    assert "New business" in page
    assert "v1" in page and "v2 (revision 1): needs marketing and sales approval" in page
    cells = dict(re.findall(r'data-tier="(\w+)">(\d+)<', response.content.decode()))
    assert cells == {"hot": "3", "warm": "1", "cold": "3"}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_matrix_page(client, personas, ws, role):
    response = get(client, personas[role], f"/matrix/{SLUG}/", queries=DETAIL_QUERIES[role])
    page = text(response)
    html = response.content.decode()
    assert "Fit: who the lead is" in page and "Engagement: what the lead did" in page and "Glossary" in page
    assert "Draft version 2, revision 1" in page
    assert dict(re.findall(r'data-grade="(\w+)">(\d+)<', html)) | {} == {
        **{f"{f}{d}": "0" for f in "ABCD" for d in "4321"},
        "A4": "2",
        "A2": "1",
        "B4": "1",
        "B1": "1",
        "D2": "1",
        "D1": "1",
    }
    editor = role in ("marketer", "saleslead", "admin")
    assert ("Approve revision 1" in page) is editor
    assert ("Publish and rescore every lead" in page) is editor


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_history(client, personas, ws, role):
    response = get(client, personas[role], f"/matrix/{SLUG}/history/?a=1&b=2", queries=HISTORY_QUERIES[role])
    page = text(response)
    assert "From v1 to v2" in page and "Imported as draft version 2" in page and "Published version 1" in page
    # Audit entries read as sentences, never as raw actions and keys
    assert "draft_imported" not in page and "from_number" not in page and "number 2" not in page
    assert ("Restore as new draft v3" in page) is (role not in READERS)


def test_the_history_does_not_offer_restoring_the_open_draft_and_says_what_a_restore_does(client, ws, marketer):
    """Given live v1 and the open draft v2, when an editor reads the history, then v2's row links to
    the draft editor instead of restoring v2 onto itself, v1's button says it makes a new draft v3,
    and the page says v3 becomes the open draft while v2 stays; restoring v1 says so too."""
    html = get(client, marketer, f"/matrix/{SLUG}/history/").content.decode()
    rows = dict(re.findall(r'<tr data-number="(\d+)">(.*?)</tr>', html, flags=re.S))

    assert "/restore/" not in rows["2"] and "Open draft: edit it" in rows["2"]
    assert "Restore as new draft v3" in rows["1"]
    assert "Draft v2 is the open draft. Restoring another version makes a new draft v3" in " ".join(html.split())

    response = client.post(f"/matrix/{SLUG}/versions/1/restore/", follow=True)
    page = text(response)
    assert "Version 1 restored as draft version 3, now the open draft." in page
    assert "Draft version 2 is kept in the history as it was; it is no longer the open draft." in page
    assert ModelVersion.objects.get(scoring_model__slug=SLUG, number=2).status == VersionStatus.DRAFT


# list: models, versions, approvals, tiers (GROUP BY), settings; detail: model, versions,
# approvals, settings, grades (GROUP BY); history: model, versions, approvals, audit.
LIST_QUERIES = {"marketer": 11, "saleslead": 11, "rep": 11, "manager": 11, "admin": 9}
DETAIL_QUERIES = LIST_QUERIES
HISTORY_QUERIES = {"marketer": 10, "saleslead": 10, "rep": 10, "manager": 10, "admin": 8}


def test_query_counts_do_not_grow_with_versions_models_and_approvals(client, personas, ws):
    other = model_document(slug="other", name="Other")
    model_import(data=other)
    for _ in range(3):
        model_import(data=copy.deepcopy(other))
        model_import(data=model_document())
    model_version_approve(version=ws.draft, user=personas["marketer"], revision=1)
    get(client, personas["rep"], "/matrix/", queries=LIST_QUERIES["rep"])
    get(client, personas["rep"], f"/matrix/{SLUG}/", queries=DETAIL_QUERIES["rep"])
    get(client, personas["rep"], f"/matrix/{SLUG}/history/?a=1&b=5", queries=HISTORY_QUERIES["rep"])
    # A model with drafts only shows its newest draft's matrix.
    assert "Version 4 (draft)" in text(get(client, personas["rep"], "/matrix/other/"))


def test_the_matrix_reads_like_the_whiteboard(client, personas, ws):
    page = text(get(client, personas["manager"], f"/matrix/{SLUG}/"))
    assert "Maximum possible score" in page
    assert "Glossary" in page and "Marketing-qualified lead" in page
    assert "not approved at this revision" in page
    assert "Publishing needs the marketing and sales approval of this revision" in page


# --- the buttons ------------------------------------------------------------------------------


def post(client, user, url, **data):
    client.force_login(user)
    return client.post(url, data)


@pytest.mark.parametrize("role", READERS)
def test_reps_and_managers_cannot_approve_publish_or_restore(client, personas, ws, role):
    base = f"/matrix/{SLUG}/versions/"
    for action, number in (("approve", 2), ("publish", 2), ("restore", 1)):
        response = post(client, personas[role], f"{base}{number}/{action}/", revision=1)
        assert response.status_code == 403, action
    assert not Approval.objects.exists()
    assert ModelVersion.objects.count() == 2 and RescoreJob.objects.count() == 1


def test_a_user_with_the_permission_but_no_editor_role_gets_the_403_page_with_the_reason(client, ws):
    # Given a user granted matrix.approve_version directly, in neither editor group
    user = User.objects.create_user("auditor")
    user.user_permissions.add(Permission.objects.get(codename="approve_version"))
    # When they approve on the page, then the answer is the 403 page saying why
    response = post(client, user, f"/matrix/{SLUG}/versions/2/approve/", revision=1)
    assert response.status_code == 403
    assert "auditor is neither a marketing nor a sales editor" in text(response)
    assert not Approval.objects.exists()


def test_editors_approve_then_publish_and_land_on_the_rescore_job(client, personas, ws):
    url = f"/matrix/{SLUG}/versions/2/"
    refused = post(client, personas["marketer"], url + "publish/", revision=1)
    assert refused.status_code == 302 and refused.url == f"/matrix/{SLUG}/"
    assert ModelVersion.objects.get(number=2).status == VersionStatus.DRAFT
    assert "still needs the approval of: marketing, sales" in text(client.get(refused.url))
    assert post(client, personas["marketer"], url + "approve/", revision=1).status_code == 302
    assert post(client, personas["saleslead"], url + "approve/", revision=1).status_code == 302
    assert sorted(Approval.objects.values_list("role", "user__username")) == [
        ("marketing", "marketer"),
        ("sales", "saleslead"),
    ]
    response = post(client, personas["saleslead"], url + "publish/", revision=1)
    job = RescoreJob.objects.get(version__number=2)
    assert response.status_code == 302 and response.url == f"/jobs/{job.pk}/"
    assert ModelVersion.objects.get(number=2).status == VersionStatus.PUBLISHED


def test_a_stale_approval_is_refused_with_a_message(client, personas, ws):
    model_draft_update(version=ws.draft, data=ws.draft.document, user=personas["saleslead"], revision=1)
    response = post(client, personas["marketer"], f"/matrix/{SLUG}/versions/2/approve/", revision=1)
    assert "is at revision 2, the approval was given on revision 1" in text(client.get(response.url))
    assert not Approval.objects.exists()


def test_the_relaxed_setting_lets_an_admin_publish_without_sign_off(client, personas, ws):
    settings = workspace_settings()
    settings.require_marketing_and_sales_approval = False
    settings.save()
    response = post(client, personas["admin"], f"/matrix/{SLUG}/versions/2/publish/", revision=1)
    assert response.url == f"/jobs/{RescoreJob.objects.get(version__number=2).pk}/"


def test_an_editor_restores_an_old_version_as_a_draft(client, personas, ws):
    response = post(client, personas["saleslead"], f"/matrix/{SLUG}/versions/1/restore/")
    assert response.url == f"/matrix/{SLUG}/history/"
    restored = ModelVersion.objects.get(number=3)
    assert (restored.status, restored.document, restored.based_on) == ("draft", ws.version.document, ws.version)
    assert "Version 1 restored as draft version 3" in text(client.get(response.url))


def test_get_is_not_allowed_on_the_buttons(client, personas, ws):
    client.force_login(personas["marketer"])
    assert client.get(f"/matrix/{SLUG}/versions/2/approve/").status_code == 405


def test_unknown_models_and_versions_are_404(client, personas, ws):
    client.force_login(personas["rep"])
    assert client.get("/matrix/nope/").status_code == 404
    assert client.get(f"/matrix/{SLUG}/?version=9").status_code == 404
    assert client.get(f"/matrix/{SLUG}/history/?a=1&b=9").status_code == 404


def test_the_models_list_counts_tiers_with_thousands_separators(client, personas, ws):
    """Given 1,000 more cold leads, the list reads 1,003 cold (never 1003), as every count does."""
    from decimal import Decimal

    from leads.models import Lead
    from scoring.models import Score

    leads = Lead.objects.bulk_create(
        Lead(external_id=f"BULK{i}", email=f"bulk{i}@example.com", created_at=ws.as_of) for i in range(1000)
    )
    Score.objects.bulk_create(
        Score(lead=lead, scoring_model_id=ws.version.scoring_model_id, version=ws.version,
              version_number=ws.version.number, as_of=ws.as_of, score=Decimal(1), fit=Decimal(0),
              engagement=Decimal(1), segment="default", tier="cold", grade="D1", mql=False, computed_at=ws.as_of)
        for lead in leads
    )  # fmt: skip
    html = get(client, personas["manager"], "/matrix/").content.decode()
    assert 'data-tier="cold">1,003<' in html


def test_decay_rules_read_with_a_real_minus_on_the_model_page(client, personas, ws):
    page = text(get(client, personas["marketer"], f"/matrix/{SLUG}/"))
    assert "Inactivity : −10 points for every 30 days" in page and "-10 points" not in page
