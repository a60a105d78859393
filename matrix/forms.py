"""Forms of the draft editor (matrix/views_edit.py): one criterion, decay rule or segment, the model
settings, and the condition editor built from pickers.

Each item form builds its piece of the document (`to_item()` / `to_settings()`); the whole
document is validated by engine.document.parse_document through services.model_draft_update,
and its errors, named by JSON path (`criteria[2].when.any[1].value: ...`), come back to the field
they belong to through `add_document_errors(errors, base=...)`, in plain words.
"""

import contextlib
import json
import math
import re

from django import forms

from engine.conditions import OP_WORDS
from engine.document import (
    CAP_MAX,
    DAYS_MAX,
    DECAY_TYPES,
    HALF_LIFE_RANGE,
    LEVEL_LIMIT,
    NUMERIC_OPS,
    OPS,
    POINTS_RANGE,
    PRESENCE_OPS,
    TEXT_OPS,
)

OP_CHOICES = [(op, OP_WORDS[op]) for op in OPS]
LIST_OPS = ("in", "not_in")
DECAY_TYPE_CHOICES = [
    ("inactivity_step", "Inactivity, step by step (points for every N idle days)"),
    ("inactivity_once", "Inactivity, once (points once after N idle days)"),
    ("unanswered", "Unanswered sends (points per send without a response)"),
]
assert [t for t, _ in DECAY_TYPE_CHOICES] == list(DECAY_TYPES)
# A JSON number, as text: what a value box turns into a number rather than keeping as text.
JSON_NUMBER_RE = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?\Z")
MAX_ROWS = 20

# parse_document speaks JSON; the editor speaks to people.
PLAIN = [
    (re.compile(r"^between needs two numbers.*"), 'between needs two numbers, the lower first: "10, 50"'),
    (
        re.compile(r'^the last segment is the catch-all and must have "when": null$'),
        "the last segment takes every other lead: leave its condition empty",
    ),
    (
        re.compile(r'^only the last segment may have "when": null.*'),
        "only the last segment may have no condition (it would hide the segments after it)",
    ),
    (
        re.compile(r"^is required: an event kind or a list of kinds$"),
        "name at least one event kind (e.g. page_view), commas between several",
    ),
    (
        re.compile(r"^must be an event kind or a non-empty list of kinds$"),
        "name at least one event kind (e.g. page_view), commas between several",
    ),
]


def plain(message: str) -> str:
    for pattern, words in PLAIN:
        if pattern.match(message):
            return pattern.sub(words, message)
    return message


def split_errors(errors: list[str]):
    """("criteria[2].points", "must be ...") pairs from DocumentError.errors."""
    for error in errors:
        path, _, message = error.partition(": ")
        yield path, message


def _text_list(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _scalar(text: str):
    """What a value box means: a JSON number or true/false as such, anything else as text (the
    spec compares "350" and 350 alike, so this only keeps documents tidy)."""
    if JSON_NUMBER_RE.match(text):
        number = json.loads(text)
        return number if not isinstance(number, float) or math.isfinite(number) else text
    if text in ("true", "false"):
        return text == "true"
    return text


def _number_or_text(text: str):
    """A number for the numeric operators; text otherwise, which the validator refuses in words."""
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _value_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_value_text(v) for v in value)
    if value is None:
        return ""
    return str(value)


def _whole(value):
    """50.0 -> 50: thresholds and grades stay whole numbers in the document when they are."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _is_leaf(cond) -> bool:
    """Can one picker row show this condition and give it back unchanged?"""
    if not (isinstance(cond, dict) and set(cond) <= {"field", "op", "value"} and isinstance(cond.get("field"), str)):
        return False
    op, value = cond.get("op"), cond.get("value")
    if op in LIST_OPS + ("between",):
        # A list is typed with commas between values, so a value with a comma cannot be shown.
        return isinstance(value, list) and all(_is_scalar(v) and not (isinstance(v, str) and "," in v) for v in value)
    return op in OPS and _is_scalar(value)


def condition_rows(cond) -> tuple[str, str, list[tuple[str, str, str]]] | None:
    """(combine, rows) for pickers: no condition, one field/op/value row, or one all/any group of
    such rows. None when the pickers cannot show it (not, nested groups, values with commas in a
    list): the editor then offers the JSON box."""
    if cond is None:
        return "all", []
    if _is_leaf(cond):
        return "all", [(cond["field"], cond["op"], _value_text(cond.get("value")))]
    if isinstance(cond, dict) and len(cond) == 1 and ("all" in cond or "any" in cond):
        combine = "all" if "all" in cond else "any"
        subs = cond[combine]
        if isinstance(subs, list) and subs and all(_is_leaf(s) for s in subs):
            return combine, [(s["field"], s["op"], _value_text(s.get("value"))) for s in subs]
    return None


def suggested(datalist: str, **kwargs) -> forms.CharField:
    """An optional text box that offers the values of the page's `datalist` (the event kinds, event
    properties or lead fields seen in leads) while still taking any other."""
    return forms.CharField(
        required=False, widget=forms.TextInput(attrs={"list": datalist, "autocomplete": "off"}), **kwargs
    )


def days(label: str, **kwargs) -> forms.IntegerField:
    """An optional number of days, within the document's bounds."""
    return forms.IntegerField(required=False, min_value=1, max_value=DAYS_MAX, label=label, **kwargs)


