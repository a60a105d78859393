"""The workshop: the scenario simulator and the impact preview of a draft (docs/matrix-workspace.md).

Scenarios are named example buyers saved with a model; the simulator scores each with the newest
draft and the live version on the single-lead path (`engine.single.score_lead`), the same numbers
every other path gives. The impact preview scores every lead with a draft in set-based SQL
(`engine.sql.compile_scores` into a temporary table, never into `scoring_score`) and compares it
with the stored live scores in SQL; it always runs on a worker (`matrix.tasks`), the page polls.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from engine.document import ModelSpec, is_number
from engine.fields import NUMBER_FIELDS, TEXT_FIELDS
from engine.single import EventData, LeadData, ScoreResult, score_lead
from matrix.models import ModelVersion, Scenario, ScoringModel
from matrix.selectors import version_spec
from matrix.wording import criterion_words, decay_words, kind_words, signed

log = logging.getLogger(__name__)

# Lead fields a scenario may set: the standard fields conditions read ("id" is the scenario's own).
SCENARIO_TEXT_FIELDS = tuple(f for f in TEXT_FIELDS if f != "id")
SCENARIO_FIELDS = SCENARIO_TEXT_FIELDS + NUMBER_FIELDS
# Besides the fields: free-form attributes, and how long ago the buyer became a lead.
SCENARIO_EXTRA_KEYS = ("attributes", "created_days_ago")
EVENT_KEYS = ("kind", "days_ago", "properties")


class ScenarioError(ValueError):
    """A scenario that cannot be saved; `errors` names each bad field, e.g. ``events[2].days_ago``."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("invalid scenario:\n  " + "\n  ".join(errors))


# --- scenarios: validation and writes ------------------------------------------------------------


# Scenario ages are subtracted from as_of: a century back stays a date on every path (Python's
# datetime ends at year 1), and no scoring window reaches further (docs/scoring.md, limits).
SCENARIO_MAX_DAYS = 36_500


def _is_age(value) -> bool:
    return is_number(value) and 0 <= value <= SCENARIO_MAX_DAYS


def _scalar_or_list(value) -> bool:
    if isinstance(value, list):
        return all(v is None or isinstance(v, (str, bool)) or is_number(v) for v in value)
    return value is None or isinstance(value, (str, bool)) or is_number(value)


def scenario_validate(*, lead, events) -> tuple[dict, list[dict]]:
    """Check a scenario's buyer and actions; returns them normalized or raises ScenarioError."""
    if not isinstance(lead, dict):
        raise ScenarioError(["lead: must be an object of lead fields"])
    errors = [problem for key, value in lead.items() for problem in _lead_field_problems(key, value)]
    if not isinstance(events, list):
        raise ScenarioError(errors + ["events: must be a list of actions"])
    clean_events = []
    for i, event in enumerate(events):
        clean = _event_checked(event, f"events[{i}]", errors)
        if clean is not None:
            clean_events.append(clean)
    if errors:
        raise ScenarioError(errors)
    return lead, clean_events


def _lead_field_problems(key: str, value) -> list[str]:
    if key in SCENARIO_TEXT_FIELDS:
        return [] if value is None or isinstance(value, str) else [f"lead.{key}: must be text"]
    if key in NUMBER_FIELDS:
        return [] if value is None or is_number(value) else [f"lead.{key}: must be a number"]
    if key == "created_days_ago":
        if _is_age(value):
            return []
        return [f"lead.created_days_ago: must be a number of days, from 0 to {SCENARIO_MAX_DAYS:,}"]
    if key == "attributes":
        return _attribute_problems(value)
    return [f"lead.{key}: unknown field (use one of {', '.join(SCENARIO_FIELDS)}, or attributes.<name>)"]


def _attribute_problems(attributes) -> list[str]:
    if not isinstance(attributes, dict):
        return ["lead.attributes: must be an object"]
    problems = []
    for name, item in attributes.items():
        if not name:
            problems.append("lead.attributes: an attribute needs a name")
        elif not _scalar_or_list(item):
            problems.append(f"lead.attributes.{name}: must be text, a number, true/false or a list of those")
    return problems


