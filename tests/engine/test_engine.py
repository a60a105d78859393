"""The scoring formula (spec sections 4-7), each rule through the bulk SQL path AND the single-lead path.

Every test scores with `scored()`, which runs `leads_rescore` (then reads the stored `Score`) and
`lead_explain`, and fails unless both give the same totals, segment, tier, grade, MQL flag and
breakdown; the test then checks the numbers the spec asks for.
"""

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from engine.document import parse_document
from engine.single import EventData, LeadData, score_lead
from leads.services import events_ingest
from tests.matrix.helpers import (
    AS_OF,
    ago,
    cond,
    doc,
    eng,
    fit,
    line_of,
    make_event,
    make_lead,
    once,
    publish,
    scored,
    scored_many,
    segment,
    step,
    unanswered,
)

pytestmark = pytest.mark.django_db

D = Decimal


def lines_sum(result) -> Decimal:
    return sum((D(str(x["points"])) for x in result["breakdown"]), D(0))


def assert_exact_lines(result):
    """Without half-life every value is whole and the lines sum exactly to the score (spec 7)."""
    assert lines_sum(result) == result["score"]
    for x in result["breakdown"]:
        assert float(x["points"]) == int(x["points"])


# --- decay: inactivity_step -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("idle", "steps"),
    [
        (timedelta(days=0), 0),
        (timedelta(days=29, hours=23, minutes=59, seconds=59), 0),
        (timedelta(days=30), 1),
        (timedelta(days=59, hours=23, minutes=59, seconds=59), 1),
        (timedelta(days=60), 2),
        (timedelta(days=95), 3),
    ],
    ids=str,
)
def test_inactivity_step_on_any_event(idle, steps):
    # Given a lead whose latest event of any kind happened `idle` ago, and a 50-point criterion met then
    lead = make_lead()
    make_event(lead, "webinar_attended", AS_OF - idle, "W-1")
    version = publish(doc(criteria=[eng("web", "webinar_attended", 50)], decay=[step("inactive", 30, -5)]))
    # When scored, then the decay is -5 for every full 30 days
    result = scored(version, lead)
    assert result["engagement"] == 50 - 5 * steps
    decay_line = line_of(result, "inactive")
    assert decay_line == ({"type": "decay", "key": "inactive", "points": -5.0 * steps} if steps else None)
    assert_exact_lines(result)


def test_inactivity_step_counts_only_the_listed_kinds():
    # Given a recent webinar but the latest page view 95 days ago
    lead = make_lead()
    make_event(lead, "webinar_attended", ago(2), "W-1")
    make_event(lead, "page_view", ago(95), "P-1")
    make_event(lead, "page_view", ago(120), "P-0")
    version = publish(
        doc(criteria=[eng("web", "webinar_attended", 50)], decay=[step("no-visits", 30, -5, events=["page_view"])])
    )
    # Then idle time runs from that page view: floor(95 / 30) = 3 steps
    assert scored(version, lead)["engagement"] == 50 - 15


def test_inactivity_counts_from_created_at_without_any_listed_event():
    lead = make_lead(created_at=ago(100))
    make_event(lead, "webinar_attended", ago(1), "W-1")
    version = publish(
        doc(criteria=[eng("web", "webinar_attended", 50)], decay=[step("no-visits", 30, -5, events=["page_view"])])
    )
    assert scored(version, lead)["engagement"] == 50 - 15


def test_idle_time_is_never_negative_and_ignores_events_after_as_of():
    # Given a lead created after as_of (back-testing), and another whose only page view is after as_of
    future = make_lead(created_at=AS_OF + timedelta(days=40))
    later = make_lead(created_at=ago(100))
    for lead in (future, later):
        make_event(lead, "webinar_attended", ago(0), f"W-{lead.pk}")
    make_event(later, "page_view", AS_OF + timedelta(seconds=1), "P-late")
    version = publish(
        doc(
            criteria=[eng("web", "webinar_attended", 50)],
            decay=[
                once("gone", 1, -7, events=["page_view"]),
                step("steps", 30, -1, events=["page_view"]),
            ],
        )
    )
    results = scored_many(version, [future, later])
    # The future lead has been idle 0 days (not -40); the later page view does not exist yet
    assert results[future.pk]["engagement"] == 50
    assert results[later.pk]["engagement"] == 50 - 7 - 3


