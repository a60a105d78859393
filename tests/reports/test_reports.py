"""The report selectors (reports/selectors.py) on known lifecycles (tests/reports/report_data.py).

Every number asserted here is worked out by hand in report_data's docstring, and the main ones
are checked again against SQL written independently below (raw SQL over the tables, with the
percentiles taken by `statistics.quantiles` and, on Postgres, by percentile_cont itself).
"""

import math
import statistics
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from matrix.choices import VersionStatus
from matrix.models import ModelVersion
from matrix.selectors import approvals_status
from matrix.services import model_version_approve
from reports import selectors as reports
from scoring.choices import Stage
from scoring.models import LeadStage
from tests.reports.report_data import END, LIVES, START, Life, at, report_world
from tests.reports.report_data import H as HOUR

H = 3600.0


@pytest.fixture
def world(personas):
    return report_world(users=personas)


def conversion(world, user, **kwargs):
    args = {"start": START, "end": END, "grain": "month", **kwargs}
    return reports.conversion_report(user=user, scoring_model=world.scoring_model, **args)


def figures(f: reports.Funnel) -> tuple:
    return (f.leads, f.mqls, f.accepted, f.rejected, f.pending, f.direct_sqls, f.sqls, f.median_s, f.p75_s)


# --- conversion -----------------------------------------------------------------------------------


def test_the_funnel_of_the_period_in_total_and_per_month(world, manager, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):  # 4 aggregates + the manager's permissions
        report = conversion(world, manager)

    assert figures(report.totals) == (11, 9, 4, 3, 2, 1, 5, 30 * H, 55 * H)
    assert report.totals.rate == pytest.approx(4 / 9)
    jan, feb = report.periods
    assert (jan.key, feb.key) == (date(2025, 1, 1), date(2025, 2, 1))
    assert figures(jan) == (7, 5, 3, 1, 1, 1, 4, 20 * H, 30 * H)
    assert jan.rate == 0.6
    assert figures(feb) == (4, 4, 1, 2, 1, 0, 1, 100 * H, 100 * H)
    assert feb.rate == 0.25


def test_weeks_start_on_monday_and_add_up_to_the_total(world, manager):
    report = conversion(world, manager, grain="week")
    assert report.periods[0].key == date(2024, 12, 30)  # A1's MQL on Sunday 5 January
    assert all(p.key.weekday() == 0 for p in report.periods)
    assert sum(p.mqls for p in report.periods) == 9
    assert sum(p.leads for p in report.periods) == 11
    assert [p.mqls for p in report.periods if p.mqls] == [1, 1, 1, 2, 1, 2, 1]


def test_a_lead_mql_again_after_recycling_counts_once_in_its_latest_mql(world, manager):
    # R1 was rejected in December, recycled, and is an MQL again since 20 February: pending.
    december = conversion(world, manager, start=date(2024, 12, 1), end=date(2024, 12, 31))
    assert (december.totals.mqls, december.totals.rejected) == (0, 0)
    feb = conversion(world, manager, start=date(2025, 2, 20), end=date(2025, 2, 20)).totals
    assert (feb.mqls, feb.accepted, feb.rejected, feb.pending) == (1, 0, 0, 1)


def test_a_rep_sees_only_the_figures_of_their_own_leads(world, rep):
    report = conversion(world, rep)
    # A1, A2 (accepted after 10 and 20 h), A5 (pending), B2 (rejected); D1 direct; N1 never.
    assert figures(report.totals) == (6, 4, 2, 1, 1, 1, 3, 15 * H, 17.5 * H)


def test_managers_editors_and_admins_see_everything(world, personas):
    for who in ("manager", "marketer", "admin"):
        assert conversion(world, personas[who]).totals.mqls == 9


