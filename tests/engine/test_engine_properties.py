"""Property tests: for random valid models, leads and events, every scoring path gives the same result.

Given a random model document (operators, caps, windows, half-life or not, floor or null, decay
rules, segments), random leads (standard fields and attributes holding strings, numbers, numeric
strings, booleans, lists, empties) and random events (a few kinds, properties, repeated ids,
timestamps on and around the lookback edge, the cap windows and after as_of):

- the bulk SQL path (`leads_import`, `events_ingest`, `leads_rescore`, then the stored `Score`),
- the single-lead path (`lead_explain`), and
- the dry run (`score_file` on the same rows written to files)

agree on score, fit, engagement, segment, tier, grade, MQL and the breakdown lines (keys, points,
counts, event ids as sets); without half-life the lines sum exactly to the score, with half-life
within 0.01 per line. Runs on whatever DATABASE_URL points at (SQLite locally, Postgres in CI).
"""

import copy
import json
import os
import tempfile
from datetime import UTC, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.document import DocumentError, parse_document
from leads.models import Lead
from leads.services import events_ingest, leads_import
from scoring.models import Score
from scoring.selectors import lead_explain
from scoring.services import leads_rescore
from tests.matrix.helpers import AS_OF, differences, edge_document, publish, result_line, stored_line

KINDS = ["page_view", "email_open", "email_sent", "email_click", "demo_request", "unsubscribe"]
TEXTS = [
    "",
    "  ",
    "SaaS",
    " saas ",
    "Software",
    "ÉCOLE",
    "école",
    "350",
    "350.0",
    "3.5e2",
    "+5",
    ".5",
    "-0",
    "1.",
    "true",
    "False",
    "abc%",
    "a_c",
    "Kyiv",
    "v",
    "1,000",
    "٣",
    "\tx\n",
]
NUMBERS = [0, 1, -2, 5, 350, 1.5, 0.5, -0.25, 100000, 0.30000000000000004]
LEAD_FIELDS = ["industry", "title", "country", "employees", "annual_revenue", "attributes.a", "attributes.b"]
EVENT_FIELDS = ["url", "message_id", "n"]
NEEDLES = ["a", "S", "saa", "%", "_", "5", "é", "v", "", "/pri", "x"]

scalars = st.one_of(st.sampled_from(TEXTS), st.sampled_from(NUMBERS), st.booleans())
json_values = st.one_of(
    scalars,
    st.none(),
    st.lists(st.one_of(scalars, st.none()), max_size=3),
    st.sampled_from([{}, {"k": "v"}]),
)


# --- model documents ----------------------------------------------------------------------------------


def leaf(fields):
    field = st.sampled_from(fields)
    return st.one_of(
        st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, field, st.sampled_from(["eq", "ne"]), scalars),
        st.builds(
            lambda f, op, v: {"field": f, "op": op, "value": v},
            field,
            st.sampled_from(["in", "not_in"]),
            st.lists(scalars, max_size=3),
        ),
        st.builds(
            lambda f, op, v: {"field": f, "op": op, "value": v},
            field,
            st.sampled_from(["contains", "not_contains", "startswith", "endswith"]),
            st.sampled_from(NEEDLES),
        ),
        st.builds(
            lambda f, op, v: {"field": f, "op": op, "value": v},
            field,
            st.sampled_from(["gt", "gte", "lt", "lte"]),
            st.sampled_from(NUMBERS),
        ),
        st.builds(
            lambda f, pair: {"field": f, "op": "between", "value": sorted(pair)},
            field,
            st.lists(st.sampled_from(NUMBERS), min_size=2, max_size=2),
        ),
        st.builds(lambda f, op: {"field": f, "op": op}, field, st.sampled_from(["is_empty", "is_set"])),
    )


def conditions(fields):
    return st.recursive(
        leaf(fields),
        lambda inner: st.one_of(
            st.builds(lambda cs: {"all": cs}, st.lists(inner, max_size=3)),
            st.builds(lambda cs: {"any": cs}, st.lists(inner, max_size=3)),
            st.builds(lambda c: {"not": c}, inner),
        ),
        max_leaves=4,
    )


