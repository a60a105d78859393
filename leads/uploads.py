"""CSV imports from the import page: store the upload, map its columns, preview, import in the background.

The file is never read whole into memory: it is written to IMPORT_UPLOAD_DIR in chunks, checked
(encoding, structure) by streaming it once, then streamed again in batches through the same
services as every other input (leads_import / events_ingest, validated by leads/rows.py).
A file that is not clean UTF-8 CSV fails before any row is stored.
"""

import codecs
import csv
import io
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from leadscoring.celery import task_send
from leadscoring.cli import iso_z

from .choices import ImportKind, ImportState
from .models import ImportUpload, Lead
from .rows import LEAD_TEXT_FIELDS, RowError, RowReport, parse_event, parse_lead
from .services import events_ingest, leads_import

log = logging.getLogger(__name__)

SKIP = "skip"
EXTRA = "extra"  # the column goes to attributes (leads) or properties (events) under its own name
LEAD_TARGETS = ("id", *LEAD_TEXT_FIELDS, "employees", "annual_revenue", "owner", "created_at")
EVENT_TARGETS = ("id", "lead", "kind", "occurred_at")
DELIMITERS = {",": "Comma", ";": "Semicolon", "\t": "Tab", "|": "Pipe"}
HEAD_BYTES = 256 * 1024
PREVIEW_ROWS = 10
MAX_ERRORS_KEPT = 100

# Column names of common CRM exports -> our fields. Matching ignores case, spaces and punctuation.
PRESETS: dict[str, tuple[str, dict[str, str]]] = {
    "generic": (
        "Generic CRM export",
        {
            "First Name": "first_name",
            "Last Name": "last_name",
            "Email": "email",
            "Email Address": "email",
            "Company": "company",
            "Job Title": "title",
            "Title": "title",
            "Industry": "industry",
            "Number of Employees": "employees",
            "Employees": "employees",
            "Annual Revenue": "annual_revenue",
            "Revenue": "annual_revenue",
            "Lead Source": "lead_source",
            "Source": "lead_source",
            "Country": "country",
            "ID": "id",
            "External ID": "id",
            "Created At": "created_at",
            "Owner": "owner",
        },
    ),
    "salesforce": (
        "Salesforce (Leads report)",
        {
            "Lead ID": "id",
            "First Name": "first_name",
            "Last Name": "last_name",
            "Email": "email",
            "Company / Account": "company",
            "Company": "company",
            "Title": "title",
            "Industry": "industry",
            "No. of Employees": "employees",
            "Annual Revenue": "annual_revenue",
            "Lead Source": "lead_source",
            "Country": "country",
            "Create Date": "created_at",
            "Created Date": "created_at",
            "Lead Owner": "owner",
        },
    ),
    "hubspot": (
        "HubSpot (contacts export)",
        {
            "Record ID": "id",
            "Contact ID": "id",
            "First Name": "first_name",
            "Last Name": "last_name",
            "Email": "email",
            "Company Name": "company",
            "Job Title": "title",
            "Industry": "industry",
            "Number of Employees": "employees",
            "Annual Revenue": "annual_revenue",
            "Original Source": "lead_source",
            "Country/Region": "country",
            "Create Date": "created_at",
            "Contact owner": "owner",
        },
    ),
    "zoho": (
        "Zoho CRM (leads export)",
        {
            "Record Id": "id",
            "First Name": "first_name",
            "Last Name": "last_name",
            "Email": "email",
            "Company": "company",
            "Designation": "title",
            "Industry": "industry",
            "No. of Employees": "employees",
            "Annual Revenue": "annual_revenue",
            "Lead Source": "lead_source",
            "Country": "country",
            "Created Time": "created_at",
            "Lead Owner": "owner",
        },
    ),
}
EVENT_ALIASES = {
    "Event ID": "id",
    "Lead": "lead",
    "Lead ID": "lead",
    "Kind": "kind",
    "Event Type": "kind",
    "Type": "kind",
    "Activity Type": "kind",
    "Occurred At": "occurred_at",
    "Timestamp": "occurred_at",
    "Activity Date": "occurred_at",
}


class UploadError(ValueError):
    """A file that cannot be imported as it is; the message says why and what to do."""


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.lower())


def extra_key(column: str) -> str:
    """The attribute (or property) key an unmapped column is stored under: its name, as a slug."""
    key = re.sub(r"[^0-9a-z]+", "_", column.strip().lower()).strip("_")
    return key or "column"


def targets_for(kind: str) -> tuple[str, ...]:
    return LEAD_TARGETS if kind == ImportKind.LEADS else EVENT_TARGETS


