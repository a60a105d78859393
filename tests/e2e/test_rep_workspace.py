"""A rep's morning in the browser: find the hot leads, read why one scored, accept it.

Given a workspace scored through the real services (tests/leads/workspace_data.py),
when the rep logs in, filters the list to hot leads and opens the first,
then the page shows the breakdown lines that sum to the stored score,
and when the rep accepts the lead, the stage panel turns to SQL (htmx swap, no reload)
and the move is recorded; back on the list, which opens on open leads, the accepted lead is
gone, and every stage is one click away.
"""

import re

import pytest
from playwright.sync_api import expect

from scoring.choices import Stage
from scoring.models import LeadStage, StageTransition
from tests.e2e.conftest import login
from tests.leads.workspace_data import SLUG, workspace_build

pytestmark = [pytest.mark.browser]


@pytest.fixture
def workspace(transactional_db, personas):
    return workspace_build(rep=personas["rep"], rep2=personas["rep2"])


def test_rep_filters_to_hot_leads_reads_the_breakdown_and_accepts(page, live_server, workspace, personas):
    rep = personas["rep"]
    hot = workspace.leads["L-HOT"]

    # Given the rep is logged in, on the leads page
    login(page, live_server, rep)
    page.goto(f"{live_server.url}/leads/")
    rows = page.locator("table.data-table tbody tr")
    # (their own five leads only: rep2's L-OTHER and the unassigned L-FREE are not theirs)
    expect(rows).to_have_count(5)

    # When they filter to hot leads
    page.get_by_role("checkbox", name="Hot").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*tier=hot.*"))

    # Then only their hot leads remain, highest score first
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-lead", "L-HOT")
    expect(rows.nth(1)).to_have_attribute("data-lead", "L-MEGA")

    # When they open the first
    rows.nth(0).get_by_role("link", name="Hana Hot").click()
    page.wait_for_url(f"{live_server.url}/leads/{hot.pk}/?model={SLUG}")

    # Then the breakdown shows each line and the sum, equal to the stored score
    expect(page.get_by_role("heading", name="Why 120 under New business")).to_be_visible()
    lines = page.locator("table.lines tbody tr")
    expect(lines).to_have_count(5)
    expected = [
        ("decision-maker", "+15"),
        ("software", "+10"),
        ("pricing-visit", "+40"),
        ("email-open", "+5"),
        ("demo-request", "+50"),
    ]
    for i, (key, points) in enumerate(expected):
        expect(lines.nth(i)).to_have_attribute("data-key", key)
        expect(lines.nth(i).locator("td.points")).to_have_text(points)
    expect(lines.nth(2)).to_contain_text("/pricing/enterprise")
    # Each line reads its dimension above its label, both from the cell's left edge (no gap in
    # which a long label wraps under a short "FIT")
    offsets = page.evaluate(
        """() => [...document.querySelectorAll('table.lines tbody th')].map(th => {
            const dim = th.querySelector('.dimension').getBoundingClientRect();
            const r = document.createRange(); r.setStart(th.lastChild, 0); r.setEnd(th.lastChild, 1);
            const label = r.getBoundingClientRect();
            return [Math.round(label.left - dim.left), label.top >= dim.bottom - 1];
        })"""
    )
    assert offsets and all(abs(dx) <= 2 and below for dx, below in offsets), offsets
    expect(page.locator("[data-sum]")).to_have_text("120")
    expect(page.locator("[data-score]")).to_have_text("120")
    expect(page.locator(".check.ok")).to_contain_text("These lines are the stored score")

    # When they accept it
    panel = page.locator(f"#stage-{SLUG}")
    expect(panel.locator("mark.stage")).to_have_text("MQL")
    panel.get_by_role("button", name="Accept as SQL").click()

    # Then the stage becomes SQL in place, and the move is on record with who made it
    panel = page.locator(f"#stage-{SLUG}")
    expect(panel.locator("mark.stage")).to_have_text("SQL")
    expect(panel).to_contain_text("Accepted")
    expect(panel.get_by_role("button", name="Accept as SQL")).to_have_count(0)
    assert page.url == f"{live_server.url}/leads/{hot.pk}/?model={SLUG}"  # htmx swapped the panel, no reload
    stage = LeadStage.objects.get(lead=hot, scoring_model=workspace.scoring_model)
    assert stage.stage == Stage.SQL
    assert stage.changed_by == rep
    move = StageTransition.objects.filter(lead=hot, to_stage=Stage.SQL).get()
    assert (move.from_stage, move.actor) == (Stage.MQL, rep)

    # When they go back to their list (issue 17: it opens on the leads still to work)
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Leads").click()
    page.wait_for_url(f"{live_server.url}/leads/?model={SLUG}")

    # Then the accepted lead is no longer on it, and the page says what it shows
    expect(page.locator("#stage-scope")).to_contain_text("Showing open leads")
    expect(rows).to_have_count(4)
    expect(page.locator('tr[data-lead="L-HOT"]')).to_have_count(0)
    expect(page.get_by_role("checkbox", name="SQL")).not_to_be_checked()

    # and every stage is one click away, the accepted lead with its SQL stage among them
    page.get_by_role("link", name="Show every stage").click()
    page.wait_for_url(re.compile(r".*stage=any.*"))
    expect(rows).to_have_count(5)
    expect(page.locator('tr[data-lead="L-HOT"] mark.stage')).to_have_text("SQL")
    assert page.console_errors == []