points = st.integers(-50, 60)
kinds_list = st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True)


@st.composite
def fit_criterion(draw):
    return {"dimension": "fit", "when": draw(conditions(LEAD_FIELDS)), "points": draw(points)}


@st.composite
def engagement_criterion(draw):
    cap = draw(st.one_of(st.none(), st.integers(1, 3)))
    kinds = draw(kinds_list)
    return {
        "dimension": "engagement",
        "event": kinds[0] if len(kinds) == 1 and draw(st.booleans()) else kinds,
        "where": draw(st.one_of(st.none(), conditions(EVENT_FIELDS))),
        "points": draw(points),
        "cap": cap,
        # A window without a cap changes nothing; it is allowed and drawn now and then.
        "cap_window_days": draw(st.one_of(st.none(), st.integers(1, 10))) if cap or draw(st.booleans()) else None,
    }


@st.composite
def decay_rule(draw):
    kind = draw(st.sampled_from(["inactivity_step", "inactivity_once", "unanswered"]))
    pts = draw(st.integers(-20, -1))
    if kind == "inactivity_step":
        return {
            "type": kind,
            "events": draw(st.one_of(st.none(), kinds_list)),
            "every_days": draw(st.integers(1, 40)),
            "points": pts,
        }
    if kind == "inactivity_once":
        return {
            "type": kind,
            "events": draw(st.one_of(st.none(), kinds_list)),
            "after_days": draw(st.integers(1, 60)),
            "points": pts,
        }
    return {
        "type": kind,
        "events": draw(st.sampled_from([["email_sent"], ["email_sent", "email_open"]])),
        "responses": draw(
            st.lists(st.sampled_from(["email_open", "email_click", "email_sent"]), min_size=1, unique=True)
        ),
        "match_property": "message_id",
        "after_days": draw(st.integers(1, 30)),
        "points": pts,
    }


@st.composite
def segments(draw):
    count = draw(st.integers(1, 3))
    out = []
    for i in range(count):
        warm = draw(st.integers(-10, 60))
        hot = warm + draw(st.integers(0, 40))
        out.append(
            {
                "key": f"s{i}",
                "label": f"Segment {i}",
                "when": None if i == count - 1 else draw(conditions(LEAD_FIELDS)),
                "thresholds": {"warm": warm, "hot": hot, "mql": draw(st.sampled_from([warm, hot, 25, 30.5]))},
            }
        )
    return out


@st.composite
def model_documents(draw):
    criteria = draw(st.lists(st.one_of(fit_criterion(), engagement_criterion()), max_size=6))
    decay = draw(st.lists(decay_rule(), max_size=3))
    for i, c in enumerate(criteria):
        c.update(key=f"c{i}", label=f"Criterion {i}")
    for i, d in enumerate(decay):
        d.update(key=f"d{i}", label=f"Decay {i}")
    data = {
        "name": "Random",
        "slug": "random",
        "description": "",
        "lookback_days": draw(st.one_of(st.none(), st.integers(1, 40))),
        "half_life_days": draw(st.one_of(st.none(), st.none(), st.sampled_from([0.5, 1, 3.5, 7, 30]))),
        "criteria": criteria,
        "decay": decay,
        "segments": draw(segments()),
        "grades": {
            "fit": dict(
                zip(
                    "ABC",
                    sorted(draw(st.lists(st.integers(-10, 60), min_size=3, max_size=3)), reverse=True),
                    strict=True,
                )
            ),
            "engagement": dict(
                zip(
                    "432",
                    sorted(draw(st.lists(st.integers(-10, 80), min_size=3, max_size=3)), reverse=True),
                    strict=True,
                )
            ),
        },
    }
    floor = draw(st.sampled_from(["absent", None, 0, 0, -15, 10, 2.5]))
    if floor != "absent":
        data["engagement_floor"] = floor
    return data


# --- leads and events -------------------------------------------------------------------------------

OFFSETS = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]


def stamp(moment, tz) -> str:
    return moment.astimezone(tz).isoformat()


