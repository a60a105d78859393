"""scoring.ingest: whatever an input stores, the leads it touched wait for real-time scoring."""

import pytest

from leads.models import Lead
from scoring.ingest import events_ingest_and_score, lead_upsert_and_score, leads_import_and_score
from scoring.models import PendingScore

pytestmark = pytest.mark.django_db
CREATED = "2026-01-02T09:00:00Z"


def pending() -> list[str]:
    return sorted(PendingScore.objects.values_list("lead__external_id", flat=True))


def test_imported_leads_wait_for_scoring_and_refused_rows_add_none():
    # Given two valid lead rows and one without a creation time, when they are imported
    rows = [(1, {"id": "L-1", "created_at": CREATED}), (2, {"id": "L-2", "created_at": CREATED}), (3, {"id": "L-3"})]
    report, touched = leads_import_and_score(rows=rows)
    # Then the two stored leads, and only they, wait for scoring
    assert report.accepted == 2 and len(report.rejected) == 1
    assert pending() == ["L-1", "L-2"] and touched == set(Lead.objects.values_list("pk", flat=True))


def test_the_leads_of_stored_events_wait_for_scoring():
    # Given two leads, when an event is stored for one of them
    Lead.objects.bulk_create([Lead(external_id=x, created_at=CREATED) for x in ("L-1", "L-2")])
    events_ingest_and_score(rows=[(0, {"lead": "L-2", "kind": "page_view", "occurred_at": CREATED})])
    # Then that lead alone waits for scoring
    assert pending() == ["L-2"]


def test_a_lead_written_alone_waits_for_scoring():
    lead, created = lead_upsert_and_score(data={"id": "L-1", "created_at": CREATED})
    assert created and pending() == [lead.external_id]
