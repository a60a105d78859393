"""Scoring model documents (spec section 3): parse, validate whole, and write back.

`parse_document(data)` returns a `ModelSpec` or raises `DocumentError` listing every problem
by its JSON path, e.g. ``criteria[3].points: must be an integer between -1000 and 1000``.

Every number, list and name is bounded (docs/scoring.md, "Limits of a model document"), so that
any document accepted here can be scored by every path: the bulk SQL on Postgres and SQLite and
the single-lead Python path (a property test, tests/engine/test_engine_properties.py, holds them to
it at the extremes of each bound).
"""

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.fields import LEAD_FIELDS
from engine.values import as_number

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")  # \Z, not $: "$" also matches before a final newline
POSITIVE_OPS = ("eq", "in", "contains", "startswith", "endswith", "gt", "gte", "lt", "lte", "between")
NEGATIVE_OPS = {"ne": "eq", "not_in": "in", "not_contains": "contains"}
PRESENCE_OPS = ("is_empty", "is_set")
OPS = POSITIVE_OPS + tuple(NEGATIVE_OPS) + PRESENCE_OPS
TEXT_OPS = ("contains", "not_contains", "startswith", "endswith")
NUMERIC_OPS = ("gt", "gte", "lt", "lte")
DECAY_TYPES = ("inactivity_step", "inactivity_once", "unanswered")
POINTS_RANGE = (-1000, 1000)  # the contract's (spec section 3)
# Days: lookback_days, cap_window_days, every_days, after_days. Ten years is longer than any sales
# cycle or nurture programme; "no lookback" is null, not a huge number.
DAYS_MAX = 3650
# half_life_days: from half a day (an action is worth a thousandth after five days: "hot right now"
# models) to ten years (next to no decay).
HALF_LIFE_RANGE = (0.5, 3650)
# A cap above this many events is no cap: leave it null.
CAP_MAX = 10_000
# Thresholds, grade lines and the engagement floor: scores are sums of points of [-1000, 1000];
# a line a million away is never reached by any real model.
LEVEL_LIMIT = 1_000_000
# Numbers in conditions (gt, between, eq...): revenue figures fit with room to spare, and every
# integer up to here is exact in a double (SQLite compares doubles, Postgres numeric, Python
# Decimal: they agree on any value a double holds).
OPERAND_LIMIT = 10**15
# Numeric text operands ("350", a long numeric id) compare as numbers too, exactly on Postgres
# and in Python: up to 100 digits, sized between 1e-100 and 1e100.
TEXT_NUMBER_DIGITS = 100
# Sizes: what one SQL statement per chunk can carry on both databases (SQLite: an expression tree
# at most 1,000 deep, at most 32,766 parameters; Postgres: 65,535 parameters) with room to spare.
MAX_CRITERIA = 100
MAX_DECAY = 20
MAX_SEGMENTS = 20
MAX_KINDS = 50  # event kinds in one list
MAX_DEPTH = 5  # all/any/not groups nested in one condition
MAX_LEAVES = 20  # field tests in one condition
MAX_VALUES = 500  # values in one in/not_in list
MAX_DOCUMENT_VALUES = 5000  # field tests and listed values in the whole document
MAX_NAME = 200  # a condition field or match_property: a JSON key read inside the SQL
LEVEL_MESSAGE = f"is required and must be a number from -{LEVEL_LIMIT} to {LEVEL_LIMIT}"

TOP_KEYS = {
    "name",
    "slug",
    "description",
    "lookback_days",
    "half_life_days",
    "engagement_floor",
    "criteria",
    "decay",
    "segments",
    "grades",
}
FIT_KEYS = {"key", "label", "dimension", "when", "points"}
ENGAGEMENT_KEYS = {"key", "label", "dimension", "event", "where", "points", "cap", "cap_window_days"}
DECAY_KEYS = {
    "inactivity_step": {"key", "label", "type", "events", "every_days", "points"},
    "inactivity_once": {"key", "label", "type", "events", "after_days", "points"},
    "unanswered": {"key", "label", "type", "events", "responses", "match_property", "after_days", "points"},
}
SEGMENT_KEYS = {"key", "label", "when", "thresholds"}


