"""The manager's reports and the grid in the browser (docs/reports.md, docs/rep-workspace.md).

Given the report lifecycles of tests/reports/report_data.py, when the manager opens the threshold
calibration, then the page fits a 1,440 px window and says only mature MQLs count; when they
turn the suggestion into a draft, the confirmation links to it, and a second visit offers the
same open draft instead of a new one. Given the workspace of tests/leads/workspace_data.py, the
fit x engagement grid paints its cells by count, with a legend, and a cell opens its leads.
"""

import re

import pytest
from playwright.sync_api import expect

from matrix.models import ModelVersion
from tests.e2e.conftest import login
from tests.leads.workspace_data import SLUG, workspace_build
from tests.reports.report_data import report_world

pytestmark = [pytest.mark.browser]
CALIBRATION = "/reports/calibration/?start=2025-01-01&end=2025-02-28&rate=50&min_n=2"


@pytest.fixture
def world(transactional_db, personas):
    return report_world(users=personas)


def test_the_manager_proposes_a_threshold_into_one_draft_and_follows_the_link(page, live_server, world, personas):
    slug = world.scoring_model.slug
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, live_server, personas["manager"])

    # Given the calibration of the period, which fits the window and names its maturity window
    page.goto(live_server.url + CALIBRATION)
    expect(page.get_by_text("Only mature MQLs count in the rates and suggestions")).to_be_visible()
    expect(page.get_by_label("Maturity window (days)")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440

    # When the manager turns the suggestion into a draft
    page.get_by_role("button", name="Create a draft with MQL threshold 52 for Mid-market").click()

    # Then the confirmation says who signs and links to the new draft
    message = page.locator(".messages .message")
    expect(message).to_contain_text("Draft v2 of Reports model created")
    expect(message).to_contain_text("must approve it")
    link = message.get_by_role("link", name="Open draft v2")
    expect(link).to_have_attribute("href", f"/matrix/{slug}/?version=2")

    # And the page now offers the open draft; a second click changes nothing and makes no draft
    page.get_by_role("button", name="Put MQL threshold 52 for Mid-market into open draft v2").click()
    expect(message).to_contain_text("already has MQL threshold 52 for segment Mid-market: nothing changed")
    assert ModelVersion.objects.filter(scoring_model=world.scoring_model).count() == 2

    # When they follow the link, the draft's page opens for them
    message.get_by_role("link", name="Open draft v2").click()
    page.wait_for_url(re.compile(rf".*/matrix/{slug}/\?version=2$"))
    assert page.console_errors == []


def test_a_chosen_maturity_window_is_applied_and_shown(page, live_server, world, personas):
    login(page, live_server, personas["manager"])
    page.goto(live_server.url + CALIBRATION)
    page.get_by_label("Maturity window (days)").fill("2.5")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*mature=2\.5.*"))
    expect(page.locator("#maturity")).to_contain_text("60 hours (2.5 days) old")
    expect(page.locator("#maturity")).to_contain_text("chosen on this page")


@pytest.fixture
def workspace(transactional_db, personas):
    return workspace_build(rep=personas["rep"], rep2=personas["rep2"])


def test_the_grid_is_a_heat_map_whose_cells_open_their_leads(page, live_server, workspace, personas):
    login(page, live_server, personas["manager"])
    page.goto(f"{live_server.url}/leads/grid/?model={SLUG}")

    def background(grade: str) -> str:
        return page.locator(f'td[data-grade="{grade}"]').evaluate("el => getComputedStyle(el).backgroundColor")

    # The fullest cell (2 leads), a cell of 1 and an empty one are three different colours
    assert len({background("A4"), background("B4"), background("C3")}) == 3
    legend = page.get_by_role("figure", name="Colour legend")
    expect(legend).to_contain_text("Leads per cell")
    expect(legend.locator("li")).to_have_count(3)  # 0, 1, 2

    # When a cell is opened, the list shows its leads
    page.locator('td[data-grade="A4"] a').click()
    page.wait_for_url(re.compile(r".*grade=A4.*"))
    expect(page.locator("table.data-table tbody tr")).to_have_count(2)
    assert page.console_errors == []


@pytest.mark.parametrize("report", ["conversion", "breakdown", "rejections", "calibration", "distribution"])
def test_a_report_fits_the_window_and_no_number_breaks_over_two_lines(page, live_server, world, personas, report):
    """Given a window narrower than the breakdown's thirteen columns, when a report opens, then the
    page stays within the window (a wide table scrolls in its own box) and every number of its
    tables, and every group's name, stays on one line ("58.1 h", never "58.1" over "h")."""
    page.set_viewport_size({"width": 1024, "height": 800})
    login(page, live_server, personas["manager"])
    page.goto(f"{live_server.url}/reports/{report}/?start=2025-01-01&end=2025-02-28")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    broken = page.evaluate(
        """() => [...document.querySelectorAll('.report-table td.num, .report-table td:first-child')]
            .filter(td => td.textContent.trim())
            .filter(td => { const r = document.createRange(); r.selectNodeContents(td);
                            return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1; })
            .map(td => td.textContent.trim())"""
    )
    assert broken == []
    assert page.console_errors == []
