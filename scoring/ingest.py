"""Leads and events from outside, stored and then scored: every input (the API, the import page,
the import commands) comes in through these, so none stores a row without queueing its scoring.

Storing is leads.services' (the row checks every input shares); the scoring is queued on the
`ingest` queue by `enqueue_scoring`, which marks the leads pending in the caller's transaction.
"""

from collections.abc import Callable, Collection
from typing import ParamSpec

from django.db import transaction

from leads.models import Lead
from leads.rows import RowReport
from leads.services import events_ingest, lead_upsert, leads_import
from scoring.services import enqueue_scoring

# The two file-sized inputs are not one transaction: leads_import and events_ingest commit
# batch by batch, so a file of a million rows never holds one open. Their leads are marked for
# scoring after the last batch, in the caller's transaction (the import page's: per batch).


Ingested = tuple[RowReport, set[int]]  # the report, and the pks of the leads written
P = ParamSpec("P")


def _and_scored(ingest: Callable[P, Ingested]) -> Callable[P, Ingested]:
    """`ingest` (same arguments, same result), then the scoring of the leads it wrote queued."""

    def run(*args: P.args, **kwargs: P.kwargs) -> Ingested:
        report, touched = ingest(*args, **kwargs)
        enqueue_scoring(touched)
        return report, touched

    return run


leads_import_and_score = _and_scored(leads_import)
events_ingest_and_score = _and_scored(events_ingest)


@transaction.atomic
def lead_upsert_and_score(
    *, data: object, external_id: str | None = None, partial: bool = False, ignored: Collection[str] = ()
) -> tuple[Lead, bool]:
    """Store one lead (leads.services.lead_upsert, same arguments and errors) and queue its scoring;
    the lead and its scoring mark commit together."""
    lead, created = lead_upsert(data=data, external_id=external_id, partial=partial, ignored=ignored)
    enqueue_scoring({lead.pk})
    return lead, created
