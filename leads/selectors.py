"""Reads of leads, events and scores."""

from django.db.models import (
    QuerySet,
)

from engine.fields import LEAD_TEXT_FIELDS, NUMBER_FIELDS
from engine.single import EventData, LeadData
from leads.models import Lead


def lead_data(*, lead: Lead) -> LeadData:
    """The lead as the engine sees it (the same values the bulk SQL reads)."""
    fields = {name: getattr(lead, name) for name in (*LEAD_TEXT_FIELDS, *NUMBER_FIELDS)}
    fields["owner"] = lead.owner.username if lead.owner_id else None
    return LeadData(lead.external_id, lead.created_at, fields, lead.attributes or {})


def lead_events_data(*, lead: Lead) -> list[EventData]:
    return [
        EventData(pk, xid, kind, occurred_at, properties or {})
        for pk, xid, kind, occurred_at, properties in lead.events.order_by("id").values_list(
            "id", "external_id", "kind", "occurred_at", "properties"
        )
    ]


# --- The rep workspace: prioritized lists, the grid, the lead page ---------------------------------
# (docs/rep-workspace.md) Each list row is a lead annotated with the chosen model's score; every
# extra column is an annotation or a correlated subquery on an index, never a query per row.


def user_sees_all_leads(*, user) -> bool:
    """Managers, editors and admins see every lead; reps see their own.

    A rep is whoever may act on leads (`leads.act_on_leads`) without seeing every owner's
    reports (`leads.view_all_reports`); editors cannot act on leads and see them all.
    """
    if user.is_superuser or user.has_perm("leads.view_all_reports"):
        return True
    return not user.has_perm("leads.act_on_leads")


def leads_visible(*, user) -> QuerySet[Lead]:
    """The leads `user` may see: all of them, or for a rep the leads they own."""
    leads = Lead.objects.all()
    return leads if user_sees_all_leads(user=user) else leads.filter(owner_id=user.pk)


def lead_for_user(*, user, pk: int) -> Lead:
    """The lead with its owner, if `user` may see it; raises Lead.DoesNotExist otherwise."""
    return leads_visible(user=user).select_related("owner").get(pk=pk)
