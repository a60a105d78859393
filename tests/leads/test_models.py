"""Constraints of the lead tables: what the database itself refuses."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from leads.models import Event, Lead
from matrix.services import model_import
from scoring.jobs import model_version_publish
from scoring.models import LeadStage, Score
from tests.matrix.helpers import doc as model_doc

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def lead(db):
    return Lead.objects.create(external_id="L-1", created_at=NOW)


def test_lead_external_ids_are_unique(lead):
    with pytest.raises(IntegrityError), transaction.atomic():
        Lead.objects.create(external_id="L-1", created_at=NOW)


def test_an_event_id_is_stored_once_per_lead_but_may_repeat_across_leads(lead):
    Event.objects.create(lead=lead, external_id="E-1", kind="page_view", occurred_at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(lead=lead, external_id="E-1", kind="email_open", occurred_at=NOW)
    other = Lead.objects.create(external_id="L-2", created_at=NOW)
    Event.objects.create(lead=other, external_id="E-1", kind="page_view", occurred_at=NOW)
    # Events without an id are each distinct.
    Event.objects.create(lead=lead, kind="page_view", occurred_at=NOW)
    Event.objects.create(lead=lead, kind="page_view", occurred_at=NOW)
    assert Event.objects.filter(lead=lead).count() == 3


def test_one_score_and_one_stage_per_lead_and_model(lead):
    version = model_version_publish(version=model_import(data=model_doc()))
    values = dict(
        lead=lead, scoring_model=version.scoring_model, version=version, version_number=version.number, as_of=NOW,
        score=1, fit=1, engagement=0, segment="all", tier="cold", grade="D1", mql=False, computed_at=NOW,
    )  # fmt: skip
    Score.objects.create(**values)
    with pytest.raises(IntegrityError), transaction.atomic():
        Score.objects.create(**values)
    LeadStage.objects.create(lead=lead, scoring_model=version.scoring_model, changed_at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadStage.objects.create(lead=lead, scoring_model=version.scoring_model, changed_at=NOW)