def level(label: str, **kwargs) -> forms.FloatField:
    """A score line (a threshold, a grade line, the floor), within the document's bounds."""
    return forms.FloatField(label=label, min_value=-LEVEL_LIMIT, max_value=LEVEL_LIMIT, **kwargs)


class ConditionForm(forms.Form):
    """A condition from pickers (field, operator, value rows joined by all or any) or raw JSON."""

    # Not required: a post without them means pickers joined by "all" (the common case).
    mode = forms.ChoiceField(
        choices=[("pickers", "Pick field, operator and value"), ("json", "Write JSON")],
        widget=forms.RadioSelect,
        initial="pickers",
        required=False,
    )
    combine = forms.ChoiceField(
        choices=[("all", "All of these hold"), ("any", "Any of these holds")],
        initial="all",
        label="Join rows by",
        required=False,
    )
    json = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        label="Condition as JSON",
        help_text='e.g. {"not": {"field": "country", "op": "in", "value": ["US", "CA"]}}; empty for none',
    )
    rows = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, data=None, *, condition=None, context: str = "lead", **kwargs):
        self.context = context  # "lead" (lead fields) or "event" (event properties)
        picked = condition_rows(condition)
        initial = {"json": json.dumps(condition, indent=1) if condition is not None else ""}
        if picked is None:
            initial.update(mode="json", combine="all", rows=2)
            rows = []
        else:
            combine, rows = picked
            initial.update(mode="pickers", combine=combine, rows=len(rows) + (1 if rows else 2))
        for i, (fld, op, value) in enumerate(rows):
            initial.update({f"field_{i}": fld, f"op_{i}": op, f"value_{i}": value})
        super().__init__(data, initial=initial, **kwargs)
        count = initial["rows"]
        if self.is_bound:
            with contextlib.suppress(TypeError, ValueError):
                count = max(1, min(MAX_ROWS, int(self.data.get(self.add_prefix("rows"), count))))
        self.row_count = count
        datalist = "lead-fields" if context == "lead" else "event-properties"
        for i in range(count):
            self.fields[f"field_{i}"] = suggested(
                datalist, max_length=200, label="Field" if context == "lead" else "Event property"
            )
            self.fields[f"op_{i}"] = forms.ChoiceField(
                choices=OP_CHOICES, initial="eq", label="Operator", required=False
            )
            self.fields[f"value_{i}"] = forms.CharField(
                required=False, max_length=2000, label="Value", strip=False, empty_value=""
            )
        self.used_rows: list[int] = []  # condition index -> form row, for errors by JSON path
        self.grouped = False

    def picker_rows(self) -> list[dict]:
        return [
            {"field": self[f"field_{i}"], "op": self[f"op_{i}"], "value": self[f"value_{i}"]}
            for i in range(self.row_count)
        ]

    def clean(self):
        data = super().clean()
        if data.get("mode") == "json":
            text = (data.get("json") or "").strip()
            try:
                data["condition"] = json.loads(text) if text else None
            except json.JSONDecodeError as exc:
                self.add_error("json", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
            return data
        leaves, self.used_rows = [], []
        for i in range(self.row_count):
            fld = (data.get(f"field_{i}") or "").strip()
            op = data.get(f"op_{i}")
            value = (data.get(f"value_{i}") or "").strip()
            if not fld:
                if value:
                    self.add_error(f"field_{i}", "pick a field for this value")
                continue
            if not op:
                self.add_error(f"op_{i}", "pick an operator")
                continue
            leaf = {"field": fld, "op": op}
            if op not in PRESENCE_OPS:
                if not value:
                    self.add_error(
                        f"value_{i}",
                        "type one or more values, commas between them"
                        if op in LIST_OPS
                        else "type a value (or use “is empty” / “is set”)",
                    )
                    continue
                leaf["value"] = self._value(op, value)
            leaves.append(leaf)
            self.used_rows.append(i)
        self.grouped = len(leaves) > 1
        if not leaves:
            data["condition"] = None
        elif len(leaves) == 1:
            data["condition"] = leaves[0]
        else:
            data["condition"] = {data.get("combine") or "all": leaves}
        return data

    @staticmethod
    def _value(op: str, text: str):
        if op in LIST_OPS:
            return [_scalar(part) for part in _text_list(text)]
        if op == "between":
            return [_number_or_text(part) for part in _text_list(text)]
        if op in NUMERIC_OPS:
            return _number_or_text(text)
        if op in TEXT_OPS:
            return text
        return _scalar(text)

    @property
    def condition(self):
        return self.cleaned_data.get("condition")

    def add_document_error(self, rest: str, message: str) -> None:
        """One parse_document error below this condition's path (`rest`: "", ".any[1].value"...)."""
        message = plain(message)
        if self.cleaned_data.get("mode") == "json":
            where = rest.lstrip(".")
            self.add_error("json", f"{where}: {message}" if where else message)
            return
        match = re.match(r"^\.(?:all|any)\[(\d+)\](.*)$", rest) if self.grouped else None
        index, sub = (int(match[1]), match[2]) if match else (0, rest)
        name = sub.lstrip(".")
        if name in ("field", "op", "value") and index < len(self.used_rows):
            self.add_error(f"{name}_{self.used_rows[index]}", message)
        else:
            self.add_error(None, message)


class ItemForm(forms.Form):
    """One row of the document (criterion, decay rule, segment): builds it and takes back the
    validator's errors for it, by JSON path, next to the right field."""

    # For errors by path: a document field goes to the form field of the same name, unless named
    # here (document field -> form field); conditions are sub-forms.
    paths: dict[str, str] = {}

    def __init__(self, data=None, *, item: dict | None = None, **kwargs):
        super().__init__(data, initial=self.initial_from(item or {}), **kwargs)
        self.conditions: dict[str, ConditionForm] = {}

    def add_condition(self, name: str, *, condition, context: str) -> ConditionForm:
        form = ConditionForm(
            self.data if self.is_bound else None,
            condition=condition,
            context=context,
            prefix=f"{self.prefix or 'item'}-{name}",
            auto_id=self.auto_id,
        )
        self.conditions[name] = form
        return form

    def initial_from(self, item: dict) -> dict:
        return dict(item)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return all([form.is_valid() for form in self.active_conditions().values()]) and valid

    def active_conditions(self) -> dict[str, ConditionForm]:
        return self.conditions

    def add_document_errors(self, errors: list[str], *, base: str) -> None:
        """Put each error under `base` (e.g. "criteria[2]") next to its field; others on top."""
        for path, message in split_errors(errors):
            if path != base and not path.startswith(base + "."):
                self.add_error(None, f"Elsewhere in the draft, {path}: {plain(message)}")
                continue
            rest = path[len(base) :]
            name = rest[1:].split(".", 1)[0] if rest else ""
            if name in self.conditions:
                self.conditions[name].add_document_error(rest[1 + len(name) :], message)
            elif self.field_of(name):
                self.add_error(self.field_of(name), plain(message))
            else:
                self.add_error(None, plain(message))

    def field_of(self, name: str) -> str | None:
        """The form field that shows the errors of document field `name`, if any."""
        return self.paths.get(name) or (name if name in self.fields else None)

    def has_any_errors(self) -> bool:
        return bool(self.errors) or any(form.errors for form in self.active_conditions().values())


class RowForm(ItemForm):
    """A row with a key and an optional label: a criterion, a decay rule or a segment."""

    key = forms.CharField(max_length=100)
    label = forms.CharField(max_length=200, required=False)
    key_unique = ""  # among which rows the key must be unique, for its help text

    def __init__(self, data=None, *, item=None, **kwargs):
        super().__init__(data, item=item, **kwargs)
        self.fields["key"].help_text = f"letters, digits, - and _; unique {self.key_unique}"

    def initial_from(self, item: dict) -> dict:
        return {"key": item.get("key", ""), "label": item.get("label", "")}

    def item_head(self) -> dict:
        """The row's key, and its label when one is given: how every row of the document starts."""
        item = {"key": self.cleaned_data["key"].strip()}
        if self.cleaned_data["label"].strip():
            item["label"] = self.cleaned_data["label"].strip()
        return item


class CriterionForm(RowForm):
    """A fit criterion (a condition on the lead) or an engagement one (events, optional where, cap)."""

    key_unique = "in the model"
    dimension = forms.ChoiceField(
        choices=[("fit", "Fit: who the lead is"), ("engagement", "Engagement: what the lead did")]
    )
    points = forms.IntegerField(
        min_value=POINTS_RANGE[0], max_value=POINTS_RANGE[1], help_text="-1000 to 1000; negative points count against"
    )
    events = suggested(
        "event-kinds", max_length=500, label="Event kinds", help_text="e.g. page_view; commas between several"
    )
    cap = forms.IntegerField(
        required=False, min_value=1, max_value=CAP_MAX, help_text="at most this many events count; empty: no cap"
    )
    cap_window_days = days("Cap window (days)", help_text="the cap applies per window; empty: overall")
    paths = {"event": "events"}

    def __init__(self, data=None, *, item=None, **kwargs):
        super().__init__(data, item=item, **kwargs)
        item = item or {}
        self.add_condition("when", condition=item.get("when"), context="lead")
        self.add_condition("where", condition=item.get("where"), context="event")

    def initial_from(self, item: dict) -> dict:
        event = item.get("event")
        return {
            **super().initial_from(item),
            "dimension": item.get("dimension", "fit"),
            "points": item.get("points"),
            "events": ", ".join(event) if isinstance(event, list) else event or "",
            "cap": item.get("cap"),
            "cap_window_days": item.get("cap_window_days"),
        }

    def active_conditions(self):
        # Only the dimension's own condition is read: the other is hidden and left alone.
        dimension = self.data.get(self.add_prefix("dimension")) if self.is_bound else self.initial.get("dimension")
        name = "where" if dimension == "engagement" else "when"
        return {name: self.conditions[name]}

    def to_item(self) -> dict:
        data = self.cleaned_data
        item = self.item_head()
        item["dimension"] = data["dimension"]
        if data["dimension"] == "fit":
            item["when"] = self.conditions["when"].condition
            item["points"] = data["points"]
            return item
        kinds = _text_list(data["events"])
        item["event"] = kinds[0] if len(kinds) == 1 else kinds or None
        item["where"] = self.conditions["where"].condition
        item["points"] = data["points"]
        item["cap"] = data["cap"]
        item["cap_window_days"] = data["cap_window_days"]
        return item


class DecayForm(RowForm):
    """One decay rule: inactivity step by step, inactivity once, or unanswered sends."""

    key_unique = "among criteria and decay"
    type = forms.ChoiceField(choices=DECAY_TYPE_CHOICES)
    events = suggested(
        "event-kinds",
        max_length=500,
        label="Event kinds",
        help_text="inactivity: the kinds that count as activity, empty for any event; unanswered: the sends",
    )
    every_days = days("Every (days)")
    after_days = days("After (days)")
    responses = suggested(
        "event-kinds", max_length=500, label="Response kinds", help_text="e.g. email_open, email_click"
    )
    match_property = suggested(
        "event-properties",
        max_length=200,
        label="Matched on property",
        help_text="the event property a send and its response share, e.g. message_id",
    )
    # No max here: above 0 the document's own message says decay points must be negative.
    points = forms.IntegerField(min_value=POINTS_RANGE[0], help_text="negative: what each step takes off")

    def initial_from(self, item: dict) -> dict:
        events = item.get("events")
        return {
            **super().initial_from(item),
            "type": item.get("type", "inactivity_step"),
            "events": ", ".join(events) if isinstance(events, list) else events or "",
            "every_days": item.get("every_days"),
            "after_days": item.get("after_days"),
            "responses": ", ".join(item.get("responses") or []),
            "match_property": item.get("match_property") or "",
            "points": item.get("points"),
        }

    def to_item(self) -> dict:
        data = self.cleaned_data
        kind = data["type"]
        item = self.item_head()
        item["type"] = kind
        events = _text_list(data["events"])
        if kind == "unanswered":
            item["events"] = events or None
            item["responses"] = _text_list(data["responses"]) or None
            item["match_property"] = data["match_property"].strip() or None
            item["after_days"] = data["after_days"]
        else:
            item["events"] = events or None  # None: any event counts as activity
            if kind == "inactivity_step":
                item["every_days"] = data["every_days"]
            else:
                item["after_days"] = data["after_days"]
        item["points"] = data["points"]
        return item


class SegmentForm(RowForm):
    """One segment: which leads (a condition on lead fields; none for the last) and its thresholds."""

    key_unique = "among segments"
    warm = level("Warm from")
    hot = level("Hot from")
    mql = level("MQL from")
    paths = {"thresholds": "warm"}

    def __init__(self, data=None, *, item=None, **kwargs):
        super().__init__(data, item=item, **kwargs)
        self.add_condition("when", condition=(item or {}).get("when"), context="lead")

    def initial_from(self, item: dict) -> dict:
        th = item.get("thresholds") or {}
        return {**super().initial_from(item), "warm": th.get("warm"), "hot": th.get("hot"), "mql": th.get("mql")}

    def add_document_errors(self, errors, *, base):
        # "segments[1].thresholds.mql: ..." belongs to the mql box; "segments[1].thresholds: warm
        # above hot" to the warm one (paths maps "thresholds" to it).
        rest = []
        for error in errors:
            path, message = error.split(": ", 1) if ": " in error else (error, "")
            match = re.match(rf"^{re.escape(base)}\.thresholds\.(warm|hot|mql)$", path)
            if match:
                self.add_error(match[1], plain(message))
            else:
                rest.append(error)
        super().add_document_errors(rest, base=base)

    def to_item(self) -> dict:
        item = self.item_head()
        item["when"] = self.conditions["when"].condition
        item["thresholds"] = {name: _whole(self.cleaned_data[name]) for name in ("warm", "hot", "mql")}
        return item


GRADE_FIELDS = {"grade_A": ("fit", "A"), "grade_B": ("fit", "B"), "grade_C": ("fit", "C")} | {
    f"grade_{d}": ("engagement", d) for d in "432"
}


class SettingsForm(ItemForm):
    """The model-wide settings: name, description, lookback, half-life, floor and grade lines."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    lookback_days = days("Lookback (days)", help_text="engagement counts events this recent; empty: all")
    half_life_days = forms.FloatField(
        required=False,
        min_value=HALF_LIFE_RANGE[0],
        max_value=HALF_LIFE_RANGE[1],
        label="Half-life (days)",
        help_text="engagement points halve every so many days; empty: none",
    )
    engagement_floor = level(
        "Engagement floor", required=False, help_text="decay stops here; empty: no floor (decay unbounded)"
    )

    def __init__(self, data=None, *, item=None, **kwargs):
        super().__init__(data, item=item, **kwargs)
        # After the declared fields: grade_A ... grade_2, "Fit A from" ... "Engagement 2 from".
        for name, (dim, letter) in GRADE_FIELDS.items():
            self.fields[name] = level(f"{dim.capitalize()} {letter} from")

    def initial_from(self, document: dict) -> dict:
        grades = document.get("grades") or {}
        initial = {
            "name": document.get("name", ""),
            "description": document.get("description", ""),
            "lookback_days": document.get("lookback_days"),
            "half_life_days": document.get("half_life_days"),
            # Absent means 0 (spec section 3); only an explicit null is "no floor".
            "engagement_floor": document.get("engagement_floor", 0),
        }
        for name, (dim, letter) in GRADE_FIELDS.items():
            initial[name] = (grades.get(dim) or {}).get(letter)
        return initial

    def add_document_errors(self, errors, *, base=""):
        for path, message in split_errors(errors):
            match = re.match(r"^grades\.(fit|engagement)\.(\w)$", path)
            head = path.split(".", 1)[0].split("[", 1)[0]
            if match:
                self.add_error(f"grade_{match[2]}", plain(message))
            elif self.field_of(head) and "." not in path:
                self.add_error(self.field_of(head), plain(message))
            else:
                self.add_error(None, f"Elsewhere in the draft, {path}: {plain(message)}")

    def to_settings(self) -> dict:
        data = self.cleaned_data
        grades = {"fit": {}, "engagement": {}}
        for name, (dim, letter) in GRADE_FIELDS.items():
            grades[dim][letter] = _whole(data[name])
        return {
            "name": data["name"].strip(),
            "description": data["description"],
            "lookback_days": data["lookback_days"],
            "half_life_days": _whole(data["half_life_days"]),
            "engagement_floor": _whole(data["engagement_floor"]),
            "grades": grades,
        }


ITEM_FORMS = {"criteria": CriterionForm, "decay": DecayForm, "segments": SegmentForm}
