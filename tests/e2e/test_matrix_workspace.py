"""Marketing and sales take a scoring model from draft to published, in two browsers (issue 5).

Given a workspace scored through the real services (tests/leads/workspace_data.py, model
`new-biz` version 1 live), the marketing editor starts a draft, raises a criterion's points in
the draft editor (htmx: the row's form opens and saves in place, no reload), previews the impact,
and approves; the sales editor, in a second browser, sees the draft waiting for the sales
approval and approves; the marketer publishes from the draft editor, confirms with the impact
summary in front of them, lands on the rescore job, and once the workers'
steps have run (the test runs them: no broker in browser tests) sees the lead's new score.

The worked numbers (see workspace_build's docstring): "Pricing page visit" goes from 20 to 35.
  L-WARM  enterprise (warm 45, hot 80, MQL 70): fit 25 + one pricing visit + two e-mail opens
          55 -> 25 + 35 + 10 = 70: +15, still warm, now MQL (the one MQL crossing).
  L-DECAY default (warm 30): webinar 30 + pricing, minus the decay (-20, -15), no fit
          15 -> 0 + (30 + 35 - 35) = 30: cold -> warm (the one tier move).
  L-HOT, L-MEGA, L-OTHER gain too, but are hot and MQL already; L-COLD and L-FREE do not move.

A second test opens the same draft in two browsers: the second save, made on the page that was
open before the first, is refused with who changed what, and the first change stands.
"""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from matrix.choices import PreviewState, VersionStatus
from matrix.models import Approval, ModelVersion
from matrix.services import model_draft_start
from scoring.choices import JobState
from scoring.impact import impact_preview_run
from scoring.jobs import rescore_chunk_run, rescore_job_plan
from scoring.models import ImpactPreview, RescoreJob, Score
from tests.e2e.conftest import login, new_browser_page
from tests.leads.workspace_data import SLUG, workspace_build

pytestmark = [pytest.mark.browser]
POLLED = 15_000  # ms: what htmx polling (every 2 s) or the job page's refresh (2 s) may take


@pytest.fixture
def workspace(transactional_db, personas):
    return workspace_build(rep=personas["rep"], rep2=personas["rep2"])


@pytest.fixture
def new_page(browser):
    """Pages in browsers of their own (one context each: own cookies, own user), made like
    conftest's `page`, each collecting its console errors (a CSP violation shows there)."""
    pages = []

    def make():
        pages.append(new_browser_page(browser))
        return pages[-1]

    yield make
    for page in pages:
        page.context.close()


def _score(lead) -> Score:
    return Score.objects.get(lead=lead, scoring_model__slug=SLUG)


def _mark_window(page) -> None:
    """A marker on `window`: it survives htmx swaps and is gone after any full page load."""
    page.evaluate("window.__noReload = 'still here'")


def _not_reloaded(page) -> bool:
    return page.evaluate("window.__noReload") == "still here"