def suggest_mapping(kind: str, header: list[str], preset: str = "auto") -> list[str]:
    """A target for every column: our own field names first, then the preset's CRM names, else EXTRA."""
    targets = targets_for(kind)
    own = {_norm(t): t for t in targets}
    if kind == ImportKind.EVENTS:
        aliases = {_norm(k): v for k, v in EVENT_ALIASES.items()}
    elif preset in PRESETS:
        aliases = {_norm(k): v for k, v in PRESETS[preset][1].items()}
    else:
        aliases = {_norm(k): v for _, table in PRESETS.values() for k, v in table.items()}
    mapping, used = [], set()
    for column in header:
        norm = _norm(column)
        if column.startswith(("attributes.", "properties.")):
            target = EXTRA
        else:
            target = own.get(norm) or aliases.get(norm) or EXTRA
        if target != EXTRA and target in used:
            target = EXTRA  # two columns for one field: the first wins, the other is kept as extra
        used.add(target)
        mapping.append(target)
    return mapping


def mapping_problems(kind: str, mapping: list[str], options: dict) -> list[str]:
    """What stops a mapping from producing valid rows at all (as opposed to single bad rows)."""
    problems = []
    chosen = [t for t in mapping if t not in (SKIP, EXTRA)]
    for target in set(chosen):
        if chosen.count(target) > 1:
            problems.append(f"Two columns are mapped to {target}: map one, skip or keep the other as extra.")
    if kind == ImportKind.LEADS:
        if "id" not in chosen and "email" not in chosen:
            problems.append("Map a column to id (or at least to email, which then serves as the id).")
        if "created_at" not in chosen and options.get("missing_created") != "now":
            problems.append("Map a column to created_at, or choose to use the import time for leads without one.")
    else:
        for required in ("lead", "kind", "occurred_at"):
            if required not in chosen:
                problems.append(f"Map a column to {required}: every event needs one.")
    return sorted(set(problems))


# --- storing and checking the file ------------------------------------------------------------------


