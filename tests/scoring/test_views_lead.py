"""The lead page (/leads/<id>/): the breakdown that sums to the stored score, in words.

Given leads scored through the real services (tests/leads/workspace_data.py), when a user opens
a lead, then the page explains the stored Score line by line (the same lines as the Score row
and as `export_scores`), says why each event counted or not, what decay took and why, what is
missing for the next tier, and lets the owner move the lead along the funnel.
"""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from engine import single
from engine.single import EventData, EventNote
from leads.services import events_ingest
from scoring import explain
from scoring.choices import Stage
from scoring.models import LeadStage, Score, StageTransition
from tests.leads.workspace_data import SLUG, workspace_build


@pytest.fixture
def ws(db, personas):
    return workspace_build(rep=personas["rep"], rep2=personas["rep2"])


def page(client, user, lead, **params):
    client.force_login(user)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(f"/leads/{lead.pk}/?{query}")
    assert response.status_code == 200, response.content[:300]
    return response


def text(response) -> str:
    """The page as a person reads it: tags dropped, white space folded."""
    content = re.sub(r"<svg.*?</svg>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", content))


def export_line(tmp_path, lead_id: str) -> dict:
    out = tmp_path / "scores.jsonl"
    call_command("export_scores", "--model", SLUG, "--output", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    return next(line for line in lines if line["lead"] == lead_id)


def as_export(lines) -> list[tuple]:
    return [
        (x["type"], x["key"], float(x["points"]), x.get("count"), sorted(x["events"]) if "events" in x else None)
        for x in lines
    ]


# --- the breakdown --------------------------------------------------------------------------------


@pytest.mark.parametrize("xid", ["L-HOT", "L-DECAY", "L-WARM", "L-COLD", "L-FREE", "L-MEGA"])
def test_the_breakdown_lines_are_the_stored_score_and_its_export_line(ws, client, rep, manager, tmp_path, xid):
    # Given a lead's stored score and its export_scores line
    lead = ws.leads[xid]
    stored = Score.objects.get(lead=lead, scoring_model=ws.scoring_model)
    exported = export_line(tmp_path, xid)

    # When its page is opened
    e = page(client, manager, lead).context["explanation"]

    # Then the page's lines are the stored breakdown and the export line's, and sum to the score
    shown = [
        (
            line.type,
            line.key,
            float(line.points),
            line.count if line.type == "criterion" else None,
            sorted(ev.external_id for ev in line.events) if line.type == "criterion" else None,
        )
        for line in e.lines
    ]
    assert shown == as_export(stored.breakdown) == as_export(exported["breakdown"])
    assert e.lines_total == stored.score == Decimal(str(exported["score"]))
    assert e.matches_stored and e.differences == []
    assert (e.result.fit, e.result.engagement) == (stored.fit, stored.engagement)


def test_the_page_shows_each_line_with_its_events_and_the_sum(ws, client, rep):
    response = page(client, rep, ws.leads["L-HOT"], model=SLUG)
    body = text(response)
    assert "Why 120 under New business" in body
    assert "These lines are the stored score" in body
    for words in ("Decision-maker title +15", "Industry: software +10", "Pricing page visit +40", "Demo request +50"):
        assert words in body
    # The events behind a line: kind, date and page
    hot_visit = (ws.as_of - timedelta(days=1)).strftime("%Y-%m-%d")
    assert f"Web visit on {hot_visit} · /pricing/enterprise" in body
    assert "Sum of the lines 120 fit 25 + engagement 95" in body
    assert "Stored score 120" in body


def test_decay_lines_say_why_in_words(ws, client, rep):
    e = page(client, rep, ws.leads["L-DECAY"]).context["explanation"]
    decay = {line.key: line for line in e.lines if line.type == "decay"}
    assert decay["inactivity"].words == "no activity for 64 days: \u221220"
    assert decay["inactivity"].detail == "\u221210 for every 30 days without it"
    assert decay["no-web-visit"].words == "no web visit for 64 days: \u221215"
    assert "no activity for 64 days: \u221220" in text(page(client, rep, ws.leads["L-DECAY"]))


def test_a_decay_limited_by_the_floor_says_so(ws, client, manager):
    # L-FREE never visited the site (100 days) but has only 5 points of engagement to lose
    e = page(client, manager, ws.leads["L-FREE"]).context["explanation"]
    (line,) = [line for line in e.lines if line.type == "decay"]
    assert line.words == "no web visit for 100 days: \u22125"
    assert "limited to \u22125: decay never takes engagement below the floor" in line.detail


def test_the_timeline_says_why_each_event_earned_what_it_did(ws, client, rep):
    e = page(client, rep, ws.leads["L-HOT"]).context["explanation"]
    timeline = {ev.external_id: ev for ev in e.timeline}
    assert [ev.external_id for ev in e.timeline] == ["E-H8", "E-H1", "E-H2", "E-H4", "E-H3", "E-H7", "E-H5", "E-H6"]
    assert {x: timeline[x].status for x in timeline} == {
        "E-H1": single.COUNTED,
        "E-H2": single.COUNTED,
        "E-H4": single.COUNTED,
        "E-H5": single.COUNTED,
        "E-H3": single.CAPPED,
        "E-H6": single.OUTSIDE_LOOKBACK,
        "E-H7": single.NO_CRITERION,
        "E-H8": single.AFTER_AS_OF,
    }
    assert (timeline["E-H4"].points, timeline["E-H4"].reason) == (Decimal("50.00"), "+50 for Demo request")
    assert timeline["E-H3"].reason == (
        "cap reached: Pricing page visit counts at most 2 events per 30 days (the most recent)"
    )
    assert timeline["E-H6"].reason.startswith("older than the 90-day lookback")
    assert timeline["E-H7"].reason == "no criterion of this model rewards a form submission like this one"
    assert timeline["E-H8"].reason.startswith("after this score was computed")
    assert timeline["E-H8"].points == 0
    body = text(page(client, rep, ws.leads["L-HOT"]))
    assert "capped 0 cap reached" in body and "outside lookback" in body and "after as of" in body


def test_a_repeated_event_is_explained_as_counted_once():
    # Stored events are unique per (lead, id), so a duplicate reaches the page only from the engine.
    event = EventData(7, "E-9", "page_view", timezone.now(), {"url": "/pricing"})
    line = explain._event_line(EventNote(event, single.DUPLICATE), spec=None, criteria={}, as_of=event.occurred_at)
    assert (line.status_label, line.reason) == ("duplicate", "repeats event id E-9: the same event is counted once")


def test_the_gap_to_the_next_tier(ws, client, rep):
    # L-WARM: 55 in the enterprise segment (warm 45, hot 80, MQL 70)
    response = page(client, rep, ws.leads["L-WARM"])
    e = response.context["explanation"]
    assert [(g.name, g.threshold, g.missing) for g in e.gaps] == [
        ("warm", 45, None),
        ("hot", 80, 25),
        ("MQL", 70, 15),
    ]
    assert (e.next_gap.name, e.next_gap.missing) == ("MQL", 15)
    assert "15 points to MQL (at 70)." in text(response)


def test_why_now_names_the_points_of_the_last_three_days(ws, client, rep):
    response = page(client, rep, ws.leads["L-HOT"])
    why = response.context["explanation"].why_now
    assert why.total == 90
    assert [(i.label, i.count, i.points) for i in why.items] == [("Demo request", 1, 50), ("Pricing page visit", 2, 40)]
    assert "+90 in the last 3 days, from: +50 from 1 × Demo request +40 from 2 × Pricing page visit" in text(response)


def test_a_late_event_shows_the_score_is_being_updated(ws, client, rep):
    # Given an event that happened before the score's as_of but arrived after the rescore
    when = (ws.as_of - timedelta(hours=1)).isoformat()
    events_ingest(rows=[(0, {"id": "E-LATE", "lead": "L-WARM", "kind": "demo_request", "occurred_at": when})])
    # When the page explains the stored score again, then the numbers differ and it says so
    response = page(client, rep, ws.leads["L-WARM"])
    e = response.context["explanation"]
    assert not e.matches_stored
    assert "score: stored 55, explained 105" in e.differences
    assert "The score is being updated." in text(response)


def test_the_chart_is_inline_svg_with_tier_changes_marked(ws, client, rep):
    response = page(client, rep, ws.leads["L-HOT"])
    svg = re.search(r"<svg.*?</svg>", response.content.decode(), flags=re.S).group(0)
    assert 'class="score-chart"' in svg
    assert "style=" not in svg  # the CSP forbids inline styles: classes and attributes only
    assert svg.count('class="tier-change tier-hot"') == 1  # warm (50) two days ago, hot (120) now
    assert "warm \u2192 hot" in svg
    assert 'class="threshold threshold-hot"' in svg
    assert "style=" not in response.content.decode()


def test_each_model_shows_its_score_grade_segment_mql_and_stage(ws, client, rep):
    body = text(page(client, rep, ws.leads["L-MEGA"]))
    assert "New business v1 115 Hot Grade B4 Segment Enterprise MQL yes" in body
    assert "Stage: MQL" in body


def test_a_rep_cannot_open_another_reps_lead(ws, client, rep, manager):
    client.force_login(rep)
    assert client.get(f"/leads/{ws.leads['L-OTHER'].pk}/").status_code == 404
    assert page(Client(), manager, ws.leads["L-OTHER"]).status_code == 200


def test_a_model_that_did_not_score_the_lead_is_not_found(ws, client, rep):
    client.force_login(rep)
    assert client.get(f"/leads/{ws.leads['L-HOT'].pk}/?model=other").status_code == 404


def test_the_lead_page_query_count_is_pinned(ws, client, rep, django_assert_max_num_queries):
    # session, user, permissions (2), the lead with its owner, its scores with model and version,
    # its stages, the events (the engine), the score history, roles and unread alerts (menu)
    client.force_login(rep)
    with django_assert_max_num_queries(11):
        client.get(f"/leads/{ws.leads['L-HOT'].pk}/")


# --- moving the lead along the funnel from its page ------------------------------------------------


def test_accept_by_plain_post_redirects_to_the_page_with_a_message(ws, client, rep):
    client.force_login(rep)
    hot = ws.leads["L-HOT"]
    response = client.post(f"/leads/{hot.pk}/accept/", {"model": SLUG}, follow=True)
    assert response.redirect_chain[-1][0] == f"/leads/{hot.pk}/?model={SLUG}"
    assert "Accepted: the lead is now sales-qualified (SQL)." in text(response)
    assert LeadStage.objects.get(lead=hot).stage == Stage.SQL


def test_accept_by_htmx_returns_the_stage_panel(ws, client, rep):
    client.force_login(rep)
    response = client.post(f"/leads/{ws.leads['L-HOT'].pk}/accept/", {"model": SLUG}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="stage-panel" id="stage-new-biz"')
    assert "Stage: SQL" in text(response) and "Accept as SQL" not in body
    assert "Recycle to nurturing" in body


def test_an_illegal_move_by_htmx_answers_409_with_the_reason_in_the_panel(ws, client, rep):
    client.force_login(rep)
    response = client.post(f"/leads/{ws.leads['L-WARM'].pk}/accept/", {"model": SLUG}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "Cannot accept lead L-WARM under New business: it is at stage Lead" in text(response)


def test_reject_needs_a_text_for_other(ws, client, rep):
    client.force_login(rep)
    mega = ws.leads["L-MEGA"]
    response = client.post(f"/leads/{mega.pk}/reject/", {"model": SLUG, "reason": "other"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    assert "Say why when the reason is Other." in text(response)
    client.post(f"/leads/{mega.pk}/reject/", {"model": SLUG, "reason": "other", "text": "Competitor"})
    stage = LeadStage.objects.get(lead=mega)
    assert (stage.stage, stage.reject_reason, stage.reject_text) == (Stage.REJECTED, "other", "Competitor")


def test_recycle_from_the_page(ws, client, rep):
    client.force_login(rep)
    client.post(f"/leads/{ws.leads['L-HOT'].pk}/recycle/", {"model": SLUG})
    assert LeadStage.objects.get(lead=ws.leads["L-HOT"]).stage == Stage.RECYCLED


def test_who_may_post_moves(ws, client, rep, marketer, manager):
    other = ws.leads["L-OTHER"]
    client.force_login(rep)  # not their lead: they do not even see it
    assert client.post(f"/leads/{other.pk}/accept/", {"model": SLUG}).status_code == 404
    client.force_login(marketer)  # an editor sees every lead, but may not act on them
    assert client.post(f"/leads/{other.pk}/accept/", {"model": SLUG}).status_code == 403
    client.force_login(manager)
    assert client.post(f"/leads/{other.pk}/accept/", {"model": SLUG}).status_code == 302
    assert StageTransition.objects.get(lead=other, to_stage=Stage.SQL).actor == manager
    assert client.get(f"/leads/{other.pk}/accept/").status_code == 405


# --- words and numbers (issue 17) -------------------------------------------------------------------


def test_attributes_read_as_words_and_numbers(ws, client, manager):
    # Given a lead with a revenue, a head count and an attribute key with an underscore
    lead = ws.leads["L-WARM"]
    type(lead).objects.filter(pk=lead.pk).update(
        annual_revenue=4763902000.0, employees=12000, attributes={"budget_confirmed": True}
    )
    body = text(page(client, manager, lead))
    # Then the revenue and the head count have thousands separators and no ".0"
    assert "Annual revenue 4,763,902,000 " in body and "Employees 12,000 " in body
    assert "4763902000" not in body
    # and the attribute reads as words
    assert "Budget confirmed yes" in body
    # and dates have one format: "2026-05-02 10:14"
    assert re.search(r"Created \d{4}-\d\d-\d\d \d\d:\d\d ", body)


def test_an_event_without_a_criterion_is_named_with_the_right_article(ws, client, rep):
    lead = ws.leads["L-HOT"]
    at = (ws.as_of - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    events_ingest(rows=[(0, {"id": "E-SENT", "lead": "L-HOT", "kind": "email_sent", "occurred_at": at})])
    body = text(page(client, rep, lead))
    assert "no criterion of this model rewards an e-mail sent like this one" in body
    assert "a e-mail" not in body
