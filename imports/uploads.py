"""CSV imports: store the upload, map its columns, preview, import in the background; and the
same reading of a file on disk for the import commands (`file_rows`).

The file is never read whole into memory: it is written to IMPORT_UPLOAD_DIR in chunks, checked
(encoding, structure) by streaming it once, then streamed again in batches through the same
services as every other input (leads_import / events_ingest, validated by leads/rows.py). CRM
values (separators, currency, ranges, US/EU dates, time zones) are read by imports/crm_values.py
under the options the user chose. A file that is not clean UTF-8 CSV fails before any row is
stored; a bad row is refused with its line and never costs another row (docs/imports.md).
"""

import codecs
import csv
import io
import itertools
import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from pathlib import Path

import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from engine.fields import LEAD_TEXT_FIELDS, NUMBER_FIELDS
from imports.choices import ImportKind, ImportState
from imports.crm_values import (
    DELIMITERS,
    NUMBER_TARGETS,
    TIME_TARGETS,
    ImportOptions,
    number,
    sniff_delimiter,
    timestamp,
)
from imports.models import ImportUpload
from leads.cli import iso_z
from leads.models import Lead
from leads.rows import MAX_JSON_DEPTH, RowError, check_readable, parse_event, parse_lead
from leads.services import ImportReport, owners_match
from leadscoring import durable
from scoring.ingest import events_ingest_and_score, leads_import_and_score

log = logging.getLogger(__name__)

SKIP = "skip"
EXTRA = "extra"  # the column goes to attributes (leads) or properties (events) under its own name
LEAD_TARGETS = ("id", *LEAD_TEXT_FIELDS, *NUMBER_FIELDS, "owner", "created_at")
EVENT_TARGETS = ("id", "lead", "kind", "occurred_at")
HEAD_BYTES = 256 * 1024
PREVIEW_ROWS = 10
MAX_ERRORS_KEPT = 100
# The preview lists the owners of up to this many rows (the whole file, for most CRM exports).
OWNER_SCAN_ROWS = 100_000

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
    "Activity ID": "id",
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


def mapping_problems(kind: str, mapping: list[str], options: dict | ImportOptions) -> list[str]:
    """What stops a mapping from producing valid rows at all (as opposed to single bad rows)."""
    options = options if isinstance(options, ImportOptions) else options_from(options)
    problems = options.problems()
    if options.owner_fallback and not get_user_model().objects.filter(username=options.owner_fallback).exists():
        problems.append(f"No user {options.owner_fallback!r} to give the leads whose owner matches no user.")
    chosen = [t for t in mapping if t not in (SKIP, EXTRA)]
    for target in set(chosen):
        if chosen.count(target) > 1:
            problems.append(f"Two columns are mapped to {target}: map one, skip or keep the other as extra.")
    if kind == ImportKind.LEADS:
        if "id" not in chosen and "email" not in chosen:
            problems.append("Map a column to id (or at least to email, which then serves as the id).")
        if "created_at" not in chosen and options.missing_created != "now":
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


def read_header(head: bytes, delimiter: str = "") -> tuple[list[str], str]:
    """The header of a file from its first bytes and its delimiter (sniffed when "" is given),
    or UploadError saying what is wrong with it."""
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
    delimiter = delimiter or sniff_delimiter(text)
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
    return header, delimiter


def upload_store(*, file, kind: str, delimiter: str = "", user) -> ImportUpload:
    """Write an uploaded file to disk in chunks and record it, after checking its first lines.

    The delimiter is sniffed from the first lines unless one is given.

    Raises UploadError (and keeps nothing) for a file that is too large, not UTF-8, or whose
    header cannot be read with the chosen delimiter.
    """
    if kind not in ImportKind.values:
        raise UploadError(f"Unknown kind of import {kind!r}.")
    if delimiter and delimiter not in DELIMITERS:
        raise UploadError("Choose a delimiter: comma, semicolon, tab or pipe (or let it be detected).")
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
        header, delimiter = read_header(head, delimiter)
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


