"""The scenario form: the buyer as `key=value` lines and the actions as `kind, days_ago, key=value` lines.

No JSON typing: values are read as true/false, numbers or text, and every mistake is reported
with its line number. The service (`workshop.scenario_validate`) checks the result again.
"""

import re

from django import forms

from engine.fields import NUMBER_FIELDS
from matrix.workshop import SCENARIO_TEXT_FIELDS

NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
REPEAT_RE = re.compile(r"^(\d+)\s*[x×]\s+(.*)\Z")
MAX_REPEAT = 50


def _number(text: str) -> int | float | None:
    if not NUMBER_RE.match(text):
        return None
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def read_value(text: str):
    """`true`/`false`, a number, or text (as typed, trimmed); `a | b` is a list."""
    text = text.strip()
    if " | " in text:
        return [read_value(part) for part in text.split(" | ")]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    number = _number(text)
    return text if number is None else number


def show_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return " | ".join(show_value(v) for v in value)
    return "" if value is None else str(value)


def _lines(text: str):
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def parse_buyer(text: str) -> tuple[dict, list[str]]:
    """`title=VP Sales`, `employees=500`, `attributes.plan=team`, `created_days_ago=30` lines."""
    lead: dict = {}
    errors: list[str] = []
    seen: set[str] = set()
    for number, line in _lines(text):
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            errors.append(f"line {number}: expected key=value, e.g. title=VP Sales")
            continue
        if key in seen:
            errors.append(f"line {number}: {key} is given twice")
            continue
        seen.add(key)
        if key in SCENARIO_TEXT_FIELDS:
            lead[key] = value
        elif key in NUMBER_FIELDS or key == "created_days_ago":
            parsed = _number(value.replace("_", ""))
            if parsed is None:
                errors.append(f"line {number}: {key} must be a number, not {value!r}")
            elif key == "created_days_ago" and parsed < 0:
                errors.append(f"line {number}: created_days_ago must be 0 or more")
            else:
                lead[key] = parsed
        elif key.startswith("attributes.") and key[len("attributes.") :]:
            lead.setdefault("attributes", {})[key[len("attributes.") :]] = read_value(value)
        else:
            errors.append(
                f"line {number}: unknown field {key!r} (use {', '.join(SCENARIO_TEXT_FIELDS + NUMBER_FIELDS)}, "
                "created_days_ago or attributes.<name>)"
            )
    return lead, errors


def parse_actions(text: str) -> tuple[list[dict], list[str]]:
    """`kind, days_ago, key=value, ...` lines; `3 x page_view, 10, url=/blog` repeats a line."""
    events: list[dict] = []
    errors: list[str] = []
    for number, line in _lines(text):
        times = 1
        repeat = REPEAT_RE.match(line)
        if repeat:
            times, line = int(repeat.group(1)), repeat.group(2)
            if not 1 <= times <= MAX_REPEAT:
                errors.append(f"line {number}: repeat between 1 and {MAX_REPEAT} times")
                continue
        parts = [p.strip() for p in line.split(",")]
        kind = parts[0]
        if not kind:
            errors.append(f"line {number}: the kind is empty (e.g. page_view, 3, url=/pricing)")
            continue
        if "=" in kind or " " in kind:
            errors.append(f"line {number}: start with the kind of action, e.g. page_view, 3, url=/pricing")
            continue
        if len(parts) < 2 or not parts[1]:
            errors.append(f"line {number}: days_ago is missing after {kind!r} (e.g. {kind}, 3)")
            continue
        days = _number(parts[1])
        if days is None:
            errors.append(f"line {number}: days_ago must be a number, not {parts[1]!r}")
            continue
        if days < 0:
            errors.append(f"line {number}: days_ago must be 0 or more (days before the score's as_of)")
            continue
        properties: dict = {}
        bad = False
        for part in parts[2:]:
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                errors.append(f"line {number}: {part!r} is not key=value")
                bad = True
                continue
            properties[key.strip()] = read_value(value)
        if not bad:
            events.extend({"kind": kind, "days_ago": days, "properties": dict(properties)} for _ in range(times))
    return events, errors


def buyer_text(lead: dict) -> str:
    lines = [f"{k}={show_value(v)}" for k, v in lead.items() if k != "attributes"]
    lines += [f"attributes.{k}={show_value(v)}" for k, v in (lead.get("attributes") or {}).items()]
    return "\n".join(lines)


def actions_text(events: list[dict]) -> str:
    lines = []
    for e in events:
        parts = [e["kind"], show_value(e["days_ago"])]
        parts += [f"{k}={show_value(v)}" for k, v in (e.get("properties") or {}).items()]
        lines.append(", ".join(parts))
    return "\n".join(lines)


def _lines_field(*, rows: int, **options) -> forms.CharField:
    """An optional text area of `rows` lines."""
    return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": rows}), **options)


class ScenarioForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = _lines_field(rows=2)
    buyer = _lines_field(
        rows=6,
        label="Who the buyer is",
        help_text="One key=value a line: title=VP Engineering, industry=Software, employees=500, country=US, "
        "attributes.budget_confirmed=true, created_days_ago=60 (default: with the oldest action).",
    )
    actions = _lines_field(
        rows=8,
        label="What the buyer did",
        help_text="One action a line: kind, days ago, then key=value properties, e.g. "
        "page_view, 3, url=/pricing · webinar_attended, 10 · 3 x page_view, 20, url=/blog/roi",
    )

    def clean_buyer(self) -> dict:
        lead, errors = parse_buyer(self.cleaned_data.get("buyer", ""))
        if errors:
            raise forms.ValidationError(errors)
        return lead

    def clean_actions(self) -> list[dict]:
        events, errors = parse_actions(self.cleaned_data.get("actions", ""))
        if errors:
            raise forms.ValidationError(errors)
        return events

    @classmethod
    def for_scenario(cls, scenario) -> "ScenarioForm":
        return cls(
            initial={
                "name": scenario.name,
                "description": scenario.description,
                "buyer": buyer_text(scenario.lead or {}),
                "actions": actions_text(scenario.events or []),
            }
        )
