"""What the import commands share: the options of the import page, reading the file through
imports/uploads.py (the same mapping, presets and CRM values), the report, and the command itself."""

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from imports.choices import ImportKind
from imports.crm_values import DATE_FORMATS, DECIMALS, RANGES, ImportOptions
from imports.uploads import PRESETS, FileImport, UploadError, file_rows, mapping_file_read
from leads.rows import RowReport

DELIMITER_NAMES = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t", "|": "|", "comma": ",", "semicolon": ";"}


def add_import_arguments(parser, *, leads: bool) -> None:
    parser.add_argument("path", help=".csv, or .jsonl/.ndjson (one JSON object per line)")
    parser.add_argument(
        "--delimiter", default="", help="CSV delimiter: ',', ';', tab or '|' (default: detected from the first lines)"
    )
    parser.add_argument(
        "--date-format",
        default="iso",
        choices=list(DATE_FORMATS),
        help="how dates such as 8/8/2026 are written: us (month/day), eu (day/month) or iso (only ISO 8601)",
    )
    parser.add_argument(
        "--timezone",
        default="",
        metavar="ZONE",
        help="zoneinfo name (UTC, Europe/Berlin) for timestamps without an offset (default: refuse them)",
    )
    parser.add_argument(
        "--mapping",
        metavar="FILE",
        help='JSON or YAML object {"Column in the file": "target"}; target: a field, "skip" or "extra"',
    )
    if leads:
        parser.add_argument("--decimal", default=".", choices=list(DECIMALS), help="decimal separator of numbers")
        parser.add_argument("--ranges", default="lower", choices=list(RANGES), help="ranges such as 51-200")
        parser.add_argument(
            "--owner-fallback",
            default="",
            metavar="USERNAME",
            help="give leads whose owner matches no user to this user (default: leave them unassigned, listed)",
        )
        parser.add_argument(
            "--missing-created",
            default="reject",
            choices=["reject", "now"],
            help="leads without created_at: refuse the row, or use the time of the import",
        )
        parser.add_argument("--preset", default="auto", choices=["auto", *PRESETS], help="CRM column names to expect")


def open_rows(options: dict, *, kind: str) -> tuple[FileImport, ImportOptions, int | None]:
    """The file's rows, the options read from the command line and the fallback owner's id;
    CommandError (nothing stored) for a file or an option that cannot work."""
    delimiter = options["delimiter"]
    if delimiter and delimiter.lower() not in DELIMITER_NAMES:
        raise CommandError(f"--delimiter {delimiter!r}: use ',', ';', tab or '|'")
    read = ImportOptions(
        decimal=options.get("decimal", "."),
        date_format=options["date_format"],
        timezone=options["timezone"],
        ranges=options.get("ranges", "lower"),
        owner_fallback=options.get("owner_fallback", ""),
        missing_created=options.get("missing_created", "reject"),
    )
    fallback = None
    if read.owner_fallback:
        fallback = get_user_model().objects.filter(username=read.owner_fallback).values_list("pk", flat=True).first()
        if fallback is None:
            raise CommandError(f"--owner-fallback: no user {read.owner_fallback!r}")
    try:
        mapping = mapping_file_read(options["mapping"]) if options.get("mapping") else None
        source = file_rows(
            options["path"],
            kind=kind,
            options=read,
            delimiter=DELIMITER_NAMES.get(delimiter.lower(), "") if delimiter else "",
            preset=options.get("preset", "auto"),
            mapping=mapping,
        )
    except UploadError as exc:
        raise CommandError(str(exc)) from None
    return source, read, fallback


def write_report(command, report: RowReport, noun: str, source: FileImport, started: float, limit: int = 50) -> None:
    """The refused rows (line and reason), notes and unmatched owners on stderr; the counts on
    stdout. CommandError (exit status 1) when rows were refused, after the report."""
    for line, reason in report.rejected[:limit]:
        command.stderr.write(f"line {line}: refused: {reason}")
    if len(report.rejected) > limit:
        command.stderr.write(f"... and {len(report.rejected) - limit} more refused rows")
    for line, note in source.notes[:limit]:
        command.stderr.write(f"line {line}: note: {note}")
    unmatched = getattr(report, "unmatched_owners", {})
    reasons = getattr(report, "owner_reasons", {})
    fallback = command.owner_fallback
    for name, rows in sorted(unmatched.items(), key=lambda item: (-item[1], item[0])):
        fate = f"given to {fallback}" if fallback else "left unassigned"
        command.stderr.write(f"owner {name!r} matches no user ({reasons.get(name) or 'no match'}): {rows} leads {fate}")
    if source.delimiter is not None:
        shown = "tab" if source.delimiter == "\t" else repr(source.delimiter)
        command.stdout.write(f"read {shown}-separated columns: {', '.join(source.header or [])}")
    command.stdout.write(report.summary(noun))
    command.stdout.write(f"took {time.monotonic() - started:.2f} s")
    if report.rejected:
        raise CommandError(
            f"{len(report.rejected)} rows refused (listed above); every other row was stored", returncode=1
        )


class ImportCommand(BaseCommand):
    """An import command: reads the file as the import page does, stores its rows with `ingest`
    (which queues the leads it touched for scoring) and reports (exit status 1 when rows were refused)."""

    kind = ""  # an ImportKind
    noun = ""  # what the report counts: "leads", "events"
    show_rate = False  # also write the rows stored per second

    def add_arguments(self, parser):
        add_import_arguments(parser, leads=self.kind == ImportKind.LEADS)

    def ingest(self, rows, *, owner_fallback: int | None) -> tuple[RowReport, list[int]]:
        """Store the rows and queue the leads touched for scoring: the report and those leads' ids."""
        raise NotImplementedError

    def handle(self, **options):
        started = time.monotonic()
        source, read, fallback = open_rows(options, kind=self.kind)
        self.owner_fallback = read.owner_fallback
        # `ingest` also queues the leads it touched for scoring (scoring.ingest).
        report, _ = self.ingest(source.rows, owner_fallback=fallback)
        rate = report.accepted / (time.monotonic() - started or 1)
        write_report(self, report, self.noun, source, started)
        if self.show_rate:
            self.stdout.write(f"{rate:,.0f} {self.noun}/s")
