import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from leadscoring.admin import ReadOnlyAdmin
from scoring.choices import WebhookEventType
from scoring.models import (
    ImpactPreview,
    LeadStage,
    Notification,
    PendingScore,
    RescoreChunk,
    RescoreJob,
    SavedFilter,
    Score,
    ScoreBreakdown,
    ScoreHistory,
    StageTransition,
    WebhookDelivery,
    WebhookEndpoint,
)
from scoring.webhooks import deliveries_send_again


class LeadRecordAdmin(ReadOnlyAdmin):
    """Records of one lead under one model: found by the lead's external id, listed with both."""

    list_select_related = ["lead", "scoring_model"]
    raw_id_fields = ["lead"]
    search_fields = ["=lead__external_id"]
    ordering = ["-id"]


@admin.register(Score)
class ScoreAdmin(LeadRecordAdmin):
    """Current scores, read-only: rescoring writes them."""

    list_display = ["lead", "scoring_model", "score", "fit", "engagement", "tier", "grade", "mql", "version_number"]
    list_filter = ["scoring_model", "mql"]
    raw_id_fields = ["lead", "version"]


@admin.register(ScoreBreakdown)
class ScoreBreakdownAdmin(ReadOnlyAdmin):
    """The breakdown lines of each current score, read-only (rescoring writes them with the score)."""

    list_display = ["score", "score__lead", "score__scoring_model"]
    list_select_related = ["score__lead", "score__scoring_model"]
    raw_id_fields = ["score"]
    search_fields = ["=score__lead__external_id"]
    ordering = ["-score_id"]
    fields = ["score", "lines_json"]
    readonly_fields = ["lines_json"]

    @admin.display(description="lines")
    def lines_json(self, obj):
        # The lines as the spec writes them (the stored text is the short form, lines.py), priced
        # by the score's version as every reader sees them (Score.breakdown).
        return format_html("<pre>{}</pre>", json.dumps(obj.score.breakdown, indent=1))


@admin.register(ScoreHistory)
class ScoreHistoryAdmin(LeadRecordAdmin):
    """Past scores, read-only."""

    list_display = ["lead", "scoring_model", "as_of", "score", "tier", "previous_tier", "mql", "version_number"]
    list_filter = ["scoring_model", "mql"]


@admin.register(LeadStage)
class LeadStageAdmin(LeadRecordAdmin):
    """Funnel stages, read-only: a change made here would leave no transition for the reports."""

    list_display = ["lead", "scoring_model", "stage", "mql_at", "accepted_at", "rejected_at", "changed_by"]
    list_filter = ["scoring_model", "stage"]
    list_select_related = ["lead", "scoring_model", "changed_by"]
    raw_id_fields = ["lead", "mql_version", "changed_by"]


@admin.register(StageTransition)
class StageTransitionAdmin(LeadRecordAdmin):
    """Stage moves, read-only: the conversion reports are computed from them."""

    list_display = ["occurred_at", "lead", "scoring_model", "from_stage", "to_stage", "reason", "actor"]
    list_filter = ["scoring_model", "to_stage", "reason"]
    list_select_related = ["lead", "scoring_model", "actor"]
    raw_id_fields = ["lead", "version", "actor"]
    ordering = None  # the model's: newest move first


class RescoreChunkInline(admin.TabularInline):
    """The chunks of a job, read-only."""

    model = RescoreChunk
    fields = ["index", "first_lead_id", "last_lead_id", "leads", "done_at"]
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0


@admin.register(RescoreJob)
class RescoreJobAdmin(ReadOnlyAdmin):
    """Rescore jobs and their progress, read-only: the workers move them along."""

    list_display = ["id", "scoring_model", "version", "trigger", "state", "chunks_done", "chunks_total", "created_at"]
    list_filter = ["state", "trigger", "scoring_model"]
    list_select_related = ["scoring_model", "version__scoring_model"]
    inlines = [RescoreChunkInline]


@admin.register(PendingScore)
class PendingScoreAdmin(ReadOnlyAdmin):
    """Leads waiting for real-time scoring, read-only (the ingest workers drain them)."""

    list_display = ["lead", "queued_at", "claimed_by", "claimed_at"]
    raw_id_fields = ["lead"]


@admin.register(RescoreChunk)
class RescoreChunkAdmin(ReadOnlyAdmin):
    """Rescore chunks, read-only."""

    list_display = ["job", "index", "first_lead_id", "last_lead_id", "leads", "done_at"]
    list_select_related = ["job"]
    raw_id_fields = ["job"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """In-app alerts; an admin may mark one read or delete it, not invent one."""

    list_display = ["created_at", "user", "kind", "lead", "scoring_model", "read_at"]
    list_filter = ["kind", "scoring_model"]
    list_select_related = ["user", "lead", "scoring_model"]
    raw_id_fields = ["user", "lead", "scoring_model"]
    readonly_fields = ["user", "lead", "scoring_model", "kind", "message", "created_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(SavedFilter)
class SavedFilterAdmin(admin.ModelAdmin):
    """Filter presets of the leads page (docs/rep-workspace.md), one set per user."""

    list_display = ["user", "name", "querystring", "created_at"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    search_fields = ["name", "user__username"]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "secret", "event_types", "active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("https://", "http://")):
            raise forms.ValidationError("Use an http:// or https:// URL.")
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Where lead events are POSTed; the secret signs every body (HMAC-SHA256)."""

    form = WebhookEndpointForm
    list_display = ["name", "url", "active", "events", "created_at"]
    list_filter = ["active"]

    @admin.display(description="Events")
    def events(self, obj):
        return ", ".join(obj.event_types or [])


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: every event sent, its attempts and the receiver's last answer."""

    list_display = ["created_at", "endpoint", "event_type", "state", "attempts", "status_code", "last_attempt_at"]
    list_filter = ["state", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    fields = [
        "endpoint",
        "event_type",
        "state",
        "attempts",
        "status_code",
        "error",
        "response_excerpt",
        "body",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
    ]
    readonly_fields = fields
    actions = ["send_again"]

    def has_change_permission(self, request, obj=None):
        # Read-only fields, but the changelist needs "change" for its action.
        return obj is None and request.user.has_perm("scoring.change_webhookdelivery")

    @admin.action(description="Send again (one more series of attempts)")
    def send_again(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        deliveries_send_again(ids=ids)
        messages.success(request, f"{len(ids)} deliveries queued again.")


@admin.register(ImpactPreview)
class ImpactPreviewAdmin(ReadOnlyAdmin):
    """Impact previews, read-only: a worker computes them from the draft and the live scores."""

    list_display = ["created_at", "version", "revision", "state", "leads_total", "tier_changed", "mql_up", "mql_down"]
    list_filter = ["state"]
    list_select_related = ["version__scoring_model"]