def test_the_figures_agree_with_sql_written_independently(world, manager):
    lo, hi = "2025-01-01", "2025-03-01"
    if connection.vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM accepted_at - mql_at)"
        time = "CAST(%s AS timestamptz)"
    else:
        seconds = "(julianday(accepted_at) - julianday(mql_at)) * 86400"
        time = "%s"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), SUM(CASE WHEN accepted_at >= mql_at THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN accepted_at >= mql_at THEN 0 WHEN rejected_at >= mql_at THEN 1 ELSE 0 END) "
            f"FROM scoring_leadstage WHERE scoring_model_id = %s AND mql_at >= {time} AND mql_at < {time}",
            [world.scoring_model.pk, lo, hi],
        )
        mqls, accepted, rejected = cursor.fetchone()
        cursor.execute(
            f"SELECT {seconds} FROM scoring_leadstage WHERE scoring_model_id = %s AND mql_at >= {time} "
            f"AND mql_at < {time} AND accepted_at >= mql_at",
            [world.scoring_model.pk, lo, hi],
        )
        durations = sorted(round(float(s)) for (s,) in cursor.fetchall())
        cursor.execute(
            "SELECT COUNT(*) FROM scoring_stagetransition WHERE scoring_model_id = %s AND to_stage = 'sql' "
            f"AND from_stage <> 'mql' AND occurred_at >= {time} AND occurred_at < {time}",
            [world.scoring_model.pk, lo, hi],
        )
        (direct,) = cursor.fetchone()
    totals = conversion(world, manager).totals
    assert (totals.mqls, totals.accepted, totals.rejected, totals.direct_sqls) == (mqls, accepted, rejected, direct)
    _, q2, q3 = statistics.quantiles(durations, n=4, method="inclusive")
    assert (totals.median_s, totals.p75_s) == (pytest.approx(q2), pytest.approx(q3))
    assert durations == [10 * H, 20 * H, 40 * H, 100 * H]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY {seconds}), "
                f"percentile_cont(0.75) WITHIN GROUP (ORDER BY {seconds}) FROM scoring_leadstage "
                f"WHERE scoring_model_id = %s AND mql_at >= {time} AND mql_at < {time} AND accepted_at >= mql_at",
                [world.scoring_model.pk, lo, hi],
            )
            assert cursor.fetchone() == (totals.median_s, totals.p75_s)


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([], 0.5, None), ([7], 0.75, 7), ([1, 2], 0.5, 1.5), ([4, 1, 3, 2], 0.75, 3.25), ([10, 20, 40, 100], 0.75, 55)],
)
def test_percentile_cont_interpolates_between_the_closest_ranks(values, fraction, expected):
    assert reports.percentile_cont(values, fraction) == expected


# --- edge cases: clear empty figures, never an error --------------------------------------------


def test_an_empty_period_gives_zeros_and_no_rate(world, manager):
    report = conversion(world, manager, start=date(2023, 1, 1), end=date(2023, 3, 31))
    assert report.empty
    assert figures(report.totals) == (0, 0, 0, 0, 0, 0, 0, None, None)
    assert report.totals.rate is None
    assert [p.label for p in report.periods] == ["2023-01", "2023-02", "2023-03"]
    for dimension in reports.DIMENSIONS:
        assert reports.conversion_breakdown(
            user=manager, scoring_model=world.scoring_model, start=date(2023, 1, 1), end=date(2023, 1, 2),
            dimension=dimension,
        ).empty  # fmt: skip
    assert reports.rejection_reasons(
        user=manager, scoring_model=world.scoring_model, start=date(2023, 1, 1), end=date(2023, 1, 2)
    ).empty
    calibration = reports.calibration_report(
        user=manager, scoring_model=world.scoring_model, start=date(2023, 1, 1), end=date(2023, 1, 2)
    )
    assert calibration.empty
    assert [s.note for s in calibration.segments] == ["No leads in this segment for the period."] * 2


def test_all_rejected_gives_a_zero_rate_and_no_time_to_sql(personas, manager):
    lives = [
        Life(f"X{i}", "rep", "default", at(1, 1), 55, mql_at=at(1, 2 + i), mql_score=55, outcome="rejected",
             decided=3 * HOUR, reason="wrong_fit")
        for i in range(3)
    ]  # fmt: skip
    world = report_world(users=personas, lives=lives)
    totals = conversion(world, manager).totals
    assert (totals.mqls, totals.accepted, totals.rejected, totals.rate) == (3, 0, 3, 0.0)
    assert (totals.median_s, totals.p75_s) == (None, None)
    rejections = reports.rejection_reasons(user=manager, scoring_model=world.scoring_model, start=START, end=END)
    assert [(r.reason, r.count, r.share) for r in rejections.total.reasons if r.count] == [("wrong_fit", 3, 1.0)]


