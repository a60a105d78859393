"""Webhooks out: lead events POSTed to the URLs admins register, signed, retried, logged.

`webhooks_dispatch(event_type=..., payload=...)` is what the pipeline and the lifecycle call
(became_mql, tier_changed, accepted, rejected). It writes one WebhookDelivery per subscribed
active endpoint and, once the caller's transaction commits, queues one Celery task per delivery
on the `alerts` queue. Each attempt is recorded on the delivery (status code, a response
excerpt, when); failures are retried with exponential backoff until WEBHOOK_MAX_ATTEMPTS.

The body is JSON: {"id", "type", "created_at", "data": payload}. The header
`X-Leadscoring-Signature: sha256=<hex>` is the HMAC-SHA256 of the exact body bytes with the
endpoint's secret; receivers recompute it and compare in constant time (see `signature_valid`).
"""

import hashlib
import hmac
import json
import logging
import random
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from leads.cli import iso_z
from leadscoring import durable
from scoring.choices import DeliveryState, WebhookEventType
from scoring.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Leadscoring-Signature"
EVENT_HEADER = "X-Leadscoring-Event"
DELIVERY_HEADER = "X-Leadscoring-Delivery"
EXCERPT_CHARS = 1000


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for `body`: "sha256=" and the hex HMAC-SHA256 with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return hmac.compare_digest(signature(secret, body), header or "")


def backoff_seconds(attempts: int) -> int:
    """Wait before attempt `attempts + 1`: base * 2^(attempts-1), capped, with up to 10% jitter."""
    base = settings.WEBHOOK_BACKOFF_SECONDS * 2 ** max(0, attempts - 1)
    delay = min(base, settings.WEBHOOK_BACKOFF_MAX_SECONDS)
    return int(delay + random.uniform(0, delay / 10))


def webhooks_dispatch(*, event_type: str, payload: dict) -> list[WebhookDelivery]:
    """Queue `payload` for every active endpoint subscribed to `event_type`; sent after commit."""
    if event_type not in WebhookEventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}; one of {', '.join(WebhookEventType.values)}")
    # Few endpoints: filtering the JSON list in Python works the same on SQLite and Postgres.
    endpoints = [e for e in WebhookEndpoint.objects.filter(active=True) if event_type in (e.event_types or [])]
    deliveries = []
    for endpoint in endpoints:
        envelope = {
            "id": str(uuid.uuid4()),
            "type": event_type,
            "created_at": iso_z(timezone.now()),
            "data": payload,
        }
        body = json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
        deliveries.append(WebhookDelivery.objects.create(endpoint=endpoint, event_type=event_type, body=body))
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(lambda: deliveries_enqueue(ids))
    return deliveries


def delivery_enqueue(delivery_id: int) -> bool:
    """Send the delivery's task (queue: alerts); broker down: webhooks_resend_stale sends it later."""
    return durable.enqueue(WebhookDelivery, delivery_id, task="scoring.webhook_deliver", what="webhook delivery")


def deliveries_enqueue(ids: list[int]) -> None:
    for pk in ids:
        delivery_enqueue(pk)


@transaction.atomic
def deliveries_send_again(*, ids: list[int]) -> int:
    """Give deliveries one more series of attempts (the admin's action), sent once committed."""
    count = WebhookDelivery.objects.filter(pk__in=ids).update(
        state=DeliveryState.PENDING, attempts=0, next_attempt_at=None
    )
    transaction.on_commit(lambda: deliveries_enqueue(ids))
    return count


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: the receiver must give its final URL."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, str]:
    """POST once; returns (status code or None, response excerpt, error)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, _excerpt(response), ""
    except urllib.error.HTTPError as exc:
        return exc.code, _excerpt(exc), f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, "", str(getattr(exc, "reason", exc))[:500]


def _excerpt(response) -> str:
    try:
        return response.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")[:EXCERPT_CHARS]
    except OSError:
        return ""


def webhook_attempt(*, delivery_id: int) -> int | None:
    """Make one attempt at a delivery and record it. Returns the seconds to wait before the next
    attempt, or None when there is none to make (delivered, given up, or already settled)."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.state in (DeliveryState.DELIVERED, DeliveryState.FAILED):
        return None
    endpoint = delivery.endpoint
    now = timezone.now()
    if not endpoint.active:
        durable.fail(
            WebhookDelivery,
            delivery.pk,
            from_state=[DeliveryState.PENDING, DeliveryState.RETRYING],
            to_state=DeliveryState.FAILED,
            error="endpoint deactivated",
            next_attempt_at=None,
        )
        return None
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "leadscoring-webhooks/1",
        SIGNATURE_HEADER: signature(endpoint.secret, body),
        EVENT_HEADER: delivery.event_type,
        DELIVERY_HEADER: str(delivery.pk),
    }
    code, excerpt, error = _post(endpoint.url, body, headers)
    attempts = delivery.attempts + 1
    fields = {
        "attempts": attempts,
        "status_code": code,
        "response_excerpt": excerpt,
        "error": error,
        "last_attempt_at": now,
    }
    wait = None
    if code is not None and 200 <= code < 300:
        fields.update(state=DeliveryState.DELIVERED, delivered_at=now, next_attempt_at=None, error="")
    elif attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields.update(state=DeliveryState.FAILED, next_attempt_at=None)
        log.warning("webhook delivery %s failed after %d attempts: %s", delivery.pk, attempts, error or code)
    else:
        wait = backoff_seconds(attempts)
        fields.update(state=DeliveryState.RETRYING, next_attempt_at=now + timedelta(seconds=wait))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    log.info("webhook delivery %s attempt %d: %s", delivery.pk, attempts, code or error)
    return wait


def webhooks_resend_stale(*, now=None) -> list[int]:
    """Deliveries whose task was lost (broker down, worker gone) and are due: queue them again."""
    grace = timedelta(minutes=5)
    lost = durable.stale(
        WebhookDelivery,
        before=(now or timezone.now()) - grace,
        since={DeliveryState.PENDING: "created_at", DeliveryState.RETRYING: "next_attempt_at"},
    )
    return durable.resend_stale(lost, delivery_enqueue, limit=1000)


def delivery_state(*, delivery_id: int) -> str:
    """The delivery's state after an attempt ("" if it is gone): the deliver task's result."""
    return WebhookDelivery.objects.filter(pk=delivery_id).values_list("state", flat=True).first() or ""
