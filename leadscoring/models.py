"""Shared records of the site: the API's idempotency keys."""

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """The first response to an API request sent with an `Idempotency-Key` header.

    A retry with the same key and the same body gets this response again, with the same status;
    the same key with another body is refused. Keys are per user (a token belongs to one user).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    # Null while the first request is still being processed.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]
