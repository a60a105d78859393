"""A file uploaded for import, from upload through mapping to the background import."""

from django.db import models

from imports.choices import ImportKind, ImportState
from leadscoring.models import BackgroundWork


class ImportUpload(BackgroundWork):
    """A CSV file uploaded on the import page: its column mapping, then the import's progress."""

    kind = models.CharField(max_length=8, choices=ImportKind.choices)
    original_name = models.CharField(max_length=255)
    # Path relative to settings.IMPORT_UPLOAD_DIR; the worker streams the file from there.
    stored_name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    delimiter = models.CharField(max_length=1, default=",")
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=ImportState.choices, default=ImportState.UPLOADED)
    bytes_done = models.BigIntegerField(default=0)
    # Counted by the check that reads the whole file before the first row is stored.
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0, help_text="Rows stored (leads: distinct leads).")
    rejected = models.PositiveIntegerField(default=0, help_text="Rows refused, each with its reason.")
    duplicates = models.PositiveIntegerField(
        default=0, help_text="Rows repeating an id seen before (leads: the last row of an id wins; events: the first)."
    )
    # The first rejected rows, as [line, reason] pairs.
    errors = models.JSONField(default=list, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # Moved by the worker after every batch: a running import whose heartbeat stops was lost.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.get_kind_display()} from {self.original_name}"

    @property
    def percent(self) -> float:
        if self.state == ImportState.DONE:
            return 100.0
        if self.rows_total:
            return round(100 * self.rows_done / self.rows_total, 1)
        return 0.0
