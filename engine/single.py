"""The single-lead path: one lead and its events in memory, scored exactly as spec sections 4-7 say.

Used for the explanation on a lead's page and for the dry run (`score_file`). The bulk path
(engine/sql.py) computes the same numbers in SQL; property tests hold the two together.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from engine.conditions import holds
from engine.document import Criterion, DecayRule, ModelSpec
from engine.fields import COLD, HOT, WARM
from engine.values import HALF_LIVES_MAX, days_between, match_key, round2, running_cents

# Why an event earned nothing (or what it earned), for the lead page's timeline.
COUNTED = "counted"
CAPPED = "capped"
OUTSIDE_LOOKBACK = "outside_lookback"
AFTER_AS_OF = "after_as_of"
NO_CRITERION = "no_criterion"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class LeadData:
    """A lead as the engine sees it: standard fields by name plus free-form attributes."""

    external_id: str
    created_at: datetime
    fields: dict
    attributes: dict

    def get(self, name: str):
        if name.startswith("attributes."):
            return self.attributes.get(name[len("attributes.") :])
        if name == "id":
            return self.external_id
        return self.fields.get(name)


@dataclass(frozen=True)
class EventData:
    """An event as the engine sees it; `seq` breaks ties between events without an external id."""

    seq: int
    external_id: str | None
    kind: str
    occurred_at: datetime
    properties: dict


@dataclass
class EventNote:
    event: EventData
    status: str
    points: float = 0.0
    criteria: list[str] = field(default_factory=list)


@dataclass
class ScoreResult:
    score: Decimal
    fit: Decimal
    engagement: Decimal
    segment: str
    tier: str
    grade: str
    mql: bool
    breakdown: list[dict]
    # Extras for explanations (not part of the export line).
    idle_days: dict[str, float] = field(default_factory=dict)
    event_notes: list[EventNote] = field(default_factory=list)

    def export_line(self, *, lead: str, model: str, as_of: str) -> dict:
        return {
            "lead": lead,
            "model": model,
            "as_of": as_of,
            "score": float(self.score),
            "fit": float(self.fit),
            "engagement": float(self.engagement),
            "segment": self.segment,
            "tier": self.tier,
            "grade": self.grade,
            "mql": self.mql,
            "breakdown": self.breakdown,
        }


def recency_key(event: EventData):
    """Most recent first; equal times: the greater id first (ids compare as text, none last)."""
    return (event.occurred_at, event.external_id is not None, event.external_id or "", event.seq)


def dedupe(events: list[EventData]) -> tuple[list[EventData], list[EventData]]:
    """Keep the first event of each external id (spec 1: a repeated id is the same event)."""
    seen: set[str] = set()
    kept, dropped = [], []
    for event in sorted(events, key=lambda e: e.seq):
        if event.external_id is not None:
            if event.external_id in seen:
                dropped.append(event)
                continue
            seen.add(event.external_id)
        kept.append(event)
    return kept, dropped


def _engagement_lines(spec: ModelSpec, events: list[EventData], as_of: datetime, notes: dict[int, EventNote]):
    lines: list[dict] = []
    total = 0.0
    horizon = as_of - timedelta(days=spec.lookback_days) if spec.lookback_days else None
    in_window = [e for e in events if horizon is None or e.occurred_at >= horizon]
    for criterion in spec.engagement_criteria:
        matching = [e for e in in_window if e.kind in criterion.events and holds(criterion.where, e.properties.get)]
        matching.sort(key=recency_key, reverse=True)
        counted = _apply_cap(criterion, matching, as_of, notes)
        if not counted:
            continue
        earned = 0.0
        for event in counted:
            pts = _event_points(spec, criterion, event, as_of)
            earned += pts
            note = notes[event.seq]
            note.status = COUNTED
            note.points += pts
            note.criteria.append(criterion.key)
        total += earned
        lines.append(
            (
                criterion.index,
                {
                    "type": "criterion",
                    "key": criterion.key,
                    "dimension": "engagement",
                    "points": earned,  # unrounded here: score_lead rounds all lines together
                    "count": len(counted),
                    "events": [e.external_id for e in counted],
                },
            )
        )
    return lines, total


def _apply_cap(criterion: Criterion, matching: list[EventData], as_of, notes) -> list[EventData]:
    if criterion.cap is None:
        return matching
    per_bucket: dict[int, int] = {}
    counted = []
    for event in matching:
        bucket = 0
        if criterion.cap_window_days:
            bucket = math.floor(days_between(as_of, event.occurred_at) / criterion.cap_window_days)
        used = per_bucket.get(bucket, 0)
        if used < criterion.cap:
            per_bucket[bucket] = used + 1
            counted.append(event)
        elif notes[event.seq].status != COUNTED:
            notes[event.seq].status = CAPPED
    return counted


def _event_points(spec: ModelSpec, criterion: Criterion, event: EventData, as_of: datetime) -> float:
    if spec.half_life_days is None:
        return float(criterion.points)
    age = days_between(as_of, event.occurred_at)
    return criterion.points * 0.5 ** min(age / spec.half_life_days, HALF_LIVES_MAX)


def _idle_days(rule: DecayRule, lead: LeadData, events: list[EventData], as_of: datetime) -> float:
    relevant = [e.occurred_at for e in events if rule.events is None or e.kind in rule.events]
    latest = max(relevant) if relevant else lead.created_at
    return max(0.0, days_between(as_of, latest))


def _unanswered_count(spec: ModelSpec, rule: DecayRule, events: list[EventData], as_of: datetime) -> int:
    horizon = as_of - timedelta(days=spec.lookback_days) if spec.lookback_days else None
    old_enough = as_of - timedelta(days=rule.after_days)
    responses = [(e.seq, match_key(e.properties.get(rule.match_property))) for e in events if e.kind in rule.responses]
    count = 0
    for send in events:
        if send.kind not in rule.events or send.occurred_at > old_enough:
            continue
        if horizon is not None and send.occurred_at < horizon:
            continue
        key = match_key(send.properties.get(rule.match_property))
        if key is None:
            continue
        if not any(seq != send.seq and rkey == key for seq, rkey in responses):
            count += 1
    return count


def _decay_magnitudes(spec, lead, events, as_of) -> tuple[list[int], dict[str, float]]:
    magnitudes, idle = [], {}
    for rule in spec.decay:
        if rule.type == "unanswered":
            magnitudes.append(abs(rule.points) * _unanswered_count(spec, rule, events, as_of))
            continue
        days = _idle_days(rule, lead, events, as_of)
        idle[rule.key] = days
        if rule.type == "inactivity_step":
            magnitudes.append(abs(rule.points) * math.floor(days / rule.every_days))
        else:
            magnitudes.append(abs(rule.points) if days >= rule.after_days else 0)
    return magnitudes, idle


def effective_decay(magnitudes: list[float], criteria_sum: float, floor: float | None) -> list[float]:
    """Spec 5: each rule in order takes min(|amount|, headroom) and lowers the headroom by that."""
    if floor is None:
        return list(magnitudes)
    # Closed form of the same rule (the headroom left is the start minus all earlier amounts),
    # written the way the SQL path computes it so both add the same floats in the same order.
    headroom = max(0.0, criteria_sum - floor)
    taken, before = [], 0
    for amount in magnitudes:
        taken.append(min(amount, max(0.0, headroom - before)))
        before += amount
    return taken


def classify(spec: ModelSpec, lead: LeadData, fit: Decimal, engagement: Decimal, score: Decimal):
    """Segment, tier, grade and MQL flag from the rounded values (spec 6)."""
    segment = next(s for s in spec.segments if holds(s.when, lead.get))
    tier = HOT if score >= Decimal(str(segment.hot)) else WARM if score >= Decimal(str(segment.warm)) else COLD
    mql = score >= Decimal(str(segment.mql))
    a, b, c = (Decimal(str(v)) for v in spec.grade_fit)
    letter = "A" if fit >= a else "B" if fit >= b else "C" if fit >= c else "D"
    e4, e3, e2 = (Decimal(str(v)) for v in spec.grade_engagement)
    digit = "4" if engagement >= e4 else "3" if engagement >= e3 else "2" if engagement >= e2 else "1"
    return segment.key, tier, letter + digit, mql


def score_lead(spec: ModelSpec, lead: LeadData, events: list[EventData], as_of: datetime) -> ScoreResult:
    """Score one lead at `as_of` with its breakdown and per-event notes."""
    kept, dropped = dedupe(events)
    notes: dict[int, EventNote] = {}
    for e in dropped:
        notes[e.seq] = EventNote(e, DUPLICATE)
    horizon = as_of - timedelta(days=spec.lookback_days) if spec.lookback_days else None
    present = []
    for e in kept:
        if e.occurred_at > as_of:
            notes[e.seq] = EventNote(e, AFTER_AS_OF)
            continue
        status = OUTSIDE_LOOKBACK if horizon is not None and e.occurred_at < horizon else NO_CRITERION
        notes[e.seq] = EventNote(e, status)
        present.append(e)

    lines: list[tuple[int, dict]] = []
    fit_sum = 0
    for criterion in spec.fit_criteria:
        if holds(criterion.when, lead.get):
            fit_sum += criterion.points
            lines.append(
                (
                    criterion.index,
                    {
                        "type": "criterion",
                        "key": criterion.key,
                        "dimension": "fit",
                        "points": float(criterion.points),
                        "count": 1,
                        "events": [],
                    },
                )
            )
    eng_lines, criteria_sum = _engagement_lines(spec, present, as_of, notes)
    lines.extend(eng_lines)
    breakdown = [line for _, line in sorted(lines, key=lambda item: item[0])]

    magnitudes, idle = _decay_magnitudes(spec, lead, present, as_of)
    taken = effective_decay(magnitudes, criteria_sum, spec.engagement_floor)
    for rule, bite in zip(spec.decay, taken, strict=True):
        if bite:
            breakdown.append({"type": "decay", "key": rule.key, "points": -bite})

    # The lines' points are their shares of the rounded running total (fit, then the engagement
    # criteria in document order, then decay), so they add up to the score exactly
    # (docs/scoring.md, "Rounding"). The SQL path (engine/sql.py, `_finish`) adds in the same order.
    moving = [line for line in breakdown if line["type"] == "decay" or line["dimension"] == "engagement"]
    shares, running = running_cents(fit_sum, [line["points"] for line in moving])
    for line, share in zip(moving, shares, strict=True):
        line["points"] = float(share)
    engagement_raw = criteria_sum
    for bite in taken:
        engagement_raw -= bite
    fit = round2(fit_sum)
    engagement = round2(engagement_raw)
    score = round2(running)  # the rounded sum of the unrounded parts (spec 6)
    segment, tier, grade, mql = classify(spec, lead, fit, engagement, score)
    ordered_notes = sorted(notes.values(), key=lambda n: recency_key(n.event), reverse=True)
    return ScoreResult(score, fit, engagement, segment, tier, grade, mql, breakdown, idle, ordered_notes)
