#!/usr/bin/env python
"""Speed of the slow actions of the demo (make bench): exports, the impact preview, a rescore.

    .venv/bin/python benchmarks/demo.py [--database PATH] [--repeat 3] [--profile NAME]

Runs on the SQLite database of `make demo` (5,000 leads, two models), made afresh by
`seed_demo` in a throwaway file unless --database names one (its data is left as it was: the
rescore and the preview are rolled back). Each action is timed in this process (no network),
--repeat times, and the best and the median wall time are printed, with the CPU time of the
best run (SQLite runs in this process, so on a shared machine it is the steadier figure):

  - the CSV and the XLSX export of the manager's lead list (every lead of the first model),
    read to the last byte as a browser would download it;
  - the impact preview of a draft (a points change on the first model) as its worker runs it;
  - the rescore of every lead by the live version of the first model, counted afresh from the
    events (a manual rescore), and as its publish job runs it (ten chunks, stored counts reused).

Targets (docs/performance.md): an export under 1 s per 10,000 rows, the preview and the rescore of
5,000 leads under 3 s. --profile NAME runs that action once under pyinstrument (pip install
pyinstrument) and prints where its time went.
"""

import argparse
import copy
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ("export_csv", "export_xlsx", "impact_preview", "rescore_manual", "rescore_job")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def setup(database: str | None) -> str:
    path = database or str(Path(tempfile.mkdtemp(prefix="bench-demo-")) / "demo.sqlite3")
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("LEADSCORING_VAR_DIR", str(Path(path).parent / "var"))
    os.environ.pop("REDIS_URL", None)  # never post to a shared broker: the queue is a folder beside the file
    # The exports are requests served in this process with DEBUG off, as in production: they need a key.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    started = time.monotonic()
    call_command("seed_demo", "--if-empty", verbosity=0)
    log(f"database {path} ready ({time.monotonic() - started:.1f} s)")
    return path


class Demo:
    """What the actions need, read once: the manager, the first model and its live version."""

    def __init__(self, slug: str | None = None):
        from django.contrib.auth import get_user_model
        from django.test import Client

        from leads.models import Lead
        from matrix.models import ScoringModel
        from matrix.selectors import version_live

        models = ScoringModel.objects.order_by("id")
        self.model = models.get(slug=slug) if slug else models.first()
        self.live = version_live(scoring_model=self.model)
        self.leads = Lead.objects.count()
        self.client = Client()
        self.client.force_login(get_user_model().objects.get(username="manager"))
        self.client.raise_request_exception = True

    def export(self, fmt: str) -> str:
        response = self.client.get("/leads/", {"model": self.model.slug, "_export": fmt}, secure=True)
        assert response.status_code == 200, response.status_code
        size = sum(len(chunk) for chunk in response) if response.streaming else len(response.content)
        return f"{size / 1e6:.1f} MB"

    def impact_preview(self) -> str:
        from django.contrib.auth import get_user_model
        from django.db import transaction

        from matrix.services import model_draft_start, model_draft_update
        from scoring.impact import impact_preview_request, impact_preview_run
        from scoring.models import ImpactPreview

        marketer = get_user_model().objects.get(username="marketer")
        with transaction.atomic():
            draft = model_draft_start(scoring_model=self.model, user=marketer)
            document = copy.deepcopy(draft.document)
            document["criteria"][0]["points"] += 5
            draft = model_draft_update(version=draft, data=document, user=marketer, revision=draft.revision)
            preview = impact_preview_request(version=draft, user=marketer, rerun=True)
            started = time.monotonic()
            assert impact_preview_run(preview_id=preview.pk)
            seconds = time.monotonic() - started
            preview = ImpactPreview.objects.get(pk=preview.pk)
            transaction.set_rollback(True)
        return f"{preview.leads_total:,} leads, {seconds:.2f} s in the worker's task", seconds

    def rescore_manual(self) -> str:
        from django.db import transaction
        from django.utils import timezone

        from scoring.services import leads_rescore

        with transaction.atomic():
            scored = leads_rescore(version=self.live, as_of=timezone.now())
            transaction.set_rollback(True)
        return f"{scored:,} leads"

    def rescore_job(self) -> str:
        from django.db import transaction

        from scoring.choices import JobTrigger
        from scoring.jobs import rescore_chunk_run, rescore_job_create, rescore_job_plan

        with transaction.atomic():
            job = rescore_job_create(version=self.live, trigger=JobTrigger.PUBLISH)
            chunks = rescore_job_plan(job_id=job.pk)
            for index in chunks:
                rescore_chunk_run(job_id=job.pk, index=index)
            job.refresh_from_db()
            transaction.set_rollback(True)
        return f"{job.leads_done:,} leads in {len(chunks)} chunks, {job.state}"


def run(demo: Demo, action: str):
    cpu = time.process_time()
    started = time.monotonic()
    if action == "export_csv":
        note = demo.export("csv")
    elif action == "export_xlsx":
        note = demo.export("xlsx")
    else:
        note = getattr(demo, action)()
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu
    if isinstance(note, tuple):
        note, seconds = note
    return seconds, cpu, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a demo SQLite file (default: a fresh one, seeded)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=ACTIONS, help="run this action once under pyinstrument")
    parser.add_argument("--model", help="the model's slug (default: the first model)")
    parser.add_argument("--only", choices=ACTIONS, action="append", help="time only these actions")
    args = parser.parse_args()
    setup(args.database)
    demo = Demo(args.model)
    log(f"{demo.leads:,} leads; model {demo.model.slug} v{demo.live.number}")
    if args.profile:
        from pyinstrument import Profiler

        with Profiler() as profiler:
            seconds, _, note = run(demo, args.profile)
        log(f"{args.profile}: {seconds:.2f} s ({note})")
        profiler.print(show_all=False)
        return
    print(f"{'action':<16} {'best':>8} {'median':>8} {'CPU':>8}  what")
    for action in args.only or ACTIONS:
        runs, note = [], ""
        for _ in range(args.repeat):
            seconds, cpu, note = run(demo, action)
            runs.append((seconds, cpu))
        best, cpu = min(runs)
        median = statistics.median(seconds for seconds, _ in runs)
        per = f" ({best / demo.leads * 10_000:.2f} s per 10k rows)" if action.startswith("export") else ""
        print(f"{action:<16} {best:>7.2f}s {median:>7.2f}s {cpu:>7.2f}s  {note}{per}", flush=True)


if __name__ == "__main__":
    main()
