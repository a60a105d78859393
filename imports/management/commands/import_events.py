from imports.choices import ImportKind
from imports.cli import ImportCommand
from leads.services import ImportReport
from scoring.ingest import events_ingest_and_score


class Command(ImportCommand):
    help = (
        "Import events from .csv or .jsonl. A repeated event id for the same lead is ignored; rows "
        "with an unknown lead or a bad value are listed with their line and reason and not stored, "
        "and the command then exits with status 1. See docs/imports.md."
    )
    kind = ImportKind.EVENTS
    noun = "events"
    show_rate = True

    def ingest(self, rows, *, owner_fallback):
        return events_ingest_and_score(rows=rows, report=ImportReport())
