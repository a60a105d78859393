from django.contrib import admin

from imports.models import ImportUpload
from leadscoring.admin import ReadOnlyAdmin


@admin.register(ImportUpload)
class ImportUploadAdmin(ReadOnlyAdmin):
    """CSV imports from the import page, with their progress and the first rejected rows."""

    list_display = ["created_at", "kind", "original_name", "state", "rows_done", "accepted", "rejected", "created_by"]
    list_filter = ["kind", "state"]
    list_select_related = ["created_by"]

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("imports.delete_importupload")
