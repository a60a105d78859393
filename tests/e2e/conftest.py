"""Browser fixtures: Debian's Chromium driven by Playwright's sync API against pytest-django's live server.

Use them from any test marked `@pytest.mark.browser`:

    def test_something(page, live_server, rep):
        login(page, live_server, rep)
        page.goto(live_server.url + "/leads/")

- `live_server` is pytest-django's, started with the test settings in force (see below).
- `browser` (session) launches /usr/bin/chromium headless; without it the tests skip, and fail
  under CI (CI=true), where a missing browser is a broken machine, not a reason to pass.
- `page` is a fresh context and page per test (own cookies), closed afterwards.
- `login(page, live_server, user)` logs in through the real login form with the demo password.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.test.utils import override_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# What the live server must run with. The autouse `_web_test_settings` of tests/conftest.py is
# function-scoped, while the live server is a session fixture whose thread builds its middleware
# (SecurityMiddleware reads SECURE_SSL_REDIRECT once, in __init__) before any test starts: so the
# values are forced here, while the server thread starts, or every page would redirect to HTTPS.
LIVE_SERVER_SETTINGS = {
    "SECURE_SSL_REDIRECT": False,
    "SESSION_COOKIE_SECURE": False,
    "CSRF_COOKIE_SECURE": False,
    "WHITENOISE_USE_FINDERS": True,
    "WHITENOISE_AUTOREFRESH": True,
}
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS", "")) if os.environ.get("E2E_SCREENSHOTS") else None


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    message = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}: it is required under CI")
    pytest.skip(message)


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, its thread started with LIVE_SERVER_SETTINGS in force."""
    from pytest_django.live_server_helper import LiveServer

    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    with override_settings(**LIVE_SERVER_SETTINGS):
        server = LiveServer(addr)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _browser_test_settings(settings):
    # Read per request (cookies): plain HTTP on localhost must keep its session and CSRF cookies.
    for name, value in LIVE_SERVER_SETTINGS.items():
        setattr(settings, name, value)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Browser tests commit for real (transactional database): publishing a model would send its
    rescore job to the broker on commit, events would wake the real-time scoring, a rescore could
    queue alerts and a draft's impact preview its task. Nothing is sent; the tests run what the
    worker would themselves (leads_rescore, the job's chunks, impact_preview_run)."""
    monkeypatch.setattr("scoring.jobs.job_enqueue", lambda **kwargs: False)
    monkeypatch.setattr("scoring.services.enqueue_alerts", lambda: None)
    monkeypatch.setattr("scoring.tasks.score_pending.apply_async", lambda *args, **kwargs: None)
    monkeypatch.setattr("scoring.impact.impact_preview_enqueue", lambda **kwargs: False)


@pytest.fixture(scope="session")
def playwright_instance():
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in the test's thread, so Django takes
    # every ORM call of the test for one made from async code. They are plain synchronous calls
    # (the loop only drives the browser): allow them while the browser runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def new_browser_page(browser):
    """A page in a browser context of its own (own cookies, own user) that collects its console
    errors in `page.console_errors`; close it with `page.context.close()`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    # A CSP violation or a script error is a failure of the page, whatever the test asserts.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    return page


@pytest.fixture
def page(browser, request):
    page = new_browser_page(browser)
    context = page.context
    yield page
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def login(page, live_server, user, password: str | None = None) -> None:
    """Log in through the login form (the demo users share DEMO_PASSWORD)."""
    from leadscoring.roles import DEMO_PASSWORD

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password or DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
