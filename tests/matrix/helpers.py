"""Small builders for scoring-engine tests: model documents, leads, events, and both scoring paths.

`scored(version, lead, as_of)` runs the bulk SQL path (`leads_rescore`, then the stored `Score`)
and the single-lead path (`lead_explain`) and asserts they agree before returning the result,
so every engine test also locks the two paths together.
"""

import copy
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from leads.models import Event, Lead
from matrix.services import model_import
from scoring.jobs import model_version_publish
from scoring.models import Score
from scoring.selectors import lead_explain
from scoring.services import leads_rescore

AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CREATED = AS_OF - timedelta(days=400)
_counter = itertools.count(1)

# --- model documents ------------------------------------------------------------------------------


def doc(
    *,
    criteria=(),
    decay=(),
    segments=None,
    slug="m",
    lookback_days=None,
    half_life_days=None,
    engagement_floor=0,
    grades=None,
    **extra,
) -> dict:
    """A valid model document; anything not given is neutral (no lookback, floor 0, one segment)."""
    data = {
        "name": f"Model {slug}",
        "slug": slug,
        "description": "",
        "lookback_days": lookback_days,
        "half_life_days": half_life_days,
        "engagement_floor": engagement_floor,
        "criteria": list(criteria),
        "decay": list(decay),
        "segments": segments
        if segments is not None
        else [{"key": "all", "label": "All", "when": None, "thresholds": {"warm": 20, "hot": 50, "mql": 40}}],
        "grades": grades or {"fit": {"A": 40, "B": 25, "C": 10}, "engagement": {"4": 75, "3": 45, "2": 20}},
    }
    if engagement_floor == "absent":
        del data["engagement_floor"]
    data.update(extra)
    return data


def fit(key, when, points=10, **extra) -> dict:
    return {"key": key, "label": key, "dimension": "fit", "when": when, "points": points, **extra}


def eng(key, event, points=10, *, where=None, cap=None, window=None, **extra) -> dict:
    return {
        "key": key,
        "label": key,
        "dimension": "engagement",
        "event": event,
        "where": where,
        "points": points,
        "cap": cap,
        "cap_window_days": window,
        **extra,
    }


def step(key, every_days, points=-5, events=None) -> dict:
    return {"key": key, "type": "inactivity_step", "events": events, "every_days": every_days, "points": points}


def once(key, after_days, points=-5, events=None) -> dict:
    return {"key": key, "type": "inactivity_once", "events": events, "after_days": after_days, "points": points}


def unanswered(key, after_days, points=-5, events=("email_sent",), responses=("email_open",), prop="message_id"):
    return {
        "key": key,
        "type": "unanswered",
        "events": list(events),
        "responses": list(responses),
        "match_property": prop,
        "after_days": after_days,
        "points": points,
    }


def segment(key, when, warm=20, hot=50, mql=40) -> dict:
    return {"key": key, "label": key, "when": when, "thresholds": {"warm": warm, "hot": hot, "mql": mql}}


def cond(field, op, value=None) -> dict:
    out = {"field": field, "op": op}
    if op not in ("is_empty", "is_set"):
        out["value"] = value
    return out


def edge_document() -> dict:
    """A document at the edges of every limit of docs/scoring.md at once: 100 criteria, 20 decay
    rules, 20 segments, 5,000 field tests and values, the largest and smallest numbers, odd names."""
    lists = [fit(f"f{i}", {"any": [cond("industry", "in", list(range(24)))] * 2}, -1000) for i in range(98)]
    lists[0]["when"]["any"][0] = cond("attributes.société", "in", ["é", *range(102)])  # 5,000 in all
    where = cond("société", "gte", 10**15)
    return doc(
        lookback_days=3650,
        half_life_days=0.5,
        engagement_floor=-1_000_000,
        criteria=[
            *lists,
            eng("e1", ["page_view", *(f"k{i}" for i in range(49))], 1000, cap=10_000, window=3650, where=where),
            fit("deep", {"not": {"any": [{"all": [{"not": cond("attributes.x\ny", "between", [-1e15, 1e15])}]}]}}, 1),
        ],
        decay=[step(f"s{i}", 3650, -1000) for i in range(19)] + [unanswered("u", 3650, prop="m" * 200)],
        segments=[segment(f"g{i}", cond("title", "eq", "12345678901234567890"), -1e6, 1e6, 0) for i in range(19)]
        + [segment("z", None, 0.5, 0.5, 1_000_000)],
        grades={"fit": {"A": 1_000_000, "B": 0, "C": -1_000_000}, "engagement": {"4": 1e6, "3": 0.01, "2": -1e6}},
    )


def publish(data: dict):
    """Import a document as a draft and publish it; returns the live ModelVersion."""
    return model_version_publish(version=model_import(data=copy.deepcopy(data)))


