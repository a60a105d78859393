"""The report pages (reports/views.py): per-role figures, charts, CSV, the draft button."""

import csv
import io
import re

import pytest
from django.contrib.messages import get_messages

from leads.models import Lead
from matrix.models import ModelVersion
from reports.views import PAGES as REPORT_PAGES
from reports.views import csv_cell
from tests.reports.report_data import at, report_world

PERIOD = {"start": "2025-01-01", "end": "2025-02-28"}
PAGES = ["conversion", "breakdown", "rejections", "calibration", "distribution"]


@pytest.fixture
def world(personas):
    return report_world(users=personas)


def get(client, user, page, **params):
    client.force_login(user)
    return client.get(f"/reports/{page}/", {**PERIOD, **params})


def test_each_report_page_is_titled_by_its_name(world, client, manager):
    # Given the manager, when each report opens, then its <title> starts with the report's name
    # (as the menu shows it), so tabs and history tell the reports apart.
    for name, (label, _) in REPORT_PAGES.items():
        title = re.search(r"<title>(.*?)</title>", get(client, manager, name).content.decode(), re.S).group(1)
        assert title.strip().startswith(f"{label} · Reports"), (name, title)


def rows_of(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", ["rep", "manager", "marketer", "admin"])
def test_every_report_opens_for_every_role_with_a_chart_and_a_table(
    world, client, personas, page, who, django_assert_max_num_queries
):
    client.force_login(personas[who])
    # One of them reads the maturity window (reports.maturity_window).
    with django_assert_max_num_queries(15):
        response = client.get(f"/reports/{page}/", PERIOD)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body and "<table" in body and "format=csv" in body
    assert "style=" not in body  # the content security policy forbids inline styles


def test_a_user_without_a_role_may_not_open_the_reports(world, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get("/reports/conversion/").status_code == 403


def test_the_rep_sees_their_own_figures_and_the_manager_everyone(world, client, rep, manager):
    mine = get(client, rep, "conversion").content.decode()
    assert "your own leads" in mine and "(2 of 4 MQLs; 1 still pending)" in mine
    everyone = get(client, manager, "conversion").content.decode()
    assert "all owners" in everyone and "(4 of 9 MQLs; 2 still pending)" in everyone
    assert "median <strong>30.0 h</strong>, 75th percentile <strong>55.0 h</strong>" in everyone


def test_conversion_csv_holds_the_periods_and_the_total(world, client, manager, rep):
    rows = rows_of(get(client, manager, "conversion", format="csv"))
    assert rows[0][:3] == ["Period", "Leads", "MQLs (n)"]
    assert rows[1:] == [
        ["2025-01", "7", "5", "3", "1", "1", "0", "1", "4", "0.6", "20.0", "30.0"],
        ["2025-02", "4", "4", "1", "2", "1", "0", "0", "1", "0.25", "100.0", "100.0"],
        ["All", "11", "9", "4", "3", "2", "0", "1", "5", "0.4444", "30.0", "55.0"],
    ]
    assert rows_of(get(client, rep, "conversion", format="csv"))[-1][:4] == ["All", "6", "4", "2"]


def test_breakdown_csv_escapes_cells_a_spreadsheet_would_run(world, client, manager):
    response = get(client, manager, "breakdown", dimension="attribute", attribute="product_interest", format="csv")
    rows = rows_of(response)
    assert rows[0][0] == "Lead attribute" or rows[0][0].startswith("attributes.")
    labels = [row[0] for row in rows[1:]]
    assert labels == ["analytics", '\'=HYPERLINK("http://x")', "automation", "(none)"]
    page = get(client, manager, "breakdown", dimension="attribute", attribute="product_interest").content.decode()
    assert "=HYPERLINK(&quot;http://x&quot;)" in page  # shown as text on the page, escaped


@pytest.mark.parametrize(
    ("value", "written"),
    [("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
     ("ok", "ok"), (-5, -5), (0.25, 0.25), (None, "")],
)  # fmt: skip
def test_csv_cells(value, written):
    assert csv_cell(value) == written


def test_a_page_with_two_tables_exports_the_one_asked(world, client, marketer):
    suggestions = rows_of(get(client, marketer, "calibration", rate=50, min_n=2, format="csv"))
    assert suggestions[0][:2] == ["Segment", "Current threshold"]
    assert suggestions[1][:9] == ["enterprise", "70", "2", "1", "0.5", "70", "2", "1", "0.5"]
    assert suggestions[2][:9] == ["default", "50", "7", "3", "0.4286", "52", "6", "3", "0.5"]
    bands = rows_of(get(client, marketer, "calibration", rate=50, min_n=2, format="csv", table="bands"))
    assert bands[1:] == [["enterprise", "70–80", "2", "1", "0.5"], ["default", "50–60", "5", "1", "0.2"],
                         ["default", "60–70", "2", "2", "1.0"]]  # fmt: skip


def test_rejections_and_distribution_csv(world, client, manager):
    rows = rows_of(get(client, manager, "rejections", format="csv"))
    assert ["default", "Wrong fit", "1", "0.5", "2", "7"] in rows
    assert ["enterprise", "Not ready to buy", "1", "1.0", "1", "2"] in rows
    rows = rows_of(get(client, manager, "distribution", format="csv"))
    assert ["enterprise", "70–80", "2", "45", "80", "70"] in rows


def test_empty_periods_show_a_clear_empty_state(world, client, manager):
    for page, text in [
        ("conversion", "No lead was created, became an MQL or went straight to SQL in this period"),
        ("breakdown", "No lead of this period to break down"),
        ("rejections", "Sales rejected none of the MQLs of this period"),
        ("calibration", "nothing to calibrate on"),
    ]:
        response = get(client, manager, page, start="2020-01-01", end="2020-01-31")
        assert response.status_code == 200
        assert text in response.content.decode()


def test_no_live_model_is_said_plainly(db, client, personas):
    response = get(client, personas["manager"], "conversion")
    assert "No scoring model is live yet" in response.content.decode()


def test_a_period_that_ends_before_it_starts_is_an_error_on_the_form(world, client, manager):
    response = get(client, manager, "conversion", start="2025-03-01", end="2025-01-01")
    assert response.status_code == 200
    assert "The start date is after the end date." in response.content.decode()


def test_editors_see_the_draft_button_and_it_creates_a_draft(world, client, marketer):
    page = get(client, marketer, "calibration", rate=50, min_n=2).content.decode()
    assert "Create a draft with MQL threshold 52 for Mid-market" in page

    back = "start=2025-01-01&end=2025-02-28&rate=50&min_n=2"
    client.force_login(marketer)
    response = client.post(
        "/reports/calibration/draft/",
        {"model": world.scoring_model.slug, "segment": "default", "threshold": "52", "back": back},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/reports/calibration/?{back}"
    draft = ModelVersion.objects.get(scoring_model=world.scoring_model, number=2)
    assert draft.document["segments"][1]["thresholds"]["mql"] == 52
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("Draft v2 of Reports model created")
    # The confirmation links to the draft (the editor, for an editor).
    assert f'<a href="/matrix/{world.scoring_model.slug}/draft/">Open draft v2</a>' in message


def test_the_manager_proposes_into_one_open_draft_and_is_linked_to_it(world, client, manager):
    """Given the manager on the calibration, when they click the suggestion twice, then one draft
    exists, the page offers the open draft on the second visit, and each confirmation links to the
    draft's page (the manager has no draft editor); the draft waits for both editors."""
    page = get(client, manager, "calibration", rate=50, min_n=2).content.decode()
    assert "Create a draft with MQL threshold 52 for Mid-market" in page
    assert "a marketing and a sales editor approve and publish it" in page
    post = {"model": world.scoring_model.slug, "segment": "default", "threshold": "52"}
    first = client.post("/reports/calibration/draft/", post)
    link = f'<a href="/matrix/{world.scoring_model.slug}/?version=2">Open draft v2</a>'
    (message,) = [str(m) for m in get_messages(first.wsgi_request)]
    assert message.startswith("Draft v2 of Reports model created") and link in message
    assert "must approve it" in message

    page = get(client, manager, "calibration", rate=50, min_n=2).content.decode()
    assert "Put MQL threshold 52 for Mid-market into open draft v2" in page
    assert 'name="revision" value="1"' in page
    second = client.post("/reports/calibration/draft/", {**post, "revision": "1"})
    (message,) = [str(m) for m in get_messages(second.wsgi_request)]
    assert "already has MQL threshold 52 for segment Mid-market: nothing changed" in message and link in message
    assert ModelVersion.objects.filter(scoring_model=world.scoring_model).count() == 2
    # The page the link leads to opens for the manager and shows the draft.
    assert client.get(f"/matrix/{world.scoring_model.slug}/", {"version": 2}).status_code == 200


def test_reps_may_not_post_a_draft(world, client, rep):
    client.force_login(rep)
    response = client.post(
        "/reports/calibration/draft/", {"model": world.scoring_model.slug, "segment": "default", "threshold": "52"}
    )
    assert response.status_code == 403
    assert ModelVersion.objects.filter(scoring_model=world.scoring_model).count() == 1
    assert "Create a draft" not in get(client, rep, "calibration", rate=50, min_n=2).content.decode()


def test_a_refused_draft_says_why(world, client, marketer):
    client.force_login(marketer)
    response = client.post(
        "/reports/calibration/draft/",
        {"model": world.scoring_model.slug, "segment": "default", "threshold": "50", "back": "x=1\r\nLocation: evil"},
    )
    assert response.status_code == 302 and re.match(r"^/reports/calibration/", response["Location"])
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "already 50" in message
    assert client.get("/reports/calibration/draft/").status_code == 405


def test_the_pages_say_only_mature_mqls_count_and_the_window_can_be_changed(world, client, manager):
    """Given the report data (5 accepted MQLs: the 14-day fallback), when the calibration opens, then
    it names the window and where it comes from, and a window chosen in the form is used."""
    body = get(client, manager, "calibration").content.decode()
    assert 'name="mature"' in body
    assert "Only mature MQLs count in the rates and suggestions" in body
    assert "14 days old" in body and "too few (under 20) for a percentile" in body
    chosen = get(client, manager, "calibration", mature="2.5").content.decode()
    assert "60 hours (2.5 days) old" in chosen and "chosen on this page" in chosen
    refused = get(client, manager, "calibration", mature="-1").content.decode()
    assert "greater than or equal to 0" in refused and "Only mature MQLs" not in refused


def test_the_current_month_of_the_conversion_chart_is_marked_not_yet_mature(world, client, manager):
    client.force_login(manager)
    body = client.get("/reports/conversion/").content.decode()  # the last year, up to today
    # The chart of volumes is drawn (no MQL in the last year: the rate charts say so instead),
    # with a band on the months that end after the cutoff (today minus the 14-day fallback).
    assert 'class="shade"' in body and "not yet mature" in body
    rows = rows_of(client.get("/reports/conversion/", {"format": "csv"}))
    periods = [row[0] for row in rows[1:-1]]
    assert periods[-1].endswith("(not yet mature)") and not periods[0].endswith("(not yet mature)")
    # The young periods are the last ones: one band (in the one chart drawn) covers them all.
    young = [p.endswith("(not yet mature)") for p in periods]
    assert young == sorted(young) and body.count('class="shade"') == 1


# --- words and numbers (issue 17, point 10) ----------------------------------------------------------


def cells_of(body: str) -> list[str]:
    return re.findall(r"<td[^>]*>([^<]*)</td>", body)


@pytest.mark.parametrize(
    ("page", "params"),
    [("breakdown", {}), ("rejections", {}), ("calibration", {"rate": 50, "min_n": 2}), ("distribution", {})],
)
def test_the_report_pages_show_segment_labels_and_their_csv_keeps_the_keys(world, client, manager, page, params):
    """Given the model's segments `default` ("Mid-market") and `enterprise` ("Enterprise"), when a
    report lays them out, then its table and chart read the labels and its CSV the stable keys."""
    body = get(client, manager, page, **params).content.decode()
    cells = cells_of(body)
    assert "Mid-market" in cells and "Enterprise" in cells
    assert "default" not in cells and "enterprise" not in cells
    assert ">default<" not in body and ">enterprise<" not in body  # nor in the charts' labels
    assert "for default" not in body
    first = {row[0] for row in rows_of(get(client, manager, page, format="csv", **params))[1:]}
    assert {"default", "enterprise"} <= first and "Mid-market" not in first


def test_the_rejection_reasons_say_which_segment_a_lead_counts_in(world, client, manager):
    body = get(client, manager, "rejections").content.decode()
    assert "the segment the lead was in when it became an MQL" in body
    assert "current segment" not in body


def test_the_conversion_counts_have_thousands_separators(world, client, manager, rep):
    """Given 1,000 more leads created in January, when the conversion opens, then its cards, its
    headline and its table read 1,011 (never 1011), and the grid's caption likewise."""
    Lead.objects.bulk_create(
        Lead(external_id=f"BULK{i}", email=f"bulk{i}@example.com", owner=rep, created_at=at(1, 2)) for i in range(1000)
    )
    body = get(client, manager, "conversion").content.decode()
    assert '<p class="count">1,011</p>' in body
    assert "1011" not in body
    assert "1,007" in cells_of(body)  # January: 7 + 1,000


def test_a_young_period_with_a_handful_of_mature_mqls_draws_no_rate(db, client, personas):
    """Given three MQLs of 14 hours ago, none accepted yet, and a 12-hour maturity window, when
    the conversion opens, then their period (not yet mature) draws no 0 % point in the rate
    chart, though the table still lists its figures."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.reports.report_data import Life

    now = timezone.now()
    lives = [
        Life(f"Y{i}", "rep", "default", now - timedelta(hours=20), 55, mql_at=now - timedelta(hours=14), mql_score=55)
        for i in range(3)
    ]
    report_world(users=personas, lives=lives)
    client.force_login(personas["manager"])
    response = client.get("/reports/conversion/", {"mature": "0.5"})
    rate_chart = str(response.context["rate_chart"])
    assert "<circle" not in rate_chart
    assert rows_of(client.get("/reports/conversion/", {"mature": "0.5", "format": "csv"}))[-1][:3] == ["All", "3", "3"]


def test_the_history_says_a_draft_came_from_the_calibration_report(world, client, manager):
    """Given the manager's suggestion turned into a new draft and then changed again in that open
    draft, when the model's history is read, then each audit entry says what happened (a proposed
    threshold, for which segment, from the calibration report), not "Imported as draft"."""
    client.force_login(manager)
    post = {"model": world.scoring_model.slug, "segment": "default", "threshold": "52"}
    assert client.post("/reports/calibration/draft/", post).status_code == 302
    assert client.post("/reports/calibration/draft/", {**post, "threshold": "55", "revision": "1"}).status_code == 302

    page = client.get(f"/matrix/{world.scoring_model.slug}/history/").content.decode()

    assert (
        "Proposed MQL threshold 52 for Mid-market (was 50) from the calibration report as draft version 2, "
        "copied from the live version 1" in page
    )
    assert (
        "Proposed MQL threshold 55 for Mid-market (was 52) from the calibration report in draft version 2, "
        "now at revision 2" in page
    )
    assert "Imported as draft version 2" not in page


def test_the_period_is_typed_and_shown_as_yyyy_mm_dd_like_every_date_of_the_pages(world, client, manager):
    """Given the manager's conversion report, when the page is read, then the period's inputs are
    text inputs showing 2025-01-01 with a YYYY-MM-DD placeholder and pattern (a native date input
    would show 01/01/2025 in an en-US Chromium); when a US-style date is typed, the form names the
    format it takes."""
    html = get(client, manager, "conversion").content.decode()
    start = re.search(r"<input[^>]*name=\"start\"[^>]*>", html).group(0)
    assert 'type="text"' in start and 'value="2025-01-01"' in start
    assert 'placeholder="YYYY-MM-DD"' in start and r'pattern="\d{4}-\d{2}-\d{2}"' in start

    page = get(client, manager, "conversion", start="01/01/2025").content.decode()
    assert "Enter the date as YYYY-MM-DD, e.g. 2026-12-03." in page