def test_marketing_and_sales_take_a_draft_to_published_and_the_leads_are_rescored(
    new_page, live_server, workspace, personas
):
    marketer, saleslead = personas["marketer"], personas["saleslead"]
    warm = workspace.leads["L-WARM"]
    before = _score(warm)
    assert (before.score, before.tier, before.mql, before.version_number) == (Decimal("55"), "warm", False, 1)
    matrix_url = f"{live_server.url}/matrix/{SLUG}/"

    # Given the marketing editor and the sales editor, each logged in in a browser of their own
    maya = new_page()
    login(maya, live_server, marketer)
    sam = new_page()
    login(sam, live_server, saleslead)

    # When the marketer opens the matrix and starts a draft from the live version
    maya.goto(matrix_url)
    expect(maya.get_by_role("heading", name="New business", exact=True)).to_be_visible()
    maya.get_by_role("link", name="start a draft").click()
    maya.wait_for_url(f"{matrix_url}draft/")
    maya.get_by_role("button", name="Start a draft from the live version 1").click()
    maya.wait_for_url(f"{matrix_url}draft/")

    # Then the editor shows draft version 2 at revision 1, a copy of the live version
    editor = maya.locator("#draft-editor")
    expect(editor.get_by_role("heading", name="Editing New business: draft version 2")).to_be_visible()
    expect(editor).to_have_attribute("data-revision", "1")
    row = maya.locator("#criteria-row-pricing-visit")
    expect(row.locator(".points")).to_have_text("20 points")

    # When they open the pricing criterion's form (htmx: the row turns into its form in place)
    _mark_window(maya)
    row.get_by_role("button", name="Edit").click()
    points = row.locator("#criteria-pricing-visit-points")
    expect(points).to_have_value("20")
    assert _not_reloaded(maya)

    # and raise its points from 20 to 35, and save
    points.fill("35")
    row.get_by_role("button", name="Save").click()

    # Then the editor comes back in place at revision 2, the row shows the new points and says,
    # right there and in view (focused, so a screen reader reads it too), that it was saved
    expect(editor).to_have_attribute("data-revision", "2")
    saved = row.locator(".draft-saved")
    expect(saved).to_have_text(
        "✓ Criterion pricing-visit saved. Revision 2 saved; approvals of earlier revisions no longer count."
    )
    expect(saved).to_be_focused()
    expect(saved).to_be_in_viewport()
    expect(maya.locator(".draft-saved")).to_have_count(1)
    expect(row.locator(".points")).to_have_text("35 points")
    expect(row.locator("form")).to_have_count(3)  # up, down, remove: the edit form is closed
    assert _not_reloaded(maya)
    assert maya.url == f"{matrix_url}draft/"
    draft = ModelVersion.objects.get(scoring_model__slug=SLUG, status=VersionStatus.DRAFT)
    assert (draft.number, draft.revision, draft.updated_by) == (2, 2, marketer)
    assert next(c for c in draft.document["criteria"] if c["key"] == "pricing-visit")["points"] == 35
    assert _score(warm).score == Decimal("55")  # nothing is live yet

    # When they ask for the impact preview of this revision
    maya.goto(matrix_url)
    maya.get_by_role("link", name="impact preview").click()
    maya.wait_for_url(f"{matrix_url}impact/")
    expect(maya.locator("#no-preview")).to_be_visible()
    maya.get_by_role("button", name="Preview the impact of revision 2").click()
    maya.wait_for_url(f"{matrix_url}impact/")

    # Then the page waits for a worker and polls
    result = maya.locator("#impact-result")
    expect(result).to_contain_text("Waiting for a worker")
    preview = ImpactPreview.objects.get()
    assert (preview.version, preview.revision, preview.state) == (draft, 2, PreviewState.QUEUED)
    _mark_window(maya)

    # When the worker runs the preview (here: the test, as the task would)
    assert impact_preview_run(preview_id=preview.pk) is True

    # Then the polled part shows the result, without a reload: one tier move, one MQL crossing
    expect(maya.locator("#impact-leads")).to_have_text("7", timeout=POLLED)
    expect(maya.locator("#impact-tier-changed")).to_have_text("1")
    expect(maya.locator("#impact-mql-up")).to_have_text("1")
    expect(maya.locator("#impact-mql-down")).to_have_text("0")
    expect(result.locator("progress")).to_have_count(0)
    assert _not_reloaded(maya)
    # L-DECAY moves cold -> warm in the mid-market segment; L-WARM stays warm in enterprise
    expect(maya.locator('table[data-segment="default"] td[data-move="cold-warm"]')).to_have_text("1")
    expect(maya.locator('table[data-segment="enterprise"] td[data-move="warm-warm"]')).to_have_text("1")
    expect(maya.locator('table[data-segment="enterprise"] caption')).to_contain_text("1 become MQL")
    # and the movers say why: L-WARM gains 15 from the changed criterion, and is now MQL
    mover = maya.locator('table.movers tr[data-lead="L-WARM"]')
    expect(mover.locator("td").nth(0)).to_have_text("55 warm")
    expect(mover.locator("td").nth(1)).to_have_text("70 warm · MQL")
    expect(mover.locator("td.points")).to_have_text("+15")
    expect(mover.locator("ul.why li")).to_have_text(["Pricing page visit: 20 → 35"])
    expect(maya.locator('table.movers tr[data-lead="L-DECAY"] ul.why')).to_contain_text("Pricing page visit: 20 → 35")

    # When the marketer approves this revision on the matrix page
    maya.get_by_role("link", name="the matrix").click()
    maya.wait_for_url(matrix_url)
    signoff = maya.locator("article.signoff")
    expect(signoff.get_by_role("heading")).to_have_text("Draft version 2, revision 2")
    expect(signoff).to_contain_text("Publishing needs the marketing and sales approval of this revision")
    expect(signoff.get_by_role("button", name="Publish and rescore every lead")).to_be_disabled()
    signoff.get_by_role("button", name="Approve revision 2").click()
    maya.wait_for_url(matrix_url)

    # Then the marketing approval is recorded, the sales one is still missing
    expect(maya.get_by_text("Version 2 revision 2: marketing approval recorded.")).to_be_visible()
    signoff = maya.locator("article.signoff")
    expect(signoff.locator("li").nth(0)).to_contain_text("Marketing: approved by Maya Marketer")
    expect(signoff.locator("li").nth(1)).to_contain_text("Sales: not approved at this revision")
    expect(signoff.get_by_role("button", name="Publish and rescore every lead")).to_be_disabled()

    # When the sales editor opens the matrix in their browser
    sam.goto(matrix_url)

    # Then they see the draft waiting for the sales approval of this revision
    sales_signoff = sam.locator("article.signoff")
    expect(sales_signoff).to_contain_text("Publishing needs the sales approval of this revision")
    expect(sales_signoff.locator("li").nth(0)).to_contain_text("Marketing: approved by Maya Marketer")

    # When they read the same impact preview, and approve
    sam.get_by_role("link", name="impact preview").click()
    expect(sam.locator("#impact-mql-up")).to_have_text("1")
    expect(sam.locator('table.movers tr[data-lead="L-WARM"] ul.why')).to_contain_text("Pricing page visit: 20 → 35")
    sam.get_by_role("link", name="the matrix").click()
    sam.wait_for_url(matrix_url)
    sam.locator("article.signoff").get_by_role("button", name="Approve revision 2").click()
    sam.wait_for_url(matrix_url)

    # Then both teams have signed off revision 2
    expect(sam.get_by_text("Version 2 revision 2: sales approval recorded.")).to_be_visible()
    expect(sam.locator("article.signoff")).to_contain_text("Both teams signed off this revision: it can be published.")
    approvals = Approval.objects.filter(version=draft, revision=2).order_by("role")
    assert [(a.role, a.user) for a in approvals] == [("marketing", marketer), ("sales", saleslead)]

    # When the marketer, back in the draft editor, asks to publish
    maya.goto(f"{matrix_url}draft/")
    expect(maya.locator(".draft-approvals")).to_contain_text("Sales: approved by Sam Saleslead")
    maya.get_by_role("button", name="Publish and rescore every lead…").click()

    # Then they are asked first, with what the impact preview of this revision said
    maya.wait_for_url(f"{matrix_url}versions/2/publish/?back=draft")
    expect(maya.get_by_role("heading", name="Publish New business version 2?")).to_be_visible()
    impact = maya.locator("#publish-impact")
    expect(impact.locator("dt")).to_have_text(["Leads scored", "Change tier", "Become MQL", "Stop being MQL"])
    expect(impact.locator("dd")).to_have_text(["7", "1", "1", "0"])
    assert ModelVersion.objects.get(pk=draft.pk).status == VersionStatus.DRAFT  # nothing published yet

    # When they confirm
    publish = maya.get_by_role("button", name="Publish and rescore every lead", exact=True)
    expect(publish).to_be_enabled()
    publish.click()

    # Then version 2 is live and they land on its rescore job, waiting for the workers
    job = RescoreJob.objects.get(version=draft)
    maya.wait_for_url(f"{live_server.url}/jobs/{job.pk}/")
    expect(maya.get_by_role("heading", name=f"Rescore job #{job.pk}: New business v2")).to_be_visible()
    expect(maya.get_by_text("Version 2 is live: every lead is being rescored.")).to_be_visible()
    expect(maya.locator(".state")).to_have_text("Pending")
    draft.refresh_from_db()
    assert (draft.status, draft.published_by) == (VersionStatus.PUBLISHED, marketer)
    assert ModelVersion.objects.get(scoring_model__slug=SLUG, number=1).status == VersionStatus.ARCHIVED

    # When the workers run the job: planned into chunks, each chunk scored
    indexes = rescore_job_plan(job_id=job.pk)
    assert indexes
    for index in indexes:
        assert rescore_chunk_run(job_id=job.pk, index=index) is True

    # Then the job page (it refreshes itself while the job runs) shows it done, every lead scored
    expect(maya.locator(".state")).to_have_text("Done", timeout=POLLED)
    expect(maya.locator("dl.facts")).to_contain_text("7 of 7 leads (100%)")
    job.refresh_from_db()
    assert (job.state, job.leads_done, job.created_by) == (JobState.DONE, 7, marketer)

    # and the lead's score moved by the criterion's 15 points, under version 2, now MQL
    after = _score(warm)
    assert after.score - before.score == Decimal("15")
    assert (after.score, after.tier, after.mql, after.version_number) == (Decimal("70"), "warm", True, 2)
    assert (_score(workspace.leads["L-DECAY"]).score, _score(workspace.leads["L-DECAY"]).tier) == (
        Decimal("30"),
        "warm",
    )

    # and the lead's page shows the new score, explained by version 2's lines
    maya.goto(f"{live_server.url}/leads/{warm.pk}/?model={SLUG}")
    card = maya.locator(f'article.score-card[data-model="{SLUG}"]')
    expect(card.locator(".score-value")).to_have_text("70")
    expect(card.locator("header small")).to_have_text("v2")
    expect(maya.get_by_role("heading", name="Why 70 under New business")).to_be_visible()
    expect(maya.locator('table.lines tr[data-key="pricing-visit"] td.points')).to_have_text("+35")
    expect(maya.locator("[data-score]")).to_have_text("70")
    expect(maya.locator(".check.ok")).to_contain_text("These lines are the stored score: version 2")

    # and the sales editor's matrix shows version 2 live, with no draft left to sign off
    sam.goto(matrix_url)
    expect(sam.get_by_text("Version 2 (published)")).to_be_visible()
    expect(sam.locator("article.signoff")).to_have_count(0)
    expect(sam.locator('tr[data-key="pricing-visit"] td.points')).to_have_text("35")

    assert maya.console_errors == []
    assert sam.console_errors == []


