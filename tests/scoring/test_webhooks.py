"""Webhooks out: signed with HMAC-SHA256, retried with backoff, every attempt logged.

A real HTTP server runs on 127.0.0.1 in a thread for these tests (no mocked HTTP): it records
what it receives and answers with the statuses a test scripts.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scoring.choices import DeliveryState, WebhookEventType
from scoring.models import WebhookDelivery, WebhookEndpoint
from scoring.tasks import webhook_deliver
from scoring.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    backoff_seconds,
    signature_valid,
    webhook_attempt,
    webhooks_dispatch,
    webhooks_resend_stale,
)

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-tests"


class Receiver:
    """A local HTTP server: `statuses` are answered in turn (then 200); `received` holds each request."""

    def __init__(self):
        self.statuses: list[int] = []
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                reply = json.dumps({"got": len(receiver.received), "status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/leads"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def endpoint(receiver):
    return WebhookEndpoint.objects.create(
        name="CRM", url=receiver.url, secret=SECRET, event_types=[WebhookEventType.BECAME_MQL, "accepted"]
    )


def test_a_dispatched_event_arrives_signed_over_its_exact_body(receiver, endpoint, django_capture_on_commit_callbacks):
    payload = {"lead": "L-1", "model": "new-business", "score": 63.0, "tier": "hot"}
    with django_capture_on_commit_callbacks() as callbacks:
        [delivery] = webhooks_dispatch(event_type="became_mql", payload=payload)
    assert len(callbacks) == 1  # the task is queued only once the caller's transaction commits
    assert webhook_attempt(delivery_id=delivery.pk) is None

    [request] = receiver.received
    assert request["path"] == "/hooks/leads"
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers[EVENT_HEADER] == "became_mql" and headers[DELIVERY_HEADER] == str(delivery.pk)
    # The receiver's check: HMAC-SHA256 of the raw body with the shared secret.
    assert signature_valid(SECRET, request["body"], headers[SIGNATURE_HEADER])
    assert not signature_valid("another secret", request["body"], headers[SIGNATURE_HEADER])
    assert not signature_valid(SECRET, request["body"] + b" ", headers[SIGNATURE_HEADER])
    envelope = json.loads(request["body"])
    assert envelope["type"] == "became_mql" and envelope["data"] == payload and envelope["id"]

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 1 and delivery.status_code == 200
    assert '"got": 1' in delivery.response_excerpt and delivery.delivered_at is not None


def test_only_active_endpoints_subscribed_to_the_event_get_it(receiver, endpoint):
    WebhookEndpoint.objects.create(name="off", url=receiver.url, secret="x", event_types=["became_mql"], active=False)
    WebhookEndpoint.objects.create(name="tiers", url=receiver.url, secret="x", event_types=["tier_changed"])
    assert [d.endpoint for d in webhooks_dispatch(event_type="became_mql", payload={})] == [endpoint]
    assert webhooks_dispatch(event_type="rejected", payload={}) == []
    with pytest.raises(ValueError, match="unknown webhook event type"):
        webhooks_dispatch(event_type="became_hot", payload={})


def test_failures_are_retried_with_backoff_and_logged_until_delivered(receiver, endpoint, settings):
    receiver.statuses = [500, 503]
    [delivery] = webhooks_dispatch(event_type="accepted", payload={"lead": "L-1"})
    # The Celery task, run here in process: its retries (countdown ignored when eager) follow at once.
    assert webhook_deliver.apply(args=[delivery.pk]).get() == DeliveryState.DELIVERED
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.status_code == 200 and delivery.state == DeliveryState.DELIVERED
    assert len(receiver.received) == 3
    # Every attempt carries the same body and signature: a receiver may dedupe on the envelope id.
    assert len({r["body"] for r in receiver.received}) == 1


def test_a_delivery_gives_up_after_the_last_attempt(receiver, endpoint, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.statuses = [500] * 10
    [delivery] = webhooks_dispatch(event_type="accepted", payload={})
    assert webhook_attempt(delivery_id=delivery.pk) is not None
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.RETRYING and delivery.next_attempt_at is not None
    assert delivery.status_code == 500 and delivery.error == "HTTP 500"
    assert webhook_deliver.apply(args=[delivery.pk]).get() == DeliveryState.FAILED
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.state == DeliveryState.FAILED and len(receiver.received) == 3
    assert webhook_attempt(delivery_id=delivery.pk) is None  # settled: no more attempts
    assert len(receiver.received) == 3


def test_an_unreachable_endpoint_is_an_attempt_with_its_error(endpoint, receiver):
    receiver.server.shutdown()
    receiver.server.server_close()
    [delivery] = webhooks_dispatch(event_type="accepted", payload={})
    assert webhook_attempt(delivery_id=delivery.pk) is not None
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.status_code is None and delivery.error
    assert delivery.state == DeliveryState.RETRYING


def test_redirects_are_not_followed(receiver, endpoint):
    receiver.statuses = [302]
    [delivery] = webhooks_dispatch(event_type="accepted", payload={})
    assert webhook_attempt(delivery_id=delivery.pk) is not None
    delivery.refresh_from_db()
    assert delivery.status_code == 302 and delivery.state == DeliveryState.RETRYING


def test_backoff_doubles_and_is_capped(settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 600
    waits = [backoff_seconds(n) for n in range(1, 8)]
    assert [30 <= waits[0] <= 33, 60 <= waits[1] <= 66, 120 <= waits[2] <= 132] == [True] * 3
    assert all(600 <= w <= 660 for w in waits[5:])


def test_lost_deliveries_are_sent_again(receiver, endpoint, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    [delivery] = webhooks_dispatch(event_type="accepted", payload={})
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=1))
    sent = []
    monkeypatch.setattr(webhook_deliver, "apply_async", lambda args, **kw: sent.append(args[0]))
    assert webhooks_resend_stale() == [delivery.pk] and sent == [delivery.pk]


def test_the_delivery_log_is_an_admin_page(admin_client, receiver, endpoint):
    [delivery] = webhooks_dispatch(event_type="accepted", payload={"lead": "L-1"})
    webhook_attempt(delivery_id=delivery.pk)
    page = admin_client.get("/admin/scoring/webhookdelivery/")
    assert page.status_code == 200 and "Delivered" in page.content.decode()
    detail = admin_client.get(f"/admin/scoring/webhookdelivery/{delivery.pk}/change/")
    assert detail.status_code == 200 and "L-1" in detail.content.decode()
    add = admin_client.get("/admin/scoring/webhookendpoint/add/")
    assert add.status_code == 200 and "became_mql" in add.content.decode()
