"""Shared records of the site: the API's idempotency keys, and the fields every record of
background work keeps."""

from django.conf import settings
from django.db import models


class BackgroundWork(models.Model):
    """Who asked for a piece of background work, when it was created, started and finished, and why it failed."""

    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class IdempotencyRecord(models.Model):
    """The first response to an API request sent with an `Idempotency-Key` header.

    A retry with the same key and the same body gets this response again, with the same status;
    the same key with another body is refused. Keys are per user (a token belongs to one user).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    # The request: a retry must send the same one.
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    # The first response; null while the first request is still being processed.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]
