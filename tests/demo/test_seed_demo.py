"""`manage.py seed_demo`: a believable, deterministic demo workspace built through the services.

Given an empty database, when seed_demo runs with small sizes and a fixed --now, then it holds
exactly the leads asked for with a plausible year (here 90 days) of events, both demo models are
published and score every lead, and the MQL/SQL history is consistent and true to the engine.
The same seed and --now give the same data; another seed gives other data; --if-empty on a
workspace that has leads adds nothing.

The tests run inside a rolled-back transaction (no transaction=True): the publishes' rescore
jobs are sent on commit, and these tests must not drop messages into the demo's broker folder.
"""

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from engine.document import parse_document
from leads.models import Event, Lead
from matrix.choices import VersionStatus
from matrix.models import ModelVersion, ScoringModel
from scoring.choices import JobState, JobTrigger, RejectReason, Stage
from scoring.jobs import rescore_job_plan
from scoring.models import LeadStage, RescoreJob, Score, StageTransition
from scoring.selectors import lead_explain

NOW = "2025-06-01T12:00:00+00:00"
NOW_DT = datetime(2025, 6, 1, 12, tzinfo=UTC)
LEADS = 150
DAYS = 90
SLUGS = {"new-business", "upsell"}

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--leads", str(LEADS), "--days", str(DAYS), "--now", NOW, *args, stdout=out)
    return out.getvalue()


def wipe() -> None:
    Lead.objects.all().delete()
    ScoringModel.objects.all().delete()


def data_digest() -> str:
    """One hash of every lead, event, score and lifecycle row, independent of primary keys."""
    h = hashlib.sha256()
    for row in Lead.objects.order_by("external_id").values_list(
        "external_id", "email", "first_name", "last_name", "company", "title", "industry", "country",
        "employees", "annual_revenue", "lead_source", "owner__username", "created_at", "attributes",
    ):  # fmt: skip
        h.update(json.dumps(row, sort_keys=True, default=str).encode())
    for row in Event.objects.order_by("lead__external_id", "external_id").values_list(
        "lead__external_id", "external_id", "kind", "occurred_at", "properties"
    ):
        h.update(json.dumps(row, sort_keys=True, default=str).encode())
    for row in Score.objects.order_by("lead__external_id", "scoring_model__slug").values_list(
        "lead__external_id", "scoring_model__slug", "score", "fit", "engagement", "tier", "grade", "mql"
    ):
        h.update(json.dumps(row, default=str).encode())
    for row in LeadStage.objects.order_by("lead__external_id", "scoring_model__slug").values_list(
        "lead__external_id", "scoring_model__slug", "stage", "mql_at", "mql_score", "accepted_at",
        "rejected_at", "reject_reason", "reject_text", "changed_by__username", "changed_at",
    ):  # fmt: skip
        h.update(json.dumps(row, default=str).encode())
    return h.hexdigest()


# --- sizes and shape ------------------------------------------------------------------------------


def test_sizes_follow_the_flags_and_events_are_plausible():
    out = seed()

    assert Lead.objects.count() == LEADS
    events = Event.objects.count()
    assert LEADS * 5 <= events <= LEADS * 80, events
    assert f"leads: {LEADS} (0 rejected)" in out
    assert f"events: {events} (0 rejected)" in out
    assert "timing:" in out

    start = NOW_DT - timedelta(days=DAYS)
    for created in Lead.objects.values_list("created_at", flat=True):
        assert start <= created <= NOW_DT
    # Every event lies in the window, after its lead was created, and has an id.
    assert not Event.objects.filter(occurred_at__gt=NOW_DT).exists()
    assert not Event.objects.filter(external_id__isnull=True).exists()
    for occurred, created in Event.objects.values_list("occurred_at", "lead__created_at"):
        assert created <= occurred


def test_leads_look_like_a_b2b_funnel():
    seed()

    leads = list(Lead.objects.select_related("owner"))
    assert {lead.owner.username for lead in leads} == {"rep", "rep2", "rep3"}
    assert {"Software", "Finance"} <= {lead.industry for lead in leads}
    assert {lead.lead_source for lead in leads} <= {"organic", "paid", "webinar", "referral", "trade_show", "partner"}
    assert len({lead.lead_source for lead in leads}) >= 5
    assert all(lead.employees and lead.employees > 0 for lead in leads)
    assert all({"budget_confirmed", "plan", "product_interest"} <= set(lead.attributes) for lead in leads)
    assert len({lead.email for lead in leads}) == LEADS

    kinds = set(Event.objects.values_list("kind", flat=True))
    assert {
        "page_view",
        "email_sent",
        "email_open",
        "content_download",
        "form_submit",
        "feature_used",
    } <= kinds
    urls = {p.get("url", "") for p in Event.objects.filter(kind="page_view").values_list("properties", flat=True)}
    assert any(u.startswith("/blog/") for u in urls) and "/pricing" in urls