def test_idle_time_ignores_the_lookback():
    # Given a 30-day lookback and a page view 40 days ago (outside it)
    lead = make_lead(created_at=ago(300))
    make_event(lead, "page_view", ago(40), "P-1")
    make_event(lead, "demo_request", ago(1), "D-1")
    version = publish(
        doc(
            lookback_days=30,
            criteria=[eng("demo", "demo_request", 50), eng("visit", "page_view", 5)],
            decay=[step("no-visits", 20, -4, events=["page_view"]), once("long", 45, -9, events=["page_view"])],
        )
    )
    result = scored(version, lead)
    # The page view earns nothing (outside the lookback) but still ends the idle time: 40 days, not 300
    assert line_of(result, "visit") is None
    assert result["engagement"] == 50 - 8


# --- decay: inactivity_once -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("idle", "applies"),
    [
        (timedelta(days=45), True),
        (timedelta(days=45) - timedelta(seconds=1), False),
        (timedelta(days=45, microseconds=1), True),
        (timedelta(days=400), True),
    ],
    ids=str,
)
def test_inactivity_once(idle, applies):
    lead = make_lead()
    make_event(lead, "page_view", AS_OF - idle, "P-1")
    version = publish(doc(criteria=[eng("visit", "page_view", 40)], decay=[once("no-visit", 45, -15)]))
    result = scored(version, lead)
    assert result["engagement"] == (25 if applies else 40)
    assert_exact_lines(result)


def test_inactivity_once_with_kinds_starts_at_created_at():
    lead = make_lead(created_at=ago(31))
    make_event(lead, "page_view", ago(1), "P-1")
    version = publish(
        doc(criteria=[eng("visit", "page_view", 40)], decay=[once("no-social", 30, -8, events=["social_engagement"])])
    )
    assert scored(version, lead)["engagement"] == 32


# --- decay: unanswered ------------------------------------------------------------------------------


def unanswered_model(**kwargs):
    return doc(
        engagement_floor=None,
        lookback_days=kwargs.pop("lookback_days", None),
        criteria=[eng("opens", "email_open", 0)],
        decay=[unanswered("unopened", 60, -5, **kwargs)],
    )


def test_unanswered_counts_each_old_enough_send_without_a_matching_response():
    lead = make_lead()
    other = make_lead()
    rows = [
        ("S-1", "email_sent", ago(70), {"message_id": "m1"}),  # no response: counts
        ("S-2", "email_sent", ago(70), {"message_id": "m2"}),  # answered (case and space differ)
        ("R-2", "email_open", ago(65), {"message_id": " M2 "}),
        ("S-3", "email_sent", ago(70), {"message_id": "100"}),  # answered by the number 100.0
        ("R-3", "email_open", ago(1), {"message_id": 100.0}),
        ("S-4", "email_sent", ago(70), {}),  # no match_property value: never counts
        ("S-5", "email_sent", ago(70), {"message_id": ""}),
        ("S-6", "email_sent", ago(70), {"message_id": None}),
        ("S-7", "email_sent", ago(70), {"message_id": ["m7"]}),
        ("S-8", "email_sent", ago(59, seconds=86399), {"message_id": "m8"}),  # not yet 60 days old
        ("S-9", "email_sent", ago(60), {"message_id": "m9"}),  # exactly 60 days: counts
        ("S-10", "email_sent", ago(80), {"message_id": "m10"}),  # answered only after as_of: counts
        ("R-10", "email_open", AS_OF + timedelta(seconds=1), {"message_id": "m10"}),
        ("S-11", "email_sent", ago(80), {"message_id": "m11"}),  # answered before it was sent: answered
        ("R-11", "email_open", ago(90), {"message_id": "m11"}),
        ("S-12", "email_sent", ago(80), {"message_id": True}),  # true matches "TRUE"
        ("R-12", "email_open", ago(2), {"message_id": "TRUE"}),
        ("S-13", "email_sent", ago(80), {"message_id": "1e2"}),  # "1e2" is the number 100: answered by R-3
        ("S-14", "email_sent", ago(80), {"message_id": "m14"}),  # a click is not a listed response
        ("R-14", "email_click", ago(3), {"message_id": "m14"}),
        ("S-15", "email_sent", ago(80), {"message_id": "m15"}),  # another lead's response does not count
    ]
    for xid, kind, when, props in rows:
        make_event(lead, kind, when, xid, **props)
    make_event(other, "email_open", ago(1), "R-15", message_id="m15")
    version = publish(unanswered_model())
    result = scored(version, lead)
    # S-1, S-9, S-10, S-14, S-15 are unanswered
    assert result["engagement"] == -25
    assert line_of(result, "unopened") == {"type": "decay", "key": "unopened", "points": -25.0}


