"""Validating lead and event rows, each on its own (parse_lead, parse_event).

Every path that takes leads or events from outside (import commands, the API, the dry run,
the CSV import page) checks its rows here, so a row means the same wherever it comes from.
The imports read their files through imports/uploads.py (CRM value forms, mappings); read_rows
reads plain .jsonl/.csv files for the dry run (score_file).
"""

import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db.models import IntegerField

from engine.fields import LEAD_TEXT_FIELDS, NUMBER_FIELDS
from engine.values import trim
from leads.models import Event, Lead
from leadscoring.timestamps import RANGE_TEXT, in_range

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


def shown(value, limit: int = 60) -> str:
    """A value as an error message quotes it: escaped (NUL, unpaired surrogates) and shortened."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + "…"
    return repr(value)


def field_name(key) -> str:
    """A key as an error message names it: as is when printable, else escaped like a value."""
    if isinstance(key, str) and key.isprintable() and text_problem(key) is None and len(key) <= 60:
        return key
    return shown(key)


def text_problem(text: str) -> str | None:
    """Why a text cannot be stored on every database we run on, or None.

    Postgres refuses NUL in text and JSON, and no database can store a string that is not valid
    Unicode (an unpaired surrogate such as "\\ud800", which JSON's \\u escapes can produce).
    """
    if "\x00" in text:
        return "contains a NUL character (\\x00), which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains an unpaired surrogate {shown(text[exc.start])}, which is not valid Unicode"
    return None


def parse_timestamp(value, name: str) -> datetime:
    """An ISO 8601 timestamp with a UTC offset, inside the supported range (leadscoring/timestamps.py)."""
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"{name}: required, an ISO 8601 timestamp with offset")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(f"{name}: {shown(value)} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise RowError(f"{name}: {shown(value)} has no UTC offset (add Z or +hh:mm)")
    if not in_range(parsed):
        raise RowError(f"{name}: {text} is outside the supported range {RANGE_TEXT}")
    return parsed


@cache
def max_length(model_name: str, field: str) -> int:
    """The column width of a stored text: the model field is the single source of the number."""
    model = {"lead": Lead, "event": Event, "user": get_user_model()}[model_name]
    return model._meta.get_field(field).max_length


@cache
def whole_number(field: str) -> bool:
    """Whether a lead's number is whole (an integer column) or may have a fraction: the model decides."""
    return isinstance(Lead._meta.get_field(field), IntegerField)


def _checked_text(text: str, name: str, limit: int) -> str:
    problem = text_problem(text)
    if problem:
        raise RowError(f"{name}: {problem}")
    if len(text) > limit:
        raise RowError(f"{name}: longer than {limit} characters (got {len(text)})")
    return text


def _id(value, name: str, required: bool, limit: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"{name}: required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RowError(f"{name}: must be text")
    return _checked_text(str(value).strip(), name, limit)


def _text(value, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RowError(f"{name}: must be text")
    if isinstance(value, float) and not math.isfinite(value):
        raise RowError(f"{name}: must be text, not {value!r}")
    return _checked_text(str(value), name, max_length("lead", name))


# Past this many digits a whole number is out of any column's range: refused before int() would
# build it (int(Decimal("1e999999999")) takes minutes and gigabytes).
_MAX_DIGITS = 30
BIGINT = 2**63
# A number as text, with an exponent of any length: the scoring engine reads a 5-digit exponent as
# text (engine/values.py), but a row's number column refuses it as out of range by name.
_NUMBER_TEXT_RE = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def _number(value, name: str, whole: bool):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RowError(f"{name}: must be a number, not {value!r}")
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise RowError(f"{name}: {problem}")
        if not _NUMBER_TEXT_RE.match(trim(value)):
            raise RowError(f"{name}: {shown(value)} is not a number")
        # Through Decimal, so a long whole number ("9007199254740993") keeps its last digits.
        number = Decimal(trim(value))
        if number.adjusted() >= _MAX_DIGITS:
            value = math.inf  # refused below, as any number out of range
        elif whole and number == number.to_integral_value():
            value = int(number)
        else:
            value = float(number)
    if not isinstance(value, (int, float)):
        raise RowError(f"{name}: must be a number, not {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise RowError(f"{name}: must be a finite number")
    if whole:
        if isinstance(value, float) and not value.is_integer():
            raise RowError(f"{name}: must be a whole number, got {value!r}")
        if abs(int(value)) >= BIGINT:
            raise RowError(f"{name}: out of range (a whole number below 2^63)")
        return int(value)
    try:
        return float(value)
    except OverflowError:  # a JSON integer of 400 digits
        raise RowError(f"{name}: out of range (at most about 1.8e308)") from None


# Nesting deeper than this in `attributes` / `properties` is refused: no criterion reads that deep,
# and very deep JSON overflows the parsers and serializers that read it back.
MAX_JSON_DEPTH = 32


def json_problems(value, name: str, *, max_depth: int = MAX_JSON_DEPTH, limit: int = 10) -> list[str]:
    """Why a JSON value (attributes, properties, a model document) cannot be stored, by path; [] if it can.

    Walks without recursion, so a value nested 100,000 deep is reported rather than crashing.
    """
    problems: list[str] = []
    stack = [(value, name, 0)]
    while stack and len(problems) < limit:
        item, path, depth = stack.pop()
        if depth > max_depth:
            problems.append(f"{name}: nested deeper than {max_depth} levels")
            break
        if isinstance(item, dict):
            for key, child in reversed(item.items()):
                if not isinstance(key, str):
                    problems.append(f"{path}: key {shown(key)} is not text")
                    continue
                problem = text_problem(key)
                if problem:
                    problems.append(f"{path}: key {shown(key)} {problem}")
                    continue
                stack.append((child, f"{path}.{field_name(key)}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in reversed(list(enumerate(item))))
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                problems.append(f"{path}: {problem}")
        elif isinstance(item, float):
            if not math.isfinite(item):
                problems.append(f"{path}: {item!r} is not a number JSON can hold (use null or a finite number)")
        elif item is not None and not isinstance(item, (bool, int)):
            problems.append(f"{path}: {shown(item)} is not a JSON value")
    return problems


def _json_object(value, name: str, errors: list[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{name}: must be an object")
        return {}
    errors.extend(json_problems(value, name))
    return value


def _checked_row(data, checks, json_name: str) -> tuple[dict, dict]:
    """The row's checked values by name, and its JSON object `json_name`.

    Every check runs, so one RowError names all that is wrong with the row, not just the first.
    """
    if not isinstance(data, dict):
        raise RowError("row: must be an object")
    errors = []
    values = {}
    for name, check in checks:
        try:
            values[name] = check(data.get(name))
        except RowError as exc:
            errors.append(str(exc))
    json_object = _json_object(data.get(json_name), json_name, errors)
    if errors:
        raise RowError("; ".join(errors))
    return values, json_object


def parse_lead(data) -> LeadRow:
    checks = (
        ("id", lambda v: _id(v, "id", True, max_length("lead", "external_id"))),
        ("created_at", lambda v: parse_timestamp(v, "created_at")),
        *((n, lambda v, n=n: _number(v, n, whole=whole_number(n))) for n in NUMBER_FIELDS),
        # Looked up, not stored: as long as the longest user field it may name (an e-mail).
        ("owner", lambda v: _id(v, "owner", False, max_length("user", "email"))),
        *((n, lambda v, n=n: _text(v, n)) for n in LEAD_TEXT_FIELDS),
    )
    values, attributes = _checked_row(data, checks, "attributes")
    fields = {n: values[n] for n in (*LEAD_TEXT_FIELDS, *NUMBER_FIELDS)}
    return LeadRow(values["id"], values["created_at"], fields, attributes, values["owner"])


def parse_event(data) -> EventRow:
    checks = (
        ("id", lambda v: _id(v, "id", False, max_length("event", "external_id"))),
        ("lead", lambda v: _id(v, "lead", True, max_length("lead", "external_id"))),
        ("kind", lambda v: _kind(v)),
        ("occurred_at", lambda v: parse_timestamp(v, "occurred_at")),
    )
    values, properties = _checked_row(data, checks, "properties")
    return EventRow(values["id"], values["lead"], values["kind"], values["occurred_at"], properties)


def _kind(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RowError("kind: required, e.g. page_view or email_open")
    return _checked_text(value, "kind", max_length("event", "kind"))


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
            except RecursionError:
                raise RowError(f"{nested}: nested deeper than {MAX_JSON_DEPTH} levels") from None
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
                except RecursionError:
                    yield number, RowError(f"row: nested deeper than {MAX_JSON_DEPTH} levels")
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
