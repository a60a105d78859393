import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from leads.cli import iso_z, parse_as_of
from matrix.selectors import versions_live
from scoring.services import lead_ranges, leads_rescore, scores_analyze, scores_vacuum


class Command(BaseCommand):
    help = "Rescore every lead under the live version of each model (or one), in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--model", help="slug of one model (default: every model with a live version)")
        parser.add_argument("--as-of", dest="as_of", help="ISO 8601 instant to score at (default: now)")
        parser.add_argument("--chunk-size", type=int, default=settings.RESCORE_CHUNK_SIZE)
        parser.add_argument(
            "--full",
            action="store_true",
            help="count every lead afresh from its events (default: reuse stored counts that still hold)",
        )

    def handle(self, model, as_of, chunk_size, full, **options):
        as_of = parse_as_of(as_of)
        versions = [v for v in versions_live() if model is None or v.scoring_model.slug == model]
        if not versions:
            raise CommandError(f"no live version for {model!r}" if model else "no model has a live version")
        ranges = lead_ranges(chunk_size=chunk_size)
        total = sum(n for _, _, n in ranges)
        for version in versions:
            started = time.monotonic()
            done = 0
            for lo, hi, n in ranges:
                leads_rescore(version=version, as_of=as_of, id_range=(lo, hi), reuse=not full)
                done += n
                elapsed = time.monotonic() - started
                self.stdout.write(
                    f"{version.scoring_model.slug} v{version.number}: {done}/{total} leads "
                    f"({elapsed:.1f} s, {done / elapsed if elapsed else 0:,.0f} leads/s)"
                )
            self.stdout.write(
                f"rescored {total} leads for {version.scoring_model.slug} v{version.number} at {iso_z(as_of)} "
                f"in {time.monotonic() - started:.2f} s"
            )
        # As a job ends (scoring/jobs.py), but in the foreground: the lists are planned with the new
        # figures and do not step over the rewritten rows' dead copies. Postgres only.
        started = time.monotonic()
        scores_analyze()
        scores_vacuum()
        self.stdout.write(f"analyzed and vacuumed the scores in {time.monotonic() - started:.2f} s")
