"""Rescoring from stored counts (engine/reuse.py) gives what counting afresh gives.

Given leads and events scored by a version v1 at as_of t1 (the bulk path, which stores each score's
basis and the instant it holds until), when v2 (v1 with other points, floor, thresholds or grades)
rescores them at t2 >= t1 with reuse on, then every lead's score, tier, grade, MQL and breakdown
equal the single-lead path's at t2, whether its counts were reused or recounted (an event left
the lookback, a window moved, a decay step passed, an event arrived, the lead was edited...).
"""

import copy
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from engine.document import parse_document, structure_key
from engine.reuse import compile_reuse
from engine.sql import dialect_for
from leads.models import Event, Lead
from leads.services import events_ingest, leads_import
from matrix.selectors import version_spec, versions_reusable
from scoring.models import Score, ScoreHistory
from scoring.selectors import lead_explain
from scoring.services import leads_rescore, scoring_mark_pending
from scoring.statements import engine_tables
from tests.engine.test_engine_properties import SCENARIO_SETTINGS, event_rows, lead_rows, model_documents
from tests.matrix.helpers import (
    AS_OF,
    ago,
    differences,
    doc,
    make_event,
    make_lead,
    publish,
    result_line,
    stored_line,
)

STEPS = [timedelta(0), timedelta(seconds=1), timedelta(hours=1), timedelta(hours=13), timedelta(days=3)]


def all_leads() -> tuple[int, int]:
    pks = list(Lead.objects.values_list("pk", flat=True))
    return min(pks), max(pks)


