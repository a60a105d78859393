"""Reading lead and event rows from JSONL or CSV files, validating each row on its own.

Every path that takes leads or events from outside (import commands, the API, the dry run,
the CSV import page) parses rows here, so a row means the same wherever it comes from.
"""

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from matrix.engine.values import NUMERIC_RE, trim

from .choices import NUMBER_FIELDS

LEAD_TEXT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "industry",
    "country",
    "lead_source",
)
LEAD_KEYS = {"id", "created_at", "owner", "attributes", *LEAD_TEXT_FIELDS, *NUMBER_FIELDS}
EVENT_KEYS = {"id", "lead", "kind", "occurred_at", "properties"}


class RowError(ValueError):
    """A row that cannot be stored; the message names the field and what is wrong."""


@dataclass
class LeadRow:
    external_id: str
    created_at: datetime
    fields: dict
    attributes: dict
    owner: str | None = None


@dataclass
class EventRow:
    external_id: str | None
    lead: str
    kind: str
    occurred_at: datetime
    properties: dict = field(default_factory=dict)


@dataclass
class RowReport:
    """What happened to each row of an input: counts and the reasons for rejected rows."""

    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append((line, reason))

    def summary(self, noun: str) -> str:
        text = f"{self.accepted} {noun} accepted, {len(self.rejected)} rejected"
        if self.duplicates:
            text += f", {self.duplicates} repeated ids ignored"
        return text


def parse_timestamp(value, name: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"{name}: required, an ISO 8601 timestamp with offset")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RowError(f"{name}: {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RowError(f"{name}: {value!r} has no UTC offset (add Z or +hh:mm)")
    return parsed


def _id(value, name: str, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"{name}: required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RowError(f"{name}: must be text")
    text = str(value).strip()
    if len(text) > 200:
        raise RowError(f"{name}: longer than 200 characters")
    return text


def _text(value, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RowError(f"{name}: must be text")
    return str(value)


def _number(value, name: str, whole: bool):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RowError(f"{name}: must be a number, not {value!r}")
    if isinstance(value, str):
        if not NUMERIC_RE.match(trim(value)):
            raise RowError(f"{name}: {value!r} is not a number")
        # Through Decimal, so a long whole number ("9007199254740993") keeps its last digits.
        number = Decimal(trim(value))
        value = int(number) if whole and number == number.to_integral_value() else float(number)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RowError(f"{name}: must be a finite number")
    if whole:
        if isinstance(value, float) and not value.is_integer():
            raise RowError(f"{name}: must be a whole number, got {value!r}")
        if abs(int(value)) >= 2**63:
            raise RowError(f"{name}: out of range")
        return int(value)
    return float(value)


def parse_lead(data) -> LeadRow:
    if not isinstance(data, dict):
        raise RowError("row: must be an object")
    errors = []
    values = {}
    for name, check in (
        ("id", lambda v: _id(v, "id", True)),
        ("created_at", lambda v: parse_timestamp(v, "created_at")),
        ("employees", lambda v: _number(v, "employees", whole=True)),
        ("annual_revenue", lambda v: _number(v, "annual_revenue", whole=False)),
        ("owner", lambda v: _id(v, "owner", False)),
        *((n, lambda v, n=n: _text(v, n)) for n in LEAD_TEXT_FIELDS),
    ):
        try:
            values[name] = check(data.get(name))
        except RowError as exc:
            errors.append(str(exc))
    attributes = data.get("attributes")
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        errors.append("attributes: must be an object")
    if errors:
        raise RowError("; ".join(errors))
    fields = {n: values[n] for n in (*LEAD_TEXT_FIELDS, *NUMBER_FIELDS)}
    return LeadRow(values["id"], values["created_at"], fields, attributes, values["owner"])


def parse_event(data) -> EventRow:
    if not isinstance(data, dict):
        raise RowError("row: must be an object")
    errors = []
    values = {}
    for name, check in (
        ("id", lambda v: _id(v, "id", False)),
        ("lead", lambda v: _id(v, "lead", True)),
        ("kind", lambda v: _kind(v)),
        ("occurred_at", lambda v: parse_timestamp(v, "occurred_at")),
    ):
        try:
            values[name] = check(data.get(name))
        except RowError as exc:
            errors.append(str(exc))
    properties = data.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        errors.append("properties: must be an object")
    if errors:
        raise RowError("; ".join(errors))
    return EventRow(values["id"], values["lead"], values["kind"], values["occurred_at"], properties)


def _kind(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RowError("kind: required, e.g. page_view or email_open")
    if len(value) > 64:
        raise RowError("kind: longer than 64 characters")
    return value


def _csv_row_to_object(row: dict, nested: str) -> dict:
    """CSV cells are text: `attributes.plan` / `properties.url` columns fill the nested object."""
    out: dict = {nested: {}}
    for key, value in row.items():
        if key is None:
            raise RowError("row: more cells than the header has columns")
        key = key.strip()
        if key.startswith(nested + "."):
            if value not in (None, ""):
                out[nested][key[len(nested) + 1 :]] = value
        elif key == nested and value:
            try:
                out[nested] = json.loads(value)
            except json.JSONDecodeError:
                raise RowError(f"{nested}: not a JSON object") from None
        else:
            out[key] = value if value != "" else None
    return out


def read_rows(path: str | Path, nested: str) -> Iterator[tuple[int, object]]:
    """Yield (line number, row object or RowError) from a .jsonl/.ndjson or .csv file, streaming."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, RowError(f"row: not valid JSON ({exc.msg})")
    elif suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                try:
                    yield reader.line_num, _csv_row_to_object(row, nested)
                except RowError as exc:
                    yield reader.line_num, exc
    else:
        raise RowError(f"{path.name}: unknown file type {suffix or '(none)'}; use .jsonl or .csv")


def check_readable(path: str | Path) -> None:
    """Fail early, before anything is stored, on a file that is not UTF-8 text or is malformed CSV."""
    path = Path(path)
    if not path.exists():
        raise RowError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv"):
        raise RowError(f"{path.name}: unknown file type {suffix or '(none)'}; use .jsonl or .csv")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            if path.suffix.lower() == ".csv":
                for _ in csv.reader(fh, strict=True):
                    pass
            else:
                for _ in fh:
                    pass
    except UnicodeDecodeError as exc:
        raise RowError(f"{path.name}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except csv.Error as exc:
        raise RowError(f"{path.name}: malformed CSV: {exc}") from None
    except OSError as exc:  # a directory, no permission...
        raise RowError(f"{path}: cannot read: {exc.strerror or exc}") from None
