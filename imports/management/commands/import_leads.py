from imports.choices import ImportKind
from imports.cli import ImportCommand
from scoring.ingest import leads_import_and_score


class Command(ImportCommand):
    help = (
        "Import leads from .csv (a CRM export: delimiter detected, columns mapped as on the import page) "
        "or .jsonl, upserting by id. Every valid row is stored; refused rows are listed with their line "
        "and reason, and the command then exits with status 1. See docs/imports.md."
    )
    kind = ImportKind.LEADS
    noun = "leads"

    def ingest(self, rows, *, owner_fallback):
        return leads_import_and_score(rows=rows, owner_fallback=owner_fallback)
