#!/usr/bin/env python
"""make bench: synthetic leads and events on Postgres, then rescores of every lead against the floor query.

    .venv/bin/python benchmarks/run.py [--leads 1000000] [--events 20000000] [--reuse]
        [--chunk-size 250000] [--workers 2] [--mode points|recount|full|nightly ...] [--later HOURS]

Generates the data set-based in Postgres (deterministic: setseed), spreads the leads over the
three demo reps (owners_ensure), imports the demo model, scores every lead once (untimed), then
times in one run and database the rescore of every lead through the production path
(leads_rescore over chunks of lead ids), in each mode in turn:
  - points: after a points change, as the publish job runs it (stored counts reused);
  - recount: after a change needing a recount (a criterion on page views added, or its condition
    changed), as the publish job runs it (only that criterion counted afresh);
  - full: every lead counted afresh from its events, as a manual rescore runs it;
  - nightly: the live version 24 hours after the stored scores, as the nightly decay runs it;
and the floor query  SELECT lead_id, kind, count(*), max(occurred_at) FROM leads_event GROUP BY lead_id, kind,
each with the tables it reads in the page cache first (WARM_TABLES), printing each ratio with its
target, and the peak memory of the rescoring processes, sampled per chunk so a growing footprint
would show. With --workers N, N processes (each with its own
connection) take chunks concurrently, as N Celery workers would. --later H scores the points and
recount modes H hours after the stored scores (some stored counts then no longer hold).
"""

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/leadscoring_bench"
AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)
# Weighted kinds: one array element per share of the traffic.
KINDS = (
    ["page_view"] * 7
    + ["email_sent"] * 4
    + ["email_open"] * 3
    + ["email_click"] * 2
    + [
        "content_download",
        "webinar_attended",
        "social_engagement",
        "form_submit",
        "demo_request",
        "unsubscribe",
        "contact_sales",
    ]
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def connect(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True)


def ensure_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    with connect(base + "/postgres") as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def generate(url: str, leads: int, events: int) -> None:
    with connect(url) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("TRUNCATE scoring_score, scoring_scorehistory, leads_event, leads_lead RESTART IDENTITY CASCADE")
        conn.execute("SELECT setseed(0.42)")
        started = time.monotonic()
        conn.execute(
            """
            INSERT INTO leads_lead (external_id, email, first_name, last_name, company, title, industry,
                country, employees, annual_revenue, lead_source, owner_id, created_at, updated_at, attributes)
            SELECT 'B-' || g, 'p' || g || '@example.com', 'First' || mod(g, 997), 'Last' || mod(g, 991),
                'Company ' || mod(g, 50000),
                (ARRAY['VP Sales','Director of Marketing','Head of Growth','Chief Technology Officer',
                       'Engineer','Analyst','PhD Student','Marketing Manager'])[1 + floor(random() * 8)::int],
                (ARRAY['Software','IT Services','Internet','Finance','Healthcare','Retail','Manufacturing',
                       'Education'])[1 + floor(random() * 8)::int],
                (ARRAY['US','GB','DE','FR','JP','IN','BR'])[1 + floor(random() * 7)::int],
                (ARRAY[5, 50, 200, 1000, 4999, 5000, 20000])[1 + floor(random() * 7)::int],
                (ARRAY[100000, 2500000, 50000000, 1000000000])[1 + floor(random() * 4)::int],
                (ARRAY['organic','paid','webinar','referral','trade_show'])[1 + floor(random() * 5)::int],
                NULL, %(as_of)s - random() * interval '700 days', now(),
                jsonb_build_object('budget_confirmed', random() < 0.3, 'seats', floor(random() * 200)::int)
            FROM generate_series(1, %(n)s::bigint) AS g
            """,
            {"n": leads, "as_of": AS_OF},
        )
        log(f"leads: {leads:,} in {time.monotonic() - started:.1f} s")
        first = conn.execute("SELECT MIN(id) FROM leads_lead").fetchone()[0]
        # Indexes go after the load: building them once is far cheaper than maintaining them per row.
        conn.execute("DROP INDEX IF EXISTS event_lead_time")
        conn.execute("DROP INDEX IF EXISTS event_received")
        conn.execute("DROP INDEX IF EXISTS event_lead_kind_time")
        conn.execute("ALTER TABLE leads_event DROP CONSTRAINT IF EXISTS event_external_id_unique_per_lead")
        conn.execute("DROP INDEX IF EXISTS event_external_id_unique_per_lead")
        started = time.monotonic()
        step = 2_000_000
        # The events go in in the order they happened, as a production table gets them (batch b
        # holds the b-th slice of the 400 days, sorted), so that a scan of the lookback's events
        # reads the table's recent pages only, as it does in production.
        batches = -(-events // step)
        for b, lo in enumerate(range(1, events + 1, step)):
            hi = min(events, lo + step - 1)
            conn.execute(
                """
                INSERT INTO leads_event (lead_id, external_id, kind, occurred_at, received_at, properties)
                SELECT s.lead_id, 'E' || s.g, s.kind, s.occurred_at, now(),
                    CASE s.kind
                      WHEN 'page_view' THEN jsonb_build_object('url', (ARRAY['/blog/post-1', '/blog/post-2',
                           '/pricing', '/careers', '/product', '/docs'])[1 + floor(random() * 6)::int])
                      WHEN 'content_download' THEN jsonb_build_object('asset', 'ebook-' || floor(random() * 5)::int)
                      WHEN 'email_sent' THEN jsonb_build_object('message_id', 'm' || floor(random() * 12)::int)
                      WHEN 'email_open' THEN jsonb_build_object('message_id', 'm' || floor(random() * 12)::int)
                      WHEN 'email_click' THEN jsonb_build_object('message_id', 'm' || floor(random() * 12)::int)
                      ELSE '{}'::jsonb END
                FROM (SELECT g, %(first)s + floor(random() * %(leads)s)::bigint AS lead_id,
                             (%(kinds)s::text[])[1 + floor(random() * %(k)s)::int] AS kind,
                             %(as_of)s - interval '400 days' + (%(b)s + random()) * %(slice)s AS occurred_at
                      FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g) AS s
                ORDER BY s.occurred_at
                """,
                {
                    "as_of": AS_OF,
                    "first": first,
                    "leads": leads,
                    "kinds": KINDS,
                    "k": len(KINDS),
                    "lo": lo,
                    "hi": hi,
                    "b": b,
                    "slice": timedelta(days=400) / batches,
                },
            )
            log(f"events: {hi:,}/{events:,} ({time.monotonic() - started:.0f} s)")
        started = time.monotonic()
        conn.execute("CREATE INDEX event_lead_time ON leads_event (lead_id, occurred_at)")
        conn.execute("CREATE INDEX event_received ON leads_event (received_at)")
        conn.execute("CREATE INDEX event_lead_kind_time ON leads_event (lead_id, kind, occurred_at)")
        conn.execute(
            "CREATE UNIQUE INDEX event_external_id_unique_per_lead ON leads_event (lead_id, external_id) "
            "WHERE external_id IS NOT NULL"
        )
        conn.execute("VACUUM ANALYZE leads_lead")
        conn.execute("VACUUM ANALYZE leads_event")
        log(f"indexes and statistics in {time.monotonic() - started:.1f} s")


def owners_ensure() -> None:
    """Spread the leads over the three demo reps, once (untimed): a rescore then writes the alerts
    of each crossing to its owner as in production, and pages.py's "my leads" lists are a rep's."""
    from django.db import connection

    from leads.models import Lead
    from leadscoring.roles import demo_users_ensure

    if Lead.objects.filter(owner__isnull=False).exists():
        return
    started = time.monotonic()
    users = demo_users_ensure()
    reps = [users["rep"].pk, users["rep2"].pk, users["rep3"].pk]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE leads_lead SET owner_id = (ARRAY[%s, %s, %s])[1 + (id %% 3)]", reps)
        # That UPDATE left a dead copy of every row: the table would be twice the size a real
        # one is, and every scan of it twice as slow. Compact it, as a real table would be.
        cursor.execute("VACUUM FULL leads_lead")
        # VACUUM FULL leaves the visibility map empty: every index-only scan of the leads (the
        # job's chunk plan, a chunk's count of its leads) would then read each row from the heap,
        # unlike on a table autovacuum has visited. The plain VACUUM sets it, as generate() does.
        cursor.execute("VACUUM ANALYZE leads_lead")
    log(f"the leads spread over the three demo reps ({time.monotonic() - started:.1f} s, not timed)")


def counts(url: str) -> tuple[int, int]:
    with connect(url) as conn:
        leads = conn.execute("SELECT COUNT(*) FROM leads_lead").fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM leads_event").fetchone()[0]
    return leads, events


# What a rescore and the floor query read. This machine's page cache does not keep a 2 GB table
# for long (a first pass over the events heap took 31 s from disk, 1.6 s from the cache), so a run
# read them in first: the figures are then of the work, at the cache state of a busy server.
WARM_TABLES = (
    "leads_event",
    "event_lead_time",
    "event_lead_kind_time",
    "leads_lead",
    "leads_lead_pkey",
    "scoring_score",
    "scoring_score_pkey",
    "scoring_scorebreakdown",
    "scoring_scorebreakdown_pkey",
)


def warm_cache(url: str) -> str:
    """Read the tables of WARM_TABLES into the operating system's page cache (pg_prewarm's
    `read` mode: not into shared_buffers, which would favour whatever fits there); what was done."""
    import psycopg

    with connect(url) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        except psycopg.Error as exc:
            # Creating it takes a superuser: without it the run goes on, and may read from disk.
            return f"tables NOT read into the page cache first (pg_prewarm: {str(exc).strip().splitlines()[0]})"
        started = time.monotonic()
        for name in WARM_TABLES:
            conn.execute("SELECT pg_prewarm(%s::regclass, 'read')", [name])
        return f"read the tables into the page cache ({time.monotonic() - started:.1f} s, not timed)"


def floor_query(url: str) -> float:
    with connect(url) as conn:
        started = time.monotonic()
        conn.execute(
            "SELECT COUNT(*) FROM (SELECT lead_id, kind, count(*), max(occurred_at) "
            "FROM leads_event GROUP BY lead_id, kind) AS q"
        ).fetchone()
        return time.monotonic() - started


def _rescore_chunk(version, lo: int, hi: int, as_of, reuse: bool) -> float:
    from scoring.services import leads_rescore

    leads_rescore(version=version, as_of=as_of, id_range=(lo, hi), reuse=reuse, serial=True)
    return rss_mb()


def _rescore_all(version, *, chunk_size: int, workers: int, progress: bool, as_of=AS_OF, reuse=False) -> list[float]:
    """Every lead through leads_rescore in chunks, on `workers` processes; the RSS after each chunk."""
    from scoring.jobs import job_lead_ranges
    from scoring.services import leads_rescore

    ranges = job_lead_ranges(chunk_size=chunk_size)
    memory = []
    started = time.monotonic()
    if workers == 1:
        for lo, hi, _ in ranges:
            leads_rescore(version=version, as_of=as_of, id_range=(lo, hi), reuse=reuse, serial=True)
            memory.append(rss_mb())
            if progress:
                elapsed = time.monotonic() - started
                log(f"rescore chunk {len(memory)}/{len(ranges)} ({elapsed:.1f} s, peak RSS {memory[-1]:.0f} MB)")
        return memory
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from django.db import connections

    connections.close_all()  # forked workers open their own connections
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_rescore_chunk, version, lo, hi, as_of, reuse) for lo, hi, _ in ranges]
        for future in futures:
            memory.append(future.result())
            if progress:
                elapsed = time.monotonic() - started
                log(f"rescore chunk {len(memory)}/{len(ranges)} ({elapsed:.1f} s, worker peak RSS {memory[-1]:.0f} MB)")
    return memory


