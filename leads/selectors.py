"""Reads of leads, events and scores."""

from datetime import datetime

from matrix.engine.single import EventData, LeadData, ScoreResult, score_lead
from matrix.models import ModelVersion
from matrix.selectors import version_spec

from .models import Lead

TEXT_FIELDS = ("email", "first_name", "last_name", "company", "title", "industry", "country", "lead_source")


def lead_data(*, lead: Lead) -> LeadData:
    """The lead as the engine sees it (the same values the bulk SQL reads)."""
    fields = {name: getattr(lead, name) for name in TEXT_FIELDS}
    fields["employees"] = lead.employees
    fields["annual_revenue"] = lead.annual_revenue
    fields["owner"] = lead.owner.username if lead.owner_id else None
    return LeadData(lead.external_id, lead.created_at, fields, lead.attributes or {})


def lead_events_data(*, lead: Lead) -> list[EventData]:
    return [
        EventData(pk, xid, kind, occurred_at, properties or {})
        for pk, xid, kind, occurred_at, properties in lead.events.order_by("id").values_list(
            "id", "external_id", "kind", "occurred_at", "properties"
        )
    ]


def lead_explain(*, lead: Lead, version: ModelVersion, as_of: datetime) -> ScoreResult:
    """The single-lead path: the score with its breakdown and a note on every event."""
    return score_lead(version_spec(version=version), lead_data(lead=lead), lead_events_data(lead=lead), as_of)
