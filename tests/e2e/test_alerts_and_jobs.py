"""A publish as a rep lives it in the browser: the job's progress moves, and the leads it made MQLs
arrive as one digest on the alerts page, not one alert each.

Given three leads of the rep below the MQL line, when a new version lowers the line and its job
has done one of its chunks, then the jobs page shows the job part done with a time left; and when
the job is over, the rep's alerts page has one line for the three leads, which opens their list.
"""

import pytest
from playwright.sync_api import expect

from scoring.jobs import rescore_chunk_run, rescore_job_plan
from scoring.models import RescoreJob
from tests.e2e.conftest import login
from tests.scoring.test_jobs import add_leads, model_doc, publish, run_job

pytestmark = [pytest.mark.browser]


def test_a_publish_shows_progress_then_one_digest_of_the_rep_leads(
    page, live_server, transactional_db, personas, settings
):
    rep = personas["rep"]
    # Given three of the rep's leads scored below the MQL line, and a version that lowers it,
    # whose job (chunks of 2 leads) has done its first chunk
    settings.RESCORE_CHUNK_SIZE = 2
    add_leads(3, owner=rep)
    run_job(RescoreJob.objects.get(version=publish(model_doc(mql=500))))
    job = RescoreJob.objects.get(version=publish(model_doc(mql=5)))
    assert rescore_job_plan(job_id=job.pk) == [0, 1]
    rescore_chunk_run(job_id=job.pk, index=0)

    # When the rep looks at the jobs page
    login(page, live_server, rep)
    page.goto(f"{live_server.url}/jobs/")
    row = page.locator("tbody tr").filter(has_text=f"#{job.pk}")
    # Then the job is part done, with the time left estimated from the chunk done
    expect(row).to_contain_text("2 of 3 leads (66%)")
    expect(row.locator("[data-time-left]")).to_contain_text("about")

    # When the job is over and the rep opens the alerts
    rescore_chunk_run(job_id=job.pk, index=1)
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("link", name="Notifications")).to_contain_text("1")
    page.get_by_role("link", name="Notifications").click()

    # Then the three MQLs are one line, which lists the three leads
    digest = page.locator("tbody tr[data-digest]")
    expect(digest).to_have_count(1)
    expect(page.locator("tbody tr")).to_have_count(1)
    digest.get_by_role("link", name="3 leads became MQL in Pipeline after version 2").click()
    expect(page.get_by_role("heading", name="3 leads became MQL in Pipeline after version 2")).to_be_visible()
    leads = page.locator("tbody tr")
    expect(leads).to_have_count(3)
    leads.nth(0).get_by_role("link", name="L0000").click()
    expect(page).to_have_url(f"{live_server.url}/leads/{job.chunks.get(index=0).first_lead_id}/")
    assert page.console_errors == []
