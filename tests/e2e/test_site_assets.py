"""The site's own assets in the browser: no content-security-policy error anywhere, and a favicon.

Given the site-wide policy (style-src and script-src 'self', no 'unsafe-inline'), when a user
opens the browsable API root /api/v1/ (DRF's page) and a normal page, then Chromium reports no
CSP violation in the console, and the icon the page links and /favicon.ico both load.
"""

import pytest

from tests.e2e.conftest import login

pytestmark = [pytest.mark.browser]


def _csp_errors(page) -> list[str]:
    return [text for text in page.console_errors if "Content Security Policy" in text or "Refused to" in text]


def test_the_browsable_api_root_and_a_page_load_without_csp_errors(page, live_server, transactional_db, personas):
    # Given a logged-in admin (who may read the whole API)
    login(page, live_server, personas["admin"])

    # When they open the browsable API root
    response = page.goto(live_server.url + "/api/v1/")
    page.wait_for_load_state("networkidle")

    # Then DRF's page is shown and Chromium logged no CSP violation
    assert response.status == 200
    assert page.locator(".page-header h1").count() == 1
    assert _csp_errors(page) == []

    # And so for a list with DRF's Filters button (floated by a style attribute in DRF's template)
    page.goto(live_server.url + "/api/v1/leads/")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("button", name="Filters").count() == 1
    assert _csp_errors(page) == []

    # And so for a normal page of the site
    page.goto(live_server.url + "/leads/")
    page.wait_for_load_state("networkidle")
    assert _csp_errors(page) == []
    assert page.console_errors == []


def test_every_page_links_a_favicon_that_loads_and_favicon_ico_answers(page, live_server, transactional_db, personas):
    # Given a logged-in rep on their lead list
    login(page, live_server, personas["rep"])
    page.goto(live_server.url + "/leads/")

    # Then the page links an icon that the server serves
    href = page.locator("link[rel=icon]").get_attribute("href")
    assert href and not href.startswith("data:")
    icon = page.request.get(live_server.url + href if href.startswith("/") else href)
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/")

    # And /favicon.ico, which browsers and tools ask for whatever the page links, answers too
    legacy = page.request.get(live_server.url + "/favicon.ico")
    assert legacy.status == 200 and legacy.headers["content-type"].startswith("image/")