class DocumentError(ValueError):
    """A model document that breaks the spec; `errors` lists every problem by JSON path."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("invalid scoring model:\n  " + "\n  ".join(errors))


@dataclass(frozen=True)
class Criterion:
    index: int
    key: str
    label: str
    dimension: str
    points: int
    when: dict | None = None
    events: tuple[str, ...] = ()
    where: dict | None = None
    cap: int | None = None
    cap_window_days: int | None = None

    @property
    def is_fit(self) -> bool:
        return self.dimension == "fit"


@dataclass(frozen=True)
class DecayRule:
    index: int
    key: str
    label: str
    type: str
    points: int
    events: tuple[str, ...] | None = None
    every_days: int | None = None
    after_days: int | None = None
    responses: tuple[str, ...] = ()
    match_property: str | None = None


@dataclass(frozen=True)
class Segment:
    index: int
    key: str
    label: str
    when: dict | None
    warm: float
    hot: float
    mql: float


@dataclass(frozen=True)
class ModelSpec:
    name: str
    slug: str
    description: str
    lookback_days: int | None
    half_life_days: float | None
    engagement_floor: float | None
    criteria: tuple[Criterion, ...]
    decay: tuple[DecayRule, ...]
    segments: tuple[Segment, ...]
    grade_fit: tuple[float, float, float]
    grade_engagement: tuple[float, float, float]
    document: dict = field(compare=False, repr=False, default_factory=dict)

    @property
    def fit_criteria(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if c.is_fit)

    @property
    def engagement_criteria(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if not c.is_fit)


# --- helpers --------------------------------------------------------------------------------


def is_number(value) -> bool:
    """A JSON number a document may hold: not a bool, and finite (an int of any size is)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True  # math.isfinite() of an int beyond a double's range raises instead of answering
    return isinstance(value, float) and math.isfinite(value)