def build_row(
    kind: str, header: list[str], mapping: list[str], options: ImportOptions, cells: list[str], now: str
) -> tuple[dict, list[str]]:
    """One CSV record as the row object leads/rows.py validates, with notes on what was read.

    CRM values are read under `options` (convert_row); RowError for a record that cannot be.
    """
    if len(cells) > len(header):
        raise RowError(f"row: {len(cells)} cells but the header has {len(header)} columns (a stray delimiter?)")
    nested = "attributes" if kind == ImportKind.LEADS else "properties"
    row: dict = {nested: {}}
    for column, target, value in zip(header, mapping, cells, strict=False):
        if target == SKIP:
            continue
        if target == EXTRA:
            if column == nested and value.strip():  # a column holding the whole object as JSON
                row[nested] = _json_object(value, nested)
            elif value.strip():
                key = column.split(".", 1)[1] if column.startswith(nested + ".") else extra_key(column)
                row[nested][key] = value
            continue
        row[target] = value if value.strip() else None
    if kind == ImportKind.LEADS:
        if row.get("id") is None and "id" not in mapping:
            row["id"] = row.get("email")
        if row.get("created_at") is None and options.missing_created == "now":
            row["created_at"] = now
    notes: list[str] = []
    return convert_row(kind, row, options, notes), notes