@st.composite
def instants(draw, lookback):
    """Around the lookback edge, on whole days (cap windows), after as_of, or anywhere."""
    days = draw(
        st.one_of(
            st.just(lookback or 30),
            st.integers(0, 70),
            st.integers(-2, -1),
        )
    )
    nudge = draw(
        st.sampled_from(
            [
                timedelta(0),
                timedelta(0),
                timedelta(seconds=1),
                timedelta(seconds=-1),
                timedelta(hours=12),
                timedelta(microseconds=500000),
            ]
        )
    )
    return AS_OF - timedelta(days=days) + nudge


@st.composite
def lead_rows(draw):
    count = draw(st.integers(1, 3))
    rows = []
    for i in range(count):
        attributes = {}
        for key in ("a", "b"):
            if draw(st.booleans()):
                attributes[key] = draw(json_values)
        row = {
            "id": f"L{i}",
            "created_at": stamp(AS_OF - timedelta(days=draw(st.integers(-5, 120))), draw(st.sampled_from(OFFSETS))),
            "industry": draw(st.sampled_from(TEXTS)),
            "title": draw(st.sampled_from(TEXTS)),
            "country": draw(st.sampled_from(["", "FR", "fr", "US", "  de "])),
            "employees": draw(st.one_of(st.none(), st.sampled_from([0, 1, 5, 350, 5000, "350", "1e2"]))),
            "annual_revenue": draw(st.one_of(st.none(), st.sampled_from(NUMBERS))),
            "attributes": attributes,
        }
        rows.append(row)
    return rows


@st.composite
def event_rows(draw, lead_ids, lookback):
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        props = {}
        if draw(st.booleans()):
            props["url"] = draw(st.sampled_from(["/pricing", " /Pricing/x", "/blog", "", None]))
        if draw(st.booleans()):
            props["message_id"] = draw(st.sampled_from(["m1", "M1 ", "m2", "1", "1.0", 1, True, "true", None, ""]))
        if draw(st.booleans()):
            props["n"] = draw(json_values)
        row = {
            "lead": draw(st.sampled_from(lead_ids)),
            "kind": draw(st.sampled_from(KINDS)),
            "occurred_at": stamp(draw(instants(lookback)), draw(st.sampled_from(OFFSETS))),
            "properties": props,
        }
        xid = draw(st.sampled_from(["E1", "E2", "E3", "E10", "E9", "e1", None, None]))
        if xid is not None:
            row["id"] = xid
        rows.append(row)
    return rows


@st.composite
def scenarios(draw):
    data = draw(model_documents())
    leads = draw(lead_rows())
    events = draw(event_rows([r["id"] for r in leads], data["lookback_days"]))
    # Events sit on whole seconds around AS_OF; scoring a quarter second later moves every edge.
    as_of = draw(st.sampled_from([AS_OF, AS_OF, AS_OF + timedelta(milliseconds=250)]))
    return data, leads, events, as_of


# --- the three paths ----------------------------------------------------------------------------------


def bulk_and_single(data, leads, events, as_of) -> tuple[dict, dict]:
    """Rows in through the services, scored in SQL and one by one; everything rolled back after."""
    with transaction.atomic():
        version = publish(data)
        report, _ = leads_import(rows=list(enumerate(leads, start=1)))
        assert not report.rejected, report.rejected
        report, _ = events_ingest(rows=list(enumerate(events, start=1)))
        assert not report.rejected, report.rejected
        pks = dict(Lead.objects.values_list("external_id", "id"))
        assert leads_rescore(version=version, as_of=as_of, lead_ids=list(pks.values())) == len(pks)
        bulk = {
            s.lead.external_id: stored_line(s)
            for s in Score.objects.filter(scoring_model=version.scoring_model).select_related("lead")
        }
        single = {
            lead.external_id: result_line(lead_explain(lead=lead, version=version, as_of=as_of))
            for lead in Lead.objects.select_related("owner")
        }
        transaction.set_rollback(True)
    return bulk, single


