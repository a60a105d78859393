import time

from django.core.management.base import BaseCommand

from leads.services import events_ingest
from leads.tasks import enqueue_scoring

from ._rows import rows_or_fail, write_report


class Command(BaseCommand):
    help = (
        "Import events from .jsonl or .csv. A repeated event id for the same lead is ignored; rows "
        "with an unknown lead or a timestamp without offset are reported and not stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, path, **options):
        started = time.monotonic()
        report, touched = events_ingest(rows=rows_or_fail(path, "properties"))
        elapsed = time.monotonic() - started
        # Scores follow on the ingest queue, one task per 1,000 affected leads.
        enqueue_scoring(touched)
        write_report(self, report, "events")
        rate = report.accepted / elapsed if elapsed else 0
        self.stdout.write(f"took {elapsed:.2f} s ({rate:,.0f} events/s)")
