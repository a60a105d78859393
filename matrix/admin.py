from django.contrib import admin

from leadscoring.admin import ReadOnlyAdmin
from matrix.choices import VersionStatus
from matrix.models import (
    VERSION_HISTORY_FIELDS,
    Approval,
    AuditEntry,
    ModelVersion,
    Scenario,
    ScoringModel,
    WorkspaceSettings,
)


@admin.register(ScoringModel)
class ScoringModelAdmin(admin.ModelAdmin):
    """Scoring models: name and description; the slug ties documents to the model, so it stays."""

    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "created_at"] if obj else ["created_at"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Versions: a published (or archived) one is frozen; of a draft only the note is edited here.

    Document edits must bump the revision that approvals sign and leave an audit entry, and
    status changes go through approval and publishing: the editor and matrix.services do that.
    """

    list_display = ["scoring_model", "number", "status", "revision", "updated_at", "published_at"]
    list_filter = ["status", "scoring_model"]
    list_select_related = ["scoring_model"]
    search_fields = ["scoring_model__slug", "scoring_model__name", "note"]
    fields = [
        "scoring_model",
        "number",
        "status",
        "revision",
        "note",
        "document",
        *VERSION_HISTORY_FIELDS,
    ]
    readonly_fields = [f for f in fields if f != "note"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status != VersionStatus.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Scores and the audit point at published versions: only drafts may go.
        if obj is not None and obj.status != VersionStatus.DRAFT:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    """Sign-offs, read-only: an approval made here would skip the sign-off rules."""

    list_display = ["version", "role", "revision", "user", "created_at"]
    list_filter = ["role"]
    list_select_related = ["version__scoring_model", "user"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log, read-only."""

    list_display = ["created_at", "scoring_model", "action", "actor", "version"]
    list_filter = ["action", "scoring_model"]
    list_select_related = ["scoring_model", "actor", "version__scoring_model"]
    search_fields = ["action", "scoring_model__slug"]


@admin.register(WorkspaceSettings)
class WorkspaceSettingsAdmin(admin.ModelAdmin):
    """The one settings row: whether publishing needs both sign-offs, and the glossary."""

    list_display = ["__str__", "require_marketing_and_sales_approval"]

    def has_add_permission(self, request):
        return not WorkspaceSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    """Example buyers of the scenario simulator (edited on /matrix/<slug>/scenarios/ with checks)."""

    list_display = ["name", "scoring_model", "created_by", "updated_at"]
    list_filter = ["scoring_model"]
    list_select_related = ["scoring_model", "created_by"]
    search_fields = ["name", "description"]