def _json_object(value: str, nested: str) -> dict:
    try:
        parsed = json.loads(value, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError):
        raise RowError(f"{nested}: not a JSON object") from None
    except RecursionError:
        raise RowError(f"{nested}: nested deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(parsed, dict):
        raise RowError(f"{nested}: not a JSON object")
    return parsed


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def convert_row(kind: str, row: dict, options: ImportOptions, notes: list[str]) -> dict:
    """Read the CRM-style values of a row object (CSV or JSONL) in place: numbers with separators,
    currency and ranges; dates in the chosen order and zone. Errors of every field at once."""
    errors = []
    if kind == ImportKind.LEADS:
        for name in NUMBER_TARGETS:
            value = row.get(name)
            if not isinstance(value, str):
                continue
            try:
                plain, note = number(value, name=name, decimal=options.decimal, ranges=options.ranges)
            except RowError as exc:
                errors.append(str(exc))
                continue
            row[name] = plain
            if note:
                notes.append(note + f" in attributes.{name}_range")
                attributes = row.get("attributes")
                if isinstance(attributes, dict):
                    attributes[f"{name}_range"] = value.strip()
    for name in TIME_TARGETS:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            try:
                row[name] = timestamp(value, name=name, date_format=options.date_format, timezone=options.timezone)
            except RowError as exc:
                errors.append(str(exc))
    if errors:
        # And the row's other problems, as leads/rows.py would list them with the rest.
        failed = {e.split(":", 1)[0] for e in errors}
        probe = {k: v for k, v in row.items() if k not in failed}
        try:
            (parse_lead if kind == ImportKind.LEADS else parse_event)(probe)
        except RowError as exc:
            errors += [m for m in str(exc).split("; ") if m.split(":", 1)[0] not in failed]
        raise RowError("; ".join(errors))
    return row


# --- files on disk (the import commands) -------------------------------------------------------------


@dataclass
class FileImport:
    """A file the import commands read: its rows, and for CSV the header, delimiter and mapping."""

    rows: Iterator[tuple[int, object]]
    notes: list[tuple[int, str]]
    header: list[str] | None = None
    delimiter: str | None = None
    mapping: list[str] | None = None


def mapping_file_read(path: str | Path) -> dict[str, str]:
    """A --mapping file: a JSON or YAML object of {column name in the file: target}, where a
    target is one of our field names, "skip", or "extra" (keep as attributes/properties)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UploadError(f"{path}: cannot read the mapping file: {exc}") from None
    try:
        data = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except Exception as exc:  # JSON and YAML errors alike
        kind = "YAML" if path.suffix.lower() in (".yaml", ".yml") else "JSON"
        raise UploadError(f"{path}: not valid {kind}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise UploadError(f"{path}: the mapping must be an object of column name -> target (both text)")
    return data


def mapping_apply(kind: str, header: list[str], mapping: list[str], overrides: dict[str, str]) -> list[str]:
    """The suggested mapping with a --mapping file's columns put in; UploadError on a column the
    file does not have or a target we do not know."""
    targets = {*targets_for(kind), SKIP, EXTRA}
    known = ", ".join(sorted(targets))
    problems = [f"the mapping names column {c!r}, which the file does not have" for c in overrides if c not in header]
    for column, target in overrides.items():
        if target not in targets:
            problems.append(f"column {column!r}: unknown target {target!r} (one of {known})")
    if problems:
        raise UploadError("; ".join(problems))
    return [overrides.get(column, target) for column, target in zip(header, mapping, strict=True)]


def file_rows(
    path: str | Path,
    *,
    kind: str,
    options: ImportOptions,
    delimiter: str = "",
    preset: str = "auto",
    mapping: dict[str, str] | None = None,
    now: str | None = None,
) -> FileImport:
    """The rows of a .csv or .jsonl file, read as the import page reads them (same mapping,
    presets and CRM values), for the import commands. UploadError for a file that cannot be read
    at all: not UTF-8, malformed CSV, an empty file, a mapping that cannot work."""
    path = Path(path)
    csv_file = path.suffix.lower() == ".csv" and path.is_file()
    try:
        if not csv_file:  # a CSV file is checked below, with its own delimiter
            check_readable(path)
    except RowError as exc:
        raise UploadError(str(exc)) from None
    problems = options.problems()
    if problems:
        raise UploadError("; ".join(problems))
    now = now or iso_z(timezone.now())
    notes: list[tuple[int, str]] = []
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise UploadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise UploadError(f"{path.name} is empty: there are no rows to import.")
    if path.suffix.lower() != ".csv":
        return FileImport(rows=_jsonl_rows(path, kind, options, notes), notes=notes)
    header, delimiter = read_header(head, delimiter)
    csv_check(path, delimiter)
    columns = suggest_mapping(kind, header, preset)
    if mapping:
        columns = mapping_apply(kind, header, columns, mapping)
    problems = mapping_problems(kind, columns, options)
    if problems:
        raise UploadError(" ".join(problems))
    source = ImportUpload(kind=kind, header=header, delimiter=delimiter)
    rows = _csv_rows(path, source, columns, options, notes, now)
    first = next(rows, None)
    if first is None:
        raise UploadError(f"{path.name} has a header but no rows: there is nothing to import.")
    return FileImport(
        rows=itertools.chain([first], rows), notes=notes, header=header, delimiter=delimiter, mapping=columns
    )


def _csv_rows(path, source, columns, options, notes, now) -> Iterator[tuple[int, object]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for line, cells in _records(source, fh):
            try:
                row, row_notes = build_row(source.kind, source.header, columns, options, cells, now)
            except RowError as exc:
                yield line, exc
                continue
            notes.extend((line, note) for note in row_notes)
            yield line, row


def _jsonl_rows(path: Path, kind: str, options: ImportOptions, notes) -> Iterator[tuple[int, object]]:
    with path.open(encoding="utf-8-sig") as fh:
        for number_, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text, parse_constant=_no_constant)
            except json.JSONDecodeError as exc:
                yield number_, RowError(f"row: not valid JSON ({exc.msg})")
                continue
            except ValueError as exc:  # NaN, Infinity
                yield number_, RowError(f"row: {exc} (NaN and Infinity are not JSON numbers)")
                continue
            except RecursionError:
                yield number_, RowError(f"row: nested deeper than {MAX_JSON_DEPTH} levels")
                continue
            if isinstance(obj, dict):
                row_notes: list[str] = []
                try:
                    obj = convert_row(kind, obj, options, row_notes)
                except RowError as exc:
                    yield number_, exc
                    continue
                notes.extend((number_, note) for note in row_notes)
            yield number_, obj


def upload_options(upload: ImportUpload) -> ImportOptions:
    """The options an upload was queued with (older uploads said "naive": "utc" / "reject")."""
    data = dict(upload.options or {})
    return options_from(data)


def options_from(data: dict) -> ImportOptions:
    data = dict(data or {})
    if "naive" in data and "timezone" not in data:
        data["timezone"] = "UTC" if data["naive"] == "utc" else ""
    return ImportOptions.from_dict(data)


def _records(upload: ImportUpload, fh) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(fh, delimiter=upload.delimiter, strict=True)
    next(reader, None)  # the header
    for cells in reader:
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line
        yield reader.line_num, cells


def upload_preview(
    *, upload: ImportUpload, mapping: list[str], options: dict | ImportOptions, limit: int = PREVIEW_ROWS
) -> list[dict]:
    """The first rows as they would be imported, each with its row object, error and notes.

    Reads only the head of the file; nothing is stored. For events, an unknown lead is an error
    here as it would be in the import; for leads, each owner shows the user it matches.
    """
    options = options if isinstance(options, ImportOptions) else options_from(options)
    now = iso_z(timezone.now())
    rows = []
    with upload_path(upload).open(encoding="utf-8-sig", newline="", errors="replace") as fh:
        try:
            for line, cells in islice(_records(upload, fh), limit):
                rows.append(_preview_row(upload, mapping, options, line, cells, now))
        except csv.Error as exc:
            rows.append({"line": "?", "row": {}, "error": f"malformed CSV: {exc}", "notes": []})
    if upload.kind == ImportKind.EVENTS:
        wanted = {r["row"].get("lead") for r in rows if not r["error"]}
        known = set(Lead.objects.filter(external_id__in=[w for w in wanted if w]).values_list("external_id", flat=True))
        for r in rows:
            if not r["error"] and r["row"].get("lead") not in known:
                r["error"] = f"lead: unknown lead id {r['row'].get('lead')!r}"
    else:
        names = {r["row"]["owner"] for r in rows if isinstance(r["row"].get("owner"), str)}
        found, _ = owners_match(names=names)
        usernames = dict(get_user_model().objects.filter(pk__in=found.values()).values_list("pk", "username"))
        for r in rows:
            owner = r["row"].get("owner")
            if isinstance(owner, str):
                matched = usernames.get(found.get(owner))
                r["row"]["owner"] = f"{owner} → {matched}" if matched else f"{owner} → {_fallback_label(options)}"
    return rows


def _fallback_label(options: ImportOptions) -> str:
    return options.owner_fallback or "unassigned (matches no user)"


def _preview_row(upload, mapping, options, line, cells, now) -> dict:
    row: dict = {}
    try:
        row, notes = build_row(upload.kind, upload.header, mapping, options, cells, now)
        parsed = parse_lead(row) if upload.kind == ImportKind.LEADS else parse_event(row)
        if upload.kind == ImportKind.LEADS:
            row["id"] = parsed.external_id
        return {"line": line, "row": row, "error": "", "notes": notes}
    except RowError as exc:
        return {"line": line, "row": row, "error": str(exc), "notes": []}


def upload_owners(*, upload: ImportUpload, mapping: list[str], limit: int = OWNER_SCAN_ROWS) -> dict:
    """The owner names of the file's first `limit` rows that match no user, with their row counts
    and why, for the preview: {"unmatched": [(name, rows, reason)], "matched": n, "complete": bool}."""
    if upload.kind != ImportKind.LEADS or "owner" not in mapping:
        return {"unmatched": [], "matched": 0, "complete": True}
    column = mapping.index("owner")
    counts: dict[str, int] = {}
    complete = True
    with upload_path(upload).open(encoding="utf-8-sig", newline="", errors="replace") as fh:
        try:
            for n, (_, cells) in enumerate(_records(upload, fh)):
                if n >= limit:
                    complete = False
                    break
                name = cells[column].strip() if column < len(cells) else ""
                if name:
                    counts[name] = counts.get(name, 0) + 1
        except csv.Error:
            complete = False
    found, reasons = owners_match(names=counts)
    unmatched = sorted(
        ((name, rows, reasons.get(name, "")) for name, rows in counts.items() if name not in found),
        key=lambda item: (-item[1], item[0]),
    )
    return {"unmatched": unmatched, "matched": len(found), "complete": complete}


def upload_check(*, upload: ImportUpload) -> int:
    """Stream the whole file once: UTF-8 and well-formed CSV, or UploadError naming the line. Returns rows."""
    return csv_check(upload_path(upload), upload.delimiter)


def csv_check(path: Path, delimiter: str) -> int:
    """Stream a CSV file once with its delimiter: UTF-8 and well-formed, or UploadError naming
    the line. Returns its rows (less the header)."""
    rows = 0
    line = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
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
def upload_queue(*, upload: ImportUpload, mapping: list[str], options: dict | ImportOptions) -> ImportUpload:
    """Fix the mapping and send the import to the `ingest` queue (once the transaction commits)."""
    options = options if isinstance(options, ImportOptions) else options_from(options)
    problems = mapping_problems(upload.kind, mapping, options)
    if problems:
        raise UploadError(" ".join(problems))
    claimed = durable.claim(
        ImportUpload,
        upload.pk,
        from_state=ImportState.UPLOADED,
        to_state=ImportState.QUEUED,
        mapping=mapping,
        options=options.as_dict(),
        queued_at=timezone.now(),
    )
    if not claimed:
        raise UploadError("This file is already being imported.")
    transaction.on_commit(lambda: upload_enqueue(upload.pk))
    upload.refresh_from_db()
    return upload


def upload_enqueue(upload_id: int) -> bool:
    """Send the import's task (queue: ingest). Broker down: the page says "queued", and
    uploads_resend_stale sends it later."""
    return durable.enqueue(ImportUpload, upload_id, task="imports.import_upload", what="import")


def upload_run(*, upload_id: int) -> str:
    """Import a queued upload: check the whole file, then store its rows in batches.

    One worker at a time: the task claims the upload (queued -> running, a conditional UPDATE),
    and takes over a running one only when its heartbeat has stopped (its worker died). Safe to
    run again after a crash: a batch's rows and the progress counters commit together, and a
    rerun resumes after the last committed batch.
    """
    now = timezone.now()
    claimed = durable.claim(
        ImportUpload,
        upload_id,
        from_state=ImportState.QUEUED,
        to_state=ImportState.RUNNING,
        started_at=now,
        heartbeat_at=now,
    )
    if not claimed:
        silent = durable.stale(
            ImportUpload,
            before=now - timedelta(seconds=settings.IMPORT_STALE_SECONDS),
            since={ImportState.RUNNING: "heartbeat_at"},
            unstamped=[ImportState.RUNNING],
        )
        claimed = durable.claim(silent, upload_id, from_state=ImportState.RUNNING, heartbeat_at=now)
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
        stored = ImportUpload.objects.filter(pk=upload_id).values_list("accepted", flat=True).first() or 0
        _finish(
            upload,
            ImportState.FAILED,
            f"The import stopped on an internal error ({exc.__class__.__name__}: {exc}) after storing "
            f"{stored} rows of the batches before it; the rows of the batch it was in were not stored.",
        )
        raise
    _finish(upload, ImportState.DONE, "")
    return ImportState.DONE


def _finish(upload: ImportUpload, state: str, error: str) -> None:
    """End the running import as `state`, done or failed with `error` (once: a second worker that
    took it over changes nothing), and delete its file."""
    end = durable.fail if state == ImportState.FAILED else durable.claim
    now = timezone.now()
    end(ImportUpload, upload.pk, from_state=ImportState.RUNNING, to_state=state, error=error, finished_at=now)
    upload_path(upload).unlink(missing_ok=True)


def _import_rows(upload: ImportUpload) -> None:
    """Store the rows batch by batch; each batch's valid rows, its refused rows and the counters
    commit together. Leads count once however often their id repeats (within this run)."""
    now = iso_z(upload.created_at)
    options = upload_options(upload)
    fallback = None
    if options.owner_fallback:
        fallback = get_user_model().objects.filter(username=options.owner_fallback).values_list("pk", flat=True).first()
        if fallback is None:
            raise UploadError(f"No user {options.owner_fallback!r} to give the leads whose owner matches no user.")
    errors = list(upload.errors or [])
    result = dict((upload.options or {}).get("result") or {})
    report = ImportReport(unmatched_owners=dict(result.get("unmatched_owners") or {}))
    notes = [tuple(n) for n in result.get("notes") or []]
    skip = upload.rows_done
    with upload_path(upload).open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh:
        # raw.tell() is how far the text layer has read: the progress in bytes.
        records = islice(_records(upload, fh), skip, None)
        while batch := list(islice(records, settings.IMPORT_BATCH_ROWS)):
            rows = []
            for line, cells in batch:
                try:
                    row, row_notes = build_row(upload.kind, upload.header, upload.mapping, options, cells, now)
                except RowError as exc:
                    rows.append((line, exc))
                    continue
                rows.append((line, row))
                notes.extend((line, note) for note in row_notes[: max(0, MAX_ERRORS_KEPT - len(notes))])
            before = (report.accepted, report.duplicates)
            with transaction.atomic():
                if upload.kind == ImportKind.LEADS:
                    leads_import_and_score(
                        rows=rows, report=report, owner_fallback=fallback, started_at=upload.started_at
                    )
                else:
                    events_ingest_and_score(rows=rows, report=report)
                refused = list(report.rejected)
                report.rejected.clear()  # kept on the upload (the first ones), not in memory
                room = MAX_ERRORS_KEPT - len(errors)
                if room > 0:
                    errors.extend([line, reason] for line, reason in sorted(refused)[:room])
                result.update(
                    unmatched_owners=report.unmatched_owners,
                    created=result.get("created", 0) + report.created,
                    updated=result.get("updated", 0) + report.updated,
                    notes=[list(n) for n in notes],
                )
                report.created = report.updated = 0
                ImportUpload.objects.filter(pk=upload.pk).update(
                    rows_done=F("rows_done") + len(batch),
                    accepted=F("accepted") + report.accepted - before[0],
                    rejected=F("rejected") + len(refused),
                    duplicates=F("duplicates") + report.duplicates - before[1],
                    bytes_done=raw.tell(),
                    errors=errors,
                    options={**(upload.options or {}), "result": result},
                    heartbeat_at=timezone.now(),
                )


def uploads_resend_stale() -> list[int]:
    """Imports whose task was lost: queued long ago (broker down then), or running without a
    heartbeat (worker gone). Sending one again is harmless: upload_run claims it first."""
    lost = durable.stale(
        ImportUpload,
        before=timezone.now() - timedelta(seconds=settings.IMPORT_STALE_SECONDS),
        since={ImportState.QUEUED: "queued_at", ImportState.RUNNING: "heartbeat_at"},
    )
    return durable.resend_stale(lost, upload_enqueue)


def uploads_purge_unimported(*, older_than: timedelta | None = None) -> int:
    """Delete uploads never imported (still "uploaded") older than IMPORT_UNUSED_HOURS: the file
    and its row. A user who uploads and walks away leaves nothing on the disk for long. Returns
    how many were deleted."""
    age = older_than if older_than is not None else timedelta(hours=settings.IMPORT_UNUSED_HOURS)
    cutoff = timezone.now() - age
    deleted = 0
    for upload in ImportUpload.objects.filter(state=ImportState.UPLOADED, created_at__lt=cutoff).only(
        "pk", "stored_name"
    ):
        # The row only if it is still unimported: a user may queue it at this very moment.
        if ImportUpload.objects.filter(pk=upload.pk, state=ImportState.UPLOADED).delete()[0]:
            upload_path(upload).unlink(missing_ok=True)
            deleted += 1
    return deleted