def test_unanswered_counts_only_sends_within_the_lookback():
    lead = make_lead()
    make_event(lead, "email_sent", ago(90), "S-edge", message_id="a")
    make_event(lead, "email_sent", ago(90, seconds=1), "S-out", message_id="b")
    make_event(lead, "email_sent", ago(75), "S-in", message_id="c")
    result = scored(publish(unanswered_model(lookback_days=90)), lead)
    assert result["engagement"] == -10


def test_a_send_is_never_its_own_response():
    # Given sends that are also listed as responses
    alone = make_lead()
    make_event(alone, "email_sent", ago(70), "S-1", message_id="m1")
    pair = make_lead()
    make_event(pair, "email_sent", ago(70), "S-1", message_id="m2")
    make_event(pair, "email_sent", ago(75), "S-2", message_id="M2")
    version = publish(unanswered_model(responses=["email_sent", "email_open"]))
    results = scored_many(version, [alone, pair])
    # A lone send is unanswered; two sends with the same id answer each other
    assert results[alone.pk]["engagement"] == -5
    assert results[pair.pk]["engagement"] == 0


def test_unanswered_matches_numbers_numerically():
    lead = make_lead()
    for i, (sent, opened) in enumerate([("7", 7), (" 7.50 ", "7.5"), ("+3", "3.0"), (".5", 0.5), ("1e3", "1000")]):
        make_event(lead, "email_sent", ago(70), f"S-{i}", message_id=sent)
        make_event(lead, "email_open", ago(60), f"R-{i}", message_id=opened)
    make_event(lead, "email_sent", ago(70), "S-x", message_id="7.01")
    make_event(lead, "email_sent", ago(70), "S-y", message_id="07x")
    make_event(lead, "email_open", ago(70), "R-y", message_id="7x")
    result = scored(publish(unanswered_model(prop="message_id")), lead)
    assert result["engagement"] == -10


# --- caps -------------------------------------------------------------------------------------------


def test_cap_without_window_counts_the_most_recent_events():
    lead = make_lead()
    for i, days in enumerate([1, 50, 3, 200, 2]):
        make_event(lead, "page_view", ago(days), f"P-{i}")
    version = publish(doc(criteria=[eng("visits", "page_view", 5, cap=3)]))
    result = scored(version, lead)
    line = line_of(result, "visits")
    assert (line["count"], line["points"], sorted(line["events"])) == (3, 15.0, ["P-0", "P-2", "P-4"])


