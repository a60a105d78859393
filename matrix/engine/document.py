"""Scoring model documents (spec section 3): parse, validate whole, and write back.

`parse_document(data)` returns a `ModelSpec` or raises `DocumentError` listing every problem
by its JSON path, e.g. ``criteria[3].points: must be an integer between -1000 and 1000``.
"""

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leads.choices import NUMBER_FIELDS, TEXT_FIELDS

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")  # \Z, not $: "$" also matches before a final newline
POSITIVE_OPS = ("eq", "in", "contains", "startswith", "endswith", "gt", "gte", "lt", "lte", "between")
NEGATIVE_OPS = {"ne": "eq", "not_in": "in", "not_contains": "contains"}
PRESENCE_OPS = ("is_empty", "is_set")
OPS = POSITIVE_OPS + tuple(NEGATIVE_OPS) + PRESENCE_OPS
TEXT_OPS = ("contains", "not_contains", "startswith", "endswith")
NUMERIC_OPS = ("gt", "gte", "lt", "lte")
DECAY_TYPES = ("inactivity_step", "inactivity_once", "unanswered")
LEAD_FIELDS = TEXT_FIELDS + NUMBER_FIELDS
POINTS_RANGE = (-1000, 1000)

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


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _is_scalar_value(value) -> bool:
    return isinstance(value, (str, bool)) or _is_number(value)


class _Checker:
    def __init__(self):
        self.errors: list[str] = []

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

    def positive_int(self, obj: dict, name: str, path: str, nullable: bool) -> int | None:
        value = obj.get(name)
        if value is None:
            if not nullable:
                self.err(f"{path}.{name}" if path else name, "is required and must be a positive integer")
            return None
        if not _is_int(value) or value <= 0:
            self.err(
                f"{path}.{name}" if path else name,
                "must be a positive integer" + (" or null" if nullable else ""),
            )
            return None
        return int(value)

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
        return tuple(dict.fromkeys(value))

    def condition(self, cond, path: str, context: str) -> None:
        """context: 'lead' (fields are standard fields or attributes.<key>) or 'event'."""
        if not isinstance(cond, dict):
            self.err(path, "must be a condition object")
            return
        groups = [k for k in ("all", "any", "not") if k in cond]
        if groups:
            if len(cond) != 1:
                self.err(path, "a group has exactly one of all, any, not and nothing else")
                return
            key = groups[0]
            inner = cond[key]
            if key == "not":
                self.condition(inner, f"{path}.not", context)
                return
            if not isinstance(inner, list):
                self.err(f"{path}.{key}", "must be a list of conditions")
                return
            for i, sub in enumerate(inner):
                self.condition(sub, f"{path}.{key}[{i}]", context)
            return
        self.unknown_keys(cond, {"field", "op", "value"}, path)
        fld = cond.get("field")
        if not isinstance(fld, str) or not fld:
            self.err(f"{path}.field", "is required and must be text")
        elif '"' in fld or "\\" in fld:
            self.err(f"{path}.field", 'must not contain " or \\')
        elif context == "lead":
            if fld.startswith("attributes."):
                if not fld[len("attributes.") :]:
                    self.err(f"{path}.field", "attributes. needs a key after the dot")
            elif fld not in LEAD_FIELDS:
                self.err(
                    f"{path}.field",
                    f"unknown lead field {fld!r}: use one of {', '.join(LEAD_FIELDS)} or attributes.<key>",
                )
        op = cond.get("op")
        if op not in OPS:
            self.err(f"{path}.op", f"unknown operator {op!r}: use one of {', '.join(OPS)}")
            return
        has_value = "value" in cond
        value = cond.get("value")
        vpath = f"{path}.value"
        if op in PRESENCE_OPS:
            if has_value and value is not None:
                self.err(vpath, f"{op} takes no value")
        elif op in ("eq", "ne"):
            if not _is_scalar_value(value):
                self.err(vpath, f"{op} needs a text, number or true/false value")
        elif op in ("in", "not_in"):
            if not isinstance(value, list) or not all(_is_scalar_value(v) for v in value):
                self.err(vpath, f"{op} needs a list of text, number or true/false values")
        elif op in TEXT_OPS:
            if not isinstance(value, str):
                self.err(vpath, f"{op} needs a text value")
        elif op in NUMERIC_OPS:
            if not _is_number(value):
                self.err(vpath, f"{op} needs a number")
        elif op == "between" and (
            not isinstance(value, list)
            or len(value) != 2
            or not all(_is_number(v) for v in value)
            or value[0] > value[1]
        ):
            self.err(vpath, "between needs two numbers [lo, hi] with lo <= hi")


