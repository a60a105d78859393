"""Reading the values of real CRM exports: delimiters, numbers, ranges and dates as CRMs write them.

HubSpot, Salesforce and spreadsheets write `1,000`, `$1,200,000`, `€ 1.200.000,50`, `51-200`,
`8/8/2026 2:03 PM`, `08.08.2026` or `2026-08-08 14:03` where our row format (leads/rows.py, the
spec) wants plain numbers and ISO 8601 timestamps with an offset. The functions here turn such
values into that format under the options the user chose (`ImportOptions`); the row is then
validated by leads/rows.py like every other input. The import page (imports/uploads.py) and the
import commands both use them, so a file reads the same on either path. docs/imports.md lists
every rule.
"""

import csv
import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from engine.fields import NUMBER_FIELDS
from leads.rows import RowError

DELIMITERS = {",": "Comma", ";": "Semicolon", "\t": "Tab", "|": "Pipe"}
DATE_FORMATS = {
    "iso": "ISO 8601 only (2026-08-08, 2026-08-08 14:03)",
    "us": "US: month/day/year (8/31/2026), and ISO",
    "eu": "EU: day/month/year (31/8/2026, 31.08.2026), and ISO",
}
DECIMALS = {".": "1,234.56 (decimal point)", ",": "1.234,56 (decimal comma)"}
RANGES = {
    "lower": "Use the lower bound (51-200 → 51, 10001+ → 10001)",
    "text": "Keep the range as text in attributes, leave the number empty",
}
NUMBER_TARGETS = NUMBER_FIELDS  # the columns a file maps to that are read as numbers: the lead's
TIME_TARGETS = ("created_at", "occurred_at")


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file's values; the same fields on the import page and the command line.

    timezone: a zoneinfo name read for timestamps without an offset, or "" to refuse them (as the
    spec does). owner_fallback: the username that leads whose owner matches no user go to, or ""
    to leave them unassigned. missing_created: "reject" or "now" (the upload's time).
    """

    decimal: str = "."
    date_format: str = "iso"
    timezone: str = "UTC"
    ranges: str = "lower"
    owner_fallback: str = ""
    missing_created: str = "reject"

    @classmethod
    def from_dict(cls, data: dict | None) -> "ImportOptions":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in (data or {}).items() if k in known and v is not None}
        return cls(**data)

    def as_dict(self) -> dict:
        return asdict(self)

    def problems(self) -> list[str]:
        """What makes these options unusable (an unknown zone, format...), as messages."""
        out = []
        if self.decimal not in DECIMALS:
            out.append(f"decimal: {self.decimal!r} is not one of {', '.join(DECIMALS)}")
        if self.date_format not in DATE_FORMATS:
            out.append(f"date format: {self.date_format!r} is not one of {', '.join(DATE_FORMATS)}")
        if self.ranges not in RANGES:
            out.append(f"ranges: {self.ranges!r} is not one of {', '.join(RANGES)}")
        if self.missing_created not in ("reject", "now"):
            out.append(f"missing created_at: {self.missing_created!r} is not reject or now")
        if self.timezone and zone(self.timezone) is None:
            out.append(f"time zone: {self.timezone!r} is not a time zone name such as UTC or Europe/Berlin")
        return out


def zone(name: str) -> ZoneInfo | None:
    if not name or name != name.strip() or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_names() -> list[str]:
    """UTC first, then every zoneinfo name, for the time-zone select."""
    return ["UTC", *sorted(n for n in available_timezones() if n != "UTC" and "/" in n)]


# --- delimiters -----------------------------------------------------------------------------------


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text (its first lines): `,`, `;`, tab or `|`.

    csv.Sniffer's answer is taken when it splits the header into more than one column and every
    sampled record into as many; otherwise the candidate that does so with the most columns wins,
    and a one-column file is read with commas.
    """
    sample = "".join(text.splitlines(keepends=True)[:50])
    candidates = list(DELIMITERS)
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(candidates)).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in candidates and _consistent_columns(sample, sniffed) > 1:
        return sniffed
    best, columns = ",", 1
    for delimiter in candidates:
        count = _consistent_columns(sample, delimiter)
        if count > columns:
            best, columns = delimiter, count
    return best


