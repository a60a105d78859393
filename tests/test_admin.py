"""The Django admin: every model is there, records of what happened are read-only, big tables stay cheap."""

from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from imports.models import ImportUpload
from leads.models import Event, Lead
from leadscoring.models import IdempotencyRecord
from matrix.choices import VersionStatus
from matrix.models import Approval, AuditEntry, ModelVersion, Scenario, ScoringModel
from scoring import models as scoring

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
# Every model of the project's own apps (Django's and the libraries' have admins of their own).
APPS = ("leadscoring", "matrix", "leads", "scoring", "imports")
MODELS = [m for label in APPS for m in apps.get_app_config(label).get_models()]
READ_ONLY = [
    scoring.Score, scoring.ScoreBreakdown, scoring.ScoreHistory, Event, scoring.StageTransition, AuditEntry,
    scoring.WebhookDelivery, IdempotencyRecord, scoring.PendingScore, scoring.ImpactPreview,
]  # fmt: skip


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def rows(admin_user):
    """One row of every model, so changelists render real rows (and their __str__ and joins)."""
    sm = ScoringModel.objects.create(slug="nb", name="New business")
    live = ModelVersion.objects.create(scoring_model=sm, number=1, status=VersionStatus.PUBLISHED, document={})
    draft = ModelVersion.objects.create(scoring_model=sm, number=2, document={"name": "x"}, note="first")
    Approval.objects.create(version=draft, role="marketing", revision=1, user=admin_user)
    AuditEntry.objects.create(scoring_model=sm, version=live, actor=admin_user, action="published")
    lead = Lead.objects.create(external_id="L1", email="a@example.com", owner=admin_user, created_at=T0)
    Event.objects.create(lead=lead, external_id="E1", kind="web_visit", occurred_at=T0)
    points = {"score": 50, "fit": 30, "engagement": 20, "tier": "warm", "mql": False}
    score = scoring.Score.objects.create(
        lead=lead, scoring_model=sm, version=live, version_number=1, as_of=T0, segment="", grade="B", computed_at=T0,
        **points,
    )  # fmt: skip
    scoring.ScoreBreakdown.objects.create(score=score, lines=[{"type": "criterion", "key": "vp", "points": 50.0}])
    scoring.ScoreHistory.objects.create(
        lead=lead, scoring_model=sm, version_number=1, as_of=T0, recorded_at=T0, **points
    )
    scoring.LeadStage.objects.create(lead=lead, scoring_model=sm, changed_at=T0)
    scoring.StageTransition.objects.create(
        lead=lead, scoring_model=sm, from_stage="lead", to_stage="mql", occurred_at=T0
    )
    job = scoring.RescoreJob.objects.create(scoring_model=sm, version=live, trigger="manual")
    scoring.RescoreChunk.objects.create(job=job, index=0, first_lead_id=lead.pk, last_lead_id=lead.pk, leads=1)
    scoring.Notification.objects.create(user=admin_user, lead=lead, scoring_model=sm, kind="became_hot", message="hot")
    # The API side (docs/api.md): webhooks, CSV uploads, idempotency keys.
    endpoint = scoring.WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example/hook", secret="s", event_types=["accepted"]
    )
    scoring.WebhookDelivery.objects.create(endpoint=endpoint, event_type="accepted", body="{}")
    ImportUpload.objects.create(
        kind="leads", original_name="a.csv", stored_name="x.csv", size=10, created_by=admin_user
    )
    IdempotencyRecord.objects.create(user=admin_user, key="k", method="POST", path="/", request_hash="h", created_at=T0)
    scoring.SavedFilter.objects.create(user=admin_user, name="My hot leads", querystring="owner=me&tier=hot")
    scoring.PendingScore.objects.create(lead=lead, queued_at=T0)
    # The workshop (scenario simulator, impact preview).
    Scenario.objects.create(
        scoring_model=sm, name="VP at a software company", lead={"title": "VP Sales"},
        events=[{"kind": "demo_request", "days_ago": 1, "properties": {}}], created_by=admin_user,
    )  # fmt: skip
    scoring.ImpactPreview.objects.create(version=draft, revision=1, live_version=live, as_of=T0, created_by=admin_user)
    return {"live": live, "draft": draft, "lead": lead}


def test_every_model_is_in_the_admin():
    assert [m for m in MODELS if not admin.site.is_registered(m)] == []


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_and_change_page_render(admin_client, rows, model):
    assert admin_client.get(url(model, "changelist")).status_code == 200
    obj = model.objects.first()
    assert admin_client.get(url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_records_are_read_only(admin_client, rows, model):
    obj = model.objects.first()
    changelist = admin_client.get(url(model, "changelist")).content.decode()
    assert url(model, "add") not in changelist
    change = admin_client.get(url(model, "change", obj.pk)).content.decode()
    assert 'name="_save"' not in change
    assert admin_client.get(url(model, "add")).status_code == 403
    assert admin_client.post(url(model, "change", obj.pk), {}).status_code == 403
    assert admin_client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_published_version_cannot_be_edited(admin_client, rows):
    live = rows["live"]
    assert 'name="_save"' not in admin_client.get(url(ModelVersion, "change", live.pk)).content.decode()
    assert admin_client.post(url(ModelVersion, "change", live.pk), {"note": "changed"}).status_code == 403
    assert admin_client.post(url(ModelVersion, "delete", live.pk), {"post": "yes"}).status_code == 403
    live.refresh_from_db()
    assert (live.note, live.status) == ("", VersionStatus.PUBLISHED)


def test_draft_note_is_editable_but_not_its_document_or_status(admin_client, rows):
    draft = rows["draft"]
    response = admin_client.post(
        url(ModelVersion, "change", draft.pk), {"note": "second", "status": "published", "document": "{}"}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.note, draft.status, draft.document) == ("second", VersionStatus.DRAFT, {"name": "x"})


def test_lead_changelist_queries_do_not_grow_with_rows(admin_client, rows, admin_user, django_assert_max_num_queries):
    Lead.objects.bulk_create(
        Lead(external_id=f"L{i:03}", owner=admin_user, created_at=T0) for i in range(2, 60)
    )  # fmt: skip
    with django_assert_max_num_queries(8):
        assert admin_client.get(url(Lead, "changelist")).status_code == 200


def test_staff_only(client, rep):
    client.force_login(rep)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_breakdown_lines_show_as_the_spec_writes_them(admin_client, rows):
    # The stored text is the short form (engine/lines.py); the admin shows the spec's lines.
    breakdown = scoring.ScoreBreakdown.objects.get()
    breakdown.lines = [{"type": "decay", "key": "idle", "points": -10.0}]
    breakdown.save()
    page = admin_client.get(url(scoring.ScoreBreakdown, "change", breakdown.pk)).content.decode()
    assert "&quot;type&quot;: &quot;decay&quot;" in page and "&quot;key&quot;: &quot;idle&quot;" in page
