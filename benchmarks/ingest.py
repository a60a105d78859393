#!/usr/bin/env python
"""Ingestion benchmark (make bench): events in, scores out.

    .venv/bin/python benchmarks/ingest.py [--leads 100000] [--rate 1000] [--seconds 20]

1. Throughput of `manage.py import_events` on a file of fresh events (target >= 5,000 events/s).
2. Latency under sustained ingestion: batches of events arrive at --rate events/s through the
   same service the API uses (events_ingest, then scoring tasks on the ingest queue); a real
   Celery worker scores them; we measure, per event, the time from acceptance to the moment the
   lead's score reflects it (target: 95% within 2 s).
Runs on Postgres (the benchmark database of benchmarks/run.py, leads created if missing) and on
a throwaway Redis started on a free port.
"""

import argparse
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import run  # noqa: E402  (the shared helpers of the rescore benchmark)

KINDS = ["page_view", "email_open", "email_click", "demo_request", "webinar_attended"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def event(rng, n, leads, tag, when=None):
    return {
        "id": f"{tag}{n}",
        "lead": f"B-{rng.randint(1, leads)}",
        "kind": rng.choice(KINDS),
        "occurred_at": (when or datetime.now(UTC)).isoformat(),
        "properties": {"url": rng.choice(["/pricing", "/blog/x", "/docs"])},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", run.DEFAULT_URL))
    parser.add_argument("--leads", type=int, default=100_000, help="leads to create if the database has none")
    parser.add_argument("--file-events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=1000, help="events per second, sustained")
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()

    run.ensure_database(args.database_url)
    redis_port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    env = dict(os.environ, DATABASE_URL=args.database_url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
               LEADSCORING_VAR_DIR=str(tmp))  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    leads, _ = run.counts(args.database_url)
    if leads == 0:
        run.generate(args.database_url, args.leads, args.leads * 5)
        leads, _ = run.counts(args.database_url)
    with run.connect(args.database_url) as conn:
        last_event = conn.execute("SELECT COALESCE(MAX(id), 0) FROM leads_event").fetchone()[0]
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp)], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    worker = None
    try:
        os.environ.update(env, SECURE_SSL_REDIRECT="0")
        # Requests are served in this process with DEBUG off, as in production: they need a key.
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.db import transaction

        from leads.services import events_ingest
        from matrix.selectors import versions_live
        from matrix.services import model_import
        from scoring.jobs import model_version_publish
        from scoring.models import PendingScore, Score
        from scoring.services import enqueue_scoring

        if not versions_live():
            document = json.loads((ROOT / "demo" / "fixtures" / "b2b-saas.json").read_text())
            model_version_publish(version=model_import(data=document))

        # 1. import_events throughput on a file of fresh events
        rng = random.Random(5)
        tag = f"F{int(time.time())}-"
        path = tmp / "events.jsonl"
        with path.open("w") as fh:
            for n in range(args.file_events):
                fh.write(json.dumps(event(rng, n, leads, tag, datetime(2026, 5, 1, tzinfo=UTC))) + "\n")
        started = time.monotonic()
        out = subprocess.run([sys.executable, "manage.py", "import_events", str(path)], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True)  # fmt: skip
        file_s = time.monotonic() - started
        print(out.stdout.strip().splitlines()[0])
        print(f"import_events: {args.file_events:,} events in {file_s:.1f} s = {args.file_events / file_s:,.0f} "
              "events/s (process start included; target >= 5,000)")  # fmt: skip
        # The batch endpoint: POST /api/v1/events/ with 1,000 events a request, token auth, through
        # the whole stack (middleware, auth, throttling, idempotency, parsing, ingest) in-process.
        from django.conf import settings as dj_settings
        from django.test import Client
        from rest_framework.authtoken.models import Token

        from leadscoring.roles import demo_users_ensure

        dj_settings.ALLOWED_HOSTS = ["testserver"]
        token, _ = Token.objects.get_or_create(user=demo_users_ensure()["admin"])
        client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
        tag, requests, per_request = f"A{int(time.time())}-", 30, 1000
        bodies = [
            json.dumps([event(rng, r * per_request + i, leads, tag, datetime(2026, 5, 2, tzinfo=UTC))
                        for i in range(per_request)])
            for r in range(requests)
        ]  # fmt: skip
        started = time.monotonic()
        for body in bodies:
            response = client.post("/api/v1/events/", body, content_type="application/json")
            if response.status_code != 200:
                raise SystemExit(f"the batch endpoint answered {response.status_code}: {response.content[:300]}")
        api_s = time.monotonic() - started
        print(f"POST /api/v1/events/: {requests * per_request:,} events in {requests} requests, {api_s:.1f} s = "
              f"{requests * per_request / api_s:,.0f} events/s (server time; target >= 5,000)")  # fmt: skip
        # The latency phase measures steady state: drop the file import's scoring backlog (its
        # messages and its pending leads), which a drain would otherwise work through first.
        subprocess.run(["redis-cli", "-p", str(redis_port), "FLUSHALL"], check=True, capture_output=True)
        PendingScore.objects.all().delete()

        # 2. sustained ingestion with a real worker on the ingest queue
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "leadscoring", "worker", "-Q", "ingest", "--concurrency", "2",
             "--loglevel", "WARNING"], cwd=ROOT, env=env, start_new_session=True,
        )  # fmt: skip
        from leadscoring.celery import app as celery_app

        for _ in range(120):  # the worker is ready when it answers a ping
            if celery_app.control.ping(timeout=1):
                break
        else:
            raise SystemExit("the Celery worker did not start")
        # A poller thread (its own database connection) watches each batch while more arrive.
        batches: list = []  # (accepted at, lead pks, events)
        latencies: list[float] = []
        lock, sending = threading.Lock(), threading.Event()
        sending.set()

        def poll():
            from django.db import connection

            pending = []
            deadline = None
            while True:
                with lock:
                    pending.extend(batches)
                    batches.clear()
                if not sending.is_set():
                    deadline = deadline or time.monotonic() + 60
                    if not pending or time.monotonic() > deadline:
                        break
                still = []
                for accepted, lead_ids, count in pending:
                    rows = Score.objects.filter(lead_id__in=lead_ids, computed_at__gte=accepted).values_list("lead_id")
                    if len({r[0] for r in rows}) >= len(lead_ids):
                        # Observed now: an upper bound (it includes the polling interval).
                        latencies.extend([(datetime.now(UTC) - accepted).total_seconds()] * count)
                    else:
                        still.append((accepted, lead_ids, count))
                pending = still
                time.sleep(0.05)
            connection.close()

        poller = threading.Thread(target=poll)
        poller.start()
        tick, per_tick = 0.1, max(1, args.rate // 10)
        tag = f"S{int(time.time())}-"
        n = 0
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            t0 = time.monotonic()
            rows = [(i, event(rng, n + i, leads, tag)) for i in range(per_tick)]
            n += per_tick
            # Stamped when the batch arrives: a drain may score it the moment it commits.
            accepted = datetime.now(UTC)
            with transaction.atomic():
                report, touched = events_ingest(rows=rows)
                enqueue_scoring(touched)
            with lock:
                batches.append((accepted, sorted(touched), len(rows)))
            time.sleep(max(0.0, tick - (time.monotonic() - t0)))
        sending.clear()
        poller.join()
        sent_s = args.seconds
        print(f"sustained: {n:,} events at {n / sent_s:,.0f} events/s for {sent_s} s; "
              f"{len(latencies):,} reflected in scores")  # fmt: skip
        if latencies:
            within = sum(1 for x in latencies if x <= 2.0) / len(latencies)
            print(f"latency accepted -> score: p50 {percentile(latencies, 0.5):.2f} s, "
                  f"p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s; "
                  f"{within:.1%} within 2 s (target 95%)")  # fmt: skip
        print("(latency is observed by polling every 50 ms: an upper bound for each event)")
    finally:
        if worker and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        redis.terminate()
        redis.wait(10)
        # Leave the data as run.py made it: its --reuse keeps the data only while the sizes match.
        # The scores of the leads it touched counted events that are gone now: drop their stored
        # counts (basis), so that the next rescore counts those leads afresh rather than reusing them.
        with run.connect(args.database_url) as conn:
            conn.execute(
                "UPDATE scoring_score SET basis = NULL "
                "WHERE lead_id IN (SELECT DISTINCT lead_id FROM leads_event WHERE id > %s)",
                [last_event],
            )
            removed = conn.execute("DELETE FROM leads_event WHERE id > %s", [last_event]).rowcount
            conn.execute("DELETE FROM scoring_pendingscore")
        print(f"removed the {removed:,} events this benchmark added")


if __name__ == "__main__":
    main()