def upload_dir() -> Path:
    path = Path(settings.IMPORT_UPLOAD_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_path(upload: ImportUpload) -> Path:
    return upload_dir() / upload.stored_name


def _decode_error(exc: UnicodeDecodeError, line: int | None = None) -> UploadError:
    where = f" on line {line}" if line else ""
    return UploadError(
        f"The file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}{where}). It looks like another "
        "encoding, such as Windows-1252 or Latin-1: save it again as “CSV UTF-8” and upload that."
    )


def _check_bom(head: bytes) -> None:
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise UploadError("The file is UTF-32 text (it starts with a UTF-32 byte-order mark): save it as “CSV UTF-8”.")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UploadError(
            "The file is UTF-16 text (it starts with a UTF-16 byte-order mark, as Excel's “Unicode text” "
            "has): save it as “CSV UTF-8” and upload that."
        )


def read_header(head: bytes, delimiter: str) -> list[str]:
    """The header of a file from its first bytes, or UploadError saying what is wrong with it."""
    _check_bom(head)
    if b"\x00" in head:
        raise UploadError("The file contains NUL bytes: it is not a text CSV file (a spreadsheet or UTF-16?).")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise _decode_error(exc) from None
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].strip():
        raise UploadError("The file is empty, or its first line is blank: the first line must name the columns.")
    try:
        header = next(csv.reader([lines[0]], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise UploadError(f"Line 1 (the header) is malformed CSV: {exc}.") from None
    header = [h.strip() for h in header]
    if len(header) == 1:
        for other, name in DELIMITERS.items():
            if other != delimiter and other in header[0]:
                raise UploadError(
                    f"The header has a single column ({header[0][:80]!r}) but contains “{other}”: the file looks "
                    f"{name.lower()}-separated. Choose “{name}” as the delimiter."
                )
    missing = [str(i + 1) for i, h in enumerate(header) if not h]
    if missing:
        raise UploadError(f"Column {', '.join(missing)} of the header has no name: every column needs one.")
    seen, repeated = set(), []
    for h in header:
        if h in seen:
            repeated.append(h)
        seen.add(h)
    if repeated:
        raise UploadError(f"The header repeats column names ({', '.join(sorted(set(repeated)))}): rename them.")
    return header


def upload_store(*, file, kind: str, delimiter: str, user) -> ImportUpload:
    """Write an uploaded file to disk in chunks and record it, after checking its first lines.

    Raises UploadError (and keeps nothing) for a file that is too large, not UTF-8, or whose
    header cannot be read with the chosen delimiter.
    """
    if kind not in ImportKind.values:
        raise UploadError(f"Unknown kind of import {kind!r}.")
    if delimiter not in DELIMITERS:
        raise UploadError("Choose a delimiter: comma, semicolon, tab or pipe.")
    if file.size > settings.IMPORT_MAX_BYTES:
        raise UploadError(
            f"The file has {file.size:,} bytes; the limit is {settings.IMPORT_MAX_BYTES:,} (IMPORT_MAX_BYTES). "
            "Split it into smaller files."
        )
    if not file.size:
        raise UploadError("The file is empty.")
    stored_name = f"{uuid.uuid4().hex}.csv"
    path = upload_dir() / stored_name
    head = b""
    try:
        with path.open("wb") as out:
            for chunk in file.chunks():
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                out.write(chunk)
        header = read_header(head, delimiter)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ImportUpload.objects.create(
        kind=kind,
        original_name=Path(file.name or "upload.csv").name[:255],
        stored_name=stored_name,
        size=file.size,
        delimiter=delimiter,
        header=header,
        mapping=suggest_mapping(kind, header),
        created_by=user,
    )


# --- rows ---------------------------------------------------------------------------------------------


def build_row(kind: str, header: list[str], mapping: list[str], options: dict, cells: list[str], now: str) -> dict:
    """One CSV record as the row object leads/rows.py validates."""
    if len(cells) > len(header):
        raise RowError(f"row: {len(cells)} cells but the header has {len(header)} columns (a stray delimiter?)")
    nested = "attributes" if kind == ImportKind.LEADS else "properties"
    row: dict = {nested: {}}
    for column, target, value in zip(header, mapping, cells, strict=False):
        if target == SKIP:
            continue
        if target == EXTRA:
            if value.strip():
                key = column.split(".", 1)[1] if column.startswith(nested + ".") else extra_key(column)
                row[nested][key] = value
            continue
        row[target] = value if value.strip() else None
    stamp = "created_at" if kind == ImportKind.LEADS else "occurred_at"
    row[stamp] = _with_offset(row.get(stamp), options)
    if kind == ImportKind.LEADS:
        if row.get("id") is None and "id" not in mapping:
            row["id"] = row.get("email")
        if row.get("created_at") is None and options.get("missing_created") == "now":
            row["created_at"] = now
    return row


def _with_offset(value, options: dict):
    """With the option "timestamps without offset are UTC", add the Z; anything else is left to rows.py."""
    if not isinstance(value, str) or options.get("naive") != "utc":
        return value
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    return value.strip() + "Z" if parsed.tzinfo is None else value


def _records(upload: ImportUpload, fh) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(fh, delimiter=upload.delimiter, strict=True)
    next(reader, None)  # the header
    for cells in reader:
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line
        yield reader.line_num, cells


def upload_preview(*, upload: ImportUpload, mapping: list[str], options: dict, limit: int = PREVIEW_ROWS) -> list[dict]:
    """The first rows as they would be imported, each with its row object and its error, if any.

    Reads only the head of the file; nothing is stored. For events, an unknown lead is an error
    here as it would be in the import.
    """
    now = iso_z(timezone.now())
    rows = []
    with upload_path(upload).open(encoding="utf-8-sig", newline="", errors="replace") as fh:
        try:
            for line, cells in islice(_records(upload, fh), limit):
                rows.append(_preview_row(upload, mapping, options, line, cells, now))
        except csv.Error as exc:
            rows.append({"line": "?", "row": {}, "error": f"malformed CSV: {exc}"})
    if upload.kind == ImportKind.EVENTS:
        wanted = {r["row"].get("lead") for r in rows if not r["error"]}
        known = set(Lead.objects.filter(external_id__in=[w for w in wanted if w]).values_list("external_id", flat=True))
        for r in rows:
            if not r["error"] and r["row"].get("lead") not in known:
                r["error"] = f"lead: unknown lead id {r['row'].get('lead')!r}"
    return rows


def _preview_row(upload, mapping, options, line, cells, now) -> dict:
    try:
        row = build_row(upload.kind, upload.header, mapping, options, cells, now)
        parsed = parse_lead(row) if upload.kind == ImportKind.LEADS else parse_event(row)
        if upload.kind == ImportKind.LEADS:
            row["id"] = parsed.external_id
        return {"line": line, "row": row, "error": ""}
    except RowError as exc:
        return {"line": line, "row": locals().get("row", {}), "error": str(exc)}


def upload_check(*, upload: ImportUpload) -> int:
    """Stream the whole file once: UTF-8 and well-formed CSV, or UploadError naming the line. Returns rows."""
    rows = 0
    line = 1
    try:
        with upload_path(upload).open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=upload.delimiter, strict=True)
            for cells in reader:
                line = reader.line_num
                if cells and not (len(cells) == 1 and not cells[0].strip()):
                    rows += 1
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, line + 1) from None
    except csv.Error as exc:
        hint = " (an unclosed quote?)" if "end of data" in str(exc) or "EOF" in str(exc) else ""
        raise UploadError(f"Malformed CSV after line {line}: {exc}{hint}. Nothing was imported.") from None
    return max(0, rows - 1)  # less the header


