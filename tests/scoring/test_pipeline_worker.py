"""Faults survived, with the real parts: a Celery worker process, Redis and Postgres.

Each test starts its own throwaway Redis on a free port and its own worker (with beat, so the
sweep runs), on a throwaway Postgres database, and stops only those processes.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_postgres

pytestmark = pytest.mark.integration

LEADS = 240
CHUNK = 6  # many small chunks, so a kill lands in the middle of a job


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server of our own, on a free port, keeping nothing on disk."""

    def __init__(self, tmp: Path):
        if not shutil.which("redis-server"):
            if os.environ.get("CI") == "true":
                pytest.fail("redis-server is required under CI")
            pytest.skip("redis-server is not installed")
        self.port, self.tmp, self.proc = free_port(), tmp, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: _answers(self.port), "redis to start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(predicate, what: str, timeout: float = 120.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


class Workspace:
    """A throwaway database with leads and events, and the commands and worker that use it."""

    def __init__(self, tmp: Path, database_url: str, redis: Redis):
        self.tmp, self.database_url, self.redis = tmp, database_url, redis
        self.env = dict(
            os.environ,
            DATABASE_URL=database_url,
            REDIS_URL=redis.url,
            RESCORE_CHUNK_SIZE=str(CHUNK),
            RESCORE_STALE_SECONDS="3",
            RESCORE_SWEEP_SECONDS="1",
            LEADSCORING_VAR_DIR=str(tmp),
        )
        self.workers: list[subprocess.Popen] = []

    def manage(self, *args, timeout=120) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        assert proc.returncode == 0, f"manage.py {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
        return proc

    def start_worker(self) -> subprocess.Popen:
        log = open(self.tmp / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115 - lives as long as the worker
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "leadscoring", "worker", "-B", "-Q", "default,rescore,ingest,alerts",
             "--concurrency", "1", "--prefetch-multiplier", "1", "--loglevel", "INFO",
             "--schedule", str(self.tmp / f"beat-{uuid.uuid4().hex[:6]}")],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen):
        """SIGKILL the worker and its pool: no goodbye, no acks, as when a machine dies."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_workers(self):
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)

    def query(self, sql: str, params=()):
        import psycopg

        with psycopg.connect(self.database_url.replace("postgres://", "postgresql://")) as conn:
            return conn.execute(sql, params).fetchall()

    def jobs(self):
        return self.query(
            "SELECT j.id, j.state, j.chunks_done, j.chunks_total, j.leads_done, j.total_leads, v.number, j.as_of "
            "FROM scoring_rescorejob j JOIN matrix_modelversion v ON v.id = j.version_id ORDER BY j.id"
        )

    def scores(self):
        return self.query(
            "SELECT l.external_id, s.version_number, s.as_of, s.score, s.fit, s.engagement, s.tier, s.grade, "
            "b.lines::text FROM scoring_score s JOIN leads_lead l ON l.id = s.lead_id "
            "LEFT JOIN scoring_scorebreakdown b ON b.score_id = s.id ORDER BY 1"
        )


def write_inputs(tmp: Path) -> tuple[Path, Path]:
    rng = random.Random(7)
    leads, events = tmp / "leads.jsonl", tmp / "events.jsonl"
    with leads.open("w") as fh:
        for i in range(LEADS):
            fh.write(json.dumps({
                "id": f"W{i:04d}", "title": rng.choice(["VP Sales", "Engineer", "Head of Growth", "Student"]),
                "industry": rng.choice(["Software", "Retail", "Finance"]), "country": rng.choice(["US", "DE", "JP"]),
                "employees": rng.choice([10, 300, 6000]), "created_at": "2025-06-01T00:00:00Z",
            }) + "\n")  # fmt: skip
    kinds = ["page_view", "email_open", "email_click", "webinar_attended", "demo_request", "content_download"]
    with events.open("w") as fh:
        for n in range(LEADS * 8):
            day = rng.randint(1, 28)
            fh.write(json.dumps({
                "id": f"X{n}", "lead": f"W{rng.randrange(LEADS):04d}", "kind": rng.choice(kinds),
                "occurred_at": f"2026-0{rng.randint(1, 5)}-{day:02d}T10:00:00Z",
                "properties": {"url": rng.choice(["/blog/a", "/pricing", "/careers"])},
            }) + "\n")  # fmt: skip
    return leads, events


@pytest.fixture
def workspace(tmp_path):
    import psycopg

    base = require_postgres().rsplit("/", 1)[0]
    name = f"pipe_{uuid.uuid4().hex[:10]}"
    admin = (base + "/postgres").replace("postgres://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    redis = Redis(tmp_path)
    redis.start()
    ws = Workspace(tmp_path, f"{base}/{name}", redis)
    try:
        ws.manage("migrate", "--no-input", "-v", "0")
        leads, events = write_inputs(tmp_path)
        ws.manage("import_leads", str(leads))
        ws.manage("import_events", str(events))
        # The imports queued real-time scoring; these tests start from a quiet queue.
        subprocess.run(["redis-cli", "-p", str(redis.port), "FLUSHALL"], check=True, capture_output=True)
        yield ws
    finally:
        ws.stop_workers()
        redis.stop()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def model_file(tmp: Path, points: int = 50) -> Path:
    doc = json.loads((ROOT / "demo" / "fixtures" / "b2b-saas.json").read_text())
    next(c for c in doc["criteria"] if c["key"] == "demo-request")["points"] = points
    path = tmp / f"model-{points}.json"
    path.write_text(json.dumps(doc))
    return path


def job_done(ws: Workspace, number: int):
    def check():
        return any(row[1] == "done" and row[6] == number for row in ws.jobs())

    return check


def clean_run_equals(ws: Workspace):
    """Recompute every lead in the foreground at the job's as_of: nothing may change."""
    before = ws.scores()
    assert len({row[2] for row in before}) == 1, "every lead scored at the job's as_of"
    as_of = before[0][2].isoformat()
    ws.manage("rescore", "--as-of", as_of)
    assert ws.scores() == before