def test_a_save_on_a_stale_editor_is_refused_with_who_changed_what(new_page, live_server, workspace, personas):
    marketer, saleslead = personas["marketer"], personas["saleslead"]
    draft = model_draft_start(scoring_model=workspace.scoring_model, user=marketer)
    assert (draft.number, draft.revision) == (2, 1)
    editor_url = f"{live_server.url}/matrix/{SLUG}/draft/"

    # Given both editors have the same draft open in their editor, at revision 1
    maya = new_page()
    login(maya, live_server, marketer)
    maya.goto(editor_url)
    sam = new_page()
    login(sam, live_server, saleslead)
    sam.goto(editor_url)
    for page in (maya, sam):
        expect(page.locator("#draft-editor")).to_have_attribute("data-revision", "1")

    # When the sales editor raises "Industry: software" from 10 to 12 and saves
    row = sam.locator("#criteria-row-software")
    row.get_by_role("button", name="Edit").click()
    row.locator("#criteria-software-points").fill("12")
    row.get_by_role("button", name="Save").click()
    expect(sam.locator("#draft-editor")).to_have_attribute("data-revision", "2")
    expect(row.locator(".points")).to_have_text("12 points")

    # and the marketer, on the page they opened before that save, changes another criterion
    _mark_window(maya)
    row = maya.locator("#criteria-row-decision-maker")
    row.get_by_role("button", name="Edit").click()
    row.locator("#criteria-decision-maker-points").fill("20")
    row.get_by_role("button", name="Save").click()

    # Then their save is refused, in place, naming who changed what since revision 1
    stale = maya.locator("article.draft-stale")
    expect(stale.get_by_role("heading")).to_have_text("Not saved: someone changed this draft since you opened it")
    expect(stale).to_contain_text("You were working on revision 1; the draft is now at revision 2.")
    expect(stale.locator("ul > li").first).to_contain_text("Sam Saleslead saved revision 2 on")
    expect(stale.locator("ul.diff li")).to_have_text(["criterion software points 10 → 12"])
    assert _not_reloaded(maya)
    # the editor shows the draft as it is now, their form still open with what they typed,
    # now on revision 2 (saving again is a decision taken after reading the change)
    expect(maya.locator("#draft-editor")).to_have_attribute("data-revision", "2")
    expect(maya.locator("#criteria-row-software .points")).to_have_text("12 points")
    expect(row.locator("#criteria-decision-maker-points")).to_have_value("20")
    expect(row.locator('input[name="revision"]')).to_have_value("2")

    # and the sales editor's change stands, the marketer's was not saved
    draft.refresh_from_db()
    points = {c["key"]: c["points"] for c in draft.document["criteria"]}
    assert (draft.revision, draft.updated_by) == (2, saleslead)
    assert (points["software"], points["decision-maker"]) == (12, 15)

    # The refused save's own 409 is the only console error (Chromium logs every 4xx answer):
    # nothing else went wrong on either page
    refused = re.compile(r"status of 409")
    assert len([e for e in maya.console_errors if refused.search(e)]) == 1
    assert [e for e in maya.console_errors if not refused.search(e)] == []
    assert sam.console_errors == []