def _is_int(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _within(value, limit) -> bool:
    return is_number(value) and -limit <= value <= limit


def _bad_operand(value) -> str | None:
    """Why a number in a condition cannot be compared on every path, or None. A text operand that
    is numeric compares as a number (spec section 2), so it is bounded too, more loosely: a long
    numeric id ("12345678901234567890") is fine, "1e9999" is not (no stored number comes near)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    number = as_number(value)
    if number is None:
        return None
    if not isinstance(value, str):
        if not -OPERAND_LIMIT <= number <= OPERAND_LIMIT:
            return f"numbers in conditions must be between -{OPERAND_LIMIT:,} and {OPERAND_LIMIT:,} (10^15)"
        return None
    if len(number.as_tuple().digits) > TEXT_NUMBER_DIGITS or abs(number.adjusted()) > TEXT_NUMBER_DIGITS:
        return (
            f"numeric text compares as a number, and this one is out of range: at most {TEXT_NUMBER_DIGITS} "
            f"digits, and between 1e-{TEXT_NUMBER_DIGITS} and 1e{TEXT_NUMBER_DIGITS} in size"
        )
    return None


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain the NUL character (\\u0000)"
    try:
        text.encode("utf-8")  # refuses exactly the surrogates, U+D800-U+DFFF, in one pass in C
    except UnicodeEncodeError:
        return "must not contain a lone surrogate (\\ud800-\\udfff): not valid Unicode text"
    return None


def _text_problems(value, path: str, out: list[str]) -> None:
    """Every string of the document, keys included, must be storable and sendable as UTF-8 text
    (Postgres refuses NUL in text and jsonb, and no database takes lone surrogates)."""
    if isinstance(value, str):
        problem = _bad_text(value)
        if problem:
            out.append(f"{path or '(document)'}: {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _bad_text(key):
                out.append(f"{path or '(document)'}: a key {_bad_text(key)}")
                continue
            _text_problems(item, sub, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _text_problems(item, f"{path}[{i}]", out)


def _is_scalar_value(value) -> bool:
    return isinstance(value, (str, bool)) or is_number(value)


class _Checker:
    def __init__(self):
        self.errors: list[str] = []
        self.values = 0  # field tests and listed values in the whole document (MAX_DOCUMENT_VALUES)
        self.keys: dict[str, str] = {}  # criterion and decay rule keys, each with the path that has it

    def err(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def unknown_keys(self, obj: dict, allowed: set, path: str) -> None:
        for key in obj:
            if key not in allowed:
                self.err(f"{path}.{key}" if path else key, "unknown field")

    def slug(self, obj: dict, name: str, path: str) -> str | None:
        value = obj.get(name)
        if not isinstance(value, str) or not SLUG_RE.match(value):
            self.err(f"{path}.{name}" if path else name, "must be a slug (letters, digits, - and _)")
            return None
        return value

    def text(self, obj: dict, name: str, path: str, required: bool = True, default: str = "") -> str:
        value = obj.get(name)
        if value is None:
            if required:
                self.err(f"{path}.{name}" if path else name, "is required and must be text")
            return default
        if not isinstance(value, str):
            self.err(f"{path}.{name}" if path else name, "must be text")
            return default
        return value

    def points(self, obj: dict, path: str, negative_only: bool = False) -> int:
        value = obj.get("points")
        lo, hi = POINTS_RANGE
        if not _is_int(value) or not lo <= value <= hi:
            self.err(f"{path}.points", f"must be an integer between {lo} and {hi}")
            return 0
        if negative_only and value >= 0:
            self.err(f"{path}.points", "decay points must be negative")
        return int(value)

    def positive_int(self, obj: dict, name: str, path: str, nullable: bool, limit: int = DAYS_MAX) -> int | None:
        value = obj.get(name)
        unit = " (days)" if name.endswith("_days") else ""
        if value is None:
            if not nullable:
                self.err(
                    f"{path}.{name}" if path else name,
                    f"is required and must be a positive integer, at most {limit}{unit}",
                )
            return None
        if not _is_int(value) or not 0 < value <= limit:
            self.err(
                f"{path}.{name}" if path else name,
                "must be a positive integer" + (" or null" if nullable else "") + f", at most {limit}{unit}",
            )
            return None
        return int(value)

    def name(self, value, path: str, what: str) -> bool:
        """A JSON key the SQL reads (an event property, an attribute): SQLite takes it inside a
        quoted JSON path, where a " or \\ would end or escape the quote."""
        if '"' in value or "\\" in value:
            self.err(path, f'{what} must not contain " or \\')
            return False
        if len(value) > MAX_NAME:
            self.err(path, f"{what} must be at most {MAX_NAME} characters")
            return False
        return True

    def kinds(self, value, path: str, nullable: bool) -> tuple[str, ...] | None:
        if value is None:
            if not nullable:
                self.err(path, "is required: an event kind or a list of kinds")
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(k, str) and k for k in value):
            self.err(path, "must be an event kind or a non-empty list of kinds")
            return ()
        kinds = tuple(dict.fromkeys(value))
        if len(kinds) > MAX_KINDS:
            self.err(path, f"lists {len(kinds)} event kinds: at most {MAX_KINDS}")
        return kinds

    def condition(self, cond, path: str, context: str) -> None:
        """context: 'lead' (fields are standard fields or attributes.<key>) or 'event'."""
        leaves = self._condition(cond, path, context, depth=0)
        if leaves > MAX_LEAVES:
            self.err(path, f"tests {leaves} fields: at most {MAX_LEAVES} in one condition")

    def _condition(self, cond, path: str, context: str, depth: int) -> int:
        """Check one condition; returns how many field tests it holds."""
        if not isinstance(cond, dict):
            self.err(path, "must be a condition object")
            return 0
        groups = [k for k in ("all", "any", "not") if k in cond]
        if groups:
            return self._group(cond, groups[0], path, context, depth)
        self.unknown_keys(cond, {"field", "op", "value"}, path)
        self._field(cond.get("field"), f"{path}.field", context)
        self.values += 1
        op = cond.get("op")
        if op not in OPS:
            self.err(f"{path}.op", f"unknown operator {op!r}: use one of {', '.join(OPS)}")
        elif op in ("in", "not_in"):
            self._listed_values(op, cond.get("value"), f"{path}.value")
        else:
            problem = _VALUE_PROBLEMS[op](op, cond.get("value"))
            if problem:
                self.err(f"{path}.value", problem)
        return 1

    def _group(self, cond: dict, key: str, path: str, context: str, depth: int) -> int:
        if len(cond) != 1:
            self.err(path, "a group has exactly one of all, any, not and nothing else")
            return 0
        if depth >= MAX_DEPTH:
            self.err(path, f"groups (all, any, not) are nested more than {MAX_DEPTH} deep")
            return 0
        inner = cond[key]
        if key == "not":
            return self._condition(inner, f"{path}.not", context, depth + 1)
        if not isinstance(inner, list):
            self.err(f"{path}.{key}", "must be a list of conditions")
            return 0
        if len(inner) > MAX_LEAVES:
            self.err(f"{path}.{key}", f"lists {len(inner)} conditions: at most {MAX_LEAVES}")
            return len(inner)
        return sum(self._condition(sub, f"{path}.{key}[{i}]", context, depth + 1) for i, sub in enumerate(inner))

    def _field(self, fld, path: str, context: str) -> None:
        """An event condition may test any property; a lead condition a standard field or an attribute."""
        if not isinstance(fld, str) or not fld:
            self.err(path, "is required and must be text")
        elif not self.name(fld, path, "a field") or context != "lead":
            return
        elif fld == "attributes.":
            self.err(path, "attributes. needs a key after the dot")
        elif not fld.startswith("attributes.") and fld not in LEAD_FIELDS:
            self.err(path, f"unknown lead field {fld!r}: use one of {', '.join(LEAD_FIELDS)} or attributes.<key>")

    def _listed_values(self, op: str, value, path: str) -> None:
        if not isinstance(value, list) or not all(_is_scalar_value(v) for v in value):
            self.err(path, f"{op} needs a list of text, number or true/false values")
        elif len(value) > MAX_VALUES:
            self.err(path, f"lists {len(value)} values: at most {MAX_VALUES}")
        else:
            self.values += len(value)
            for i, v in enumerate(value):
                problem = _bad_operand(v)
                if problem:
                    self.err(f"{path}[{i}]", problem)

    def claim(self, key: str | None, path: str) -> None:
        """Criteria and decay rules share one namespace of keys (breakdown lines are named by them)."""
        if key is None:
            return
        if key in self.keys:
            self.err(f"{path}.key", f"duplicate key {key!r} (also at {self.keys[key]})")
        else:
            self.keys[key] = path

    def keyed(self, obj: dict, path: str) -> tuple[str, str]:
        """A criterion's or decay rule's key (claimed) and label (the key when there is none)."""
        key = self.slug(obj, "key", path)
        self.claim(key, path)
        return key or "", self.text(obj, "label", path, required=False, default=key or "")

    def entries(self, items: list, name: str, noun: str, limit: int) -> Iterator[tuple[int, str, dict]]:
        """The objects of a top-level list, each with its index and path; the rest are errors."""
        if len(items) > limit:
            self.err(name, f"lists {len(items)} {noun}: at most {limit}")
        for i, item in enumerate(items):
            path = f"{name}[{i}]"
            if isinstance(item, dict):
                yield i, path, item
            else:
                self.err(path, "must be an object")

    def levels(self, obj: dict, names: tuple[str, ...], path: str) -> tuple:
        """Thresholds or grade lines: each a bounded number; one that is not counts as 0."""
        values = []
        for name in names:
            if _within(obj.get(name), LEVEL_LIMIT):
                values.append(obj[name])
            else:
                self.err(f"{path}.{name}", LEVEL_MESSAGE)
                values.append(0)
        return tuple(values)