RECOUNT_KEY = "docs-visit"


def version_for(args, mode: str):
    """The version to rescore with in `mode`, published if it is a change, over scores stored at AS_OF.

    A fresh database is scored first (not timed) with the fixture model, so that the timed run is
    what a change costs in production: every lead rescored, its stored row rewritten. Each change
    flips back and forth between runs (--reuse), so that every run changes something:
      - points: the pricing criterion's points (+5, then the fixture's value again);
      - recount: a criterion on page views (the most common kind, 30% of the events) added, then
        its condition changed from "/docs" to "/product" and back: what a workshop does most;
      - full and nightly: no change (the live version).
    """
    from matrix.models import ScoringModel
    from matrix.selectors import version_live
    from matrix.services import model_import
    from scoring.jobs import model_version_publish
    from scoring.models import Score

    document = json.loads((ROOT / "demo" / "fixtures" / "b2b-saas.json").read_text())
    base_points = next(c for c in document["criteria"] if c["key"] == "pricing-visit")["points"]
    model = ScoringModel.objects.filter(slug=document["slug"]).first()
    live = version_live(scoring_model=model) if model else None
    scores = Score.objects.filter(scoring_model=model)
    if live is None or not scores.exists():
        live = model_version_publish(version=model_import(data=document, note="bench: base"))
        started = time.monotonic()
        _rescore_all(live, chunk_size=args.chunk_size, workers=args.workers, progress=False)
        log(f"scored every lead with the base model first ({time.monotonic() - started:.1f} s, not timed)")
    elif scores.exclude(as_of=AS_OF).exists() or scores.filter(basis__isnull=True).exists():
        # Scores written since at another as_of (the nightly mode, benchmarks/ingest.py), or
        # without their counts: score every lead again at AS_OF, so that each run starts alike.
        live = model_version_publish(version=model_import(data=live.document, note="bench: base again"))
        started = time.monotonic()
        _rescore_all(live, chunk_size=args.chunk_size, workers=args.workers, progress=False)
        log(f"scored every lead again at the benchmark's as_of ({time.monotonic() - started:.1f} s, not timed)")
    if mode in ("full", "nightly"):
        return live
    changed = copy.deepcopy(live.document)
    if mode == "points":
        pricing = next(c for c in changed["criteria"] if c["key"] == "pricing-visit")
        step = 5 if pricing["points"] == base_points else base_points - pricing["points"]
        pricing["points"] += step
        note = f"pricing-visit points {pricing['points'] - step} -> {pricing['points']}"
    else:
        docs = next((c for c in changed["criteria"] if c["key"] == RECOUNT_KEY), None)
        if docs is None:
            note = f"criterion {RECOUNT_KEY} added (page views whose url contains /docs, 10 points, cap 3 a month)"
            changed["criteria"].append(
                {
                    "key": RECOUNT_KEY,
                    "label": "Docs visit",
                    "dimension": "engagement",
                    "event": "page_view",
                    "where": {"field": "url", "op": "contains", "value": "/docs"},
                    "points": 10,
                    "cap": 3,
                    "cap_window_days": 30,
                }
            )
        else:
            before = docs["where"]["value"]
            docs["where"]["value"] = "/product" if before == "/docs" else "/docs"
            note = f"criterion {RECOUNT_KEY}'s condition: url contains {before} -> {docs['where']['value']}"
    log(f"{mode} change: {note}")
    return model_version_publish(version=model_import(data=changed, note=f"bench: {note}"))