# --- leads and events -----------------------------------------------------------------------------


def make_lead(external_id=None, *, created_at=CREATED, attributes=None, **fields) -> Lead:
    return Lead.objects.create(
        external_id=external_id or f"L-{next(_counter):05d}",
        created_at=created_at,
        attributes=attributes if attributes is not None else {},
        **fields,
    )


def make_event(lead, kind, occurred_at, external_id=None, **properties) -> Event:
    return Event.objects.create(
        lead=lead, kind=kind, occurred_at=occurred_at, external_id=external_id, properties=properties
    )


def ago(days=0.0, *, seconds=0, as_of=AS_OF) -> datetime:
    return as_of - timedelta(days=days, seconds=seconds)


# --- both paths -------------------------------------------------------------------------------------


def _ids(ids) -> list:
    return sorted(ids, key=lambda x: (x is None, x or ""))


def stored_line(score: Score) -> dict:
    return {
        "score": Decimal(score.score),
        "fit": Decimal(score.fit),
        "engagement": Decimal(score.engagement),
        "segment": score.segment,
        "tier": score.tier,
        "grade": score.grade,
        "mql": bool(score.mql),
        "breakdown": score.breakdown,
    }


def result_line(result) -> dict:
    return {
        "score": result.score,
        "fit": result.fit,
        "engagement": result.engagement,
        "segment": result.segment,
        "tier": result.tier,
        "grade": result.grade,
        "mql": result.mql,
        "breakdown": result.breakdown,
    }


def differences(a: dict, b: dict, tolerance: float = 1e-9) -> list[str]:
    """Where two export-like lines disagree (totals exact to the cent, breakdown points within tolerance)."""
    out = []
    for name in ("score", "fit", "engagement"):
        if Decimal(str(a[name])) != Decimal(str(b[name])):
            out.append(f"{name}: {a[name]} != {b[name]}")
    for name in ("segment", "tier", "grade", "mql"):
        if a[name] != b[name]:
            out.append(f"{name}: {a[name]!r} != {b[name]!r}")
    keys_a = [(x["type"], x["key"]) for x in a["breakdown"]]
    keys_b = [(x["type"], x["key"]) for x in b["breakdown"]]
    if keys_a != keys_b:
        out.append(f"breakdown lines: {keys_a} != {keys_b}")
        return out
    for x, y in zip(a["breakdown"], b["breakdown"], strict=True):
        if abs(float(x["points"]) - float(y["points"])) > tolerance:
            out.append(f"{x['key']} points: {x['points']} != {y['points']}")
        if x["type"] == "criterion":
            if int(x["count"]) != int(y["count"]):
                out.append(f"{x['key']} count: {x['count']} != {y['count']}")
            if _ids(x["events"]) != _ids(y["events"]):
                out.append(f"{x['key']} events: {x['events']} != {y['events']}")
            if x.get("dimension") != y.get("dimension"):
                out.append(f"{x['key']} dimension: {x.get('dimension')} != {y.get('dimension')}")
    return out


def rescore(version, leads, as_of=AS_OF) -> dict[int, Score]:
    """The bulk path for these leads; returns their stored scores by lead pk."""
    pks = [lead.pk for lead in leads]
    leads_rescore(version=version, as_of=as_of, lead_ids=pks)
    stored = {
        s.lead_id: s
        for s in Score.objects.filter(scoring_model_id=version.scoring_model_id, lead_id__in=pks).select_related(
            "breakdown_row"
        )
    }
    # The write guard keeps a score computed at a later as_of: make sure we read this computation.
    assert sorted(stored) == sorted(pks) and all(s.as_of == as_of for s in stored.values())
    return stored


def scored_many(version, leads, as_of=AS_OF, tolerance: float = 1e-9) -> dict[int, dict]:
    """Score leads on both paths, assert they agree, return the single-path lines by lead pk."""
    stored = rescore(version, leads, as_of)
    out, problems = {}, []
    for lead in leads:
        fresh = Lead.objects.select_related("owner").get(pk=lead.pk)
        line = result_line(lead_explain(lead=fresh, version=version, as_of=as_of))
        bulk = stored_line(stored[lead.pk])
        problems += [f"{lead.external_id}: {d}" for d in differences(bulk, line, tolerance)]
        out[lead.pk] = line
    assert not problems, "bulk SQL and single-lead paths disagree:\n" + "\n".join(problems)
    return out


def scored(version, lead, as_of=AS_OF, tolerance: float = 1e-9) -> dict:
    return scored_many(version, [lead], as_of, tolerance)[lead.pk]


def line_of(result: dict, key: str) -> dict | None:
    return next((x for x in result["breakdown"] if x["key"] == key), None)