# What is wrong with the value of a field test, by operator (None: nothing); in and not_in, which
# count their values and name each bad one, are _Checker._listed_values.


def _scalar_problem(op: str, value) -> str | None:
    if not _is_scalar_value(value):
        return f"{op} needs a text, number or true/false value"
    return _bad_operand(value)


def _text_problem(op: str, value) -> str | None:
    return None if isinstance(value, str) else f"{op} needs a text value"


def _number_problem(op: str, value) -> str | None:
    if not is_number(value):
        return f"{op} needs a number"
    return _bad_operand(value)


def _between_problem(op: str, value) -> str | None:
    if not isinstance(value, list) or len(value) != 2 or not all(is_number(v) for v in value) or value[0] > value[1]:
        return "between needs two numbers [lo, hi] with lo <= hi"
    return _bad_operand(value[0]) or _bad_operand(value[1])


def _presence_problem(op: str, value) -> str | None:
    return None if value is None else f"{op} takes no value"


_VALUE_PROBLEMS = {
    "eq": _scalar_problem,
    "ne": _scalar_problem,
    **dict.fromkeys(TEXT_OPS, _text_problem),
    **dict.fromkeys(NUMERIC_OPS, _number_problem),
    "between": _between_problem,
    **dict.fromkeys(PRESENCE_OPS, _presence_problem),
}


