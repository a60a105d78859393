"""Admin pages of the API side: webhook endpoints, the delivery log, CSV uploads, idempotency keys.

Imported by leads/admin.py so the admin site finds these registrations.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from leads.choices import DeliveryState, WebhookEventType
from leads.models import IdempotencyRecord, ImportUpload, WebhookDelivery, WebhookEndpoint
from leadscoring.admin import ReadOnlyAdmin


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
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        # Read-only fields, but the changelist needs "change" for its action.
        return obj is None and request.user.has_perm("leads.change_webhookdelivery")

    @admin.action(description="Send again (one more series of attempts)")
    def send_again(self, request, queryset):
        from leads.webhooks import _enqueue

        ids = list(queryset.values_list("pk", flat=True))
        queryset.update(state=DeliveryState.PENDING, attempts=0, next_attempt_at=None)
        transaction.on_commit(lambda: _enqueue(ids))
        messages.success(request, f"{len(ids)} deliveries queued again.")


@admin.register(ImportUpload)
class ImportUploadAdmin(ReadOnlyAdmin):
    """CSV imports from the import page, with their progress and the first rejected rows."""

    list_display = ["created_at", "kind", "original_name", "state", "rows_done", "accepted", "rejected", "created_by"]
    list_filter = ["kind", "state"]
    list_select_related = ["created_by"]

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("leads.delete_importupload")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    """Idempotency-Key of API requests and the first response each got (kept IDEMPOTENCY_TTL_SECONDS)."""

    list_display = ["created_at", "user", "key", "method", "path", "status_code"]
    list_select_related = ["user"]
    search_fields = ["=key"]
    show_full_result_count = False