def dry_run(data, leads, events, as_of) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "model.json").write_text(json.dumps(data), encoding="utf-8")
        (tmp / "leads.jsonl").write_text("".join(json.dumps(r) + "\n" for r in leads), encoding="utf-8")
        (tmp / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in events), encoding="utf-8")
        call_command(
            "score_file",
            model=str(tmp / "model.json"),
            leads=str(tmp / "leads.jsonl"),
            events=str(tmp / "events.jsonl"),
            as_of=as_of.isoformat(),
            output=str(tmp / "out.jsonl"),
        )
        lines = [json.loads(x) for x in (tmp / "out.jsonl").read_text(encoding="utf-8").splitlines() if x]
    stamp_z = as_of.isoformat().replace("+00:00", "Z")
    assert all(x["model"] == data["slug"] and x["as_of"] == stamp_z for x in lines)
    return {x["lead"]: x for x in lines}


def check_lines_sum(line: dict, half_life) -> None:
    total = sum((Decimal(str(x["points"])) for x in line["breakdown"]), Decimal(0))
    score = Decimal(str(line["score"]))
    if half_life is None:
        assert total == score, f"lines sum to {total}, score is {score}"
    else:
        assert abs(total - score) <= Decimal("0.01") * max(1, len(line["breakdown"]))


# More examples for a deeper local run: SCORING_EXAMPLES=1000 pytest tests/engine/test_engine_properties.py
EXAMPLES = int(os.environ.get("SCORING_EXAMPLES", "40"))
# Scenarios write to the database, so they are slow and use the function-scoped db fixture.
SCENARIO_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.django_db
@SCENARIO_SETTINGS
@given(scenarios())
def test_bulk_single_and_dry_run_paths_agree(scenario):
    data, leads, events, as_of = scenario
    parse_document(data)  # the generator makes valid documents only
    tolerance = 1e-9 if data["half_life_days"] is None else 0.01
    bulk, single = bulk_and_single(data, leads, events, as_of)
    dry = dry_run(data, leads, events, as_of)
    assert set(bulk) == set(single) == set(dry) == {r["id"] for r in leads}
    problems = []
    for lead_id in sorted(single):
        problems += [f"{lead_id} bulk/single: {d}" for d in differences(bulk[lead_id], single[lead_id], tolerance)]
        problems += [f"{lead_id} dry/single: {d}" for d in differences(dry[lead_id], single[lead_id], tolerance)]
    assert not problems, "\n".join(problems)
    for lead_id in single:
        check_lines_sum(single[lead_id], data["half_life_days"])
        check_lines_sum(bulk[lead_id], data["half_life_days"])


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(fit_criterion(), engagement_criterion()), max_size=4), st.lists(decay_rule(), max_size=3))
def test_generated_documents_are_valid_and_survive_a_json_round_trip(criteria, decay):
    for i, c in enumerate(criteria):
        c["key"] = f"c{i}"
    for i, d in enumerate(decay):
        d["key"] = f"d{i}"
    data = {
        "name": "x",
        "slug": "x",
        "criteria": criteria,
        "decay": decay,
        "segments": [{"key": "all", "when": None, "thresholds": {"warm": 1, "hot": 2, "mql": 3}}],
        "grades": {"fit": {"A": 3, "B": 2, "C": 1}, "engagement": {"4": 3, "3": 2, "2": 1}},
    }
    assert parse_document(json.loads(json.dumps(data))) == parse_document(data)


# --- documents at the edges of the validator's bounds ---------------------------------------------------
#
# The bounds as docs/scoring.md states them ("Limits of a model document"), written out here rather
# than imported, so this test checks the validator against the documentation. A document drawn
# here is now and then pushed past one bound ("wild"); whatever the validator accepts must then
# score without error on the bulk path (on the database DATABASE_URL names: SQLite here, Postgres
# in CI) and on the single-lead path, and the two must agree.

