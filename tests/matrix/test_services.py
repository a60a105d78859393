"""The sign-off flow: approvals per role and revision, publish with approvals enforced, the
workspace setting that relaxes it, restoring an old version as a draft, and readable diffs."""

import copy

import pytest
from django.core.exceptions import PermissionDenied

from matrix.choices import VersionStatus
from matrix.models import Approval, AuditEntry, ModelVersion, WorkspaceSettings
from matrix.selectors import approvals_status, spec_max_score, version_spec, versions_diff, workspace_settings
from matrix.services import (
    DraftError,
    PublishError,
    StaleRevision,
    model_draft_update,
    model_import,
    model_version_approve,
    model_version_restore,
)
from scoring.jobs import model_draft_publish, model_version_publish
from scoring.models import RescoreJob
from tests.matrix.helpers import cond, doc, eng, fit, segment, step

pytestmark = pytest.mark.django_db


def base_doc() -> dict:
    return doc(
        slug="nb",
        criteria=[
            fit("vp", cond("title", "contains", "vp"), 20),
            eng("blog-visit", "page_view", 5, cap=3, window=30),
            eng("unsubscribe", "unsubscribe", -30),
        ],
        decay=[step("inactivity", 30, -5)],
        segments=[
            segment("enterprise", cond("employees", "gte", 1000), warm=30, hot=60, mql=70),
            segment("default", None),
        ],
    )


@pytest.fixture
def draft():
    return model_import(data=base_doc())


def test_each_editor_approves_the_current_revision_in_their_role(draft, marketer, saleslead):
    approval = model_version_approve(version=draft, user=marketer, revision=1)
    assert (approval.role, approval.revision, approval.user) == ("marketing", 1, marketer)
    status = approvals_status(version=draft)
    assert status["missing"] == ["sales"] and not status["ready"]
    model_version_approve(version=draft, user=saleslead, revision=1)
    status = approvals_status(version=draft)
    assert status["missing"] == [] and status["ready"] and status["approvals"]["sales"].user == saleslead
    # Approving again is harmless: the same approval, nothing new recorded.
    assert model_version_approve(version=draft, user=marketer, revision=1) == approval
    assert Approval.objects.count() == 2
    assert list(AuditEntry.objects.filter(action="approved").values_list("detail", flat=True)) == [
        {"number": 1, "revision": 1, "role": "sales"},
        {"number": 1, "revision": 1, "role": "marketing"},
    ]


def test_a_stale_revision_or_a_non_draft_is_refused(draft, marketer):
    with pytest.raises(StaleRevision):
        model_version_approve(version=draft, user=marketer, revision=2)
    model_version_publish(version=draft)
    with pytest.raises(DraftError, match="only a draft can be approved"):
        model_version_approve(version=draft, user=marketer, revision=1)
    assert not Approval.objects.exists()


def test_reps_and_managers_cannot_approve(draft, rep, manager):
    for user in (rep, manager):
        with pytest.raises(PermissionDenied):
            model_version_approve(version=draft, user=user, revision=1)
    assert not Approval.objects.exists()


def test_an_admin_gives_the_first_missing_role_per_call(draft, admin_user, saleslead):
    model_version_approve(version=draft, user=saleslead, revision=1)
    assert model_version_approve(version=draft, user=admin_user, revision=1).role == "marketing"
    assert approvals_status(version=draft)["ready"]


def test_an_edit_bumps_the_revision_so_earlier_approvals_no_longer_count(draft, marketer, saleslead):
    model_version_approve(version=draft, user=marketer, revision=1)
    model_version_approve(version=draft, user=saleslead, revision=1)
    edited = base_doc()
    edited["criteria"][0]["points"] = 25
    draft = model_draft_update(version=draft, data=edited, user=marketer, revision=1)
    status = approvals_status(version=draft)
    assert status["revision"] == 2 and status["missing"] == ["marketing", "sales"] and not status["ready"]
    with pytest.raises(PublishError, match="needs the approval of: marketing, sales"):
        model_version_publish(version=draft, user=marketer, enforce_approvals=True)