def reusable_count(version, as_of) -> int:
    """How many leads the reuse statement would score from their stored counts."""
    spec = version_spec(version=version)
    sources = versions_reusable(version=version, spec=spec)
    if not sources:
        return 0
    compiled = compile_reuse(
        spec,
        dialect_for(connection),
        as_of,
        tables=engine_tables(),
        model_id=version.scoring_model_id,
        sources=sources,
        id_range=all_leads(),
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({compiled.sql}) AS r", compiled.params)
        return cursor.fetchone()[0]


def stored_lines(version) -> dict[str, dict]:
    scores = Score.objects.filter(scoring_model_id=version.scoring_model_id).select_related("lead", "breakdown_row")
    return {s.lead.external_id: stored_line(s) for s in scores}


def expected_lines(version, as_of) -> dict[str, dict]:
    return {
        lead.external_id: result_line(lead_explain(lead=lead, version=version, as_of=as_of))
        for lead in Lead.objects.select_related("owner")
    }


@st.composite
def repointed(draw, data):
    """The same model with other points, floor, thresholds and grades: what reuse may change."""
    new = copy.deepcopy(data)
    for c in new["criteria"]:
        if draw(st.booleans()):
            c["points"] = draw(st.integers(-30, 60))
    for r in new["decay"]:
        if draw(st.booleans()):
            r["points"] = draw(st.integers(-20, -1))
    floor = draw(st.sampled_from(["same", "absent", None, 0, -15, 10, 2.5]))
    if floor == "absent":
        new.pop("engagement_floor", None)
    elif floor != "same":
        new["engagement_floor"] = floor
    for s in new["segments"]:
        if draw(st.booleans()):
            warm = draw(st.integers(-10, 40))
            s["thresholds"] = {"warm": warm, "hot": warm + draw(st.integers(0, 40)), "mql": draw(st.integers(0, 60))}
    return new


@st.composite
def scenarios(draw, change=repointed):
    """A model and a `change` of it, leads, their events, events arriving later, a time step, and
    whether the first version rescores itself once between."""
    data = draw(model_documents())
    data["half_life_days"] = None  # half-life scores are never reused (structure_key is None)
    leads = draw(lead_rows())
    events = draw(event_rows([r["id"] for r in leads], data["lookback_days"]))
    later = draw(events_after(leads))
    return data, draw(change(data)), leads, events, later, draw(st.sampled_from(STEPS)), draw(st.booleans())


@st.composite
def events_after(draw, leads):
    """Events arriving after the first scoring, for some leads (they wait in the real-time queue)."""
    return draw(st.lists(st.sampled_from([r["id"] for r in leads]), max_size=2))


def rescored_with_reuse(scenario):
    """Given leads and events scored by v1 at t1 (the bulk path, which stores the basis), maybe v1
    again later reusing (the nightly decay), and events arriving since for some leads (queued for
    real-time scoring): v2 rescores them at t2 with reuse on. Returns v2 and t2."""
    data, data2, leads, events, later, step, twice = scenario
    v1 = publish(data)
    report, _ = leads_import(rows=list(enumerate(leads, start=1)))
    assert not report.rejected
    report, _ = events_ingest(rows=list(enumerate(events, start=1)))
    assert not report.rejected
    leads_rescore(version=v1, as_of=AS_OF, id_range=all_leads())
    if twice:
        leads_rescore(version=v1, as_of=AS_OF + step / 2, id_range=all_leads(), reuse=True)
    arrived = [
        {"id": f"N{i}", "lead": lead, "kind": "page_view", "occurred_at": AS_OF.isoformat(), "properties": {}}
        for i, lead in enumerate(later)
    ]
    _, touched = events_ingest(rows=list(enumerate(arrived, start=1)))
    scoring_mark_pending(lead_ids=touched)
    v2 = publish(data2)
    as_of = AS_OF + step
    leads_rescore(version=v2, as_of=as_of, id_range=all_leads(), reuse=True)
    return v2, as_of


def assert_counted_afresh(version, as_of) -> None:
    """Every lead's stored score and lines are those the single-lead path counts afresh."""
    got, want = stored_lines(version), expected_lines(version, as_of)
    assert set(got) == set(want)
    problems = [f"{lead} {d}" for lead in sorted(want) for d in differences(got[lead], want[lead])]
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
@SCENARIO_SETTINGS
@given(scenarios())
def test_reused_counts_give_the_scores_of_a_fresh_count(scenario):
    parse_document(scenario[1])
    with transaction.atomic():
        # Given leads and events scored by v1, when v2 (other points) rescores them reusing counts
        v2, as_of = rescored_with_reuse(scenario)
        # Then every lead has the score counting afresh gives
        assert_counted_afresh(v2, as_of)
        transaction.set_rollback(True)


# --- what is reused, and what is not -----------------------------------------------------------------


def pricing_model(points=10, **changes):
    data = doc(
        criteria=[
            {
                "key": "saas",
                "label": "SaaS",
                "dimension": "fit",
                "when": {"field": "industry", "op": "eq", "value": "SaaS"},
                "points": 15,
            },
            {
                "key": "pricing",
                "label": "Pricing page",
                "dimension": "engagement",
                "event": "page_view",
                "where": {"field": "url", "op": "contains", "value": "/pricing"},
                "points": points,
                "cap": 3,
                "cap_window_days": 7,
            },
        ],
        decay=[
            {"key": "idle", "label": "Idle", "type": "inactivity_step", "events": None, "every_days": 10, "points": -2}
        ],
        lookback_days=30,
    )
    data.update(changes)
    return data


def pricing_lead(*, docs_days=()):
    """A lead with three pricing visits (2, 5 and 20 days before AS_OF) and docs visits `docs_days`
    days before it, scored by v1 (`pricing_model`) at AS_OF."""
    v1 = publish(pricing_model())
    lead = make_lead(industry="SaaS")
    for days in (2, 5, 20):
        make_event(lead, "page_view", ago(days), url="/pricing")
    for days in docs_days:
        make_event(lead, "page_view", ago(days), url="/docs/start")
    leads_rescore(version=v1, as_of=AS_OF, id_range=all_leads())
    return lead


@pytest.fixture
def scored():
    return pricing_lead()


@pytest.mark.django_db
def test_a_points_change_is_scored_without_reading_events(scored):
    # Given the lead scored by v1 (3 visits x 10, idle 2 days)
    # When its events are gone from the table (so only the stored counts can give them back)
    # and v2 (15 a visit) rescores at the same as_of
    Event.objects.all().delete()
    v2 = publish(pricing_model(points=15))
    leads_rescore(version=v2, as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then the score counts the three visits at the new points, with their ids
    score = Score.objects.get(lead=scored)
    assert (score.fit, score.engagement, score.score) == (15, 45, 60)
    [fit, visits] = score.breakdown
    assert (visits["key"], visits["points"], visits["count"], len(visits["events"])) == ("pricing", 45.0, 3, 3)


@pytest.mark.django_db
def test_a_chunk_read_back_whole_is_written_from_its_computed_rows_without_a_copy():
    # Given two leads scored by v1, one with pricing visits and one without
    with_visits, without = pricing_lead(), make_lead(industry="Retail")
    v1 = Score.objects.get(lead=with_visits).version
    leads_rescore(version=v1, as_of=AS_OF, id_range=all_leads())
    # When v2 (15 a visit) rescores the chunk, every stored count still holding
    v2 = publish(pricing_model(points=15))
    with CaptureQueriesContext(connection) as queries:
        leads_rescore(version=v2, as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then no table of the rows to write is made: the writes read the rows computed from the counts
    assert not [q for q in queries if "tmp_changes_" in q["sql"]]
    # and both scores are v2's, the one with visits moved and its history written
    scores = {s.lead_id: s for s in Score.objects.all()}
    assert {s.version_id for s in scores.values()} == {v2.pk}
    assert (scores[with_visits.pk].engagement, scores[without.pk].engagement) == (45, 0)
    history = ScoreHistory.objects.filter(lead=with_visits).order_by("id")
    assert list(history.values_list("engagement", flat=True)) == [30, 45]


@pytest.mark.django_db
def test_a_points_change_leaves_the_stored_lines_and_readers_price_them(scored, tmp_path):
    # Given the lead's stored lines as v1 (10 a visit) wrote them
    def stored_text() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT lines FROM scoring_scorebreakdown")
            [(text,)] = cursor.fetchall()
            return text

    before = stored_text()
    # When v2 (15 a visit) rescores reusing the counts
    v2 = publish(pricing_model(points=15))
    leads_rescore(version=v2, as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then the stored text is untouched, and every reader sees v2's points summing to the score
    assert stored_text() == before
    score = Score.objects.select_related("version", "breakdown_row").get(lead=scored)
    assert score.version_id == v2.pk
    want = [("saas", 15.0), ("pricing", 45.0)]
    assert [(x["key"], x["points"]) for x in score.breakdown] == want
    assert sum(x["points"] for x in score.breakdown) == score.score
    out = tmp_path / "scores.jsonl"
    call_command("export_scores", "--output", str(out))
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(x["key"], x["points"]) for x in line["breakdown"]] == want


@pytest.mark.django_db
def test_counts_are_recounted_once_they_no_longer_hold(scored):
    # Given the stored counts hold until the first of: the idle step (+ 8 d), the oldest visit
    # leaving the 30-day lookback (+ 10 d). The three visits never exceed the cap of 3, so
    # however the 7-day windows fall, all three count: their moves are no bound.
    v2 = publish(pricing_model(points=15))
    bound = Score.objects.get(lead=scored).stable_until
    assert bound == AS_OF + timedelta(days=8)
    # Then just before it the counts are reused, and from it (less a second) they are not
    assert reusable_count(v2, bound - timedelta(seconds=2)) == 1
    assert reusable_count(v2, bound - timedelta(seconds=1)) == 0
    assert reusable_count(v2, bound + timedelta(days=1)) == 0


@pytest.mark.django_db
def test_a_capped_criterion_holds_until_one_of_its_events_moves_window():
    # Given three visits (2, 5 and 20 days old) scored under a cap of 2 a week: the counts hold
    # until the first of them moves to its next 7-day window, the 20-day-old one (+ 1 d), which
    # could put one visit more under the cap
    data = pricing_model()
    data["criteria"][1]["cap"] = 2
    v1 = publish(data)
    lead = make_lead(industry="SaaS")
    for days in (2, 5, 20):
        make_event(lead, "page_view", ago(days), url="/pricing")
    leads_rescore(version=v1, as_of=AS_OF, id_range=all_leads())
    assert Score.objects.get(lead=lead).stable_until == ago(20) + timedelta(days=21)


@pytest.mark.django_db
def test_an_edited_lead_is_recounted(scored):
    v2 = publish(pricing_model(points=15))
    assert reusable_count(v2, AS_OF) == 1
    # When the lead is edited after its score was computed
    Lead.objects.filter(pk=scored.pk).update(industry="Retail", updated_at=AS_OF + timedelta(days=400))
    # Then its counts are not reused: the fit condition may hold no more
    assert reusable_count(v2, AS_OF) == 0
    leads_rescore(version=v2, as_of=AS_OF, id_range=all_leads(), reuse=True)
    assert Score.objects.get(lead=scored).fit == 0


@pytest.mark.django_db
def test_a_lead_with_events_waiting_is_recounted(scored):
    v2 = publish(pricing_model(points=15))
    # When a new visit is stored and the lead waits for real-time scoring
    make_event(scored, "page_view", ago(1), url="/pricing")
    scoring_mark_pending(lead_ids=[scored.pk])
    # Then the rescore counts its events afresh (the 1- and 2-day-old visits share a window: cap 3)
    assert reusable_count(v2, AS_OF) == 0
    leads_rescore(version=v2, as_of=AS_OF, id_range=all_leads(), reuse=True)
    assert Score.objects.get(lead=scored).engagement == 60


@pytest.mark.django_db
def test_other_conditions_are_recounted(scored):
    # Given v2 changes what counts (the cap), not only points
    v2 = publish(pricing_model(points=15, lookback_days=60))
    # Then v1's counts are not reused (only v2's own, of which there are none yet)
    assert list(versions_reusable(version=v2, spec=version_spec(version=v2))) == [v2.pk]
    assert reusable_count(v2, AS_OF) == 0


def test_half_life_and_owner_conditions_are_never_reused():
    assert structure_key(parse_document(pricing_model())) is not None
    assert structure_key(parse_document(pricing_model(half_life_days=7))) is None
    owned = pricing_model()
    owned["criteria"][0]["when"] = {"not": {"field": "owner", "op": "is_empty"}}
    assert structure_key(parse_document(owned)) is None


@pytest.mark.django_db
@pytest.mark.parametrize("looked_up", ["one by one", "by index", "in the range"])
def test_a_chunk_mixes_reused_and_recounted_leads(scored, monkeypatch, looked_up):
    # Given a second lead, scored with the first, that then gets an event and waits for scoring
    other = make_lead(industry="Retail")
    make_event(other, "page_view", ago(3), url="/pricing")
    v1 = Score.objects.get(lead=scored).version
    leads_rescore(version=v1, as_of=AS_OF, id_range=all_leads())
    make_event(other, "page_view", ago(1), url="/pricing")
    scoring_mark_pending(lead_ids=[other.pk])
    if looked_up != "one by one":  # as when more leads than SMALL_RECOUNT are counted afresh
        monkeypatch.setattr("scoring.services.SMALL_RECOUNT", 0)
        # one lead of the two is few of the range when one in a single lead is
        monkeypatch.setattr("scoring.services.FEW_OF_RANGE", 1 if looked_up == "by index" else 10**9)
    # When v2 rescores both
    v2 = publish(pricing_model(points=15))
    assert reusable_count(v2, AS_OF) == 1
    with CaptureQueriesContext(connection) as queries:
        leads_rescore(version=v2, as_of=AS_OF, id_range=all_leads(), reuse=True)
    if connection.vendor == "postgresql":
        keys = [q for q in queries if "= ANY(ARRAY(SELECT lead_id FROM tmp_todo" in q["sql"]]
        assert bool(keys) == (looked_up == "by index")
    # Then the first is reused and the second counted with its new visit, both on v2
    scores = {s.lead_id: s for s in Score.objects.select_related("breakdown_row")}
    assert {s.version_id for s in scores.values()} == {v2.pk}
    assert (scores[scored.pk].engagement, scores[other.pk].engagement) == (45, 30)
    assert scores[other.pk].breakdown[0]["count"] == 2
