#!/usr/bin/env python
"""Page speed at scale (make bench): server time of the rep's pages and the manager's reports.

    .venv/bin/python benchmarks/pages.py [--requests 40]

Runs on the benchmark database of benchmarks/run.py (1,000,000 leads, 20,000,000 events, scored
by its rescore). Requests go through Django's test client in this process, so the time is the
server's (middleware, queries, templates), not the network's. Prints p50/p95 per page; targets:
lead list and lead page under 200 ms at p95, each report under 1 s.
"""

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import run  # noqa: E402

# A synthetic funnel for the reports (the reports' worst case): 30% of the leads became MQLs at
# dates spread over the last 365 days; of those 35% were accepted (1 hour to 30 days later), 20%
# rejected with one of the reasons, the rest are still pending. Pseudo-random but deterministic
# (multiplicative hashes of the lead id), set-based, and only once per database.
LIFECYCLE_SQL = [
    "DELETE FROM scoring_stagetransition WHERE scoring_model_id = %(m)s",
    "DELETE FROM scoring_leadstage WHERE scoring_model_id = %(m)s",
    """
    INSERT INTO scoring_leadstage (lead_id, scoring_model_id, stage, mql_at, mql_score, mql_version_id,
                                 mql_segment, accepted_at, rejected_at, reject_reason, reject_text, changed_at)
    SELECT f.lead_id, %(m)s,
           CASE WHEN f.outcome < 35 THEN 'sql' WHEN f.outcome < 55 THEN 'rejected' ELSE 'mql' END,
           f.mql_at, f.score, f.version_id, f.segment,
           CASE WHEN f.outcome < 35 THEN LEAST(f.mql_at + f.wait, %(now)s) END,
           CASE WHEN f.outcome >= 35 AND f.outcome < 55 THEN LEAST(f.mql_at + f.wait, %(now)s) END,
           CASE WHEN f.outcome >= 35 AND f.outcome < 55
                THEN (ARRAY['not_ready', 'wrong_fit', 'no_budget', 'duplicate', 'other'])[1 + f.lead_id %% 5]
                ELSE '' END,
           '', f.mql_at
    FROM (
        SELECT s.lead_id, s.score, s.version_id, s.segment,
               (s.lead_id * 7919) %% 100 AS outcome,
               %(now)s - make_interval(days => ((s.lead_id * 104729) %% 365)::int,
                                       secs => ((s.lead_id * 13) %% 86400)::int) AS mql_at,
               make_interval(secs => (3600 + (s.lead_id * 31) %% (30 * 86400))::int) AS wait
        FROM scoring_score s
        WHERE s.scoring_model_id = %(m)s AND (s.lead_id * 2654435761) %% 10 < 3
    ) f
    """,
    """
    INSERT INTO scoring_stagetransition (lead_id, scoring_model_id, from_stage, to_stage, score, version_id,
                                       reason, reason_text, occurred_at)
    SELECT lead_id, scoring_model_id, 'lead', 'mql', mql_score, mql_version_id, '', '', mql_at
    FROM scoring_leadstage WHERE scoring_model_id = %(m)s
    UNION ALL
    SELECT lead_id, scoring_model_id, 'mql', 'sql', mql_score, mql_version_id, '', '', accepted_at
    FROM scoring_leadstage WHERE scoring_model_id = %(m)s AND accepted_at IS NOT NULL
    UNION ALL
    SELECT lead_id, scoring_model_id, 'mql', 'rejected', mql_score, mql_version_id, reject_reason, '', rejected_at
    FROM scoring_leadstage WHERE scoring_model_id = %(m)s AND rejected_at IS NOT NULL
    """,
    "VACUUM ANALYZE scoring_leadstage",
    "VACUUM ANALYZE scoring_stagetransition",
]


