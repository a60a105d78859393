"""The workshop: the scenario simulator and the impact preview of a draft (docs/matrix-workspace.md).

Scenarios are named example buyers saved with a model; the simulator scores each with the newest
draft and the live version on the single-lead path (`engine.single.score_lead`), the same numbers
every other path gives. The impact preview scores every lead with a draft in set-based SQL
(`engine.sql.compile_scores` into a temporary table, never into `leads_score`) and compares it
with the stored live scores in SQL; it always runs on a worker (`matrix.tasks`), the page polls.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leads.choices import NUMBER_FIELDS, TEXT_FIELDS
from leads.explain import _criterion_words, _decay_words, kind_words, signed
from leads.models import Lead, Score, ScoreBreakdown
from leadscoring.celery import task_send

from .choices import PreviewState, VersionStatus
from .engine.document import ModelSpec, is_number
from .engine.lines import lines_decode, lines_priced
from .engine.single import EventData, LeadData, ScoreResult, score_lead
from .engine.sql import compile_scores, dialect_for
from .engine.values import round2
from .models import ImpactPreview, ModelVersion, Scenario, ScoringModel
from .selectors import VersionSpecs, version_live, version_spec

log = logging.getLogger(__name__)

# Lead fields a scenario may set: the standard fields conditions read ("id" is the scenario's own).
SCENARIO_TEXT_FIELDS = tuple(f for f in TEXT_FIELDS if f != "id")
SCENARIO_FIELDS = SCENARIO_TEXT_FIELDS + NUMBER_FIELDS
# Besides the fields: free-form attributes, and how long ago the buyer became a lead.
SCENARIO_EXTRA_KEYS = ("attributes", "created_days_ago")
EVENT_KEYS = ("kind", "days_ago", "properties")
MOVERS = 50
TIERS = ("hot", "warm", "cold")
NOT_SCORED = "none"  # the "from" tier of a lead without a live score
# A preview still "running" after the task time limit was lost with its worker: not reused.
RUNNING_STALE = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
# A preview still queued after this long is sent again when someone asks for it.
QUEUED_RESEND = timedelta(minutes=2)


class ScenarioError(ValueError):
    """A scenario that cannot be saved; `errors` names each bad field, e.g. ``events[2].days_ago``."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("invalid scenario:\n  " + "\n  ".join(errors))


class ImpactPreviewError(ValueError):
    """An impact preview that cannot be asked for (the version is not a draft...)."""


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


def _labels(spec: ModelSpec | None) -> dict[tuple[str, str], str]:
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
            words = _criterion_words(criterion, points, int(raw.get("count", 0)))
            ids = [str(x).lstrip("#") for x in raw.get("events", []) if x]
            if ids:
                words += f" (action{'s' if len(ids) > 1 else ''} {', '.join(sorted(ids, key=int))})"
            label = criterion.label
        else:
            rule = rules[raw["key"]]
            words, _ = _decay_words(rule, points, result.idle_days)
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


def impact_preview_latest(*, version: ModelVersion) -> ImpactPreview | None:
    return ImpactPreview.objects.filter(version=version).order_by("-created_at", "-id").first()


def impact_preview_is_lost(preview: ImpactPreview, now: datetime | None = None) -> bool:
    """Running for longer than any task may run: its worker died, nobody will finish it."""
    now = now or timezone.now()
    return preview.state == PreviewState.RUNNING and (preview.started_at or now) < now - RUNNING_STALE


@transaction.atomic
def impact_preview_request(
    *, version: ModelVersion, user, as_of: datetime | None = None, rerun: bool = False
) -> ImpactPreview:
    """Ask for the impact of a draft's current revision; the worker computes it (sent on commit).

    A queued, running or done preview of the same revision is returned instead of a new one,
    unless `rerun` (the live scores moved since, e.g. after the nightly decay). `as_of` defaults
    to now: the draft is scored as a publish now would score it.
    """
    if not user.has_perm("matrix.edit_draft"):
        raise PermissionError(f"{user.get_username()} may not run impact previews")
    version = ModelVersion.objects.select_for_update().select_related("scoring_model").get(pk=version.pk)
    if version.status != VersionStatus.DRAFT:
        raise ImpactPreviewError(f"version {version.number} is {version.status}: only a draft is previewed")
    now = timezone.now()
    if not rerun:
        existing = (
            ImpactPreview.objects.filter(version=version, revision=version.revision)
            .exclude(state=PreviewState.FAILED)
            .order_by("-created_at", "-id")
            .first()
        )
        if existing is not None and not impact_preview_is_lost(existing, now):
            if (
                existing.state == PreviewState.QUEUED
                and (existing.enqueued_at or existing.created_at) < now - QUEUED_RESEND
            ):
                # Its message may have been lost (broker down when it was sent): send it again.
                transaction.on_commit(lambda: impact_preview_enqueue(preview_id=existing.pk))
            return existing
    preview = ImpactPreview.objects.create(
        version=version,
        revision=version.revision,
        live_version=version_live(scoring_model=version.scoring_model),
        as_of=(as_of or now).replace(microsecond=0),
        created_by=user,
    )
    transaction.on_commit(lambda: impact_preview_enqueue(preview_id=preview.pk))
    return preview