def test_leads_that_skipped_mql_count_as_sqls_but_not_in_the_rate(personas, manager):
    world = report_world(users=personas, lives=[life for life in LIVES if life.xid in ("D1", "N1")])
    totals = conversion(world, manager).totals
    assert (totals.leads, totals.mqls, totals.direct_sqls, totals.sqls, totals.rate) == (2, 0, 1, 1, None)
    assert not conversion(world, manager).empty


def test_an_unknown_grain_is_refused(world, manager):
    with pytest.raises(reports.ReportError, match="unknown grain"):
        conversion(world, manager, grain="day")


# --- breakdowns -----------------------------------------------------------------------------------


def breakdown(world, user, dimension, **kwargs):
    return reports.conversion_breakdown(
        user=user, scoring_model=world.scoring_model, start=START, end=END, dimension=dimension, **kwargs
    )


def test_breakdown_by_industry_most_mqls_first_with_n(world, manager, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        rows = breakdown(world, manager, "industry").rows
    got = [(r.label, r.leads, r.mqls, r.accepted, r.rejected, r.direct_sqls, r.rate, r.small_sample) for r in rows]
    assert got == [
        ("Software", 5, 5, 2, 1, 1, 0.4, True),  # A1, A2, A5, B2, R1 (+ D1 direct; R1 created in November)
        ("Finance", 3, 3, 2, 1, 0, 2 / 3, True),  # A3, B1, B3
        ("Retail", 3, 1, 0, 1, 0, 0.0, True),  # A4; N1, N2 never MQL
    ]
    assert (rows[1].median_s, rows[1].p75_s) == (70 * H, 85 * H)  # A3 40 h, B1 100 h


def test_breakdown_by_segment_owner_source_and_country(world, manager):
    def by(dimension):
        return [(r.label, r.mqls, r.accepted) for r in breakdown(world, manager, dimension).rows]

    assert by("segment") == [("Mid-market", 7, 3), ("Enterprise", 2, 1)]  # labels; keys in r.key
    # Owners read as people (the CSV keeps the username, in r.key)
    assert by("owner") == [("Robin Rep", 5, 2), ("Riley Rep", 4, 2)]
    assert by("lead_source") == [("organic", 6, 3), ("paid", 2, 0), ("webinar", 1, 1), ("referral", 0, 0)]
    assert by("country") == [("US", 8, 3), ("GB", 1, 1)]


def test_the_cohort_keeps_the_segment_of_the_mql_moment_when_the_lead_moves_on(world, manager):
    from scoring.models import Score

    def by_segment():
        return [(r.label, r.mqls, r.accepted, r.leads) for r in breakdown(world, manager, "segment").rows]

    assert by_segment() == [("Mid-market", 7, 3, 8), ("Enterprise", 2, 1, 3)]
    # Given A3 (an enterprise MQL, accepted) whose current score now puts it in default
    Score.objects.filter(lead__external_id="A3").update(segment="default")
    # When the segment breakdown is read, then its MQL and SQL figures stay with enterprise,
    # where A3 crossed the line, while the leads created count it under its current segment
    assert by_segment() == [("Mid-market", 7, 3, 9), ("Enterprise", 2, 1, 2)]
    # and the rejection report is unchanged too
    report = reports.rejection_reasons(user=manager, scoring_model=world.scoring_model, start=START, end=END)
    assert {s.segment: s.mqls for s in report.segments} == {"default": 7, "enterprise": 2}


def test_breakdown_by_a_lead_attribute_with_missing_values_as_none(world, manager, rep):
    rows = breakdown(world, manager, "attribute", attribute="product_interest").rows
    # Equal volumes are in label order; N1 has no product_interest.
    assert [(r.label, r.leads, r.mqls) for r in rows] == [
        ("analytics", 8, 7),
        ('=HYPERLINK("http://x")', 1, 1),
        ("automation", 1, 1),
        ("(none)", 1, 0),
    ]
    mine = breakdown(world, rep, "attribute", attribute="product_interest").rows
    assert [(r.label, r.mqls) for r in mine] == [("analytics", 3), ("automation", 1), ("(none)", 0)]


def test_a_bad_dimension_or_attribute_key_is_refused(world, manager):
    with pytest.raises(reports.ReportError, match="unknown breakdown"):
        breakdown(world, manager, "title")
    with pytest.raises(reports.ReportError, match="attribute key"):
        breakdown(world, manager, "attribute", attribute="x'); DROP TABLE leads_lead; --")


# --- rejection reasons ----------------------------------------------------------------------------


def test_rejection_reasons_per_segment(world, manager, rep, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # the aggregate, the segments' labels, the permissions
        report = reports.rejection_reasons(user=manager, scoring_model=world.scoring_model, start=START, end=END)

    def counted(s):
        return [(r.reason, r.count, r.share) for r in s.reasons if r.count]

    default, enterprise = report.segments
    assert (default.segment, default.mqls, default.rejected) == ("default", 7, 2)
    assert counted(default) == [("wrong_fit", 1, 0.5), ("no_budget", 1, 0.5)]
    assert (enterprise.segment, enterprise.mqls, enterprise.rejected) == ("enterprise", 2, 1)
    assert counted(enterprise) == [("not_ready", 1, 1.0)]
    assert (report.total.mqls, report.total.rejected) == (9, 3)
    mine = reports.rejection_reasons(user=rep, scoring_model=world.scoring_model, start=START, end=END)
    assert [(s.segment, counted(s)) for s in mine.segments] == [("default", [("no_budget", 1, 1.0)])]


# --- threshold calibration ------------------------------------------------------------------------


def calibrate(world, user, **kwargs):
    return {
        s.key: s
        for s in reports.calibration_report(
            user=user, scoring_model=world.scoring_model, start=START, end=END, **kwargs
        ).segments
    }


def test_sql_rate_by_band_of_the_score_at_mql(world, manager, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        segments = calibrate(world, manager, target_value=0.5, min_n=2)
    default = segments["default"]
    assert [(b.label, b.n, b.sqls, b.rate) for b in default.bands] == [("50–60", 5, 1, 0.2), ("60–70", 2, 2, 1.0)]
    assert [(b.start, b.n, b.sqls) for b in segments["enterprise"].bands] == [(70, 2, 1)]
    assert (default.current.threshold, default.current.mqls, default.current.sqls) == (50, 7, 3)


def test_the_threshold_for_a_target_rate(world, manager):
    segments = calibrate(world, manager, target="rate", target_value=0.5, min_n=2)
    # default: 3 of 7 at 50; raising it to 52 leaves out A4 (51): 3 of 6 = 50 %.
    suggested = segments["default"].suggested
    assert (suggested.threshold, suggested.mqls, suggested.sqls) == (52, 6, 3)
    assert segments["default"].changes
    # enterprise already converts 1 of 2: the current threshold stays, and the note says why.
    enterprise = segments["enterprise"]
    assert (enterprise.suggested.threshold, enterprise.changes) == (70, False)
    assert "already meets the target" in enterprise.note
    # 60 %: B2 (53) must go too -> 54: A1, A5, R1, A2, B1 = 3 of 5.
    suggested = calibrate(world, manager, target="rate", target_value=0.6, min_n=2)["default"].suggested
    assert (suggested.threshold, suggested.mqls, suggested.sqls) == (54, 5, 3)
    # Too few MQLs left for any threshold to count.
    none = calibrate(world, manager, target="rate", target_value=0.9, min_n=3)["default"]
    # The note writes the target as the page writes rates (90.0%, as "convert at 90.0% or better")
    assert none.suggested is None and "No threshold gives 90.0% or better" in none.note


def test_the_threshold_for_a_target_volume(world, manager):
    segments = calibrate(world, manager, target="volume", target_value=4)
    # The highest threshold keeping 4 MQLs: 57 (R1 57, A5 58, A2 62, B1 66), 2 of them SQL.
    suggested = segments["default"].suggested
    assert (suggested.threshold, suggested.mqls, suggested.sqls) == (57, 4, 2)
    # Only 2 enterprise MQLs: this basis cannot lower a threshold to get more.
    assert segments["enterprise"].suggested is None
    assert "lowering it needs basis: current scores" in segments["enterprise"].note


def test_calibration_on_current_scores_of_the_leads_created(world, manager):
    segments = calibrate(world, manager, basis="current", target="volume", target_value=6)
    default = segments["default"]
    # Leads created in the period, default segment, by current score: N1 20, D1 30 (direct SQL),
    # A4 51, B2 53, A1 55 (SQL), A5 58, A2 62 (SQL), B1 66 (SQL).
    assert [(b.start, b.n, b.sqls) for b in default.bands] == [
        (20, 1, 0),
        (30, 1, 1),
        (40, 0, 0),
        (50, 4, 1),
        (60, 2, 2),
    ]
    assert (default.current.mqls, default.current.sqls) == (6, 3)
    assert (default.suggested.threshold, default.suggested.mqls, default.suggested.sqls) == (51, 6, 3)
    # On this basis the threshold may go down: 7 leads at 30 or more, 4 of them SQL.
    lower = calibrate(world, manager, basis="current", target="volume", target_value=7)["default"].suggested
    assert (lower.threshold, lower.mqls, lower.sqls) == (30, 7, 4)


def test_a_rep_calibrates_on_their_own_leads_only(world, rep):
    default = calibrate(world, rep, target_value=0.5, min_n=2)["default"]
    assert [(b.start, b.n, b.sqls) for b in default.bands] == [(50, 3, 1), (60, 1, 1)]  # A1, A5, B2; A2


def test_a_suggestion_becomes_a_new_draft_of_the_model(world, marketer):
    done = reports.calibration_draft_create(
        scoring_model=world.scoring_model, segment="default", threshold=52, user=marketer
    )
    draft = done.draft
    assert (done.created, done.changed, done.old) == (True, True, 50)
    assert (draft.number, draft.status, draft.created_by) == (2, VersionStatus.DRAFT, marketer)
    assert "segment Mid-market MQL threshold 50 → 52" in draft.note
    live = world.version.document
    assert draft.document["segments"][1]["thresholds"] == {"warm": 30, "hot": 60, "mql": 52}
    assert {k: v for k, v in draft.document.items() if k != "segments"} == {
        k: v for k, v in live.items() if k != "segments"
    }
    assert draft.document["segments"][0] == live["segments"][0]
    world.version.refresh_from_db()
    assert world.version.document["segments"][1]["thresholds"]["mql"] == 50  # the live one is untouched


def test_editors_and_managers_propose_a_threshold_reps_do_not(world, personas):
    with pytest.raises(PermissionDenied):
        reports.calibration_draft_create(
            scoring_model=world.scoring_model, segment="default", threshold=52, user=personas["rep"]
        )
    assert ModelVersion.objects.filter(scoring_model=world.scoring_model).count() == 1
    # The manager owns the report: they propose; the draft still needs both editors' approvals.
    done = reports.calibration_draft_create(
        scoring_model=world.scoring_model, segment="default", threshold=52, user=personas["manager"]
    )
    assert done.created and done.draft.created_by == personas["manager"]
    assert approvals_status(version=done.draft)["missing"] == ["marketing", "sales"]


def test_suggestions_go_into_the_open_draft_instead_of_a_new_one_each_click(world, marketer, manager):
    """Given a draft made from one suggestion and approved by marketing, when the same suggestion is
    posted again and then another segment's, then there is still one draft, holding both changes,
    the repeat changed nothing, and the change asks for the approvals again."""
    first = reports.calibration_draft_create(
        scoring_model=world.scoring_model, segment="default", threshold=52, user=marketer
    ).draft
    model_version_approve(version=first, user=marketer, revision=first.revision)

    again = reports.calibration_draft_create(
        scoring_model=world.scoring_model, segment="default", threshold=52, user=manager, revision=first.revision
    )
    assert (again.draft.pk, again.created, again.changed) == (first.pk, False, False)
    other = reports.calibration_draft_create(
        scoring_model=world.scoring_model, segment="enterprise", threshold=72, user=manager, revision=first.revision
    )
    assert (other.draft.pk, other.created, other.changed, other.old) == (first.pk, False, True, 70)
    assert ModelVersion.objects.filter(scoring_model=world.scoring_model).count() == 2
    draft = ModelVersion.objects.get(pk=first.pk)
    assert [s["thresholds"]["mql"] for s in draft.document["segments"]] == [72, 52]
    assert draft.revision == first.revision + 1 and draft.updated_by == manager
    assert approvals_status(version=draft)["missing"] == ["marketing", "sales"]
    # A page that showed an older revision of the draft is refused, not applied over the edit.
    with pytest.raises(reports.CalibrationError, match="edited the draft since"):
        reports.calibration_draft_create(
            scoring_model=world.scoring_model, segment="default", threshold=55, user=manager, revision=first.revision
        )
    assert reports.calibration_open_draft(scoring_model=world.scoring_model).pk == first.pk


@pytest.mark.parametrize(
    ("segment", "threshold", "message"),
    [("default", 50, "already 50"), ("nope", 52, "no segment 'nope'")],
)
def test_a_suggestion_that_changes_nothing_or_names_no_segment_is_refused(world, marketer, segment, threshold, message):
    with pytest.raises(reports.CalibrationError, match=message):
        reports.calibration_draft_create(
            scoring_model=world.scoring_model, segment=segment, threshold=threshold, user=marketer
        )


# --- maturity ---------------------------------------------------------------------------------------

FEB_END = at(2, 28, 12)  # "now" of the maturity tests: the period's last day, noon


def just_published(world, *, mql: int = 40, leads: int = 81, minutes: int = 5) -> None:
    """A publish lowered the default segment's MQL line to `mql`, and `leads` leads scoring 45 crossed
    it `minutes` before FEB_END: MQLs with no decision yet (as leads_rescore records them)."""
    from leads.models import Lead
    from matrix.services import model_import
    from scoring.jobs import model_version_publish
    from tests.reports.report_data import model_document

    document = model_document()
    document["segments"][1]["thresholds"]["mql"] = mql
    version = model_version_publish(version=model_import(data=document, note="lower"), user=None)
    owner = world.leads["A1"].owner
    made = Lead.objects.bulk_create(
        Lead(external_id=f"J{i:03d}", email=f"j{i}@example.com", owner=owner, created_at=at(1, 2)) for i in range(leads)
    )
    crossed = FEB_END - HOUR * minutes / 60
    LeadStage.objects.bulk_create(
        LeadStage(lead=lead, scoring_model=world.scoring_model, stage=Stage.MQL, mql_at=crossed, mql_score=45,
                  mql_version=version, mql_segment="default", changed_at=crossed)
        for lead in made
    )  # fmt: skip


def test_the_maturity_window_is_the_75th_percentile_of_time_to_sql_or_a_fallback(world, manager):
    # Five accepted MQLs over the data (A1, A2, A3, B1, O1): too few for a percentile.
    found = reports.maturity_window(scoring_model=world.scoring_model, now=FEB_END)
    assert (found.window, found.source, found.sqls) == (reports.MATURITY_FALLBACK, "fallback", 5)
    assert "too few" in found.explanation
    # Twenty more, accepted after 1..20 hours: the 75th percentile of all 25, rounded up to the hour.
    from leads.models import Lead

    extra = Lead.objects.bulk_create(Lead(external_id=f"T{i}", created_at=at(1, 1)) for i in range(1, 21))
    LeadStage.objects.bulk_create(
        LeadStage(lead=lead, scoring_model=world.scoring_model, stage=Stage.SQL, mql_at=at(1, 2),
                  accepted_at=at(1, 2) + i * HOUR, changed_at=at(1, 2))
        for i, lead in enumerate(extra, start=1)
    )  # fmt: skip
    hours = [10, 20, 40, 100, 7, *range(1, 21)]
    expected = reports.percentile_cont([float(h) for h in hours], 0.75)
    found = reports.maturity_window(scoring_model=world.scoring_model, now=FEB_END)
    assert (found.source, found.sqls) == ("p75", 25)
    assert found.window == HOUR * math.ceil(expected) and found.cutoff == FEB_END - found.window
    # A window chosen on the page wins; a negative or absurd one is refused.
    assert reports.maturity_window(scoring_model=world.scoring_model, window=3 * 24 * HOUR).source == "chosen"
    for bad in (-HOUR, 400 * 24 * HOUR):
        with pytest.raises(reports.ReportError, match="maturity window"):
            reports.maturity_window(scoring_model=world.scoring_model, window=bad)


def test_mqls_of_minutes_ago_are_neither_failures_nor_a_reason_to_undo_the_change(world, manager):
    """Given a publish that lowered the default MQL line to 40 and 81 leads at 45 that became MQLs
    five minutes ago, when the calibration is read (14-day fallback window), then the 40–50 band
    is empty, not 0 %, those leads are reported as too recent, and the lowered line is kept."""
    just_published(world)
    maturity = reports.maturity_window(scoring_model=world.scoring_model, now=FEB_END)
    report = reports.calibration_report(
        user=manager, scoring_model=world.scoring_model, start=START, end=END,
        target_value=0.3, min_n=5, maturity=maturity,
    )  # fmt: skip
    default = next(s for s in report.segments if s.key == "default")
    assert all(b.n == 0 for b in default.bands if b.start < 50)
    # Mature: A1, A2, A4, A5, B1, B2 (R1 became an MQL on 02-20, inside the 14 days): 3 of 6.
    assert (default.current.threshold, default.current.mqls, default.current.sqls) == (40, 6, 3)
    assert not default.changes and "already meets the target" in default.note
    assert report.young == 81 + 1
    # Without the window the same data read 3 SQLs of 88 MQLs and suggested undoing the change.
    naive = reports.calibration_report(
        user=manager, scoring_model=world.scoring_model, start=START, end=END, target_value=0.3, min_n=5
    )
    undo = next(s for s in naive.segments if s.key == "default")
    assert undo.current.mqls == 88 and undo.changes and undo.suggested.threshold >= 46


def test_conversion_counts_mature_mqls_in_the_rate_and_marks_young_periods(world, manager):
    just_published(world)
    maturity = reports.maturity_window(scoring_model=world.scoring_model, now=FEB_END)
    report = conversion(world, manager, maturity=maturity)
    january, february = report.periods
    assert january.matured and (january.mature, january.rate) == (5, 0.6)
    # February: B1, B2, B3 mature (1 accepted); R1 and the 81 of minutes ago too recent.
    assert not february.matured
    assert (february.mqls, february.mature, february.immature, february.rate) == (85, 3, 82, 1 / 3)
    assert (report.totals.mature, report.totals.mature_accepted) == (8, 4)
    assert report.totals.rate == 0.5 and report.totals.pending == 83
    # Time to SQL of the mature MQLs only (10, 20, 40, 100 h).
    assert (report.totals.median_s, report.totals.p75_s) == (30 * H, 55 * H)
    # A week grain marks only the weeks that end after the cutoff (02-14 12:00).
    weeks = conversion(world, manager, grain="week", maturity=maturity).periods
    assert [w.key.isoformat() for w in weeks if not w.matured] == ["2025-02-10", "2025-02-17", "2025-02-24"]


# --- score distribution ---------------------------------------------------------------------------


def test_current_scores_per_segment_with_thresholds(world, manager, rep, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        report = reports.score_distribution(user=manager, scoring_model=world.scoring_model, band_width=10)
    segments = {s.key: s for s in report.segments}
    assert segments["enterprise"].thresholds == {"warm": 45, "hot": 80, "mql": 70}
    assert [(b.start, b.n) for b in segments["enterprise"].bands] == [(40, 1), (50, 0), (60, 0), (70, 2)]
    # default: N1 20, D1 30, A4 51, B2 53, A1 55, R1 57, A5 58 | A2 62, B1 66, O1 60
    assert [(b.start, b.n) for b in segments["default"].bands] == [(20, 1), (30, 1), (40, 0), (50, 5), (60, 3)]
    mine = {s.key: s for s in reports.score_distribution(user=rep, scoring_model=world.scoring_model).segments}
    assert (mine["enterprise"].n, mine["default"].n) == (0, 7)  # A1, A2, A5, B2, D1, O1, N1
    wide = reports.score_distribution(user=manager, scoring_model=world.scoring_model, band_width=25).segments
    assert [(b.start, b.n) for b in wide[1].bands] == [(0, 1), (25, 1), (50, 8)]


def test_the_demo_backfill_shape_is_read_as_written(world, manager):
    # The lifecycle rows the reports read are exactly these: a stage row per lead with an MQL or SQL.
    assert LeadStage.objects.filter(scoring_model=world.scoring_model).count() == 11
    assert LeadStage.objects.filter(scoring_model=world.scoring_model, stage=Stage.RECYCLED).count() == 1


def test_a_band_of_negative_scores_reads_with_a_real_minus(world, manager):
    """Scores below zero are written −20 on every page: a band reads "−50–−40", never "-50–-40"."""
    assert reports.Band(-50, 10).label == "−50–−40"
    assert reports.Band(-10, 10).label == "−10–0"
    assert reports.Band(40, 10).label == "40–50"