def _number_or_none(checker: _Checker, data: dict, name: str, positive: bool) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if not _is_number(value) or (positive and value <= 0):
        checker.err(name, "must be a positive number or null" if positive else "must be a number or null")
        return None
    return value


def parse_document(data: Any) -> ModelSpec:
    """Validate a model document whole; raise DocumentError with every problem found."""
    ck = _Checker()
    if not isinstance(data, dict):
        raise DocumentError(["(document): must be a JSON object"])
    ck.unknown_keys(data, TOP_KEYS, "")
    name = ck.text(data, "name", "")
    slug = ck.slug(data, "slug", "") or ""
    description = ck.text(data, "description", "", required=False)
    lookback = ck.positive_int(data, "lookback_days", "", nullable=True)
    half_life = _number_or_none(ck, data, "half_life_days", positive=True)
    floor = 0 if "engagement_floor" not in data else _number_or_none(ck, data, "engagement_floor", positive=False)

    keys_seen: dict[str, str] = {}

    def claim(key: str | None, path: str) -> None:
        if key is None:
            return
        if key in keys_seen:
            ck.err(f"{path}.key", f"duplicate key {key!r} (also at {keys_seen[key]})")
        else:
            keys_seen[key] = path

    criteria: list[Criterion] = []
    raw_criteria = data.get("criteria")
    if not isinstance(raw_criteria, list):
        ck.err("criteria", "is required and must be a list")
        raw_criteria = []
    for i, c in enumerate(raw_criteria):
        path = f"criteria[{i}]"
        if not isinstance(c, dict):
            ck.err(path, "must be an object")
            continue
        key = ck.slug(c, "key", path)
        claim(key, path)
        label = ck.text(c, "label", path, required=False, default=key or "")
        points = ck.points(c, path)
        dimension = c.get("dimension")
        if dimension == "fit":
            ck.unknown_keys(c, FIT_KEYS, path)
            if c.get("when") is None:
                ck.err(f"{path}.when", "a fit criterion needs a condition on the lead")
            else:
                ck.condition(c["when"], f"{path}.when", "lead")
            criteria.append(Criterion(i, key or "", label, "fit", points, when=c.get("when")))
        elif dimension == "engagement":
            ck.unknown_keys(c, ENGAGEMENT_KEYS, path)
            events = ck.kinds(c.get("event"), f"{path}.event", nullable=False) or ()
            where = c.get("where")
            if where is not None:
                ck.condition(where, f"{path}.where", "event")
            cap = ck.positive_int(c, "cap", path, nullable=True)
            window = ck.positive_int(c, "cap_window_days", path, nullable=True)
            criteria.append(Criterion(i, key or "", label, "engagement", points, None, events, where, cap, window))
        else:
            ck.err(f"{path}.dimension", "must be 'fit' or 'engagement'")

    decay: list[DecayRule] = []
    raw_decay = data.get("decay", [])
    if raw_decay is None:
        raw_decay = []
    if not isinstance(raw_decay, list):
        ck.err("decay", "must be a list")
        raw_decay = []
    for i, d in enumerate(raw_decay):
        path = f"decay[{i}]"
        if not isinstance(d, dict):
            ck.err(path, "must be an object")
            continue
        key = ck.slug(d, "key", path)
        claim(key, path)
        label = ck.text(d, "label", path, required=False, default=key or "")
        kind = d.get("type")
        if kind not in DECAY_TYPES:
            ck.err(f"{path}.type", f"unknown decay type {kind!r}: use one of {', '.join(DECAY_TYPES)}")
            continue
        ck.unknown_keys(d, DECAY_KEYS[kind], path)
        points = ck.points(d, path, negative_only=True)
        if kind == "unanswered":
            events = ck.kinds(d.get("events"), f"{path}.events", nullable=False)
            responses = ck.kinds(d.get("responses"), f"{path}.responses", nullable=False) or ()
            prop = d.get("match_property")
            if not isinstance(prop, str) or not prop:
                ck.err(f"{path}.match_property", "is required: the event property that pairs sends and responses")
                prop = None
            after = ck.positive_int(d, "after_days", path, nullable=False)
            decay.append(DecayRule(i, key or "", label, kind, points, events, None, after, responses, prop))
        else:
            events = ck.kinds(d.get("events"), f"{path}.events", nullable=True)
            if kind == "inactivity_step":
                every = ck.positive_int(d, "every_days", path, nullable=False)
                decay.append(DecayRule(i, key or "", label, kind, points, events, every_days=every))
            else:
                after = ck.positive_int(d, "after_days", path, nullable=False)
                decay.append(DecayRule(i, key or "", label, kind, points, events, after_days=after))

    segments: list[Segment] = []
    raw_segments = data.get("segments")
    if not isinstance(raw_segments, list) or not raw_segments:
        ck.err("segments", 'is required: a non-empty list whose last segment has "when": null')
        raw_segments = []
    segment_keys: set[str] = set()
    for i, s in enumerate(raw_segments):
        path = f"segments[{i}]"
        if not isinstance(s, dict):
            ck.err(path, "must be an object")
            continue
        ck.unknown_keys(s, SEGMENT_KEYS, path)
        key = ck.slug(s, "key", path)
        if key in segment_keys:
            ck.err(f"{path}.key", f"duplicate segment key {key!r}")
        elif key:
            segment_keys.add(key)
        label = ck.text(s, "label", path, required=False, default=key or "")
        last = i == len(raw_segments) - 1
        when = s.get("when")
        if last and when is not None:
            ck.err(f"{path}.when", 'the last segment is the catch-all and must have "when": null')
        elif not last and when is None:
            ck.err(
                f"{path}.when",
                'only the last segment may have "when": null (it would hide the ones after it)',
            )
        elif when is not None:
            ck.condition(when, f"{path}.when", "lead")
        th = s.get("thresholds")
        warm = hot = mql = 0
        if not isinstance(th, dict):
            ck.err(f"{path}.thresholds", 'is required: {"warm": w, "hot": h, "mql": m}')
        else:
            ck.unknown_keys(th, {"warm", "hot", "mql"}, f"{path}.thresholds")
            for level in ("warm", "hot", "mql"):
                if not _is_number(th.get(level)):
                    ck.err(f"{path}.thresholds.{level}", "is required and must be a number")
            warm, hot, mql = (th.get(n) if _is_number(th.get(n)) else 0 for n in ("warm", "hot", "mql"))
            if _is_number(th.get("warm")) and _is_number(th.get("hot")) and warm > hot:
                ck.err(f"{path}.thresholds", f"warm ({warm}) must not be above hot ({hot})")
        segments.append(Segment(i, key or "", label, when, warm, hot, mql))

    grade_fit: tuple = (0, 0, 0)
    grade_eng: tuple = (0, 0, 0)
    grades = data.get("grades")
    if not isinstance(grades, dict):
        ck.err("grades", 'is required: {"fit": {"A", "B", "C"}, "engagement": {"4", "3", "2"}}')
    else:
        ck.unknown_keys(grades, {"fit", "engagement"}, "grades")
        for dim, letters in (("fit", ("A", "B", "C")), ("engagement", ("4", "3", "2"))):
            g = grades.get(dim)
            if not isinstance(g, dict):
                ck.err(f"grades.{dim}", f"is required: an object with {', '.join(letters)}")
                continue
            ck.unknown_keys(g, set(letters), f"grades.{dim}")
            vals = []
            for letter in letters:
                if not _is_number(g.get(letter)):
                    ck.err(f"grades.{dim}.{letter}", "is required and must be a number")
                    vals.append(0)
                else:
                    vals.append(g[letter])
            if dim == "fit":
                grade_fit = tuple(vals)
            else:
                grade_eng = tuple(vals)

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
        grade_engagement=grade_eng,
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
        import yaml

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