def test_publish_enforced_names_the_missing_approval_then_starts_the_job(draft, marketer, saleslead):
    model_version_approve(version=draft, user=marketer, revision=1)
    with pytest.raises(PublishError) as exc:
        model_version_publish(version=draft, user=marketer, enforce_approvals=True)
    assert str(exc.value) == "version 1 revision 1 still needs the approval of: sales"
    model_version_approve(version=draft, user=saleslead, revision=1)
    published = model_version_publish(version=draft, user=saleslead, enforce_approvals=True)
    assert published.status == VersionStatus.PUBLISHED
    assert RescoreJob.objects.get().version == published


def test_publish_without_enforcement_still_works_for_commands_and_seeds(draft):
    assert model_version_publish(version=draft).status == VersionStatus.PUBLISHED


def test_the_pages_publish_checks_the_revision_seen(draft, marketer, saleslead):
    model_version_approve(version=draft, user=marketer, revision=1)
    model_version_approve(version=draft, user=saleslead, revision=1)
    with pytest.raises(StaleRevision):
        model_draft_publish(version=draft, user=marketer, revision=0)
    assert model_draft_publish(version=draft, user=marketer, revision=1).status == VersionStatus.PUBLISHED


def test_the_relaxed_setting_lets_an_editor_publish_alone(draft, marketer):
    settings = workspace_settings()
    settings.require_marketing_and_sales_approval = False
    settings.save()
    assert approvals_status(version=draft)["ready"]
    assert model_version_publish(version=draft, user=marketer, enforce_approvals=True).published_by == marketer
    assert WorkspaceSettings.objects.get().pk == 1


def test_restore_copies_an_old_document_into_a_new_draft(draft, marketer):
    v1 = model_version_publish(version=draft)
    changed = base_doc()
    changed["criteria"][0]["points"] = 40
    v2 = model_version_publish(version=model_import(data=changed))
    restored = model_version_restore(version=v1, user=marketer)
    assert (restored.number, restored.status, restored.based_on, restored.revision) == (3, "draft", v1, 1)
    assert restored.document == v1.document and restored.created_by == marketer
    assert restored.note == "Restored from version 1"
    v2.refresh_from_db()
    assert v2.status == VersionStatus.PUBLISHED  # a restore is a draft: nothing goes live by itself
    entry = AuditEntry.objects.first()
    assert (entry.action, entry.actor, entry.version, entry.detail) == (
        "restored",
        marketer,
        restored,
        {"number": 3, "from_number": 1},
    )


def test_diff_lines_read_like_the_whiteboard(draft):
    new = copy.deepcopy(base_doc())
    new["criteria"][1]["points"] = 10
    new["criteria"][0]["when"] = cond("title", "in", ["VP", "CTO"])
    new["criteria"].append(eng("pricing-visit", "page_view", 15, where=cond("url", "contains", "/pricing"), cap=1))
    del new["criteria"][2]
    new["decay"][0]["every_days"] = 45
    new["segments"][0]["thresholds"]["mql"] = 80
    new["grades"]["fit"]["A"] = 45
    new["lookback_days"] = 90
    v2 = model_import(data=new)
    assert versions_diff(old=draft, new=v2) == [
        "model lookback_days none → 90",
        "criterion vp when title contains vp → title is one of VP, CTO",
        "criterion blog-visit points 5 → 10",
        "criterion pricing-visit added",
        "criterion unsubscribe removed",
        "decay inactivity every_days 30 → 45",
        "segment enterprise threshold mql 70 → 80",
        "grade fit A 40 → 45",
    ]
    assert versions_diff(old=draft, new=draft) == []


def test_maximum_score_counts_capped_engagement_and_says_when_unbounded(draft):
    spec = version_spec(version=draft)
    assert (spec_max_score(spec).fit, spec_max_score(spec).total) == (20, 35)
    unbounded = base_doc()
    unbounded["criteria"][1]["cap"] = None
    assert spec_max_score(version_spec(version=ModelVersion(document=unbounded))).total is None
