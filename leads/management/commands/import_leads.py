import time

from django.core.management.base import BaseCommand

from leads.services import leads_import
from leads.tasks import enqueue_scoring

from ._rows import rows_or_fail, write_report


class Command(BaseCommand):
    help = (
        "Import leads from .jsonl or .csv, upserting by id. Numeric strings are coerced; rows that "
        "fail validation are reported with their reason and never stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, path, **options):
        started = time.monotonic()
        report, touched = leads_import(rows=rows_or_fail(path, "attributes"))
        # Scores follow on the ingest queue, one task per 1,000 affected leads.
        enqueue_scoring(touched)
        write_report(self, report, "leads")
        self.stdout.write(f"took {time.monotonic() - started:.2f} s")
