"""The workshop services (matrix/workshop.py): scenarios saved with a model and scored on the
single-lead path, and the impact preview of a draft computed set-based and checked here against
an independent single-path computation of every lead."""

import copy
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from leads.models import Lead
from leads.services import events_ingest, leads_import
from matrix.choices import PreviewState
from matrix.forms_workshop import parse_actions, parse_buyer
from matrix.models import Scenario
from matrix.services import model_draft_update, model_import
from matrix.workshop import ScenarioError, scenario_create, scenario_delete, scenario_score, scenario_update
from scoring.impact import impact_preview_request, impact_preview_run
from scoring.jobs import model_version_publish
from scoring.models import ImpactPreview, Score
from scoring.selectors import lead_explain
from scoring.services import leads_rescore
from tests.leads.workspace_data import model_document, workspace_build

pytestmark = pytest.mark.django_db


def draft_document() -> dict:
    """The workspace model with a cheaper demo, a dearer webinar and a lower mid-market bar."""
    data = model_document()
    by_key = {c["key"]: c for c in data["criteria"]}
    by_key["demo-request"]["points"] = 30
    by_key["webinar"]["points"] = 40
    data["segments"][1]["thresholds"] = {"warm": 30, "hot": 55, "mql": 45}
    return data


@pytest.fixture
def ws(personas):
    ws = workspace_build(rep=personas["rep"], rep2=personas["rep2"])
    ws.draft = model_import(data=draft_document(), note="workshop draft")
    return ws


VP_BUYER = {"title": "VP Marketing", "industry": "Software", "employees": 200, "country": "US", "created_days_ago": 100}
VP_ACTIONS = [
    {"kind": "page_view", "days_ago": 1, "properties": {"url": "/pricing"}},
    {"kind": "demo_request", "days_ago": 1.25, "properties": {}},
]


# --- validation ------------------------------------------------------------------------------------


def test_scenario_errors_name_the_bad_field(ws, marketer):
    # Given a buyer with an unknown field and a text head count, and actions with a negative
    # days_ago, an empty kind and an unknown key
    lead = {"title": "VP", "employees": "many", "colour": "blue", "attributes": {"plan": {"nested": 1}}}
    events = [
        {"kind": "page_view", "days_ago": -2, "properties": {}},
        {"kind": " ", "days_ago": 1},
        {"kind": "webinar_attended", "days_ago": 3, "when": "yesterday"},
    ]
    # When it is saved, then nothing is stored and every problem is named by its field
    with pytest.raises(ScenarioError) as caught:
        scenario_create(scoring_model=ws.scoring_model, name="Bad", lead=lead, events=events, user=marketer)
    assert caught.value.errors == [
        "lead.employees: must be a number",
        "lead.colour: unknown field (use one of email, first_name, last_name, company, title, industry, country, "
        "lead_source, owner, employees, annual_revenue, or attributes.<name>)",
        "lead.attributes.plan: must be text, a number, true/false or a list of those",
        "events[0].days_ago: must be a number of days before as_of, from 0 to 36,500",
        "events[1].kind: must not be empty (e.g. page_view, demo_request)",
        "events[2].when: unknown key (an action has kind, days_ago, properties)",
    ]
    assert not Scenario.objects.exists()


@pytest.mark.parametrize("days", [36_501, 1e9, 10**12])
def test_scenario_ages_past_a_century_are_refused_not_scored_into_an_overflow(ws, marketer, days):
    # Given a buyer created, and an action taken, further back than any date the engine can hold
    lead = {"title": "VP", "created_days_ago": days}
    events = [{"kind": "page_view", "days_ago": days}]
    # When it is saved, then both ages are refused by name and nothing is stored
    with pytest.raises(ScenarioError) as caught:
        scenario_create(scoring_model=ws.scoring_model, name="Old", lead=lead, events=events, user=marketer)
    assert caught.value.errors == [
        "lead.created_days_ago: must be a number of days, from 0 to 36,500",
        "events[0].days_ago: must be a number of days before as_of, from 0 to 36,500",
    ]
    assert not Scenario.objects.exists()


def test_scenario_names_are_unique_per_model_and_required(ws, marketer):
    scenario_create(scoring_model=ws.scoring_model, name="VP", lead={}, events=[], user=marketer)
    with pytest.raises(ScenarioError, match="already has a scenario named 'VP'"):
        scenario_create(scoring_model=ws.scoring_model, name=" VP ", lead={}, events=[])
    with pytest.raises(ScenarioError, match="name: must not be empty"):
        scenario_create(scoring_model=ws.scoring_model, name="  ", lead={}, events=[])
    # Another model may use the same name.
    other = model_import(data=model_document(slug="other", name="Other")).scoring_model
    assert scenario_create(scoring_model=other, name="VP", lead={}, events=[]).name == "VP"


