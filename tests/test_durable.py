"""The durable-work helper (leadscoring/durable.py) on a real model with a state: webhook deliveries."""

import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from leadscoring import durable
from scoring.choices import DeliveryState
from scoring.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def deliveries(n: int) -> list[WebhookDelivery]:
    endpoint = WebhookEndpoint.objects.create(name="crm", url="http://127.0.0.1:9/", secret="s", event_types=[])
    return [WebhookDelivery.objects.create(endpoint=endpoint, event_type="accepted", body="{}") for _ in range(n)]


def test_a_row_is_claimed_once():
    # Given a pending delivery
    [row] = deliveries(1)
    now = timezone.now()
    # when two workers claim it
    first = durable.claim(
        WebhookDelivery, row.pk, from_state=DeliveryState.PENDING, to_state=DeliveryState.RETRYING, attempts=1
    )
    second = durable.claim(
        WebhookDelivery, row.pk, from_state=DeliveryState.PENDING, to_state=DeliveryState.RETRYING, attempts=2
    )
    # then only the first moves it, with its fields
    assert (first, second) == (True, False)
    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.RETRYING, 1)
    # and a claim that keeps the state takes only the rows its queryset allows
    fresh = WebhookDelivery.objects.filter(last_attempt_at__isnull=True)
    assert durable.claim(fresh, row.pk, from_state=DeliveryState.RETRYING, last_attempt_at=now)
    assert not durable.claim(fresh, row.pk, from_state=DeliveryState.RETRYING, last_attempt_at=now)
    row.refresh_from_db()
    assert (row.state, row.last_attempt_at) == (DeliveryState.RETRYING, now)


def test_stale_rows_are_those_waiting_in_their_state_since_before_the_cutoff():
    # Given deliveries waiting since an hour ago, since a minute ago, and one retrying never stamped
    old, recent, unstamped, delivered = deliveries(4)
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=1))
    WebhookDelivery.objects.filter(pk=recent.pk).update(created_at=now - timedelta(minutes=1))
    WebhookDelivery.objects.filter(pk=unstamped.pk).update(state=DeliveryState.RETRYING, next_attempt_at=None)
    WebhookDelivery.objects.filter(pk=delivered.pk).update(
        state=DeliveryState.DELIVERED, created_at=now - timedelta(hours=1)
    )
    since = {DeliveryState.PENDING: "created_at", DeliveryState.RETRYING: "next_attempt_at"}
    cutoff = now - timedelta(minutes=5)
    # when the stale ones are selected, then only the one older than the cutoff in a waiting state is
    assert list(durable.stale(WebhookDelivery, before=cutoff, since=since).values_list("pk", flat=True)) == [old.pk]
    # and a state whose empty stamp counts (never sent) adds the unstamped one
    stale = durable.stale(WebhookDelivery, before=cutoff, since=since, unstamped=[DeliveryState.RETRYING])
    assert set(stale.values_list("pk", flat=True)) == {old.pk, unstamped.pk}
    # and resending them reports only the ids whose sending succeeded
    assert durable.resend_stale(stale.order_by("pk"), lambda pk: pk == old.pk) == [old.pk]
    assert durable.resend_stale(stale.order_by("pk"), lambda pk: True, limit=1) == [old.pk]


def test_a_failure_writes_its_reason_once_cut_to_the_field():
    # Given a delivery being retried
    [row] = deliveries(1)
    WebhookDelivery.objects.filter(pk=row.pk).update(state=DeliveryState.RETRYING)
    waiting = [DeliveryState.PENDING, DeliveryState.RETRYING]
    # when it fails twice, the first time with a reason longer than the error column
    first = durable.fail(
        WebhookDelivery, row.pk, from_state=waiting, to_state=DeliveryState.FAILED, error="x" * 600, attempts=8
    )
    second = durable.fail(WebhookDelivery, row.pk, from_state=waiting, to_state=DeliveryState.FAILED, error="later")
    # then the first reason stays, cut to the column's 500 characters
    assert (first, second) == (True, False)
    row.refresh_from_db()
    assert (row.state, row.error, row.attempts) == (DeliveryState.FAILED, "x" * 500, 8)


def test_a_worker_finds_every_task_the_settings_and_the_services_name():
    # Given a fresh process that loads the task modules as a worker does when it starts
    code = (
        "import django; django.setup(); from leadscoring.celery import app; "
        "app.loader.import_default_modules(); print(' '.join(sorted(app.tasks)))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    # then every task routed to a queue or run by beat is registered (tasks.py of each app, found
    # by autodiscovery), and so is every task a service sends by name
    named = set(settings.CELERY_TASK_ROUTES) | {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    sent = set()
    for path in [*ROOT.glob("*/*.py"), *ROOT.glob("*/*/*.py")]:
        if path.parts[len(ROOT.parts)] not in ("tests", "benchmarks", ".venv"):
            sent |= set(re.findall(r'(?:task_send\(|task=)"([\w.]+)"', path.read_text()))
    assert sent and named and (sent | named) <= set(found), sorted((sent | named) - set(found))


def test_in_eager_mode_a_task_sent_by_name_runs_in_the_sending_process(tmp_path):
    # Given a fresh process (no tasks module loaded, as a web process) with
    # CELERY_TASK_ALWAYS_EAGER on and no broker that could take a message
    code = (
        "import sys, django; django.setup(); from leadscoring.celery import task_send; "
        "sent = task_send('scoring.rescore_jobs_sweep', what='sweep'); "
        "print(sent, 'scoring.tasks' in sys.modules)"
    )
    env = {
        **os.environ,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'eager.sqlite3'}",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    # when a service sends a task by name
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    # then the task's code is loaded and it runs here, not handed to the (absent) broker
    assert out.stdout.split() == ["True", "True"], out.stdout + out.stderr