def test_cap_window_buckets_are_floor_of_age_over_window():
    # Given events at ages on and around multiples of a 7-day window
    lead = make_lead()
    ages = {
        "A": timedelta(0),
        "B": timedelta(days=1),
        "C": timedelta(days=7) - timedelta(seconds=1),  # bucket 0
        "D": timedelta(days=7),  # exactly 7 days: bucket 1
        "E": timedelta(days=13),
        "F": timedelta(days=14) - timedelta(microseconds=1),  # bucket 1
        "G": timedelta(days=14),  # bucket 2
    }
    for xid, age in ages.items():
        make_event(lead, "page_view", AS_OF - age, xid)
    version = publish(doc(criteria=[eng("visits", "page_view", 5, cap=2, window=7)]))
    line = line_of(scored(version, lead), "visits")
    # Then at most two count per bucket, the most recent ones: A, B | D, E | G
    assert sorted(line["events"]) == ["A", "B", "D", "E", "G"]
    assert (line["count"], line["points"]) == (5, 25.0)


def test_cap_ties_go_to_the_greater_id_as_text():
    # Given events at the very same instant
    lead = make_lead()
    same = ago(3)
    for xid in ("E-10", "E-9", "E-100"):
        make_event(lead, "page_view", same, xid)
    make_event(lead, "page_view", same, None)
    numeric = make_lead()
    for xid in ("10", "9", "100"):
        make_event(numeric, "page_view", same, xid)
    version = publish(doc(criteria=[eng("visits", "page_view", 5, cap=2)]))
    results = scored_many(version, [lead, numeric])
    # Then "E-9" > "E-100" > "E-10" and "9" > "100" > "10" (text, not number); no id comes last
    assert sorted(line_of(results[lead.pk], "visits")["events"]) == ["E-100", "E-9"]
    assert sorted(line_of(results[numeric.pk], "visits")["events"]) == ["100", "9"]


def test_a_cap_per_window_with_ties_and_no_ids():
    lead = make_lead()
    same = ago(1)
    for _ in range(3):
        make_event(lead, "page_view", same, None)
    make_event(lead, "page_view", same, "only-id")
    version = publish(doc(criteria=[eng("visits", "page_view", 5, cap=2, window=1)]))
    line = line_of(scored(version, lead), "visits")
    assert line["count"] == 2 and "only-id" in line["events"]


def test_an_event_counts_for_every_criterion_it_matches():
    lead = make_lead()
    make_event(lead, "page_view", ago(1), "P-1", url="/pricing")
    version = publish(
        doc(
            criteria=[
                eng("visit", ["page_view", "email_click"], 2),
                eng("pricing", "page_view", 10, where=cond("url", "contains", "pricing")),
                eng("Kind-case", "Page_View", 100),
            ]
        )
    )
    result = scored(version, lead)
    assert result["engagement"] == 12  # kinds compare exactly, case included
    assert [x["key"] for x in result["breakdown"]] == ["visit", "pricing"]


# --- lookback ---------------------------------------------------------------------------------------


def test_lookback_edges():
    # Given a 30-day lookback
    lead = make_lead()
    make_event(lead, "page_view", ago(30), "edge")  # exactly as_of - lookback: counts
    make_event(lead, "page_view", ago(30, seconds=1), "before")  # one second earlier: does not
    make_event(lead, "page_view", AS_OF, "now")  # exactly as_of: counts
    make_event(lead, "page_view", AS_OF + timedelta(seconds=1), "after")  # after as_of: does not exist
    version = publish(doc(lookback_days=30, criteria=[eng("visits", "page_view", 5)]))
    line = line_of(scored(version, lead), "visits")
    assert sorted(line["events"]) == ["edge", "now"]


def test_events_after_as_of_do_not_exist_for_back_testing():
    lead = make_lead()
    make_event(lead, "demo_request", ago(10), "D-1")
    make_event(lead, "demo_request", ago(5), "D-2")
    version = publish(doc(criteria=[eng("demo", "demo_request", 50, cap=1)], decay=[step("idle", 7, -10)]))
    earlier = AS_OF - timedelta(days=8)
    # At as_of - 8 days only D-1 exists, idle for 2 days; at as_of, D-2 is the capped one
    assert line_of(scored(version, lead, as_of=earlier), "demo")["events"] == ["D-1"]
    result = scored(version, lead)
    assert line_of(result, "demo")["events"] == ["D-2"]
    assert result["engagement"] == 50 - 0  # idle 5 days < 7