def test_update_and_delete(ws, marketer):
    scenario = scenario_create(scoring_model=ws.scoring_model, name="A", lead={}, events=[], user=marketer)
    scenario_create(scoring_model=ws.scoring_model, name="B", lead={}, events=[], user=marketer)
    with pytest.raises(ScenarioError, match="named 'B'"):
        scenario_update(scenario=scenario, name="B", lead={}, events=[])
    updated = scenario_update(scenario=scenario, name="A2", description="d", lead=VP_BUYER, events=VP_ACTIONS)
    assert (updated.name, updated.description, updated.lead, len(updated.events)) == ("A2", "d", VP_BUYER, 2)
    scenario_delete(scenario=updated)
    assert list(Scenario.objects.values_list("name", flat=True)) == ["B"]


def test_the_form_lines_parse_with_line_numbered_errors():
    # Given buyer lines and action lines as an editor types them
    lead, errors = parse_buyer(
        "title=VP Engineering\nemployees=500\n\n# a comment\nattributes.budget_confirmed=true\n"
        "attributes.product_interest=analytics | security\nfoo=bar\nemployees=3\nnonsense"
    )
    assert lead == {
        "title": "VP Engineering",
        "employees": 500,
        "attributes": {"budget_confirmed": True, "product_interest": ["analytics", "security"]},
    }
    assert errors == [
        "line 7: unknown field 'foo' (use email, first_name, last_name, company, title, industry, country, "
        "lead_source, owner, employees, annual_revenue, created_days_ago or attributes.<name>)",
        "line 8: employees is given twice",
        "line 9: expected key=value, e.g. title=VP Sales",
    ]
    events, errors = parse_actions(
        "3 x page_view, 10, url=/blog/roi\npricing, x\n, 3\nwebinar_attended, -1\ndemo_request\n"
        "page_view, 2, url\ndemo_request, 0.5"
    )
    assert events == [{"kind": "page_view", "days_ago": 10, "properties": {"url": "/blog/roi"}}] * 3 + [
        {"kind": "demo_request", "days_ago": 0.5, "properties": {}}
    ]
    assert errors == [
        "line 2: days_ago must be a number, not 'x'",
        "line 3: the kind is empty (e.g. page_view, 3, url=/pricing)",
        "line 4: days_ago must be 0 or more (days before the score's as_of)",
        "line 5: days_ago is missing after 'demo_request' (e.g. demo_request, 3)",
        "line 6: 'url' is not key=value",
    ]


# --- scoring -----------------------------------------------------------------------------------------


def test_a_scenario_scores_like_the_same_lead_on_the_single_path(ws, marketer):
    # Given a scenario describing L-OTHER (VP, Software, 200 people: a pricing visit a day ago,
    # a demo request a little earlier)
    scenario = scenario_create(
        scoring_model=ws.scoring_model, name="VP at a software company", lead=VP_BUYER, events=VP_ACTIONS, user=marketer
    )
    # When it is scored by the live version at the workspace's as_of
    result = scenario_score(scenario=scenario, version=ws.version, as_of=ws.as_of)
    # then it gets what the real lead gets on the single path: 25 + 20 + 50 = 95, hot, A4, MQL
    real = lead_explain(lead=ws.leads["L-OTHER"], version=ws.version, as_of=ws.as_of)
    assert (result.score, result.tier, result.grade, result.segment, result.mql) == (
        real.score, real.tier, real.grade, real.segment, real.mql,
    ) == (Decimal("95.00"), "hot", "A4", "default", True)  # fmt: skip
    assert [(x["key"], x["points"]) for x in result.breakdown] == [(x["key"], x["points"]) for x in real.breakdown]
    # and the breakdown names the scenario's actions by number
    assert next(x for x in result.breakdown if x["key"] == "demo-request")["events"] == ["#2"]