def _consistent_columns(sample: str, delimiter: str) -> int:
    """The header's column count if every complete sampled record has as many, else 0."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last record short
    try:
        records = [r for r in csv.reader(lines, delimiter=delimiter) if r]
    except csv.Error:
        return 0
    if not records:
        return 0
    width = len(records[0])
    return width if all(len(r) == width for r in records) else 0


# --- numbers ----------------------------------------------------------------------------------------

# Currency signs and codes CRMs put around amounts; a trailing or leading one is dropped.
_MONEY = r"(?:[$€£¥₹]|USD|EUR|GBP|CHF|JPY|CAD|AUD|INR)"
_CURRENCY = re.compile(rf"^{_MONEY}\s*|\s*{_MONEY}$")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_DIGITS = re.compile(r"^[0-9]+$")
_PLAIN = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_RANGE = re.compile(r"^(?P<lo>[^\s–—-][^–—]*?)\s*(?:-|–|—|to)\s*(?P<hi>[^–—-].*)$")


def number(value: str, *, name: str, decimal: str = ".", ranges: str = "lower") -> tuple[str | None, str]:
    """A CRM number as a plain numeric string, with a note when it was a range kept as text.

    Returns (plain number or None, note). Raises RowError naming the value when it is no number.
    `decimal` is "." (1,234.56) or "," (1.234,56). A range (`51-200`, `1,001–5,000`, `10001+`)
    gives its lower bound, or with ranges="text" no number and a note (the caller keeps the text).
    """
    text = value.strip()
    if not text:
        return None, ""
    bare = _CURRENCY.sub("", text).strip()
    if bare.endswith("+") and not bare.startswith(("+", "-")):
        return _range(text, bare[:-1], name=name, decimal=decimal, ranges=ranges)
    match = _RANGE.match(bare)
    if match and not _PLAIN.match(bare):
        lo, hi = match["lo"], match["hi"]
        try:
            low, high = _amount(lo, decimal), _amount(hi, decimal)
        except ValueError:
            pass
        else:
            if float(low) > float(high):
                raise RowError(f"{name}: {value!r} is a range whose lower bound is above its upper bound")
            return _range(text, lo, name=name, decimal=decimal, ranges=ranges)
    try:
        return _amount(bare, decimal), ""
    except ValueError:
        hint = " (is the decimal separator a comma? choose “1.234,56”)" if decimal == "." and "," in bare else ""
        raise RowError(f"{name}: {value!r} is not a number{hint}") from None


def _range(text: str, low: str, *, name: str, decimal: str, ranges: str) -> tuple[str | None, str]:
    try:
        lower = _amount(low, decimal)
    except ValueError:
        raise RowError(f"{name}: {text!r} is not a number or a range such as 51-200 or 10001+") from None
    if ranges == "text":
        return None, f"{name}: the range {text!r} is kept as text"
    return lower, ""


def _amount(text: str, decimal: str) -> str:
    """`1,234.5` / `1.234,5` / `1 234,5` / `-12` as a plain numeric string, or ValueError."""
    text = _CURRENCY.sub("", text.strip()).strip()
    sign = ""
    if text[:1] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:].strip()
    text = _SPACES.sub(" ", text)
    thousands = "," if decimal == "." else "."
    if _PLAIN.match(text) and (decimal == "." or "." not in text):
        return sign + text
    whole, _, fraction = text.partition(decimal)
    if fraction and not _DIGITS.match(fraction):
        raise ValueError(text)
    groups = re.split(rf"[{re.escape(thousands)} ']", whole)
    if not _DIGITS.match(groups[0]) or (len(groups) > 1 and len(groups[0]) > 3):
        raise ValueError(text)
    if any(len(g) != 3 or not _DIGITS.match(g) for g in groups[1:]):
        raise ValueError(text)
    return sign + "".join(groups) + ("." + fraction if fraction else "")


# --- dates ------------------------------------------------------------------------------------------

_DMY = re.compile(
    r"^(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4})"
    r"(?:[ T,]+(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?\s*(?P<ampm>[AaPp][Mm])?)?$"
)
_ISO_SPACE_OFFSET = re.compile(r"^(.*\d)\s+(Z|UTC|[+-]\d{2}:?\d{2})$")


def timestamp(value: str, *, name: str, date_format: str = "iso", timezone: str = "UTC") -> str:
    """A CRM date or date-time as an ISO 8601 string with an offset, for leads/rows.py to check.

    ISO 8601 (`2026-08-08`, `2026-08-08 14:03`, with or without an offset) is read under every
    date_format; `8/8/2026`, `08.08.2026`, `8-8-2026` (optionally with `14:03` or `2:03 PM`) only
    under "us" (month first) or "eu" (day first). A value without an offset is read in `timezone`
    (a zoneinfo name); with timezone "" it is refused, as the spec says. A date alone is midnight.
    """
    text = value.strip()
    if not text:
        return value
    parsed = _iso(text)
    if parsed is None:
        match = _DMY.match(text)
        if match is None:
            raise RowError(f"{name}: {value!r} is not a date (ISO 8601, or 8/8/2026 / 08.08.2026 with a date format)")
        if date_format == "iso":
            raise RowError(
                f"{name}: {value!r} is not ISO 8601: choose the date format of the file (US month/day or EU day/month)"
            )
        parsed = _day_month(match, value, name, date_format)
    if parsed.tzinfo is None:
        tz = zone(timezone) if timezone else None
        if tz is None:
            raise RowError(f"{name}: {value!r} has no UTC offset (add Z or +hh:mm, or choose a time zone)")
        parsed = parsed.replace(tzinfo=tz)
    return parsed.isoformat()


def _iso(text: str) -> datetime | None:
    space = _ISO_SPACE_OFFSET.match(text)
    if space:  # "2026-08-08 14:03 UTC", "2026-08-08 14:03 +0200"
        offset = "+00:00" if space[2] in ("Z", "UTC") else space[2]
        text = space[1] + offset
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _day_month(match, value: str, name: str, date_format: str) -> datetime:
    first, second = int(match["a"]), int(match["b"])
    month, day = (first, second) if date_format == "us" else (second, first)
    hour, minute, second_ = int(match["h"] or 0), int(match["m"] or 0), int(match["s"] or 0)
    micro = int((match["f"] or "0").ljust(6, "0"))
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise RowError(f"{name}: {value!r} has hour {hour} with AM/PM")
        hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
    try:
        return datetime(int(match["year"]), month, day, hour, minute, second_, micro)
    except ValueError as exc:
        order = "month/day" if date_format == "us" else "day/month"
        other = "EU day/month" if date_format == "us" else "US month/day"
        raise RowError(
            f"{name}: {value!r} is not a valid {order} date ({exc}); is the file in {other} order?"
        ) from None
