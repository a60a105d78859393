"""The CRM-shaped exports of tests/fixtures/crm and what importing them must store.

Shared by the import page's tests and the import commands' tests: both paths must store the
same values from the same files (expected.json).
"""

import json
from datetime import UTC
from pathlib import Path

from leads.models import Event, Lead

CRM = Path(__file__).resolve().parent.parent / "fixtures" / "crm"
EXPECTED = json.loads((CRM / "expected.json").read_text(encoding="utf-8"))


def lead_as_expected(lead: Lead) -> dict:
    return {
        "first_name": lead.first_name,
        "company": lead.company,
        "employees": lead.employees,
        "annual_revenue": lead.annual_revenue,
        "created_at": lead.created_at.astimezone(UTC).isoformat(),
        "owner": lead.owner.username if lead.owner_id else None,
        "attributes": lead.attributes,
    }


def leads_stored() -> dict[str, dict]:
    """Every stored lead by id, in the form of expected.json."""
    return {lead.external_id: lead_as_expected(lead) for lead in Lead.objects.select_related("owner")}


def events_stored() -> dict[str, dict]:
    """Every stored event by id, in the form of expected.json."""
    return {
        e.external_id: {
            "lead": e.lead.external_id,
            "kind": e.kind,
            "occurred_at": e.occurred_at.astimezone(UTC).isoformat(),
            "properties": e.properties,
        }
        for e in Event.objects.select_related("lead")
    }