def test_the_draft_and_the_live_version_differ_after_a_points_change(ws, marketer):
    scenario = scenario_create(scoring_model=ws.scoring_model, name="VP", lead=VP_BUYER, events=VP_ACTIONS)
    before = scenario_score(scenario=scenario, version=ws.draft, as_of=ws.as_of)
    assert before.score == Decimal("75.00")  # demo 30 in the draft
    # When the draft's demo request drops to 10 points
    data = draft_document()
    next(c for c in data["criteria"] if c["key"] == "demo-request")["points"] = 10
    draft = model_draft_update(version=ws.draft, data=data, user=marketer, revision=ws.draft.revision)
    # then the draft scores 25 + 20 + 10 = 55 (hot from 55 in the draft's mid-market), live still 95
    after = scenario_score(scenario=scenario, version=draft, as_of=ws.as_of)
    live = scenario_score(scenario=scenario, version=ws.version, as_of=ws.as_of)
    assert (after.score, after.tier, after.mql) == (Decimal("55.00"), "hot", True)
    assert (live.score, live.tier) == (Decimal("95.00"), "hot")
    # A lead created at as_of without actions: no idle time, fit only.
    bare = scenario_create(scoring_model=ws.scoring_model, name="Student", lead={"title": "Student"}, events=[])
    assert scenario_score(scenario=bare, version=ws.version, as_of=ws.as_of).score == Decimal("-20.00")


# --- the impact preview --------------------------------------------------------------------------------

TITLES = ("VP Sales", "Engineer", "Director of Ops", "Student", "Analyst")
INDUSTRIES = ("Software", "Retail", "Software", "Finance")
SIZES = (50, 300, 2500)


def more_leads(ws, n=30, unscored=2):
    """n deterministic leads scored by the live version at as_of, plus some never scored."""

    def iso(days):
        return (ws.as_of - timedelta(days=days)).isoformat()

    rows, events = [], []
    for i in range(n + unscored):
        xid = f"L-X{i:02d}"
        rows.append(
            (i, {"id": xid, "first_name": f"P{i}", "last_name": "Test", "company": f"Co {i}",
                 "title": TITLES[i % 5], "industry": INDUSTRIES[i % 4], "employees": SIZES[i % 3],
                 "created_at": iso(100)})
        )  # fmt: skip
        for k in range(i % 3):
            events.append((xid, "page_view", iso(2 + 11 * k), {"url": "/pricing"}))
        if i % 4 == 0:
            events.append((xid, "demo_request", iso(3), {}))
        if i % 5 == 0:
            events.append((xid, "webinar_attended", iso(1 + i % 40), {}))
        if i % 2:
            events.append((xid, "email_open", iso(4), {"message_id": f"m{i}"}))
    report, touched = leads_import(rows=rows[:n])
    assert not report.rejected
    # Leads that arrived after the last rescore: no live score yet.
    report, _ = leads_import(rows=rows[n:])
    assert not report.rejected
    report, _ = events_ingest(
        rows=[
            (j, {"id": f"E-X{j}", "lead": x, "kind": k, "occurred_at": at, "properties": p})
            for j, (x, k, at, p) in enumerate(events)
        ]
    )
    assert not report.rejected
    leads_rescore(version=ws.version, as_of=ws.as_of, lead_ids=sorted(touched), alerts=False)


def expected_impact(ws, draft):
    """The same comparison lead by lead on the single path, in Python."""
    moves, up, down, movers = Counter(), 0, 0, []
    live = {s.lead_id: s for s in Score.objects.filter(scoring_model=ws.scoring_model)}
    for lead in Lead.objects.select_related("owner"):
        result = lead_explain(lead=lead, version=draft, as_of=ws.as_of)
        old = live.get(lead.pk)
        moves[(result.segment, old.tier if old else "none", result.tier)] += 1
        up += result.mql and not (old and old.mql)
        down += bool(old and old.mql and not result.mql)
        if old is None or old.score != result.score or old.tier != result.tier or old.mql != result.mql:
            delta = result.score - (old.score if old else 0)
            changed_tier = old is None or old.tier != result.tier or old.mql != result.mql
            movers.append((-abs(delta), not changed_tier, lead.external_id, float(delta)))
    return moves, up, down, [(xid, delta) for _, _, xid, delta in sorted(movers)]


def run_preview(ws, user, **kwargs):
    preview = impact_preview_request(version=ws.draft, user=user, as_of=ws.as_of, **kwargs)
    assert impact_preview_run(preview_id=preview.pk) is True
    preview.refresh_from_db()
    assert preview.state == PreviewState.DONE, preview.error
    return preview