# --- half-life ----------------------------------------------------------------------------------------


def test_half_life_decays_each_event_continuously():
    lead = make_lead()
    make_event(lead, "page_view", ago(0), "P-0")
    make_event(lead, "page_view", ago(10), "P-10")
    make_event(lead, "page_view", ago(20), "P-20")
    make_event(lead, "page_view", ago(3), "P-3")
    make_event(lead, "unsubscribe", ago(10), "U-1")
    version = publish(
        doc(half_life_days=10, criteria=[eng("visits", "page_view", 10), eng("unsub", "unsubscribe", -20)])
    )
    result = scored(version, lead, tolerance=0.01)
    visits = 10 + 5 + 2.5 + 10 * 0.5**0.3
    assert line_of(result, "visits")["points"] == pytest.approx(round(visits, 2), abs=1e-9)
    assert line_of(result, "visits")["count"] == 4
    # Negative criteria decay too: -20 ten days ago (one half-life) is -10
    assert line_of(result, "unsub")["points"] == -10.0
    assert result["engagement"] == D("15.62")  # 10 + 5 + 2.5 + 8.1225 - 10


def test_half_life_with_fractional_days_and_lines_within_a_cent():
    lead = make_lead()
    for i in range(7):
        make_event(lead, "page_view", ago(i * 1.37, seconds=i * 17), f"P-{i}")
        make_event(lead, "content_download", ago(i * 2.9), f"C-{i}")
    version = publish(
        doc(
            half_life_days=4.5,
            criteria=[eng("visits", "page_view", 7), eng("downloads", "content_download", 11, cap=3, window=5)],
            decay=[step("idle", 30, -3)],
        )
    )
    result = scored(version, lead, tolerance=0.01)
    # Each line is rounded to 2 decimals; they sum to the score within 0.01 per line
    assert abs(lines_sum(result) - result["score"]) <= D("0.01") * len(result["breakdown"])
    for x in result["breakdown"]:
        assert D(str(x["points"])) == D(str(x["points"])).quantize(D("0.01"))


# --- floor -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("floor", "engagement", "decay_line"),
    [
        ("absent", 0, -20),
        (0, 0, -20),
        (10, 10, -10),
        (-15, -15, -35),
        (None, -30, -50),
        (25, 20, None),
        (2.5, 2.5, -17.5),
    ],
)
def test_decay_stops_at_the_floor(floor, engagement, decay_line):
    # Given 20 points earned and a decay of 50
    lead = make_lead()
    make_event(lead, "demo_request", ago(400), "D-1")
    version = publish(
        doc(engagement_floor=floor, criteria=[eng("demo", "demo_request", 20)], decay=[once("gone", 90, -50)])
    )
    result = scored(version, lead)
    assert result["engagement"] == D(str(engagement))
    line = line_of(result, "gone")
    if decay_line is None:
        assert line is None
    else:
        assert line["points"] == decay_line


def test_decay_never_cancels_a_negative_criterion():
    only_negative = make_lead()
    make_event(only_negative, "unsubscribe", ago(200), "U-1")
    mixed = make_lead()
    make_event(mixed, "unsubscribe", ago(200), "U-2")
    make_event(mixed, "demo_request", ago(200), "D-2")
    version = publish(
        doc(
            criteria=[eng("unsub", "unsubscribe", -20), eng("demo", "demo_request", 30)],
            decay=[once("gone", 90, -25)],
        )
    )
    results = scored_many(version, [only_negative, mixed])
    # -20 stays -20 (no headroom); +30 - 20 = 10 loses its 10 and no more
    assert results[only_negative.pk]["engagement"] == -20
    assert line_of(results[only_negative.pk], "gone") is None
    assert results[mixed.pk]["engagement"] == 0
    assert line_of(results[mixed.pk], "gone")["points"] == -10.0