POINTS_EDGES = [-1000, -999, -1, 1, 999, 1000]
DAY_EDGES = [1, 2, 3649, 3650]
HALF_LIFE_EDGES = [0.5, 1, 3650]
LEVEL_EDGES = [-1_000_000, -0.01, 0, 0.01, 999_999.99, 1_000_000]
OPERAND_EDGES = [-(10**15), -1e15, -0.5, 0, 5e-324, 1e-300, 0.30000000000000004, 350, 1e15, 10**15]
TEXT_OPERANDS = ["1e15", "-1000000000000000", "350.0", "0.1", "٣", "1,000", "abc"]
# Keys a condition or match_property reads inside SQLite's JSON path: non-ASCII, control characters.
ODD_KEYS = ["société", "a b", "a.b", "a[0]", "tab\there", "line\nbreak", "\x7f", "😀", "$", "'"]
ODD_KINDS = ["page_view", "email_sent", "email_open", "kind with space", "Ünïcode"]
# Past the bounds: each was accepted by the validator before it had them.
WILD = {
    "points": [1001, -1001],
    "days": [3651, 999_999, 10**9],
    "half_life_days": [0.01, 1e-300, 0.49, 3651, 1e308],
    "level": [1_000_001, -1e308, 10**400],
    "operand": [1e16, -1e308, 10**400, "1e-20000", "1e999999", "1" * 101],
    "key": ['a"b', "a\\b", "nul\x00", "x" * 201, "\ud800"],
    "cap": [10_001, 10**12],
}


def _decimal(value) -> Decimal:
    return Decimal(str(value))


def _lead_leaf(draw, keys):
    fieldname = draw(st.sampled_from(["employees", "annual_revenue", "title"] + [f"attributes.{k}" for k in keys]))
    op = draw(st.sampled_from(["eq", "ne", "in", "not_in", "gt", "lte", "between", "contains", "is_set"]))
    operands = st.one_of(st.sampled_from(OPERAND_EDGES), st.sampled_from(TEXT_OPERANDS))
    if op in ("eq", "ne"):
        return {"field": fieldname, "op": op, "value": draw(operands)}
    if op in ("in", "not_in"):
        values = draw(st.lists(operands, min_size=1, max_size=4))
        if draw(st.integers(0, 9)) == 0:  # now and then the longest list allowed
            values = (values * 500)[:500]
        return {"field": fieldname, "op": op, "value": values}
    if op == "between":
        pair = draw(st.lists(st.sampled_from(OPERAND_EDGES), min_size=2, max_size=2))
        return {"field": fieldname, "op": op, "value": sorted(pair, key=_decimal)}
    if op == "contains":
        return {"field": fieldname, "op": op, "value": draw(st.sampled_from(["é", "a", "😀"]))}
    if op == "is_set":
        return {"field": fieldname, "op": op}
    return {"field": fieldname, "op": op, "value": draw(st.sampled_from(OPERAND_EDGES))}


def _deep(draw, leaf, leaves=20, depth=5):
    """A condition at the size limits: `leaves` field tests, groups nested `depth` deep."""
    tests = [leaf() for _ in range(leaves)]
    cond = {"all": tests[: leaves - depth + 1]}
    for test in tests[leaves - depth + 1 :]:
        group = draw(st.sampled_from(["any", "all", "not"]))
        cond = {"not": cond} if group == "not" else {group: [cond, test]}
    return cond