def test_impact_counts_agree_with_scoring_every_lead_on_the_single_path(ws, marketer):
    # Given 7 + 30 scored leads and 2 never scored, and a draft that changes points and thresholds
    more_leads(ws)
    # When the impact preview runs
    preview = run_preview(ws, marketer)
    # then its moves per segment, MQL crossings and movers are those of scoring each lead alone
    moves, up, down, movers = expected_impact(ws, ws.draft)
    got = Counter()
    for seg in preview.summary:
        for old, row in seg["moves"].items():
            for new, n in row.items():
                got[(seg["segment"], old, new)] += n
    assert got == moves
    assert (preview.leads_total, preview.mql_up, preview.mql_down) == (39, up, down)
    assert preview.tier_changed == sum(n for (_, old, new), n in moves.items() if old != new)
    assert up > 0 and down > 0 and preview.tier_changed > 0  # the data exercises every count
    assert [(m["external_id"], m["delta"]) for m in preview.movers] == movers
    assert preview.summary[0]["segment"] == "enterprise" and preview.summary[0]["label"] == "Enterprise"


def test_movers_say_why(ws, marketer):
    preview = run_preview(ws, marketer)
    by_lead = {m["external_id"]: m for m in preview.movers}
    # L-HOT: 120 -> 100, the demo request is worth 30 instead of 50
    hot = by_lead["L-HOT"]
    assert (hot["live"], hot["draft"]["score"], hot["draft"]["tier"], hot["delta"]) == (
        {"score": 120.0, "tier": "hot", "mql": True}, 100.0, "hot", -20.0,
    )  # fmt: skip
    assert hot["why"] == [
        {"type": "criterion", "key": "demo-request", "label": "Demo request", "live": 50.0, "draft": 30.0,
         "delta": -20.0}
    ]  # fmt: skip
    # Leads without a demo request or a webinar do not move.
    assert "L-WARM" not in by_lead and "L-FREE" not in by_lead


def test_why_prices_live_lines_made_from_stored_counts_by_their_version(ws, marketer):
    # Given a live version with the demo at 70, applied from the stored counts (lines stay as
    # the first version wrote them, demo 50)
    data = model_document()
    next(c for c in data["criteria"] if c["key"] == "demo-request")["points"] = 70
    live = model_version_publish(version=model_import(data=data))
    lead_ids = Lead.objects.values_list("pk", flat=True)
    leads_rescore(version=live, as_of=ws.as_of, id_range=(min(lead_ids), max(lead_ids)), reuse=True)
    hot = Score.objects.get(lead__external_id="L-HOT")
    stored = {x["key"]: x["points"] for x in hot.breakdown_row.lines}
    assert hot.version_id == live.pk and stored["demo-request"] == 50.0
    # When the draft (demo 30) is previewed
    preview = run_preview(ws, marketer)
    # Then L-HOT's demo line moves from the live version's 70, not the stored 50
    mover = next(m for m in preview.movers if m["external_id"] == "L-HOT")
    assert (mover["live"]["score"], mover["delta"]) == (140.0, -40.0)
    assert [(w["key"], w["live"], w["draft"]) for w in mover["why"]] == [("demo-request", 70.0, 30.0)]


def test_threshold_only_moves_are_explained(ws, marketer):
    # Given a draft that only lowers the mid-market hot line to 10
    data = model_document()
    data["segments"][1]["thresholds"] = {"warm": 5, "hot": 10, "mql": 50}
    ws.draft = model_draft_update(version=ws.draft, data=data, user=marketer, revision=ws.draft.revision)
    preview = run_preview(ws, marketer)
    # then L-FREE (15, cold) turns hot with the same points, and the note says why
    free = next(m for m in preview.movers if m["external_id"] == "L-FREE")
    assert (free["delta"], free["live"]["tier"], free["draft"]["tier"], free["why"]) == (0.0, "cold", "hot", [])
    assert free["notes"] == ["same points; thresholds of Mid-market: warm 30 → 5, hot 60 → 10"]


def test_a_draft_that_only_moves_the_mql_line_lists_the_leads_it_moves_across_it(ws, marketer):
    # Given a draft that only raises the mid-market MQL line from 50 to 200 (no points, no tier line)
    data = model_document()
    data["segments"][1]["thresholds"] = {"warm": 30, "hot": 60, "mql": 200}
    ws.draft = model_draft_update(version=ws.draft, data=data, user=marketer, revision=ws.draft.revision)
    live_mql = set(
        Score.objects.filter(scoring_model=ws.scoring_model, mql=True, segment="default").values_list(
            "lead__external_id", flat=True
        )
    )
    assert live_mql == {"L-HOT", "L-OTHER"}
    # when its impact preview runs
    preview = run_preview(ws, marketer)
    # then the leads that stop being MQL are the movers, with the same score and tier, and say why
    assert (preview.tier_changed, preview.mql_up, preview.mql_down) == (0, 0, 2)
    movers = {m["external_id"]: m for m in preview.movers}
    assert set(movers) == live_mql
    for mover in movers.values():
        assert (mover["delta"], mover["why"], mover["live"]["mql"], mover["draft"]["mql"]) == (0.0, [], True, False)
        assert mover["live"]["tier"] == mover["draft"]["tier"] == "hot"
        assert mover["notes"] == ["same points; thresholds of Mid-market: mql 50 → 200"]