def test_a_worker_killed_mid_job_resumes_and_matches_a_clean_run(workspace):
    ws = workspace
    # Given a worker, when a model is published
    worker = ws.start_worker()
    ws.manage("import_model", str(model_file(ws.tmp)), "--publish")
    # and the worker dies (SIGKILL) once a few chunks are done
    wait_for(lambda: ws.jobs() and ws.jobs()[-1][2] >= 3, "the first chunks", interval=0.02)
    ws.kill(worker)
    state = ws.jobs()[-1]
    assert state[1] == "running" and state[2] < state[3], f"the job finished before the kill: {state}"
    # then a new worker (its sweep resends the stale job) finishes it
    ws.start_worker()
    wait_for(job_done(ws, 1), "the job to finish after the restart")
    _, _, chunks_done, chunks_total, leads_done, total, _, _ = ws.jobs()[-1]
    assert (chunks_done, leads_done) == (chunks_total, total) == (LEADS // CHUNK, LEADS)
    assert len(ws.scores()) == LEADS
    # and its scores equal a clean run
    clean_run_equals(ws)


def test_redis_down_at_publish_does_not_hang_and_the_job_runs_once_it_is_back(workspace):
    ws = workspace
    # Given Redis is down, when a model is published
    ws.redis.stop()
    started = time.monotonic()
    ws.manage("import_model", str(model_file(ws.tmp)), "--publish", timeout=60)
    # then the command returns promptly and the job waits in the database, unsent
    assert time.monotonic() - started < 20
    ((_, state, *_),) = ws.jobs()
    assert state == "pending"
    assert ws.query("SELECT enqueued_at FROM scoring_rescorejob") == [(None,)]
    # when Redis is back and a worker with its beat runs, the sweep sends the job and it completes
    ws.redis.start()
    ws.start_worker()
    wait_for(job_done(ws, 1), "the swept job to finish")
    assert len(ws.scores()) == LEADS
    clean_run_equals(ws)


def test_two_quick_publishes_leave_every_lead_on_the_newest_version(workspace):
    ws = workspace
    ws.start_worker()
    # When two versions are published back to back
    ws.manage("import_model", str(model_file(ws.tmp, 50)), "--publish")
    ws.manage("import_model", str(model_file(ws.tmp, 70)), "--publish")
    # then the newest job finishes and no lead is left on the older version
    wait_for(job_done(ws, 2), "the newest job")
    wait_for(lambda: all(row[1] in ("done", "superseded") for row in ws.jobs()), "both jobs to settle")
    assert {row[1] for row in ws.scores()} == {2}
    assert len(ws.scores()) == LEADS


def test_the_same_chunk_and_event_batch_delivered_twice_change_nothing(workspace):
    ws = workspace
    ws.start_worker()
    ws.manage("import_model", str(model_file(ws.tmp)), "--publish")
    wait_for(job_done(ws, 1), "the job")
    before = ws.scores()
    # When a chunk of the finished job and a real-time batch are delivered again
    from celery import Celery

    app = Celery(broker=ws.redis.url)
    job_id = ws.jobs()[-1][0]
    lead_ids = [row[0] for row in ws.query("SELECT id FROM leads_lead ORDER BY id LIMIT 20")]
    for _ in range(2):
        app.send_task("scoring.rescore_chunk", args=[job_id, 0], queue="rescore")
    # then the chunk is not counted again, and the batch (scored at a later as_of) only moves
    # time forward: draining it twice gives the same rows as draining it once. The batch waits
    # for the real-time drain as an ingest leaves it (scoring_mark_pending).
    pending = (
        "INSERT INTO scoring_pendingscore (lead_id, queued_at, claimed_by) "
        "SELECT unnest(%s::bigint[]), now(), '' RETURNING lead_id"
    )
    ws.query(pending, [lead_ids])
    app.send_task("scoring.score_pending", queue="ingest")
    wait_for(lambda: ws.query("SELECT count(*) FROM scoring_score WHERE as_of > %s", [before[0][2]])[0][0] == 20,
             "the first batch")  # fmt: skip
    wait_for(lambda: not ws.query("SELECT 1 FROM scoring_pendingscore"), "the first drain to finish")
    once = ws.scores()
    ws.query(pending, [lead_ids])
    for _ in range(2):
        app.send_task("scoring.score_pending", queue="ingest")
    wait_for(lambda: not ws.query("SELECT 1 FROM scoring_pendingscore"), "the second batch")
    time.sleep(2)
    twice = ws.scores()
    assert [row[2] for row in twice] != [row[2] for row in once]  # scored again, at a later as_of
    strip = [row[:2] + row[3:] for row in once]
    assert [row[:2] + row[3:] for row in twice] == strip
    assert ws.jobs()[-1][2] == ws.jobs()[-1][3]  # chunks_done unchanged by the repeat


def test_a_job_whose_chunk_fails_for_good_ends_failed_and_is_not_resent(workspace):
    ws = workspace
    # Given a live model whose stored document was edited past the validator's bounds (by hand,
    # in SQL): a half-life of a quarter of an hour, which once made every chunk underflow
    ws.start_worker()
    ws.manage("import_model", str(model_file(ws.tmp)), "--publish")
    wait_for(job_done(ws, 1), "the publish job")
    ws.query(
        "UPDATE matrix_modelversion SET document = jsonb_set(document, '{half_life_days}', '0.01') "
        "WHERE status = 'published' RETURNING id"
    )
    # when the nightly decay sends its job to the worker (whose beat sweeps every second)
    from celery import Celery

    Celery(broker=ws.redis.url).send_task("scoring.nightly_decay", queue="default")
    # then that job ends failed, with the error
    wait_for(lambda: len(ws.jobs()) == 2 and ws.jobs()[-1][1] == "failed", "the nightly job to fail")
    ((error, enqueued),) = ws.query("SELECT error, enqueued_at FROM scoring_rescorejob WHERE state = 'failed'")
    assert error.startswith("chunk 1: DocumentError: ") and "half_life_days" in error
    # and the sweep (stale after 3 s) does not send it again: it stays failed, sent once
    time.sleep(6)
    assert ws.query("SELECT state, error, enqueued_at FROM scoring_rescorejob WHERE id = %s", [ws.jobs()[-1][0]]) == [
        ("failed", error, enqueued)
    ]
    log = "".join(p.read_text() for p in ws.tmp.glob("worker-*.log"))
    assert len(re.findall(r"Task scoring\.rescore_job_start\[[-0-9a-f]+\] received", log)) == 2  # one per job