def _number_or_none(checker: _Checker, data: dict, name: str, lo, hi) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if not is_number(value) or not lo <= value <= hi:
        positive = " positive" if lo > 0 else ""
        unit = " (days)" if name.endswith("_days") else ""
        checker.err(name, f"must be a{positive} number or null, from {lo} to {hi}{unit}")
        return None
    return value


def _listed(ck: _Checker, data: dict, name: str, problem: str, optional: bool = False) -> list:
    """A top-level list of the document, or [] with the problem (none when it is optional and absent or null)."""
    value = data.get(name)
    if isinstance(value, list):
        return value
    if value is not None or not optional:
        ck.err(name, problem)
    return []


def _criteria(ck: _Checker, data: dict) -> list[Criterion]:
    raw = _listed(ck, data, "criteria", "is required and must be a list")
    criteria = (_criterion(ck, i, path, c) for i, path, c in ck.entries(raw, "criteria", "criteria", MAX_CRITERIA))
    return [c for c in criteria if c is not None]


def _criterion(ck: _Checker, i: int, path: str, c: dict) -> Criterion | None:
    key, label = ck.keyed(c, path)
    points = ck.points(c, path)
    dimension = c.get("dimension")
    if dimension == "fit":
        ck.unknown_keys(c, FIT_KEYS, path)
        if c.get("when") is None:
            ck.err(f"{path}.when", "a fit criterion needs a condition on the lead")
        else:
            ck.condition(c["when"], f"{path}.when", "lead")
        return Criterion(i, key, label, "fit", points, when=c.get("when"))
    if dimension == "engagement":
        ck.unknown_keys(c, ENGAGEMENT_KEYS, path)
        events = ck.kinds(c.get("event"), f"{path}.event", nullable=False) or ()
        where = c.get("where")
        if where is not None:
            ck.condition(where, f"{path}.where", "event")
        cap = ck.positive_int(c, "cap", path, nullable=True, limit=CAP_MAX)
        window = ck.positive_int(c, "cap_window_days", path, nullable=True)
        return Criterion(i, key, label, "engagement", points, None, events, where, cap, window)
    ck.err(f"{path}.dimension", "must be 'fit' or 'engagement'")
    return None


def _decay(ck: _Checker, data: dict) -> list[DecayRule]:
    raw = _listed(ck, data, "decay", "must be a list", optional=True)
    rules = (_decay_rule(ck, i, path, d) for i, path, d in ck.entries(raw, "decay", "decay rules", MAX_DECAY))
    return [r for r in rules if r is not None]