def test_running_twice_does_nothing_the_second_time(ws, marketer, django_assert_num_queries):
    preview = run_preview(ws, marketer)
    finished = preview.finished_at
    # A redelivered task claims nothing (one UPDATE) and changes nothing.
    with django_assert_num_queries(1):
        assert impact_preview_run(preview_id=preview.pk) is False
    preview.refresh_from_db()
    assert (preview.state, preview.finished_at) == (PreviewState.DONE, finished)


def test_requests_reuse_the_preview_of_the_same_revision_and_enqueue_on_commit(
    ws, marketer, saleslead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = impact_preview_request(version=ws.draft, user=marketer)
    assert len(callbacks) == 1 and first.state == PreviewState.QUEUED
    assert (first.revision, first.live_version) == (1, ws.version)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert impact_preview_request(version=ws.draft, user=saleslead) == first
    assert callbacks == []
    # A rerun asks again; an edit of the draft makes a new revision, hence a new preview.
    assert impact_preview_request(version=ws.draft, user=marketer, rerun=True) != first
    draft = model_draft_update(version=ws.draft, data=draft_document(), user=marketer, revision=1)
    second = impact_preview_request(version=draft, user=marketer)
    assert second.revision == 2 and ImpactPreview.objects.count() == 3


def test_only_editors_ask_and_only_for_drafts(ws, rep, marketer):
    with pytest.raises(PermissionDenied):
        impact_preview_request(version=ws.draft, user=rep)
    with pytest.raises(ValueError, match="only a draft is previewed"):
        impact_preview_request(version=ws.version, user=marketer)


def test_a_failure_is_recorded_on_the_preview(ws, marketer, monkeypatch):
    import scoring.impact

    def boom(preview):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(scoring.impact, "_impact_compute", boom)
    preview = impact_preview_request(version=ws.draft, user=marketer)
    assert impact_preview_run(preview_id=preview.pk) is False
    preview.refresh_from_db()
    assert (preview.state, preview.error) == (PreviewState.FAILED, "RuntimeError: the database went away")
    # A failed preview is not reused: asking again queues a fresh one.
    assert impact_preview_request(version=ws.draft, user=marketer) != preview


def test_without_a_live_version_every_lead_is_new(personas, marketer):
    ws = workspace_build(rep=personas["rep"], rep2=personas["rep2"])
    other = copy.deepcopy(model_document(slug="fresh", name="Fresh"))
    draft = model_import(data=other)
    preview = impact_preview_request(version=draft, user=marketer, as_of=ws.as_of)
    impact_preview_run(preview_id=preview.pk)
    preview.refresh_from_db()
    assert preview.live_version is None and preview.leads_total == 7
    assert {old for seg in preview.summary for old in seg["moves"]} == {"none"}
    assert preview.mql_up == 3 and preview.mql_down == 0  # L-HOT, L-MEGA, L-OTHER
    assert all(m["live"] is None and m["notes"] == ["no live score yet"] for m in preview.movers)


def test_the_demo_scenarios_are_valid_and_tell_three_stories(db):
    from datetime import UTC, datetime

    from demo.generator import DEMO_SCENARIOS, demo_documents, demo_scenarios_ensure

    # Given the demo's main model, when its scenarios are ensured twice
    version = model_import(data=demo_documents()[0])
    assert demo_scenarios_ensure(scoring_model=version.scoring_model) == len(DEMO_SCENARIOS) == 3
    assert demo_scenarios_ensure(scoring_model=version.scoring_model) == 0
    # then the VP is a hot MQL (fit 45 + blog 15, pricing 20, webinar 30, demo 50); the student
    # stays cold (fit -15 + 30); the quiet director's 50 engagement points all decayed (fit 25 left)
    as_of = datetime(2026, 6, 1, 12, tzinfo=UTC)
    scored = {
        s.name: scenario_score(scenario=s, version=version, as_of=as_of)
        for s in Scenario.objects.filter(scoring_model=version.scoring_model)
    }
    got = {name: (str(r.score), r.tier, r.mql, r.segment) for name, r in scored.items()}
    assert got == {
        "VP at a 500-person software company": ("160.00", "hot", True, "default"),
        "Student writing a thesis": ("15.00", "cold", False, "default"),
        "Enterprise director gone quiet": ("25.00", "cold", False, "enterprise"),
    }
