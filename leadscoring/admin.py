from django.contrib import admin

from leadscoring.models import IdempotencyRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that shows rows but never adds, changes or deletes them.

    For records of what happened (events, scores, transitions, audit): they are written by
    the services, which keep them consistent with each other; the admin is only a window.
    Such records grow to millions of rows, so a filtered changelist skips Django's second,
    unfiltered COUNT(*).
    """

    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    """Idempotency-Key of API requests and the first response each got (kept IDEMPOTENCY_TTL_SECONDS)."""

    list_display = ["created_at", "user", "key", "method", "path", "status_code"]
    list_select_related = ["user"]
    search_fields = ["=key"]
