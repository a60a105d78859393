"""The site's error pages (leadscoring/views.py, leadscoring/middleware.py) and the API root.

Given the demo personas, when a page is refused, missing or broken, then the answer is the site's
own page in the site layout (never Django's debug page listing the URL patterns), with DEBUG on
(the demo) as with DEBUG off (production); an htmx request gets a small fragment.
"""

import pytest
from django.test import Client
from django.urls import path

from leadscoring import urls as site_urls
from tests.leads.workspace_data import workspace_build


def _boom(request):
    raise RuntimeError("a bug in a view")


# The site's URLs plus one view that fails, for the 500 page.
urlpatterns = [*site_urls.urlpatterns, path("boom/", _boom)]
handler403, handler404, handler500 = (getattr(site_urls, f"handler{code}", None) for code in (403, 404, 500))


@pytest.fixture(params=[True, False], ids=["debug-on", "debug-off"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_another_reps_lead_is_a_friendly_404_that_lists_no_url(db, personas, debug):
    # Given a lead of rep2
    ws = workspace_build(rep=personas["rep"], rep2=personas["rep2"])
    other = ws.leads["L-OTHER"]
    # When rep opens it
    response = as_user(personas["rep"]).get(f"/leads/{other.pk}/")
    # Then the site's 404 page answers, in the site layout, with no URL pattern listed
    page = response.content.decode()
    assert response.status_code == 404
    assert "There is nothing here" in page and 'class="brand"' in page
    assert "URLconf" not in page and "Django tried these URL patterns" not in page and "admin/" not in page


def test_an_address_that_matches_nothing_is_the_friendly_404(db, personas, debug):
    response = as_user(personas["rep"]).get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "There is nothing here" in page and "Django tried these URL patterns" not in page


def test_a_missing_slash_still_redirects(db, personas, debug):
    response = as_user(personas["rep"]).get("/leads")
    assert (response.status_code, response["Location"]) == (301, "/leads/")


def test_the_draft_editor_refuses_a_rep_with_the_friendly_403(db, personas, debug):
    response = as_user(personas["rep"]).get("/matrix/anything/draft/")
    page = response.content.decode()
    assert response.status_code == 403
    assert "You may not open this page" in page and 'class="brand"' in page and "logged in as <strong>rep" in page


def test_an_htmx_request_refused_gets_a_fragment(db, personas, debug):
    response = as_user(personas["rep"]).get("/matrix/anything/draft/", headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in page and "<html" not in page and 'role="alert"' in page


@pytest.mark.urls("tests.test_error_pages")
def test_a_broken_view_is_the_friendly_500_rendered_without_the_request(db, personas, debug):
    client = as_user(personas["rep"])
    client.raise_request_exception = False
    response = client.get("/boom/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page and 'class="brand"' in page
    # No request context: not even the user's name, and no traceback or settings.
    assert "Traceback" not in page and "a bug in a view" not in page and "rep</span>" not in page


def test_developers_can_ask_for_djangos_debug_pages(db, personas, settings):
    settings.DEBUG, settings.FRIENDLY_ERROR_PAGES = True, False
    response = as_user(personas["rep"]).get("/no/such/page/")
    assert "Django tried these URL patterns" in response.content.decode()


def test_the_api_root_lists_every_endpoint(db, personas):
    response = as_user(personas["rep"]).get("/api/v1/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert set(response.json()) == {"leads", "events", "models", "models_validate", "jobs", "schema", "docs"}
    assert response.json()["leads"] == "http://testserver/api/v1/leads/"


def test_the_api_root_is_browsable_and_linked_from_every_page(db, personas):
    client = as_user(personas["manager"])
    page = client.get("/api/v1/", headers={"Accept": "text/html"}).content.decode()
    assert "Lead-scoring workbench API" in page
    # Its breadcrumbs start at the root itself: /api/ leads there, it is no "Not Found" step
    assert "Not Found" not in page
    assert client.get("/api/").url == "/api/v1/"
    # and a path under /api/ that names nothing is still the API's JSON 404, slash or not
    for address in ("/api/v1/nothing", "/api/v1/models/a%0Ab/versions/1/"):  # a newline in a slug, too
        missing = client.get(address, follow=True, headers={"Accept": "application/json"})
        assert missing.status_code == 404 and "No API endpoint" in missing.json()["errors"][0]
    # Its description is shown as plain text: no Markdown backticks around the header
    assert "header Authorization: Token &lt;key&gt;" in page and "`Authorization" not in page
    home = client.get("/").content.decode()
    assert 'href="/api/v1/"' in home and 'href="/api/docs/"' in home
