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
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import run  # noqa: E402


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
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=args.database_url, DEBUG="0", SECURE_SSL_REDIRECT="0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from leads.models import Lead, Score
    from leadscoring.roles import demo_users_ensure
    from matrix.selectors import versions_live

    settings.ALLOWED_HOSTS = ["testserver"]
    users = demo_users_ensure()
    version = next((v for v in versions_live() if v.scoring_model.slug == "new-business"), None)
    if version is None or not Score.objects.filter(scoring_model=version.scoring_model).exists():
        raise SystemExit("run benchmarks/run.py first: it generates and scores the leads")
    # Spread the leads over the three demo reps (once), so "my leads" lists are realistic.
    if not Lead.objects.filter(owner__isnull=False).exists():
        reps = [users["rep"].pk, users["rep2"].pk, users["rep3"].pk]
        with connection.cursor() as cursor:
            cursor.execute("UPDATE leads_lead SET owner_id = (ARRAY[%s, %s, %s])[1 + (id %% 3)]", reps)
            cursor.execute("ANALYZE leads_lead")
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
        ("manager", "breakdown by segment", f"/reports/breakdown/?model={model}&{span}&dimension=segment"),
        ("manager", "score distribution", f"/reports/distribution/?model={model}"),
    ]
    print(f"{Lead.objects.count():,} leads; {args.requests} requests per page after one warm-up")
    for persona, name, url in pages:
        client = Client()
        client.force_login(users[persona])
        client.get(url)
        times = timed(client, url, args.requests)
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
        print(f"{name:38s} p50 {statistics.median(times) * 1000:7.0f} ms   p95 {p95 * 1000:7.0f} ms   ({persona})")


if __name__ == "__main__":
    main()
