from django.conf import settings
from django.db import models
from django.db.models import Q


class Lead(models.Model):
    """A person being scored, known by the external id of the system it came from."""

    external_id = models.CharField(max_length=200, unique=True)
    email = models.CharField(max_length=254, blank=True, default="")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    company = models.CharField(max_length=200, blank=True, default="")
    title = models.CharField(max_length=200, blank=True, default="")
    industry = models.CharField(max_length=100, blank=True, default="")
    country = models.CharField(max_length=100, blank=True, default="")
    employees = models.BigIntegerField(null=True, blank=True)
    annual_revenue = models.FloatField(null=True, blank=True)
    lead_source = models.CharField(max_length=100, blank=True, default="")
    # Indexed by the Meta indexes below, both led by owner (a third, owner-only index would only cost writes).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        db_index=False,
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        # What a rep and a manager may do with leads; granted through the roles (leadscoring.roles).
        permissions = [
            ("act_on_leads", "Can accept, reject and recycle MQLs"),
            ("view_all_reports", "Can see conversion reports for every owner"),
        ]
        ordering = ["external_id"]
        indexes = [
            models.Index(fields=["owner", "external_id"]),
            # A rep's lead ids without touching the table (index-only): their reports' cohorts
            # semi-join on it instead of reading every lead row.
            models.Index(fields=["owner", "id"], name="lead_owner_id"),
            # The reports' "leads created in the period", counted from the index alone.
            models.Index(fields=["created_at"], include=["owner"], name="lead_created"),
        ]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.external_id


# Every field of a lead but its keys (the primary key, the external id), in column order: what an
# upsert replaces and what the API shows besides the id.
LEAD_VALUE_FIELDS = [f.name for f in Lead._meta.concrete_fields if not f.primary_key and f.name != "external_id"]


class Event(models.Model):
    """Something a lead did (or was sent), as reported by a marketing or sales system."""

    # No index of its own: event_lead_time and the unique (lead, external_id) lead with it, and
    # every index is one more write per event ingested.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events", db_index=False)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    kind = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["lead", "-occurred_at"]
        constraints = [
            # A repeated id for the same lead is the same event (spec 1): stored once.
            models.UniqueConstraint(
                fields=["lead", "external_id"],
                condition=Q(external_id__isnull=False),
                name="event_external_id_unique_per_lead",
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="event_lead_time"),
            models.Index(fields=["received_at"], name="event_received"),
            # The bulk rescore reads each lead's latest event (of given kinds) for the idle-time
            # decay from this index alone (an index-only scan), without visiting the table.
            models.Index(fields=["lead", "kind", "occurred_at"], name="event_lead_kind_time"),
        ]

    def __str__(self):
        return f"{self.kind} {self.external_id or self.pk} @ {self.occurred_at:%Y-%m-%d}"
