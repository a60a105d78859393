"""A lead's score explained for a person: the lines behind the number, in words.

Everything here reads the single-lead engine's result (`selectors.lead_explain`, run at the
stored score's `as_of` with the stored score's version) and the model document; it computes no
score of its own. A rep reading it can say which actions, on which dates, produced the number
(spec section 7), why each other event earned nothing, what decay took and why, what is missing
for the next tier, and whether the stored score still matches what the engine says now.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from engine import single
from engine.conditions import holds
from engine.document import Criterion, ModelSpec
from engine.single import EventNote, ScoreResult
from engine.values import round2
from leads.models import Lead
from matrix.selectors import version_spec
from matrix.wording import cap_words, criterion_words, decay_words, kind_words, plain, signed, with_article
from scoring.models import Score
from scoring.selectors import lead_explain

WHY_NOW_DAYS = 3

STATUS_LABELS = {
    single.COUNTED: "counted",
    single.CAPPED: "capped",
    single.OUTSIDE_LOOKBACK: "outside lookback",
    single.AFTER_AS_OF: "after as of",
    single.NO_CRITERION: "no criterion",
    single.DUPLICATE: "duplicate",
}
# Property shown beside an event in the lists, first one present wins.
DETAIL_PROPERTIES = ("url", "asset", "title", "name", "form", "webinar", "product", "message_id")


@dataclass
class EventLine:
    """One event on the timeline, or behind a criterion line."""

    seq: int
    external_id: str | None
    kind: str
    kind_label: str
    occurred_at: datetime
    detail: str
    status: str
    status_label: str
    points: Decimal
    reason: str


@dataclass
class Line:
    """One line of the breakdown: a criterion that matched, or a decay rule that took points."""

    type: str
    key: str
    label: str
    dimension: str
    points: Decimal
    count: int = 0
    events: list[EventLine] = field(default_factory=list)
    words: str = ""
    detail: str = ""


@dataclass
class Gap:
    name: str
    threshold: Decimal
    missing: Decimal | None  # None: reached


@dataclass
class WhyNowItem:
    key: str
    label: str
    count: int
    points: Decimal


@dataclass
class WhyNow:
    days: int
    since: datetime
    total: Decimal
    items: list[WhyNowItem]

    @property
    def summary(self) -> str:
        """E.g. `+90 in the last 3 days, from 1 × Demo request (+50), 2 × Pricing page visit (+40)`."""
        if not self.items:
            return f"No points earned in the last {self.days} days before this score."
        parts = [f"{item.count} × {item.label} ({signed(item.points)})" for item in self.items]
        return f"{signed(self.total)} in the last {self.days} days, from " + ", ".join(parts)


@dataclass
class Explanation:
    stored: Score
    result: ScoreResult
    spec: ModelSpec
    segment_label: str
    lines: list[Line]
    lines_total: Decimal
    differences: list[str]
    gaps: list[Gap]
    timeline: list[EventLine]
    why_now: WhyNow

    @property
    def matches_stored(self) -> bool:
        return not self.differences

    @property
    def next_gap(self) -> Gap | None:
        open_gaps = [g for g in self.gaps if g.missing is not None]
        return min(open_gaps, key=lambda g: g.missing) if open_gaps else None


def lead_explanation(*, lead: Lead, score: Score, why_now_days: int = WHY_NOW_DAYS) -> Explanation:
    """Explain `score` (a stored Score of `lead`, with its version loaded) line by line."""
    spec = version_spec(version=score.version)
    result = lead_explain(lead=lead, version=score.version, as_of=score.as_of)
    criteria = {c.key: c for c in spec.criteria}
    rules = {r.key: r for r in spec.decay}
    timeline = [_event_line(note, spec, criteria, score.as_of) for note in result.event_notes]
    by_seq = {line.seq: line for line in timeline}

    lines: list[Line] = []
    for raw in result.breakdown:
        points = Decimal(str(raw["points"]))
        if raw["type"] == "criterion":
            criterion = criteria[raw["key"]]
            behind = [
                by_seq[n.event.seq]
                for n in result.event_notes
                if n.status == single.COUNTED and criterion.key in n.criteria
            ]
            lines.append(
                Line(
                    type="criterion",
                    key=criterion.key,
                    label=criterion.label,
                    dimension=criterion.dimension,
                    points=points,
                    count=int(raw.get("count", 0)),
                    events=behind,
                    words=criterion_words(criterion, points, len(behind)),
                )
            )
        else:
            rule = rules[raw["key"]]
            words, detail = decay_words(rule, points, result.idle_days)
            lines.append(
                Line(
                    type="decay",
                    key=rule.key,
                    label=rule.label,
                    dimension="decay",
                    points=points,
                    words=words,
                    detail=detail,
                )
            )

    segment = next((s for s in spec.segments if s.key == score.segment), None)
    return Explanation(
        stored=score,
        result=result,
        spec=spec,
        segment_label=segment.label if segment else score.segment,
        lines=lines,
        lines_total=sum((line.points for line in lines), Decimal("0")),
        differences=_differences(score, result),
        gaps=_gaps(segment, score.score),
        timeline=timeline,
        why_now=_why_now(result, spec, score.as_of, why_now_days),
    )


# --- lines ------------------------------------------------------------------------------------------


def _differences(score: Score, result: ScoreResult) -> list[str]:
    """What differs between the stored score and the engine's explanation at the same as_of."""
    out = []
    for name in ("score", "fit", "engagement"):
        stored, now = Decimal(getattr(score, name)), getattr(result, name)
        if stored != now:
            out.append(f"{name}: stored {plain(stored)}, explained {plain(now)}")
    for name in ("segment", "tier", "grade", "mql"):
        if getattr(score, name) != getattr(result, name):
            out.append(f"{name}: stored {getattr(score, name)}, explained {getattr(result, name)}")
    if _normal(score.breakdown) != _normal(result.breakdown):
        out.append("the breakdown lines differ")
    return out