def test_opens_and_clicks_answer_a_send_of_the_same_lead():
    seed()

    sends = set(Event.objects.filter(kind="email_sent").values_list("lead_id", "properties__message_id").order_by())
    responses = list(
        Event.objects.filter(kind__in=["email_open", "email_click"])
        .values_list("lead_id", "properties__message_id")
        .order_by()
    )
    assert responses
    assert all(r in sends for r in responses)
    opened = {r for r in responses}
    # Most sends are never opened (the unanswered-email decay has something to bite on).
    assert len(sends - opened) > len(sends) / 2


# --- determinism ----------------------------------------------------------------------------------


def test_same_seed_and_now_give_identical_data_and_another_seed_differs():
    seed()
    first = data_digest()
    wipe()

    seed()
    assert data_digest() == first
    wipe()

    seed("--seed", "7")
    assert data_digest() != first


# --- models and scores ----------------------------------------------------------------------------


def test_both_models_are_published_and_every_lead_has_a_score_for_each():
    seed()

    assert set(ScoringModel.objects.values_list("slug", flat=True)) == SLUGS
    for model in ScoringModel.objects.all():
        live = ModelVersion.objects.filter(scoring_model=model, status=VersionStatus.PUBLISHED)
        assert live.count() == 1
        scores = Score.objects.filter(scoring_model=model)
        assert scores.count() == LEADS
        assert set(scores.values_list("version_id", flat=True)) == {live.get().pk}
        assert set(scores.values_list("as_of", flat=True)) == {NOW_DT}
    assert Score.objects.filter(mql=True).exists()


def test_the_publishes_rescore_jobs_are_done_by_the_seeding_so_none_waits_for_a_worker():
    # Given a fresh workspace, when seed_demo publishes both models and scores every lead
    seed()
    # then each publish's rescore job is recorded done, as of the seeding's now, over every lead
    jobs = RescoreJob.objects.order_by("pk")
    assert [(j.trigger, j.state, j.as_of, j.total_leads, j.leads_done) for j in jobs] == [
        (JobTrigger.PUBLISH, JobState.DONE, NOW_DT, LEADS, LEADS)
    ] * 2
    assert all(j.chunks_done == j.chunks_total > 0 and j.finished_at for j in jobs)
    # and a worker that still receives their messages has nothing to do and rescores nothing
    scores = list(Score.objects.order_by("pk").values_list("pk", "as_of"))
    assert [rescore_job_plan(job_id=j.pk) for j in jobs] == [[], []]
    assert list(Score.objects.order_by("pk").values_list("pk", "as_of")) == scores


def test_the_upsell_fixture_is_valid_and_shaped_like_the_main_model():
    from demo.generator import FIXTURES

    upsell = json.loads((FIXTURES / "upsell.json").read_text())
    main = json.loads((FIXTURES / "b2b-saas.json").read_text())
    spec = parse_document(upsell)

    assert spec.slug == "upsell"
    assert set(upsell) == set(main)
    for dimension in ("fit", "engagement"):
        keys = {frozenset(c) for c in main["criteria"] if c["dimension"] == dimension}
        assert {frozenset(c) for c in upsell["criteria"] if c["dimension"] == dimension} <= keys
    kinds = {k for c in spec.engagement_criteria for k in c.events}
    assert {"feature_used", "seat_limit_reached", "pricing_view", "support_ticket", "webinar_attended"} <= kinds
    assert len(spec.segments) == 2 and spec.decay


