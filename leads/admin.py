"""Admin for leads and what hangs off them.

Tables here reach millions of rows: every changelist selects its related rows in the same
query, shows foreign keys as raw ids (no <select> of a million options), skips the second
unfiltered COUNT(*) (show_full_result_count) and offers only filters that do not scan the
table for distinct values.
"""

from django.contrib import admin

from leads.models import Event, Lead
from leadscoring.admin import ReadOnlyAdmin


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    """Leads: editable (an import overwrites by external id anyway)."""

    list_display = ["external_id", "__str__", "email", "company", "owner", "created_at"]
    list_select_related = ["owner"]
    list_filter = ["owner"]
    # Exact or prefix matches: a "contains" search reads every row.
    search_fields = ["=external_id", "^email", "^last_name", "^company"]
    raw_id_fields = ["owner"]
    readonly_fields = ["updated_at"]
    show_full_result_count = False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Events as received, read-only: scores are computed from them."""

    list_display = ["id", "lead", "kind", "external_id", "occurred_at", "received_at"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead"]
    search_fields = ["=lead__external_id", "=external_id"]
    # Newest first by primary key: the model's (lead, -occurred_at) order sorts the whole table.
    ordering = ["-id"]