def test_decay_rules_take_the_headroom_in_order():
    lead = make_lead()
    make_event(lead, "demo_request", ago(100), "D-1")
    make_event(lead, "email_sent", ago(100), "S-1", message_id="x")
    version = publish(
        doc(
            criteria=[eng("demo", "demo_request", 20)],
            decay=[once("first", 30, -15), step("second", 30, -5), unanswered("third", 60, -7)],
        )
    )
    result = scored(version, lead)
    assert [(x["key"], x["points"]) for x in result["breakdown"]] == [
        ("demo", 20.0),
        ("first", -15.0),
        ("second", -5.0),
    ]
    assert result["engagement"] == 0
    assert_exact_lines(result)


def test_unbounded_decay_with_a_null_floor():
    lead = make_lead(created_at=ago(365))
    version = publish(
        doc(engagement_floor=None, criteria=[eng("demo", "demo_request", 20)], decay=[step("idle", 30, -2)])
    )
    result = scored(version, lead)
    assert result["engagement"] == -24
    assert result["grade"] == "D1"


# --- segments, tiers, grades, MQL -------------------------------------------------------------------


def segmented_model():
    return doc(
        criteria=[fit("big", cond("employees", "gte", 1000), 30), fit("fr", cond("country", "eq", "FR"), 10)],
        segments=[
            segment("enterprise", cond("employees", "gte", 5000), warm=40, hot=80, mql=70),
            segment("france", cond("country", "eq", "fr"), warm=5, hot=10, mql=10),
            segment("default", None, warm=30, hot=40, mql=35),
        ],
    )


def test_the_first_matching_segment_wins_and_the_last_catches_all():
    both = make_lead(employees=6000, country="FR")
    french = make_lead(employees=10, country=" fr ")
    neither = make_lead(employees=None, country="")
    results = scored_many(publish(segmented_model()), [both, french, neither])
    assert (results[both.pk]["segment"], results[both.pk]["tier"]) == ("enterprise", "warm")
    assert (results[french.pk]["segment"], results[french.pk]["tier"], results[french.pk]["mql"]) == (
        "france",
        "hot",
        True,
    )
    assert (results[neither.pk]["segment"], results[neither.pk]["tier"]) == ("default", "cold")


@pytest.mark.parametrize(
    ("points", "tier", "mql"),
    [(29, "cold", False), (30, "warm", False), (34, "warm", False), (35, "warm", True), (40, "hot", True)],
)
def test_tiers_and_mql_at_exact_thresholds(points, tier, mql):
    lead = make_lead(title="x")
    version = publish(
        doc(criteria=[fit("t", cond("title", "is_set"), points)], segments=[segment("all", None, 30, 40, 35)])
    )
    result = scored(version, lead)
    assert (result["score"], result["tier"], result["mql"]) == (points, tier, mql)


@pytest.mark.parametrize(
    ("fit_points", "eng_points", "grade"),
    [
        (40, 75, "A4"),
        (39, 74, "B3"),
        (25, 45, "B3"),
        (24, 44, "C2"),
        (10, 20, "C2"),
        (9, 19, "D1"),
        (-5, -5, "D1"),
    ],
)
def test_grades_at_exact_thresholds(fit_points, eng_points, grade):
    lead = make_lead(title="x")
    make_event(lead, "demo_request", ago(1), "D-1")
    version = publish(
        doc(
            criteria=[fit("t", cond("title", "is_set"), fit_points), eng("demo", "demo_request", eng_points)],
            grades={"fit": {"A": 40, "B": 25, "C": 10}, "engagement": {"4": 75, "3": 45, "2": 20}},
        )
    )
    assert scored(version, lead)["grade"] == grade


def test_fractional_thresholds():
    lead = make_lead(title="x")
    version = publish(
        doc(
            criteria=[fit("t", cond("title", "is_set"), 50)],
            segments=[segment("all", None, warm=49.99, hot=50.001, mql=50.0)],
            grades={"fit": {"A": 50.0, "B": 25, "C": 10}, "engagement": {"4": 0.01, "3": 0, "2": -0.5}},
        )
    )
    result = scored(version, lead)
    assert (result["tier"], result["mql"], result["grade"]) == ("warm", True, "A3")