def test_score_history_is_a_realistic_past_true_to_the_engine():
    """Given the seeded demo, the history holds the scores of the past weeks (not only the seeding),
    each what the engine says at its instant, none before its lead existed, and the stored score
    and "Since yesterday" read from it."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from demo.generator import history_instants
    from scoring.models import ScoreHistory
    from scoring.selectors import leads_prioritized

    seed()

    instants = history_instants(now=NOW_DT, days=DAYS)
    assert NOW_DT - timedelta(days=60) >= instants[0] and instants[-1] == NOW_DT - timedelta(days=1)
    rows = ScoreHistory.objects.select_related("lead")
    assert set(rows.values_list("as_of", flat=True)) == {*instants, NOW_DT}
    # Scores move: most leads under each model have several history points.
    per_lead = rows.values("lead_id", "scoring_model_id").annotate(n=Count("id")).values_list("n", flat=True)
    per_lead = list(per_lead)
    assert sorted(per_lead)[len(per_lead) // 2] >= 2 and sum(n >= 4 for n in per_lead) >= len(per_lead) / 4, per_lead
    versions = {v.scoring_model_id: v for v in ModelVersion.objects.filter(status=VersionStatus.PUBLISHED)}
    for row in rows.order_by("lead__external_id", "scoring_model_id", "as_of")[:: max(1, rows.count() // 150)]:
        assert row.lead.created_at <= row.as_of
        result = lead_explain(lead=row.lead, version=versions[row.scoring_model_id], as_of=row.as_of)
        assert (result.score, result.tier, result.mql) == (row.score, row.tier, row.mql), row.pk
    # The latest history row of a lead is its stored score.
    for score in Score.objects.all()[:50]:
        latest = rows.filter(lead_id=score.lead_id, scoring_model_id=score.scoring_model_id).latest("as_of", "id")
        assert (latest.score, latest.tier) == (score.score, score.tier)
    # "Since yesterday" has a value for the leads that existed a day before now.
    manager = get_user_model().objects.get(username="manager")
    listed = leads_prioritized(user=manager, model=ScoringModel.objects.get(slug="upsell"), now=NOW_DT)
    changes = [lead.change for lead in listed if lead.created_at <= NOW_DT - timedelta(days=1)]
    assert changes and all(change is not None for change in changes)
    assert any(change != 0 for change in changes)


# --- lifecycle ------------------------------------------------------------------------------------


def test_lifecycle_rows_are_consistent_and_true_to_the_engine():
    seed()

    stages = list(LeadStage.objects.select_related("lead", "lead__owner", "scoring_model", "mql_version"))
    assert stages
    seen = {s.stage for s in stages}
    assert {Stage.MQL, Stage.SQL, Stage.REJECTED} <= seen, seen
    for s in stages:
        lead = s.lead
        transitions = list(
            StageTransition.objects.filter(lead=lead, scoring_model=s.scoring_model).order_by("occurred_at", "id")
        )
        assert transitions, s
        assert transitions[0].from_stage == Stage.LEAD
        assert [t.from_stage for t in transitions[1:]] == [t.to_stage for t in transitions[:-1]]
        assert transitions[-1].to_stage == s.stage
        assert s.changed_at == transitions[-1].occurred_at
        for t in transitions:
            assert lead.created_at <= t.occurred_at <= NOW_DT
            # Sales decisions are the owner's; the MQL crossing is recorded by the system.
            assert t.actor_id == (None if t.to_stage == Stage.MQL else lead.owner_id)
        if s.mql_at is not None:
            assert lead.created_at <= s.mql_at <= NOW_DT
            # The recorded MQL is what the engine says at that instant.
            result = lead_explain(lead=lead, version=s.mql_version, as_of=s.mql_at)
            assert result.mql and result.score == s.mql_score
            assert transitions[0].to_stage == Stage.MQL and transitions[0].score == s.mql_score
        else:
            # Straight to SQL (referrals, partner introductions), never an MQL.
            assert [t.to_stage for t in transitions] == [Stage.SQL] and s.stage == Stage.SQL
        if s.accepted_at and s.mql_at:
            assert s.accepted_at > s.mql_at
        if s.stage in (Stage.REJECTED, Stage.RECYCLED):
            assert s.rejected_at > s.mql_at
            assert s.reject_reason in RejectReason.values
            if s.reject_reason == RejectReason.OTHER:
                assert s.reject_text
    # Every lead that is MQL now has its funnel row.
    for score in Score.objects.filter(mql=True):
        assert LeadStage.objects.filter(lead_id=score.lead_id, scoring_model_id=score.scoring_model_id).exists()


# --- command behaviour ----------------------------------------------------------------------------


def test_if_empty_on_a_workspace_with_leads_adds_nothing():
    seed()
    counts = (Lead.objects.count(), Event.objects.count(), Score.objects.count(), LeadStage.objects.count())
    versions = ModelVersion.objects.count()

    out = seed("--if-empty")

    assert "already exist" in out
    assert (Lead.objects.count(), Event.objects.count(), Score.objects.count(), LeadStage.objects.count()) == counts
    assert ModelVersion.objects.count() == versions
    with pytest.raises(CommandError, match="already exist"):
        seed()


def test_if_empty_on_an_empty_workspace_seeds_and_demo_users_exist_either_way():
    from django.contrib.auth import get_user_model

    seed("--if-empty")

    assert Lead.objects.count() == LEADS
    assert {"rep", "rep2", "rep3", "manager"} <= set(get_user_model().objects.values_list("username", flat=True))


@pytest.mark.parametrize("value", ["2999-01-01T00:00:00Z", "2025-06-01T12:00:00", "yesterday"])
def test_now_must_be_a_past_instant_with_an_offset(value):
    with pytest.raises(CommandError, match="--now"):
        call_command("seed_demo", "--leads", "5", "--now", value, stdout=io.StringIO())
    assert not Lead.objects.exists()


@pytest.mark.parametrize("name", ["b2b-saas.json", "upsell.json"])
def test_every_rule_of_the_demo_models_has_a_label_people_read(name):
    """The lead page and the model page name decay lines by their label; without one they fell
    back to the key ("no-social", "unopened-email")."""
    from demo.generator import FIXTURES

    spec = parse_document(json.loads((FIXTURES / name).read_text()))
    rules = [*spec.criteria, *spec.decay, *spec.segments]
    assert rules and all(rule.label and rule.label != rule.key for rule in rules)
    # One spelling, as the pages' event words ("an e-mail sent")
    assert not [rule.label for rule in rules if "email" in rule.label.lower()]