def _decay_rule(ck: _Checker, i: int, path: str, d: dict) -> DecayRule | None:
    key, label = ck.keyed(d, path)
    kind = d.get("type")
    if kind not in DECAY_TYPES:
        ck.err(f"{path}.type", f"unknown decay type {kind!r}: use one of {', '.join(DECAY_TYPES)}")
        return None
    ck.unknown_keys(d, DECAY_KEYS[kind], path)
    points = ck.points(d, path, negative_only=True)
    if kind == "unanswered":
        events = ck.kinds(d.get("events"), f"{path}.events", nullable=False)
        responses = ck.kinds(d.get("responses"), f"{path}.responses", nullable=False) or ()
        prop = d.get("match_property")
        if not isinstance(prop, str) or not prop:
            ck.err(f"{path}.match_property", "is required: the event property that pairs sends and responses")
            prop = None
        elif not ck.name(prop, f"{path}.match_property", "the property name"):
            prop = None
        after = ck.positive_int(d, "after_days", path, nullable=False)
        return DecayRule(i, key, label, kind, points, events, None, after, responses, prop)
    events = ck.kinds(d.get("events"), f"{path}.events", nullable=True)
    if kind == "inactivity_step":
        every = ck.positive_int(d, "every_days", path, nullable=False)
        return DecayRule(i, key, label, kind, points, events, every_days=every)
    after = ck.positive_int(d, "after_days", path, nullable=False)
    return DecayRule(i, key, label, kind, points, events, after_days=after)


def _segments(ck: _Checker, data: dict) -> list[Segment]:
    raw = data.get("segments")
    if not isinstance(raw, list) or not raw:
        ck.err("segments", 'is required: a non-empty list whose last segment has "when": null')
        raw = []
    seen: set[str] = set()
    return [
        _segment(ck, i, path, s, seen, last=i == len(raw) - 1)
        for i, path, s in ck.entries(raw, "segments", "segments", MAX_SEGMENTS)
    ]


def _segment(ck: _Checker, i: int, path: str, s: dict, seen: set[str], last: bool) -> Segment:
    ck.unknown_keys(s, SEGMENT_KEYS, path)
    key = ck.slug(s, "key", path)
    if key in seen:
        ck.err(f"{path}.key", f"duplicate segment key {key!r}")
    elif key:
        seen.add(key)
    label = ck.text(s, "label", path, required=False, default=key or "")
    when = s.get("when")
    if last and when is not None:
        ck.err(f"{path}.when", 'the last segment is the catch-all and must have "when": null')
    elif not last and when is None:
        ck.err(f"{path}.when", 'only the last segment may have "when": null (it would hide the ones after it)')
    elif when is not None:
        ck.condition(when, f"{path}.when", "lead")
    warm, hot, mql = _thresholds(ck, s.get("thresholds"), f"{path}.thresholds")
    return Segment(i, key or "", label, when, warm, hot, mql)


def _thresholds(ck: _Checker, th, path: str) -> tuple:
    if not isinstance(th, dict):
        ck.err(path, 'is required: {"warm": w, "hot": h, "mql": m}')
        return 0, 0, 0
    ck.unknown_keys(th, {"warm", "hot", "mql"}, path)
    warm, hot, mql = ck.levels(th, ("warm", "hot", "mql"), path)
    # Compared only when both are numbers: a bad one has its own error, and its 0 is no threshold.
    if _within(th.get("warm"), LEVEL_LIMIT) and _within(th.get("hot"), LEVEL_LIMIT) and warm > hot:
        ck.err(path, f"warm ({warm}) must not be above hot ({hot})")
    return warm, hot, mql


GRADE_LETTERS = (("fit", ("A", "B", "C")), ("engagement", ("4", "3", "2")))


def _grades(ck: _Checker, data: dict) -> tuple[tuple, tuple]:
    """The fit and the engagement grade lines; (0, 0, 0) for each one missing."""
    grades = data.get("grades")
    if not isinstance(grades, dict):
        ck.err("grades", 'is required: {"fit": {"A", "B", "C"}, "engagement": {"4", "3", "2"}}')
        return (0, 0, 0), (0, 0, 0)
    ck.unknown_keys(grades, {"fit", "engagement"}, "grades")
    fit, engagement = (_grade_lines(ck, grades.get(dim), f"grades.{dim}", letters) for dim, letters in GRADE_LETTERS)
    return fit, engagement