def lifecycle_ensure(connection, model_id: int) -> None:
    """Generate the synthetic funnel once (a database that already has accepted leads keeps its own)."""
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM scoring_stagetransition WHERE scoring_model_id = %s AND to_stage = 'sql')",
            [model_id],
        )
        if cursor.fetchone()[0]:
            return
        started = time.perf_counter()
        for statement in LIFECYCLE_SQL:
            cursor.execute(statement, {"m": model_id, "now": timezone.now()})
        cursor.execute("SELECT count(*) FROM scoring_leadstage WHERE scoring_model_id = %s", [model_id])
        print(f"synthetic funnel: {cursor.fetchone()[0]:,} MQLs in {time.perf_counter() - started:.1f} s")


def timed(client, url: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", run.DEFAULT_URL))
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--only", default="", help="time only the pages whose name contains this text")
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=args.database_url, DEBUG="0", SECURE_SSL_REDIRECT="0")
    # Requests are served in this process with DEBUG off, as in production: they need a key.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from leads.models import Lead
    from leadscoring.roles import demo_users_ensure
    from matrix.selectors import versions_live
    from scoring.models import Score

    settings.ALLOWED_HOSTS = ["testserver"]
    users = demo_users_ensure()
    version = next((v for v in versions_live() if v.scoring_model.slug == "new-business"), None)
    if version is None or not Score.objects.filter(scoring_model=version.scoring_model).exists():
        raise SystemExit("run benchmarks/run.py first: it generates and scores the leads")
    run.owners_ensure()  # the leads spread over the three demo reps (once)
    lifecycle_ensure(connection, version.scoring_model_id)
    model = version.scoring_model.slug
    lead = Score.objects.filter(scoring_model=version.scoring_model, lead__owner=users["rep"]).order_by("-score")[0]
    year = date.today().year
    span = f"start={year - 1}-01-01&end={year}-12-31"
    pages = [
        ("rep", "lead list (own leads, by score)", f"/leads/?model={model}"),
        ("rep", "lead list filtered to hot", f"/leads/?model={model}&tier=hot"),
        ("manager", "lead list, every lead", f"/leads/?model={model}"),
        ("rep", "lead page", f"/leads/{lead.lead_id}/"),
        ("manager", "fit x engagement grid", f"/leads/grid/?model={model}"),
        ("manager", "conversion report", f"/reports/conversion/?model={model}&{span}"),
        ("manager", "conversion report, by week", f"/reports/conversion/?model={model}&{span}&grain=week"),
        ("manager", "breakdown by segment", f"/reports/breakdown/?model={model}&{span}&dimension=segment"),
        ("manager", "breakdown by industry", f"/reports/breakdown/?model={model}&{span}&dimension=industry"),
        ("manager", "breakdown by lead source", f"/reports/breakdown/?model={model}&{span}&dimension=lead_source"),
        ("manager", "breakdown by country", f"/reports/breakdown/?model={model}&{span}&dimension=country"),
        ("manager", "breakdown by owner", f"/reports/breakdown/?model={model}&{span}&dimension=owner"),
        ("manager", "breakdown by product interest", f"/reports/breakdown/?model={model}&{span}&dimension=attribute"),
        ("manager", "rejection reasons", f"/reports/rejections/?model={model}&{span}"),
        ("manager", "calibration (score at MQL)", f"/reports/calibration/?model={model}&{span}"),
        ("manager", "calibration (current scores)", f"/reports/calibration/?model={model}&{span}&basis=current"),
        ("manager", "score distribution", f"/reports/distribution/?model={model}"),
        ("rep", "conversion report, own leads", f"/reports/conversion/?model={model}&{span}"),
    ]
    print(f"{Lead.objects.count():,} leads; {args.requests} requests per page after one warm-up")
    for persona, name, url in (p for p in pages if args.only in p[1]):
        client = Client()
        client.force_login(users[persona])
        client.get(url)
        times = timed(client, url, args.requests)
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
        print(f"{name:38s} p50 {statistics.median(times) * 1000:7.0f} ms   p95 {p95 * 1000:7.0f} ms   ({persona})")


if __name__ == "__main__":
    main()
