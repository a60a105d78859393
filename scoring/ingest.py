"""Leads and events from outside, stored and then scored: every input (the API, the import page,
the import commands) comes in through these, so none stores a row without queueing its scoring.

Storing is leads.services' (the row checks every input shares); the scoring is queued on the
`ingest` queue by `enqueue_scoring`, which marks the leads pending in the caller's transaction.
"""

from collections.abc import Collection, Iterable
from datetime import datetime

from django.db import transaction

from leads.models import Lead
from leads.rows import RowReport
from leads.services import events_ingest, lead_upsert, leads_import
from scoring.services import enqueue_scoring

# The two file-sized inputs are not one transaction: leads_import and events_ingest commit
# batch by batch, so a file of a million rows never holds one open. Their leads are marked for
# scoring after the last batch, in the caller's transaction (the import page's: per batch).


def leads_import_and_score(
    *,
    rows: Iterable[tuple[int, object]],
    report: RowReport | None = None,
    owner_fallback: int | None = None,
    started_at: datetime | None = None,
) -> tuple[RowReport, set[int]]:
    """Upsert leads (leads.services.leads_import) and queue the scoring of those written."""
    report, touched = leads_import(rows=rows, report=report, owner_fallback=owner_fallback, started_at=started_at)
    enqueue_scoring(touched)
    return report, touched


def events_ingest_and_score(
    *, rows: Iterable[tuple[int, object]], report: RowReport | None = None
) -> tuple[RowReport, set[int]]:
    """Store events (leads.services.events_ingest) and queue the scoring of the leads they touched."""
    report, touched = events_ingest(rows=rows, report=report)
    enqueue_scoring(touched)
    return report, touched


@transaction.atomic
def lead_upsert_and_score(
    *, data: object, external_id: str | None = None, partial: bool = False, ignored: Collection[str] = ()
) -> tuple[Lead, bool]:
    """Store one lead (leads.services.lead_upsert, same arguments and errors) and queue its scoring;
    the lead and its scoring mark commit together."""
    lead, created = lead_upsert(data=data, external_id=external_id, partial=partial, ignored=ignored)
    enqueue_scoring({lead.pk})
    return lead, created