MODES = {
    # mode: (what it is, target ratio to the floor query or None)
    "points": ("a points change, as the publish job runs it (stored counts reused)", 2.5),
    "recount": ("a change needing a recount (a criterion added, or its condition changed), as the publish job", 4),
    "full": ("every lead counted afresh from its events, as a manual rescore runs it", None),
    "nightly": ("the nightly decay: every lead with the live version, 24 hours later", 4),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--chunk-size", type=int, default=250_000)
    parser.add_argument(
        "--workers", type=int, default=2, help="chunks rescored concurrently (processes), as the Celery workers do"
    )
    parser.add_argument("--reuse", action="store_true", help="keep the data if the sizes already match")
    parser.add_argument(
        "--mode",
        action="append",
        choices=tuple(MODES),
        help="the rescores to time, in this order (repeatable); default: "
        + ", ".join(MODES)
        + ". "
        + "; ".join(f"{name}: {what}" for name, (what, _) in MODES.items()),
    )
    parser.add_argument(
        "--later", type=float, default=0, help="points and recount: score this many hours after the stored scores"
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("the benchmark runs on Postgres: --database-url postgres://...")

    total_started = time.monotonic()
    ensure_database(args.database_url)
    env = dict(os.environ, DATABASE_URL=args.database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    if not (args.reuse and counts(args.database_url) == (args.leads, args.events)):
        generate(args.database_url, args.leads, args.events)
    leads, events = counts(args.database_url)
    log(f"data: {leads:,} leads, {events:,} events")

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from engine.sql import Postgres

    owners_ensure()

    print()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {server_version(args.database_url)}")
    print(f"settings: {pg_settings(args.database_url)}; leads_rescore sets: {'; '.join(Postgres().session_settings())}")
    print(f"data: {leads:,} leads, {events:,} events")
    ratios = [(mode, timed_rescore(args, leads, mode=mode)) for mode in args.mode or MODES]
    print("summary (ratio to the floor query; target in brackets):")
    for mode, ratio in ratios:
        what, target = MODES[mode]
        verdict = "no target" if target is None else f"target <= {target}: {'met' if ratio <= target else 'MISSED'}"
        print(f"  {mode:8} {ratio:6.2f}  ({verdict})  {what}")
    print(f"total benchmark time: {time.monotonic() - total_started:.0f} s")


def timed_rescore(args, leads: int, *, mode: str) -> float:
    """The version of `mode`, then every lead rescored in chunks, timed against the floor query.
    Returns the ratio of the rescore (up to the job's Done) to the floor query."""
    from scoring.services import scores_analyze, scores_vacuum

    version = version_for(args, mode)
    reuse = mode != "full"
    # A previous run (--reuse) leaves a dead copy of every score and breakdown row until
    # autovacuum gets to them; start every run from the state autovacuum would leave.
    started = time.monotonic()
    with connect(args.database_url) as conn:
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) scoring_score, scoring_scorebreakdown, scoring_scorehistory")
    log(f"vacuumed the score tables ({time.monotonic() - started:.1f} s, not timed)")
    later = 24 if mode == "nightly" else args.later
    as_of = AS_OF + timedelta(hours=later)
    reusable = reusable_leads(version, as_of) if reuse else 0
    if reuse:
        log(f"stored counts that hold at {as_of:%Y-%m-%d %H:%M}: {reusable:,} leads")
    log(warm_cache(args.database_url))
    floor_s = floor_query(args.database_url)
    log(f"floor query: {floor_s:.2f} s")
    started = time.monotonic()
    memory = _rescore_all(
        version, chunk_size=args.chunk_size, workers=args.workers, progress=True, as_of=as_of, reuse=reuse
    )
    analyze_started = time.monotonic()
    scores_analyze()  # as the job does when its last chunk is done: the job is then Done
    rescore_s = time.monotonic() - started
    analyze_s = time.monotonic() - analyze_started
    started = time.monotonic()
    scores_vacuum()  # the task the job queues as it ends
    vacuum_s = time.monotonic() - started
    floor_again = floor_query(args.database_url)
    floor_best = min(floor_s, floor_again)
    with connect(args.database_url) as conn:
        scored = conn.execute("SELECT COUNT(*) FROM scoring_score WHERE version_id = %s", [version.pk]).fetchone()[0]
    what, target = MODES[mode]
    print()
    print(f"{mode}: {what}")
    print(f"{scored:,} scores written by version {version.number}; {reusable:,} leads' stored counts held")
    print(
        f"rescore of every lead: {rescore_s:.2f} s ({leads / rescore_s:,.0f} leads/s, "
        f"{len(memory)} chunks of up to {args.chunk_size:,}, {args.workers} worker{'s' if args.workers > 1 else ''}, "
        f"as_of {later:g} h after the stored scores), of which the closing ANALYZE {analyze_s:.2f} s"
    )
    print(f"then the vacuum of the scores, queued as its own task: {vacuum_s:.2f} s")
    print(f"floor query (GROUP BY lead_id, kind): {floor_s:.2f} s, again {floor_again:.2f} s")
    ratio = rescore_s / floor_best
    print(f"ratio rescore / floor: {ratio:.2f}  ({'no target' if target is None else f'target <= {target}'})")
    print(f"ratio with the vacuum: {(rescore_s + vacuum_s) / floor_best:.2f}")
    first_tenth = memory[max(0, len(memory) // 10 - 1)] if memory else 0
    print(f"peak RSS of the rescoring process: {max(memory):.0f} MB (after 10% of chunks: {first_tenth:.0f} MB)")
    print()
    return ratio


def reusable_leads(version, as_of) -> int:
    """How many leads' stored counts (whole, or but for the criteria counted afresh) hold at as_of."""
    from django.db import connection

    from engine.reuse import reusable_where
    from engine.sql import Params, dialect_for
    from matrix.selectors import version_recount_source, version_spec, versions_reusable
    from scoring.statements import engine_tables

    spec = version_spec(version=version)
    sources = list(versions_reusable(version=version, spec=spec))
    recount = version_recount_source(version=version, spec=spec)
    sources += recount[0] if recount else []
    if not sources:
        return 0
    p, tables = Params(), engine_tables()
    where = reusable_where(dialect_for(connection), p, as_of, version.scoring_model_id, sources, None, tables=tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {tables.score} s, {tables.lead} l WHERE {where}", p.values)
        return cursor.fetchone()[0]


def pg_settings(url: str) -> str:
    names = ("shared_buffers", "max_wal_size", "work_mem", "max_parallel_workers_per_gather", "jit")
    with connect(url) as conn:
        return ", ".join(f"{n} = {conn.execute(f'SHOW {n}').fetchone()[0]}" for n in names)


def server_version(url: str) -> str:
    with connect(url) as conn:
        return conn.execute("SELECT split_part(version(), ' on ', 1)").fetchone()[0]


if __name__ == "__main__":
    main()