def _event_checked(event, where: str, errors: list[str]) -> dict | None:
    """One action normalized, its problems added to errors; None when it has no kind to keep."""
    if not isinstance(event, dict):
        errors.append(f"{where}: must be an object with kind, days_ago and properties")
        return None
    errors.extend(
        f"{where}.{key}: unknown key (an action has kind, days_ago, properties)"
        for key in event
        if key not in EVENT_KEYS
    )
    kind = event.get("kind")
    if not isinstance(kind, str) or not kind.strip():
        errors.append(f"{where}.kind: must not be empty (e.g. page_view, demo_request)")
    days = event.get("days_ago")
    if not _is_age(days):
        errors.append(f"{where}.days_ago: must be a number of days before as_of, from 0 to {SCENARIO_MAX_DAYS:,}")
    properties = event.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        errors.append(f"{where}.properties: must be an object")
    else:
        errors.extend(
            f"{where}.properties.{name}: must be text, a number, true/false or a list of those"
            for name, item in properties.items()
            if not _scalar_or_list(item)
        )
    if not isinstance(kind, str):
        return None
    return {"kind": kind.strip(), "days_ago": days, "properties": properties}


def _check_name(*, scoring_model: ScoringModel, name: str, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ScenarioError(["name: must not be empty"])
    if len(name) > 200:
        raise ScenarioError(["name: at most 200 characters"])
    taken = Scenario.objects.filter(scoring_model=scoring_model, name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise ScenarioError([f"name: this model already has a scenario named {name!r}"])
    return name


@transaction.atomic
def scenario_create(
    *, scoring_model: ScoringModel, name: str, lead: dict, events: list, description: str = "", user=None
) -> Scenario:
    """Save a new example buyer with the model; ScenarioError names every bad field."""
    # Locked so two editors saving the same name get one scenario and one clear error.
    ScoringModel.objects.select_for_update().get(pk=scoring_model.pk)
    name = _check_name(scoring_model=scoring_model, name=name)
    lead, events = scenario_validate(lead=lead, events=events)
    return Scenario.objects.create(
        scoring_model=scoring_model, name=name, description=description or "", lead=lead, events=events, created_by=user
    )


@transaction.atomic
def scenario_update(*, scenario: Scenario, name: str, lead: dict, events: list, description: str = "") -> Scenario:
    """Replace a scenario's name, description, buyer and actions (validated like a new one)."""
    ScoringModel.objects.select_for_update().get(pk=scenario.scoring_model_id)
    scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
    scenario.name = _check_name(scoring_model=scenario.scoring_model, name=name, exclude=scenario.pk)
    scenario.lead, scenario.events = scenario_validate(lead=lead, events=events)
    scenario.description = description or ""
    scenario.save()
    return scenario


@transaction.atomic
def scenario_delete(*, scenario: Scenario) -> None:
    Scenario.objects.filter(pk=scenario.pk).delete()


# --- scenarios: scoring ----------------------------------------------------------------------------


def scenario_inputs(*, scenario: Scenario, as_of: datetime) -> tuple[LeadData, list[EventData]]:
    """The scenario as the engine sees a lead: actions dated `days_ago` before as_of.

    The buyer became a lead `created_days_ago` before as_of, by default with their oldest
    action (or at as_of without actions): that is where idle time starts without events.
    """
    lead = scenario.lead or {}
    events = scenario.events or []
    created_days = lead.get("created_days_ago")
    if created_days is None:
        created_days = max((e["days_ago"] for e in events), default=0)
    fields = {name: lead.get(name) for name in SCENARIO_FIELDS}
    data = LeadData(
        f"scenario-{scenario.pk}", as_of - timedelta(days=created_days), fields, lead.get("attributes") or {}
    )
    # Ids "#1", "#2"... are the action numbers: the breakdown names the actions that counted.
    actions = [
        EventData(i, f"#{i + 1}", e["kind"], as_of - timedelta(days=e["days_ago"]), e.get("properties") or {})
        for i, e in enumerate(events)
    ]
    return data, actions


def scenario_score(*, scenario: Scenario, version: ModelVersion, as_of: datetime) -> ScoreResult:
    """Score the scenario's buyer with `version` at `as_of` on the single-lead path."""
    lead, events = scenario_inputs(scenario=scenario, as_of=as_of)
    return score_lead(version_spec(version=version), lead, events, as_of)


# --- reads for the pages ------------------------------------------------------------------------------


def rule_labels(spec: ModelSpec | None) -> dict[tuple[str, str], str]:
    """Each criterion's and decay rule's label by (section, key), for breakdown lines."""
    if spec is None:
        return {}
    out = {("criterion", c.key): c.label for c in spec.criteria}
    out.update({("decay", r.key): r.label for r in spec.decay})
    return out


def breakdown_words(*, spec: ModelSpec, result: ScoreResult) -> list[dict]:
    """Each breakdown line in words, e.g. `Pricing page visit (2 events): +40 (actions 2, 3)`."""
    criteria = {c.key: c for c in spec.criteria}
    rules = {r.key: r for r in spec.decay}
    out = []
    for raw in result.breakdown:
        points = Decimal(str(raw["points"]))
        if raw["type"] == "criterion":
            criterion = criteria[raw["key"]]
            words = criterion_words(criterion, points, int(raw.get("count", 0)))
            ids = [str(x).lstrip("#") for x in raw.get("events", []) if x]
            if ids:
                words += f" (action{'s' if len(ids) > 1 else ''} {', '.join(sorted(ids, key=int))})"
            label = criterion.label
        else:
            rule = rules[raw["key"]]
            words, _ = decay_words(rule, points, result.idle_days)
            label = rule.label
        out.append({"type": raw["type"], "key": raw["key"], "label": label, "points": points, "words": words})
    return out


@dataclass
class SideResult:
    """One scenario scored by one version, with its breakdown in words."""

    version: ModelVersion
    result: ScoreResult
    segment_label: str
    lines: list[dict]


def _side(*, scenario: Scenario, version: ModelVersion | None, spec: ModelSpec | None, as_of) -> SideResult | None:
    if version is None:
        return None
    lead, events = scenario_inputs(scenario=scenario, as_of=as_of)
    result = score_lead(spec, lead, events, as_of)
    segment = next((s.label for s in spec.segments if s.key == result.segment), result.segment)
    return SideResult(version, result, segment, breakdown_words(spec=spec, result=result))


def scenario_comparisons(
    *, scenarios: list[Scenario], draft: ModelVersion | None, live: ModelVersion | None, as_of: datetime
) -> list[dict]:
    """Each scenario scored by the draft and the live version, lines aligned by key (no queries)."""
    draft_spec = version_spec(version=draft) if draft else None
    live_spec = version_spec(version=live) if live else None
    rows = []
    for scenario in scenarios:
        d = _side(scenario=scenario, version=draft, spec=draft_spec, as_of=as_of)
        lv = _side(scenario=scenario, version=live, spec=live_spec, as_of=as_of)
        by_key_live = {(x["type"], x["key"]): x for x in (lv.lines if lv else [])}
        by_key_draft = {(x["type"], x["key"]): x for x in (d.lines if d else [])}
        keys = list(by_key_draft) + [k for k in by_key_live if k not in by_key_draft]
        lines = []
        for key in keys:
            a, b = by_key_live.get(key), by_key_draft.get(key)
            lines.append(
                {
                    "label": (b or a)["label"],
                    "live": a,
                    "draft": b,
                    "changed": (a["points"] if a else 0) != (b["points"] if b else 0),
                }
            )
        delta = d.result.score - lv.result.score if d and lv else None
        rows.append(
            {
                "scenario": scenario,
                "draft": d,
                "live": lv,
                "lines": lines,
                "delta": delta,
                "delta_words": signed(delta) if delta is not None else "",
                "actions": [
                    {
                        "n": i + 1,
                        "kind": kind_words(e["kind"]),
                        "days_ago": e["days_ago"],
                        "properties": e["properties"],
                    }
                    for i, e in enumerate(scenario.events or [])
                ],
            }
        )
    return rows


# --- the impact preview ------------------------------------------------------------------------------