@st.composite
def bounded_documents(draw):
    """(document, keys): numbers at the edges of every bound, now and then one pushed past it."""
    keys = draw(st.lists(st.sampled_from(ODD_KEYS), min_size=1, max_size=3, unique=True))
    wild = draw(st.sampled_from([None] * 2 * len(WILD) + list(WILD)))

    def pick(edges, kind):
        if wild == kind and draw(st.booleans()):
            return draw(st.sampled_from(WILD[kind]))
        return draw(st.sampled_from(edges))

    def lead_condition():
        if draw(st.integers(0, 5)) == 0:
            return _deep(draw, lambda: _lead_leaf(draw, keys))
        return _lead_leaf(draw, keys)

    criteria = []
    for i in range(draw(st.integers(1, 5))):
        points = pick(POINTS_EDGES, "points")
        if draw(st.booleans()):
            criteria.append({"key": f"c{i}", "dimension": "fit", "when": lead_condition(), "points": points})
            continue
        prop = draw(st.sampled_from(keys))
        where = draw(st.sampled_from([None, {"field": prop, "op": "is_set"}, {"field": prop, "op": "gte", "value": 0}]))
        criteria.append(
            {
                "key": f"c{i}",
                "dimension": "engagement",
                "event": draw(st.lists(st.sampled_from(ODD_KINDS), min_size=1, max_size=3, unique=True)),
                "where": where,
                "points": points,
                "cap": pick([None, 1, 2, 10_000], "cap"),
                "cap_window_days": pick([None, *DAY_EDGES], "days"),
            }
        )
    decay = []
    for i in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["inactivity_step", "inactivity_once", "unanswered"]))
        rule = {"key": f"d{i}", "type": kind, "points": pick([-1000, -1], "points")}
        if kind == "unanswered":
            rule.update(
                events=["email_sent"],
                responses=["email_open"],
                match_property=pick(keys, "key"),
                after_days=pick(DAY_EDGES, "days"),
            )
        else:
            rule["events"] = draw(st.sampled_from([None, ["page_view"]]))
            rule["every_days" if kind == "inactivity_step" else "after_days"] = pick(DAY_EDGES, "days")
        decay.append(rule)
    segments = []
    count = draw(st.integers(1, 3))
    for i in range(count):
        warm, hot = sorted([pick(LEVEL_EDGES, "level"), pick(LEVEL_EDGES, "level")], key=_decimal)
        segments.append(
            {
                "key": f"s{i}",
                "when": None if i == count - 1 else lead_condition(),
                "thresholds": {"warm": warm, "hot": hot, "mql": pick(LEVEL_EDGES, "level")},
            }
        )

    def grade_lines(letters):
        lines = sorted((pick(LEVEL_EDGES, "level") for _ in letters), key=_decimal, reverse=True)
        return dict(zip(letters, lines, strict=True))

    data = {
        "name": "Edges",
        "slug": "edges",
        "lookback_days": pick([None, None, *DAY_EDGES], "days"),
        "half_life_days": pick([None, *HALF_LIFE_EDGES], "half_life_days"),
        "engagement_floor": pick([None, 0, *LEVEL_EDGES], "level"),
        "criteria": criteria,
        "decay": decay,
        "segments": segments,
        "grades": {"fit": grade_lines("ABC"), "engagement": grade_lines("432")},
    }
    if wild == "operand":  # one condition with a number (or a numeric text) past the bound
        value = draw(st.sampled_from(WILD["operand"]))
        when = {"field": "attributes.n", "op": "in", "value": [value]} if draw(st.booleans()) else None
        when = when or {"field": "employees", "op": "eq", "value": value}
        criteria.append({"key": "w", "dimension": "fit", "points": 1, "when": when})
    if wild == "key":  # an event property whose name SQLite's JSON path cannot hold
        where = {"field": draw(st.sampled_from(WILD["key"])), "op": "is_set"}
        criteria.append(
            {"key": "w", "dimension": "engagement", "event": "page_view", "where": where, "points": 1, "cap": None}
        )
    return data, keys


@st.composite
def edge_scenarios(draw):
    data, keys = draw(bounded_documents())
    values = st.one_of(st.sampled_from(OPERAND_EDGES), st.sampled_from(TEXT_OPERANDS), st.sampled_from(["é", "x😀"]))
    leads = []
    for i in range(draw(st.integers(1, 3))):
        leads.append(
            {
                "id": f"L{i}",
                # Up to ten years and a bit before as_of: every idle step, window and lookback edge.
                "created_at": stamp(AS_OF - timedelta(days=draw(st.sampled_from([0, 1, 3650, 3700]))), UTC),
                "employees": draw(st.sampled_from([None, 0, 5000, 2_000_000_000])),
                "annual_revenue": draw(st.sampled_from([None, 0.5, 1e15, -1e15])),
                "title": draw(st.sampled_from(["", "Président", "VP"])),
                "attributes": {k: draw(values) for k in keys if draw(st.booleans())},
            }
        )
    events = []
    for n in range(draw(st.integers(0, 10))):
        # With a half-life of a day, 1,100 days and more are past a double's smallest weight.
        age = draw(st.sampled_from([0, 0.5, 1, 2, 1100, 3649, 3650, 3651, 3700]))
        events.append(
            {
                "id": f"E{n}",
                "lead": draw(st.sampled_from([r["id"] for r in leads])),
                "kind": draw(st.sampled_from(ODD_KINDS)),
                "occurred_at": stamp(AS_OF - timedelta(days=age), UTC),
                "properties": {k: draw(st.sampled_from(["m1", 1, "é", 1e15, 0])) for k in keys if draw(st.booleans())},
            }
        )
    return data, leads, events