def _normal(breakdown) -> list[tuple]:
    return [
        (
            x["type"],
            x["key"],
            round(float(x["points"]), 2),
            int(x.get("count") or 0),
            sorted(str(e) for e in x.get("events") or []),
        )
        for x in breakdown or []
    ]


def _gaps(segment, score) -> list[Gap]:
    if segment is None:
        return []
    score = Decimal(score)
    gaps = []
    for name, threshold in (("warm", segment.warm), ("hot", segment.hot), ("MQL", segment.mql)):
        threshold = Decimal(str(threshold))
        gaps.append(Gap(name, threshold, None if score >= threshold else threshold - score))
    return gaps


# --- events ------------------------------------------------------------------------------------------


def _detail(properties: dict) -> str:
    for name in DETAIL_PROPERTIES:
        value = properties.get(name)
        if value not in (None, "", [], {}):
            return str(value) if name in ("url", "asset") else f"{name}: {value}"
    return ""


def _event_line(note: EventNote, spec: ModelSpec, criteria: dict[str, Criterion], as_of: datetime) -> EventLine:
    event = note.event
    points = round2(note.points) if note.status == single.COUNTED else Decimal("0.00")
    return EventLine(
        seq=event.seq,
        external_id=event.external_id,
        kind=event.kind,
        kind_label=kind_words(event.kind),
        occurred_at=event.occurred_at,
        detail=_detail(event.properties),
        status=note.status,
        status_label=STATUS_LABELS.get(note.status, note.status),
        points=points,
        reason=_reason(note, spec, criteria, as_of, points),
    )


def _reason(note: EventNote, spec: ModelSpec, criteria: dict[str, Criterion], as_of: datetime, points) -> str:
    event = note.event
    if note.status == single.COUNTED:
        return f"{signed(points)} for " + " and ".join(criteria[k].label for k in note.criteria)
    if note.status == single.CAPPED:
        caps = [
            cap_words(c)
            for c in spec.engagement_criteria
            if c.cap is not None and event.kind in c.events and holds(c.where, event.properties.get)
        ]
        return "cap reached: " + "; ".join(caps) if caps else "cap reached"
    if note.status == single.OUTSIDE_LOOKBACK:
        return f"older than the {spec.lookback_days}-day lookback: engagement counts only recent events"
    if note.status == single.AFTER_AS_OF:
        return f"after this score was computed ({as_of:%Y-%m-%d %H:%M} UTC): the next rescore counts it"
    if note.status == single.DUPLICATE:
        return f"repeats event id {event.external_id}: the same event is counted once"
    return f"no criterion of this model rewards {with_article(kind_words(event.kind))} like this one"


# --- why now -----------------------------------------------------------------------------------------


def _why_now(result: ScoreResult, spec: ModelSpec, as_of: datetime, days: int) -> WhyNow:
    since = as_of - timedelta(days=days)
    criteria = {c.key: c for c in spec.criteria}
    items: dict[str, WhyNowItem] = {}
    for note in result.event_notes:
        if note.status != single.COUNTED or note.event.occurred_at < since:
            continue
        for key, share in _shares(note, criteria, spec.half_life_days).items():
            item = items.setdefault(key, WhyNowItem(key, criteria[key].label, 0, Decimal("0")))
            item.count += 1
            item.points += Decimal(str(share))
    ordered = sorted(items.values(), key=lambda i: (-i.points, criteria[i.key].index))
    for item in ordered:
        item.points = round2(float(item.points))
    return WhyNow(days, since, sum((i.points for i in ordered), Decimal("0")), ordered)


def _shares(note: EventNote, criteria: dict[str, Criterion], half_life) -> dict[str, float]:
    """What the event earned under each criterion that counted it.

    The engine gives the event's total (`note.points`). Without half-life each criterion gives
    its points; with half-life every criterion's points are scaled by the same factor (the
    event's age), so the total splits in proportion to the points.
    """
    keys = note.criteria
    if len(keys) == 1:
        return {keys[0]: note.points}
    nominal = {k: float(criteria[k].points) for k in keys}
    total = sum(nominal.values())
    if half_life is None or not total:
        return nominal
    return {k: note.points * p / total for k, p in nominal.items()}