def test_tier_uses_the_rounded_score():
    # Given 100 points with a 1-day half-life and an event 1 day + 10 s old: 49.99599... unrounded
    lead = make_lead()
    make_event(lead, "demo_request", ago(1, seconds=10), "D-1")
    version = publish(
        doc(half_life_days=1, criteria=[eng("demo", "demo_request", 100)], segments=[segment("all", None, 10, 50, 50)])
    )
    result = scored(version, lead, tolerance=0.01)
    # Then the score rounds to 50.00, which is hot and MQL
    assert (result["score"], result["tier"], result["mql"]) == (D("50.00"), "hot", True)


# --- rounding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fit_points", "floor", "fit_", "engagement", "score"),
    [
        (0, 2.125, "0", "2.13", "2.13"),  # halves away from zero, not to even (2.12)
        (0, -2.125, "0", "-2.13", "-2.13"),
        (10, -2.125, "10", "-2.13", "7.88"),  # the score is the rounded sum of the unrounded parts
        (0, 1.005, "0", "1.01", "1.01"),  # read at 15 significant digits, as Postgres does
        (3, -0.005, "3", "-0.01", "3.00"),  # 2.995 -> 3.00, though 3 + (-0.01) = 2.99
        (0, 0.375, "0", "0.38", "0.38"),
    ],
)
def test_rounding_halves_away_from_zero(fit_points, floor, fit_, engagement, score):
    # Given engagement worth exactly `floor` after a large decay (20 earned, or none when floor < 0)
    lead = make_lead(title="x")
    if floor > 0:
        make_event(lead, "demo_request", ago(400), "D-1")
    version = publish(
        doc(
            engagement_floor=floor,
            criteria=[fit("t", cond("title", "is_set"), fit_points), eng("demo", "demo_request", 20)],
            decay=[once("gone", 30, -100)],
        )
    )
    result = scored(version, lead)
    assert (result["fit"], result["engagement"], result["score"]) == (D(fit_), D(engagement), D(score))


# --- duplicates and insertion order -------------------------------------------------------------------


def test_a_repeated_event_id_is_counted_once():
    lead = make_lead("L-dup")
    rows = [
        {"id": "E-1", "lead": "L-dup", "kind": "page_view", "occurred_at": ago(1).isoformat()},
        {"id": "E-1", "lead": "L-dup", "kind": "page_view", "occurred_at": ago(2).isoformat()},
        {"id": " E-1 ", "lead": "L-dup", "kind": "page_view", "occurred_at": ago(3).isoformat()},
        {"id": 7, "lead": "L-dup", "kind": "page_view", "occurred_at": ago(4).isoformat()},
        {"id": "7", "lead": "L-dup", "kind": "page_view", "occurred_at": ago(5).isoformat()},
        {"lead": "L-dup", "kind": "page_view", "occurred_at": ago(6).isoformat()},
        {"lead": "L-dup", "kind": "page_view", "occurred_at": ago(6).isoformat()},
    ]
    report, _ = events_ingest(rows=list(enumerate(rows, start=1)))
    assert (report.accepted, report.duplicates) == (4, 3)
    report, _ = events_ingest(rows=[(1, rows[0])])
    assert (report.accepted, report.duplicates) == (0, 1)
    version = publish(doc(criteria=[eng("visits", "page_view", 5)]))
    line = line_of(scored(version, lead), "visits")
    assert line["count"] == 4
    assert sorted(line["events"], key=str) == sorted(["E-1", "7", None, None], key=str)


def test_duplicates_given_to_the_single_path_are_counted_once():
    spec = parse_document(doc(criteria=[eng("visits", "page_view", 5)]))
    lead = LeadData("L-1", ago(10), {}, {})
    events = [
        EventData(1, "E-1", "page_view", ago(1), {}),
        EventData(2, "E-1", "page_view", ago(2), {}),
        EventData(3, None, "page_view", ago(3), {}),
    ]
    result = score_lead(spec, lead, events, AS_OF)
    assert result.breakdown[0]["count"] == 2
    assert [n.status for n in sorted(result.event_notes, key=lambda n: n.event.seq)] == [
        "counted",
        "duplicate",
        "counted",
    ]


