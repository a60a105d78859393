import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.generator import seed_demo
from leads.cli import iso_z, parse_instant
from leads.models import Lead
from leadscoring.roles import demo_users_ensure


def _now(value: str | None) -> datetime:
    """--now as an aware UTC instant; by default the current time truncated to the hour."""
    if value is None:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    parsed = parse_instant(value, "--now").astimezone(UTC).replace(microsecond=0)
    if parsed > datetime.now(UTC):
        raise CommandError(f"--now: {value!r} is in the future; the demo history must lie in the past")
    return parsed


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Build a demo workspace: the demo users, the 'new-business' and 'upsell' models (published), "
        "leads with a year of buyer-journey events, their scores, and MQL/SQL history. Deterministic: "
        "the same --seed and --now give the same data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=_positive, default=5000, help="number of leads (default 5000)")
        parser.add_argument("--days", type=_positive, default=365, help="days of history (default 365)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--now",
            help="ISO 8601 instant the history ends at and scores are computed at "
            "(default: the current time truncated to the hour)",
        )
        parser.add_argument(
            "--if-empty", dest="if_empty", action="store_true", help="do nothing when leads already exist"
        )
        parser.add_argument("--chunk-size", dest="chunk_size", type=_positive, default=settings.RESCORE_CHUNK_SIZE)

    def handle(self, leads, days, seed, now, if_empty, chunk_size, **options):
        started = time.monotonic()
        now = _now(now)
        users = demo_users_ensure()
        self.stdout.write(f"demo users ready: {', '.join(users)}")
        existing = Lead.objects.count()
        if existing:
            if if_empty:
                self.stdout.write(f"{existing} leads already exist: demo data not loaded (--if-empty)")
                return
            raise CommandError(
                f"{existing} leads already exist; seed_demo fills an empty workspace "
                "(use --if-empty to skip quietly, or start from a fresh database)"
            )
        self.stdout.write(f"seeding {leads} leads over {days} days, seed {seed}, now {iso_z(now)}")
        summary = seed_demo(
            leads=leads,
            days=days,
            seed=seed,
            now=now,
            user=users.get("admin"),
            chunk_size=chunk_size,
            progress=lambda message: self.stdout.write(f"  {message}"),
        )
        self.stdout.write("summary:")
        self.stdout.write(f"  models: {', '.join(summary.models)}")
        self.stdout.write(f"  leads: {summary.leads} ({summary.leads_rejected} rejected)")
        self.stdout.write(f"  events: {summary.events} ({summary.events_rejected} rejected)")
        self.stdout.write(f"  scores: {summary.scores} ({summary.history} score history rows before now)")
        for slug, counts in summary.lifecycle.items():
            stages = ", ".join(f"{stage} {n}" for stage, n in sorted(counts.stages.items()))
            self.stdout.write(
                f"  {slug}: {counts.mqls} MQLs, {counts.stages.get('sql', 0)} SQLs "
                f"({counts.direct_sql} straight to SQL); now {stages or 'none'}"
            )
        timing = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.seconds.items())
        self.stdout.write(f"  timing: {timing}; total {time.monotonic() - started:.1f} s")