def _grade_lines(ck: _Checker, lines, path: str, letters: tuple[str, ...]) -> tuple:
    if not isinstance(lines, dict):
        ck.err(path, f"is required: an object with {', '.join(letters)}")
        return (0, 0, 0)
    ck.unknown_keys(lines, set(letters), path)
    return ck.levels(lines, letters, path)


def parse_document(data: Any) -> ModelSpec:
    """Validate a model document whole; raise DocumentError with every problem found."""
    ck = _Checker()
    if not isinstance(data, dict):
        raise DocumentError(["(document): must be a JSON object"])
    _text_problems(data, "", ck.errors)
    ck.unknown_keys(data, TOP_KEYS, "")
    name = ck.text(data, "name", "")
    slug = ck.slug(data, "slug", "") or ""
    description = ck.text(data, "description", "", required=False)
    lookback = ck.positive_int(data, "lookback_days", "", nullable=True)
    half_life = _number_or_none(ck, data, "half_life_days", *HALF_LIFE_RANGE)
    floor = (
        0
        if "engagement_floor" not in data
        else _number_or_none(ck, data, "engagement_floor", -LEVEL_LIMIT, LEVEL_LIMIT)
    )
    criteria = _criteria(ck, data)
    decay = _decay(ck, data)
    segments = _segments(ck, data)
    grade_fit, grade_engagement = _grades(ck, data)
    if ck.values > MAX_DOCUMENT_VALUES:
        ck.err("(document)", f"its conditions test {ck.values} fields and values in all: at most {MAX_DOCUMENT_VALUES}")
    if ck.errors:
        raise DocumentError(ck.errors)
    return ModelSpec(
        name=name,
        slug=slug,
        description=description,
        lookback_days=lookback,
        half_life_days=half_life,
        engagement_floor=floor,
        criteria=tuple(criteria),
        decay=tuple(decay),
        segments=tuple(segments),
        grade_fit=grade_fit,
        grade_engagement=grade_engagement,
        document=data,
    )


def load_document_file(path: str | Path) -> Any:
    """Read a model document from JSON or YAML (by extension); raise DocumentError if unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError([f"(file): cannot read {path}: {exc}"]) from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DocumentError([f"(file): not valid YAML: {exc}"]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError([f"(file): not valid JSON: {exc}"]) from None


def _fields(cond) -> set[str]:
    if not cond:
        return set()
    for group in ("all", "any"):
        if group in cond:
            return set().union(*(_fields(c) for c in cond[group]))
    if "not" in cond:
        return _fields(cond["not"])
    return {cond["field"]}


def structure_key(spec: ModelSpec) -> str | None:
    """What a stored score's counts depend on, as text: two versions with the same key count the
    same events, conditions and decay units for every lead at every as_of, and differ only in
    points, floor, thresholds, grades and labels. A rescore reuses those counts (docs/scoring.md,
    "Reusing counts"). None when a model's scores cannot be reused: half-life decay moves every
    engagement line with every second, and the `owner` field is a user's name, which changes
    without the lead changing.
    """
    if spec.half_life_days is not None:
        return None
    lead_conditions = [c.when for c in spec.fit_criteria] + [s.when for s in spec.segments]
    if any("owner" in _fields(c) for c in lead_conditions):
        return None
    shape = {
        "lookback_days": spec.lookback_days,
        "criteria": [
            [c.key, c.dimension, c.when, list(c.events), c.where, c.cap, c.cap_window_days] for c in spec.criteria
        ],
        "decay": [
            [r.key, r.type, r.events, r.every_days, r.after_days, r.responses, r.match_property] for r in spec.decay
        ],
        "segments": [[s.key, s.when] for s in spec.segments],
    }
    return json.dumps(shape, sort_keys=True, separators=(",", ":"))