def impact_preview_enqueue(*, preview_id: int) -> bool:
    """Send the preview's task; a broker that is down is logged, asking again resends it."""
    from .tasks import impact_preview_task

    if not task_send(impact_preview_task, preview_id, what=f"impact preview {preview_id}"):
        return False
    ImpactPreview.objects.filter(pk=preview_id).update(enqueued_at=timezone.now())
    return True


def impact_preview_run(*, preview_id: int) -> bool:
    """Compute a queued preview (the worker's task). Returns False if there was nothing to do.

    The claim is a compare-and-set queued -> running, committed on its own so the page shows
    "running"; a second delivery of the task finds it taken and does nothing. The computation
    and the results are one transaction; a failure is recorded on the preview with its reason.
    """
    started = timezone.now()
    claimed = ImpactPreview.objects.filter(pk=preview_id, state=PreviewState.QUEUED).update(
        state=PreviewState.RUNNING, started_at=started
    )
    if not claimed:
        return False
    preview = ImpactPreview.objects.select_related("version__scoring_model", "live_version").get(pk=preview_id)
    try:
        with transaction.atomic():
            results = _impact_compute(preview)
            ImpactPreview.objects.filter(pk=preview_id, state=PreviewState.RUNNING).update(
                state=PreviewState.DONE, finished_at=timezone.now(), **results
            )
    except Exception as exc:
        log.exception("impact preview %s failed", preview_id)
        ImpactPreview.objects.filter(pk=preview_id, state=PreviewState.RUNNING).update(
            state=PreviewState.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        return False
    return True


def _number(value) -> float | None:
    return None if value is None else float(round2(float(value)))


def _impact_compute(preview: ImpactPreview) -> dict:
    """Score every lead with the draft into a temp table (one statement), then compare in SQL.

    Only the top movers come back to Python, where their two breakdowns are compared line by
    line to say why they moved. Nothing is written to leads_score.
    """
    version = preview.version
    spec = version_spec(version=version)
    live_spec = version_spec(version=preview.live_version) if preview.live_version else None
    dialect = dialect_for(connection)
    compiled = compile_scores(spec, dialect, preview.as_of)
    table = f"tmp_impact_{uuid.uuid4().hex[:12]}"
    scores, breakdowns, leads = Score._meta.db_table, ScoreBreakdown._meta.db_table, Lead._meta.db_table
    params = {"model": version.scoring_model_id, "limit": MOVERS}
    joined = f"FROM {table} d LEFT JOIN {scores} s ON s.lead_id = d.lead_id AND s.scoring_model_id = %(model)s"
    with connection.cursor() as cursor:
        for setting in dialect.session_settings():  # as in leads_rescore
            cursor.execute(setting)
        cursor.execute(f"{dialect.temp_table(table)} {compiled.sql}", compiled.params)
        if connection.vendor == "postgresql":
            # The top movers' lines are a hundred index probes, not a scan of every breakdown.
            cursor.execute("SET LOCAL enable_nestloop = on")
        # Per segment (the draft's: where the lead will sit once published) and tier move.
        cursor.execute(
            f"SELECT d.segment, COALESCE(s.tier, '{NOT_SCORED}'), d.tier, COUNT(*), "
            "SUM(CASE WHEN d.mql AND (s.id IS NULL OR NOT s.mql) THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN s.mql AND NOT d.mql THEN 1 ELSE 0 END) {joined} "
            f"GROUP BY d.segment, COALESCE(s.tier, '{NOT_SCORED}'), d.tier",
            params,
        )
        moves = cursor.fetchall()
        # The biggest movers: by |draft - live| (a lead without a live score moves from 0), then
        # tier or MQL changes first among equals (a threshold change moves a lead across a line
        # without points, and is a move the page must list). Their live breakdown lines (a table
        # of their own) join once the top rows are chosen.
        cursor.execute(
            "SELECT m.lead_id, m.external_id, m.first_name, m.last_name, m.company, m.owner_id, "
            "m.l_score, m.l_tier, m.l_mql, m.l_segment, b.lines, m.d_score, m.d_tier, m.d_mql, m.d_segment, "
            "m.d_lines, m.l_basis, m.l_version FROM (SELECT d.lead_id, l.external_id, l.first_name, l.last_name, "
            "l.company, l.owner_id, s.id AS sid, s.basis AS l_basis, s.version_id AS l_version, "
            "s.score AS l_score, s.tier AS l_tier, s.mql AS l_mql, s.segment AS l_segment, "
            "d.score AS d_score, d.tier AS d_tier, d.mql AS d_mql, d.segment AS d_segment, d.breakdown AS d_lines, "
            "ABS(d.score - COALESCE(s.score, 0)) AS moved, "
            "CASE WHEN s.id IS NULL OR d.tier <> s.tier OR d.mql <> s.mql THEN 0 ELSE 1 END AS tier_first "
            f"{joined} JOIN {leads} l ON l.id = d.lead_id "
            "WHERE s.id IS NULL OR d.score <> s.score OR d.tier <> s.tier OR d.mql <> s.mql "
            "ORDER BY moved DESC, tier_first, l.external_id LIMIT %(limit)s) m "
            f"LEFT JOIN {breakdowns} b ON b.score_id = m.sid ORDER BY m.moved DESC, m.tier_first, m.external_id",
            params,
        )
        top = cursor.fetchall()
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    summary = _summary(spec, moves)
    specs = VersionSpecs()
    return {
        "summary": summary,
        "movers": [_mover(row, spec, live_spec, specs) for row in top],
        "leads_total": sum(s["leads"] for s in summary),
        "tier_changed": sum(s["tier_changed"] for s in summary),
        "mql_up": sum(s["mql_up"] for s in summary),
        "mql_down": sum(s["mql_down"] for s in summary),
    }


def _summary(spec: ModelSpec, rows) -> list[dict]:
    order = {s.key: i for i, s in enumerate(spec.segments)}
    labels = {s.key: s.label for s in spec.segments}
    out: dict[str, dict] = {}
    for segment, old_tier, new_tier, n, up, down in rows:
        entry = out.setdefault(
            segment,
            {"segment": segment, "label": labels.get(segment, segment), "leads": 0, "moves": {}, "tier_changed": 0,
             "mql_up": 0, "mql_down": 0},
        )  # fmt: skip
        entry["leads"] += int(n)
        entry["moves"].setdefault(old_tier, {})[new_tier] = int(n)
        if old_tier != new_tier:
            entry["tier_changed"] += int(n)
        entry["mql_up"] += int(up or 0)
        entry["mql_down"] += int(down or 0)
    return sorted(out.values(), key=lambda e: order.get(e["segment"], len(order)))


def breakdown_changes(*, live: list[dict], draft: list[dict], labels: dict) -> list[dict]:
    """The breakdown lines whose points differ: draft order, then lines only the live score has."""
    old = {(x["type"], x["key"]): x for x in live}
    new = {(x["type"], x["key"]): x for x in draft}
    changes = []
    for key in list(new) + [k for k in old if k not in new]:
        a = float(old[key]["points"]) if key in old else 0.0
        b = float(new[key]["points"]) if key in new else 0.0
        if a != b:
            changes.append(
                {"type": key[0], "key": key[1], "label": labels.get(key, key[1]), "live": a, "draft": b,
                 "delta": _number(b - a)}
            )  # fmt: skip
    return changes


def _mover(row, spec: ModelSpec, live_spec: ModelSpec | None, specs: VersionSpecs) -> dict:
    lead_id, xid, first, last, company, owner_id = row[:6]
    l_score, l_tier, l_mql, l_seg, l_lines, d_score, d_tier, d_mql, d_seg, d_lines, l_basis, l_version = row[6:]
    labels = {**_labels(live_spec), **_labels(spec)}
    live = lines_decode(l_lines)
    if l_basis is not None:  # a score made from stored counts: its lines priced by its version
        live = lines_priced(live, spec=specs[l_version], basis=l_basis)
    why = breakdown_changes(live=live, draft=lines_decode(d_lines), labels=labels)
    notes = []
    old = next((s for s in (live_spec.segments if live_spec else ()) if s.key == l_seg), None)
    new = next((s for s in spec.segments if s.key == d_seg), None)
    if l_tier is None:
        notes.append("no live score yet")
    elif l_seg != d_seg:
        notes.append(f"segment {old.label if old else l_seg} → {new.label if new else d_seg}")
    elif not why and (l_tier != d_tier or bool(l_mql) != bool(d_mql)) and old and new:
        moved = [
            f"{name} {a:g} → {b:g}"
            for name, a, b in (("warm", old.warm, new.warm), ("hot", old.hot, new.hot), ("mql", old.mql, new.mql))
            if a != b
        ]
        notes.append(f"same points; thresholds of {new.label}: " + ", ".join(moved) if moved else "same points")
    live_score, draft_score = _number(l_score), _number(d_score)
    return {
        "lead_id": lead_id,
        "external_id": xid,
        "name": f"{first} {last}".strip() or xid,
        "company": company,
        # So the page shows a rep only the movers they may open (their own leads).
        "owner_id": owner_id,
        "live": None if l_tier is None else {"score": live_score, "tier": l_tier, "mql": bool(l_mql)},
        "draft": {"score": draft_score, "tier": d_tier, "mql": bool(d_mql), "segment": d_seg},
        "delta": _number(draft_score - (live_score or 0.0)),
        "why": why,
        "notes": notes,
    }


def impact_rows(preview: ImpactPreview) -> list[dict]:
    """The summary as tables: per segment, a from-tier x to-tier grid ("none": no live score)."""
    out = []
    for entry in preview.summary or []:
        moves = entry.get("moves", {})
        froms = [t for t in (*TIERS, NOT_SCORED) if t in moves]
        out.append(
            {
                **entry,
                "grid": [
                    {
                        "from": t,
                        "cells": [{"to": to, "n": moves[t].get(to, 0), "same": to == t} for to in TIERS],
                        "total": sum(moves[t].values()),
                    }
                    for t in froms
                ],
            }
        )
    return out
