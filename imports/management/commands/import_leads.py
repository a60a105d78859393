import time

from django.core.management.base import BaseCommand

from imports.choices import ImportKind
from imports.cli import add_import_arguments, open_rows, write_report
from leads.services import leads_import
from scoring.services import enqueue_scoring


class Command(BaseCommand):
    help = (
        "Import leads from .csv (a CRM export: delimiter detected, columns mapped as on the import page) "
        "or .jsonl, upserting by id. Every valid row is stored; refused rows are listed with their line "
        "and reason, and the command then exits with status 1. See docs/imports.md."
    )

    def add_arguments(self, parser):
        add_import_arguments(parser, leads=True)

    def handle(self, **options):
        started = time.monotonic()
        source, read, fallback = open_rows(options, kind=ImportKind.LEADS)
        self.owner_fallback = read.owner_fallback
        report, touched = leads_import(rows=source.rows, owner_fallback=fallback)
        # Scores follow on the ingest queue, one task per 1,000 affected leads.
        enqueue_scoring(touched)
        write_report(self, report, "leads", source, started)