@transaction.atomic
def upload_queue(*, upload: ImportUpload, mapping: list[str], options: dict) -> ImportUpload:
    """Fix the mapping and send the import to the `ingest` queue (once the transaction commits)."""
    problems = mapping_problems(upload.kind, mapping, options)
    if problems:
        raise UploadError(" ".join(problems))
    claimed = ImportUpload.objects.filter(pk=upload.pk, state=ImportState.UPLOADED).update(
        mapping=mapping, options=options, state=ImportState.QUEUED, queued_at=timezone.now()
    )
    if not claimed:
        raise UploadError("This file is already being imported.")
    transaction.on_commit(lambda: _send(upload.pk))
    upload.refresh_from_db()
    return upload


def _send(upload_id: int) -> None:
    # Broker down: the page says "queued"; uploads_resend_stale picks it up.
    task_send(import_upload, upload_id, what=f"import {upload_id}")


def upload_run(*, upload_id: int) -> str:
    """Import a queued upload: check the whole file, then store its rows in batches.

    One worker at a time: the task claims the upload (queued -> running, a conditional UPDATE),
    and takes over a running one only when its heartbeat has stopped (its worker died). Safe to
    run again after a crash: a batch's rows and the progress counters commit together, and a
    rerun resumes after the last committed batch.
    """
    now = timezone.now()
    claimed = ImportUpload.objects.filter(pk=upload_id, state=ImportState.QUEUED).update(
        state=ImportState.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        lost = now - timedelta(seconds=settings.IMPORT_STALE_SECONDS)
        claimed = (
            ImportUpload.objects.filter(pk=upload_id, state=ImportState.RUNNING)
            .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=lost))
            .update(heartbeat_at=now)
        )
    upload = ImportUpload.objects.get(pk=upload_id)
    if not claimed:
        return upload.state  # done, failed, not queued, or running on another worker
    try:
        if upload.rows_total is None:
            total = upload_check(upload=upload)
            ImportUpload.objects.filter(pk=upload_id).update(rows_total=total, heartbeat_at=timezone.now())
            upload.rows_total = total
        _import_rows(upload)
    except UploadError as exc:
        _finish(upload, ImportState.FAILED, str(exc))
        return ImportState.FAILED
    except Exception as exc:
        log.exception("import %s failed", upload_id)
        _finish(upload, ImportState.FAILED, f"The import stopped on an internal error: {exc}")
        raise
    _finish(upload, ImportState.DONE, "")
    return ImportState.DONE


def _finish(upload: ImportUpload, state: str, error: str) -> None:
    ImportUpload.objects.filter(pk=upload.pk).update(state=state, error=error, finished_at=timezone.now())
    upload_path(upload).unlink(missing_ok=True)


def _import_rows(upload: ImportUpload) -> None:
    from .tasks import enqueue_scoring

    now = iso_z(upload.created_at)
    ingest = leads_import if upload.kind == ImportKind.LEADS else events_ingest
    errors = list(upload.errors or [])
    skip = upload.rows_done
    with upload_path(upload).open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh:
        # raw.tell() is how far the text layer has read: the progress in bytes.
        records = islice(_records(upload, fh), skip, None)
        while batch := list(islice(records, settings.IMPORT_BATCH_ROWS)):
            rows = []
            for line, cells in batch:
                try:
                    rows.append(
                        (line, build_row(upload.kind, upload.header, upload.mapping, upload.options, cells, now))
                    )
                except RowError as exc:
                    rows.append((line, exc))
            with transaction.atomic():
                report, touched = ingest(rows=rows, report=RowReport())
                room = MAX_ERRORS_KEPT - len(errors)
                if room > 0:
                    errors.extend([line, reason] for line, reason in report.rejected[:room])
                ImportUpload.objects.filter(pk=upload.pk).update(
                    rows_done=F("rows_done") + len(batch),
                    accepted=F("accepted") + report.accepted,
                    rejected=F("rejected") + len(report.rejected),
                    duplicates=F("duplicates") + report.duplicates,
                    bytes_done=raw.tell(),
                    errors=errors,
                    heartbeat_at=timezone.now(),
                )
                enqueue_scoring(touched)


def uploads_resend_stale() -> list[int]:
    """Imports whose task was lost: queued long ago (broker down then), or running without a
    heartbeat (worker gone). Sending one again is harmless: upload_run claims it first."""
    stale = timezone.now() - timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    lost = Q(state=ImportState.QUEUED, queued_at__lt=stale) | Q(state=ImportState.RUNNING, heartbeat_at__lt=stale)
    ids = list(ImportUpload.objects.filter(lost).values_list("pk", flat=True))
    for pk in ids:
        _send(pk)
    return ids


@shared_task(name="leads.import_upload", acks_late=True)
def import_upload(upload_id: int) -> str:
    return upload_run(upload_id=upload_id)


@shared_task(name="leads.uploads_resend_stale")
def uploads_resend_stale_task() -> list[int]:
    return uploads_resend_stale()
