import time

from django.core.management.base import BaseCommand

from imports.choices import ImportKind
from imports.cli import add_import_arguments, open_rows, write_report
from leads.services import ImportReport, events_ingest
from scoring.services import enqueue_scoring


class Command(BaseCommand):
    help = (
        "Import events from .csv or .jsonl. A repeated event id for the same lead is ignored; rows "
        "with an unknown lead or a bad value are listed with their line and reason and not stored, "
        "and the command then exits with status 1. See docs/imports.md."
    )

    def add_arguments(self, parser):
        add_import_arguments(parser, leads=False)

    def handle(self, **options):
        started = time.monotonic()
        source, _, _ = open_rows(options, kind=ImportKind.EVENTS)
        self.owner_fallback = ""
        report, touched = events_ingest(rows=source.rows, report=ImportReport())
        # Scores follow on the ingest queue, one task per 1,000 affected leads.
        enqueue_scoring(touched)
        rate = report.accepted / (time.monotonic() - started or 1)
        write_report(self, report, "events", source, started)
        self.stdout.write(f"{rate:,.0f} events/s")