def test_insertion_order_does_not_change_the_score():
    version = publish(
        doc(
            lookback_days=60,
            half_life_days=None,
            criteria=[
                eng("visits", "page_view", 3, cap=2, window=7),
                eng("opens", "email_open", 2, cap=3),
                eng("unsub", "unsubscribe", -10),
            ],
            decay=[step("idle", 5, -1, events=["page_view"]), unanswered("unopened", 10, -2)],
        )
    )
    events = [
        ("P-1", "page_view", ago(1), {}),
        ("P-2", "page_view", ago(1), {}),
        ("P-3", "page_view", ago(1), {}),
        ("P-4", "page_view", ago(8), {}),
        ("P-5", "page_view", ago(61), {}),
        ("O-1", "email_open", ago(3), {"message_id": "a"}),
        ("O-2", "email_open", ago(3), {"message_id": "b"}),
        ("O-3", "email_open", ago(4), {"message_id": "c"}),
        ("O-4", "email_open", ago(2), {"message_id": "d"}),
        ("S-1", "email_sent", ago(20), {"message_id": "a"}),
        ("S-2", "email_sent", ago(20), {"message_id": "z"}),
        ("U-1", "unsubscribe", ago(40), {}),
    ]
    leads = []
    for seed in range(4):
        lead = make_lead()
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        for xid, kind, when, props in shuffled:
            make_event(lead, kind, when, xid, **props)
        leads.append(lead)
    results = list(scored_many(version, leads).values())
    first = results[0]
    for other in results[1:]:
        assert (other["score"], other["engagement"]) == (first["score"], first["engagement"])
        assert [(x["key"], x["points"], sorted(x.get("events", []))) for x in other["breakdown"]] == [
            (x["key"], x["points"], sorted(x.get("events", []))) for x in first["breakdown"]
        ]
    assert_exact_lines(first)


def test_breakdown_lines_follow_criteria_order_then_decay():
    lead = make_lead(title="VP", country="FR")
    make_event(lead, "page_view", ago(100), "P-1")
    version = publish(
        doc(
            criteria=[
                eng("visits", "page_view", 30),
                fit("vp", cond("title", "eq", "vp"), 20),
                fit("never", cond("title", "eq", "ceo"), 20),
                fit("fr", cond("country", "eq", "fr"), -5),
            ],
            decay=[step("idle", 30, -3), once("gone", 90, -4)],
        )
    )
    result = scored(version, lead)
    assert result["breakdown"] == [
        {
            "type": "criterion",
            "key": "visits",
            "dimension": "engagement",
            "points": 30.0,
            "count": 1,
            "events": ["P-1"],
        },
        {"type": "criterion", "key": "vp", "dimension": "fit", "points": 20.0, "count": 1, "events": []},
        {"type": "criterion", "key": "fr", "dimension": "fit", "points": -5.0, "count": 1, "events": []},
        {"type": "decay", "key": "idle", "points": -9.0},
        {"type": "decay", "key": "gone", "points": -4.0},
    ]
    assert (result["fit"], result["engagement"], result["score"]) == (15, 17, 32)
    assert_exact_lines(result)


def test_several_models_score_the_same_lead_independently():
    lead = make_lead(industry="SaaS")
    make_event(lead, "demo_request", ago(1), "D-1")
    first = publish(doc(slug="new-business", criteria=[fit("saas", cond("industry", "eq", "saas"), 20)]))
    second = publish(doc(slug="upsell", criteria=[eng("demo", "demo_request", 50)]))
    assert scored(first, lead)["score"] == 20
    assert scored(second, lead)["score"] == 50
    assert scored(first, lead)["score"] == 20