@st.composite
def decaying_scenarios(draw):
    """Scenarios whose models all have half-life decay, and floors with fractions of a cent."""
    data, leads, events, as_of = draw(scenarios())
    data["half_life_days"] = draw(st.sampled_from([0.5, 1, 3.5, 7, 30, 2.25]))
    floor = draw(st.sampled_from(["keep", -2.125, 1.005, 0.375]))
    if floor != "keep":
        data["engagement_floor"] = floor
    return data, leads, events, as_of


@pytest.mark.django_db
@SCENARIO_SETTINGS
@given(edge_scenarios())
def test_any_document_the_validator_accepts_scores_on_every_path(scenario):
    # Given a document with numbers, names and sizes at the edges of the validator's bounds (or one
    # past them), and leads and events from as_of back to ten years before it,
    data, leads, events = scenario
    try:
        parse_document(copy.deepcopy(data))
    except DocumentError as exc:
        event(f"refused: {exc.errors[0].split(': ', 1)[0].split('[')[0]}")
        return  # refused: nothing to score (the refusals themselves are pinned in test_document.py)
    # when the validator accepts it, then the bulk SQL path scores every lead without an error and
    # agrees with the single-lead path.
    event("accepted")
    tolerance = 1e-9 if data["half_life_days"] is None else 0.01
    bulk, single = bulk_and_single(data, leads, events, AS_OF)
    assert set(bulk) == set(single) == {r["id"] for r in leads}
    problems = []
    for lead_id in sorted(single):
        problems += [f"{lead_id}: {d}" for d in differences(bulk[lead_id], single[lead_id], tolerance)]
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_the_largest_document_allowed_scores_on_every_path():
    # Given the document at the edges of every limit at once (100 criteria, 20 decay rules and
    # 20 segments, 5,000 field tests and values, the largest numbers) and leads that match it,
    data = edge_document()
    leads = [
        {"id": "L0", "created_at": stamp(AS_OF - timedelta(days=3700), UTC), "industry": "7", "title": "x"},
        {"id": "L1", "created_at": stamp(AS_OF, UTC), "attributes": {"société": "É", "x\ny": 1e15}},
    ]
    events = [
        {"id": f"E{i}", "lead": "L0", "kind": "page_view", "occurred_at": stamp(AS_OF - timedelta(days=age), UTC),
         "properties": {"société": 10**15}}
        for i, age in enumerate([0, 1, 1100, 3650])
    ]  # fmt: skip
    # when scored by the bulk path and the single-lead path, then both score every lead, alike.
    bulk, single = bulk_and_single(data, leads, events, AS_OF)
    assert set(bulk) == set(single) == {"L0", "L1"}
    problems = [f"{k}: {d}" for k in single for d in differences(bulk[k], single[k], 0.01)]
    assert not problems, "\n".join(problems)
    assert single["L0"]["fit"] == Decimal(-98_000) and single["L1"]["fit"] == Decimal(-1000 + 1)


@pytest.mark.django_db
@SCENARIO_SETTINGS
@given(decaying_scenarios())
def test_lines_add_up_exactly_to_the_score_with_half_life(scenario):
    # Given a model with half-life decay (every engagement line a fraction of a cent off a whole cent)
    data, leads, events, as_of = scenario
    # When each lead is scored on the bulk path (stored) and on the single-lead path (explained)
    bulk, single = bulk_and_single(data, leads, events, as_of)
    # Then on both paths the lines shown add up exactly to the score shown, and the paths agree
    for path, lines in (("bulk", bulk), ("single", single)):
        for lead_id, line in lines.items():
            total = sum((Decimal(str(x["points"])) for x in line["breakdown"]), Decimal(0))
            assert total == Decimal(str(line["score"])), f"{path} {lead_id}: lines {total}, score {line['score']}"
            assert all(Decimal(str(x["points"])) == round(Decimal(str(x["points"])), 2) for x in line["breakdown"])
    for lead_id in single:
        assert not differences(bulk[lead_id], single[lead_id], 1e-9), lead_id
