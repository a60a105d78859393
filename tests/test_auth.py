"""Every page but the login page needs a login; each persona lands on a home page for its role."""

import re

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from leads.models import Event, Lead
from leadscoring.roles import DEMO_PASSWORD
from leadscoring.templatetags.workbench import tally
from matrix.choices import VersionStatus
from matrix.models import ModelVersion, ScoringModel
from scoring import selectors
from scoring.selectors import Tally

LOGIN = "/accounts/login/"


def assert_no_inline_code(html: str):
    """The content security policy blocks inline scripts and styles: the pages must not need any."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\sstyle=", html), "style= attribute"
    assert "<style" not in html


@pytest.mark.parametrize(
    "path, login",
    [
        ("/", f"{LOGIN}?next=/"),
        # The admin keeps its own login page (it also tells staff from non-staff).
        ("/admin/", "/admin/login/?next=/admin/"),
    ],
)
def test_anonymous_is_sent_to_login(client, db, path, login):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url == login
    assert client.get(login).status_code == 200


def test_login_page_renders_for_anonymous(client, db):
    response = client.get(LOGIN)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="username"' in html and 'name="password"' in html and "csrfmiddlewaretoken" in html
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert_no_inline_code(html)


def test_wrong_password_shows_an_error(client, rep):
    response = client.post(LOGIN, {"username": "rep", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "username, role",
    [
        ("marketer", "marketing editor"),
        ("saleslead", "sales editor"),
        ("rep", "sales rep"),
        ("manager", "sales manager"),
        ("admin", "admin"),
    ],
)
def test_each_persona_logs_in_and_sees_its_role(client, personas, username, role):
    # Given a demo login, when it signs in on the login page, then home greets it with its role.
    response = client.post(LOGIN, {"username": username, "password": DEMO_PASSWORD}, follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert response.redirect_chain == [(reverse("home"), 302)]
    assert f"Hello, {personas[username].first_name}" in html
    assert f'<mark class="role">{role}</mark>' in html
    assert_no_inline_code(html)


def test_login_honours_next(client, rep):
    response = client.post(LOGIN, {"username": "rep", "password": DEMO_PASSWORD, "next": "/admin/"})
    assert response.url == "/admin/"


def test_home_shows_work_for_the_role(client, marketer, rep, manager, admin_user):
    pages = {}
    for user in (marketer, rep, manager, admin_user):
        client.force_login(user)
        pages[user.username] = client.get("/").content.decode()
    assert "Edit a draft" in pages["marketer"] and "Edit a draft" not in pages["rep"]
    assert "Work your MQLs" in pages["rep"] and "Work your MQLs" not in pages["marketer"]
    assert "Conversion report" in pages["manager"] and "Conversion report" not in pages["rep"]
    assert 'href="/admin/"' in pages["admin"] and 'href="/admin/"' not in pages["manager"]
    # The counts are the workbench's: a rep, who sees only their own leads, is told so
    assert "<header>Leads of every owner</header>" in pages["rep"] and "yours are on" in pages["rep"]
    assert "<header>Leads</header>" in pages["manager"] and "of every owner" not in pages["manager"]


def scoring_models(n: int):
    """n scoring models: odd ones with v1 archived and v2 live, even ones with a draft only."""
    for i in range(n):
        sm = ScoringModel.objects.create(slug=f"m{i}", name=f"Model {i}")
        if i % 2:
            ModelVersion.objects.create(scoring_model=sm, number=1, status=VersionStatus.ARCHIVED, document={})
            ModelVersion.objects.create(scoring_model=sm, number=2, status=VersionStatus.PUBLISHED, document={})
        else:
            ModelVersion.objects.create(scoring_model=sm, number=1, document={})


def test_home_lists_models_with_their_live_version(client, manager):
    scoring_models(2)
    client.force_login(manager)
    html = client.get("/").content.decode()
    assert re.search(r'Model 0 <small class="slug">m0</small></td>\s*<td><em>none published</em>', html)
    assert re.search(r'Model 1 <small class="slug">m1</small></td>\s*<td>v2</td>', html)
    assert re.search(r"Scoring models</header><p class=\"count\">2<", html)


@pytest.mark.parametrize("models", [1, 12])
def test_home_page_query_count_is_fixed(client, manager, django_assert_max_num_queries, models):
    # session, user, groups, permissions (2), counts, models with live version, the header's
    # unread-alert count: never per model. Postgres first reads the planner's row estimates: one more.
    scoring_models(models)
    client.force_login(manager)
    with django_assert_max_num_queries(8 + (connection.vendor == "postgresql")):
        assert client.get("/").status_code == 200


def test_home_counts_are_exact_on_small_tables(client, rep):
    lead = Lead.objects.create(external_id="L1", created_at=timezone.now())
    Event.objects.bulk_create(Event(lead=lead, kind="visit", occurred_at=timezone.now()) for _ in range(3))
    assert selectors.counts() == {"scoring_models": Tally(0, True), "leads": Tally(1, True), "events": Tally(3, True)}


def test_home_counts_of_big_tables_are_estimates_on_postgres(rep, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite always counts exactly")
    Lead.objects.bulk_create(Lead(external_id=f"L{i}", created_at=timezone.now()) for i in range(50))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead")
    monkeypatch.setattr(selectors, "ESTIMATE_ABOVE", 10)
    counts = selectors.counts()
    assert counts["leads"] == Tally(50, False)
    assert counts["scoring_models"] == Tally(0, True)


def test_tally_marks_estimates():
    assert tally(Tally(1234567, True)) == "1,234,567"
    assert tally(Tally(1234567, False)) == "≈ 1,234,567"


def test_logout_is_a_post(client, rep):
    client.force_login(rep)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response.url == reverse("login")
    assert client.get("/").status_code == 302


def test_logout_form_is_on_every_page(client, rep):
    client.force_login(rep)
    html = client.get("/").content.decode()
    assert re.search(r'<form method="post" action="/accounts/logout/"[^>]*>\s*<input type="hidden" name="csrf', html)


@pytest.mark.parametrize("path", ["vendor/pico/pico.min.css", "vendor/htmx/htmx.min.js", "css/app.css"])
def test_pages_use_vendored_assets(client, rep, path):
    # Given the assets copied from npm, then pages link them from our own origin, never a CDN.
    client.force_login(rep)
    html = client.get("/").content.decode()
    assert f'"/static/{path}"' in html
    assert "://" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', html))
    response = client.get(f"/static/{path}")
    assert response.status_code == 200
    response.close()


# --- Login throttling (leadscoring/login_limits.py) --------------------------------------------


def log_in(client, username, password, path=LOGIN, ip="192.0.2.10"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail_logins(client, username, times, **kwargs):
    return [log_in(client, username, "wrong-password", **kwargs).status_code for _ in range(times)]


def test_sixth_attempt_is_refused_even_with_the_right_password(client, rep):
    # Given five wrong passwords for rep from one address (the fifth already answers the lock page),
    assert fail_logins(client, "rep", 5) == [200, 200, 200, 200, 429]
    # when the right one comes next, then it is refused and nobody is logged in.
    response = log_in(client, "rep", DEMO_PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lock_page_says_when_to_try_again(client, rep):
    fail_logins(client, "rep", 5)
    response = log_in(client, "rep", DEMO_PASSWORD)
    html = response.content.decode()
    assert response.status_code == 429
    assert "Too many failed logins" in html and "Try again" in html and "in 15 minutes" in html
    assert 890 <= int(response["Retry-After"]) <= 901
    assert_no_inline_code(html)


def test_another_username_from_the_same_address_is_not_locked(client, rep, manager):
    fail_logins(client, "rep", 5)
    response = log_in(client, "manager", DEMO_PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(manager.pk)


def test_the_same_username_from_another_address_is_not_locked(client, rep):
    fail_logins(client, "rep", 5, ip="192.0.2.10")
    assert log_in(client, "rep", DEMO_PASSWORD, ip="198.51.100.7").status_code == 302


def test_after_the_lock_window_the_right_password_works(client, rep):
    from axes.models import AccessAttempt

    fail_logins(client, "rep", 5)
    # Given the failures happened 16 minutes ago (the lock is 15 minutes), then the login works.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timezone.timedelta(minutes=16))
    assert log_in(client, "rep", DEMO_PASSWORD).status_code == 302


def test_a_successful_login_clears_earlier_typos(client, rep):
    fail_logins(client, "rep", 4)
    assert log_in(client, "rep", DEMO_PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    assert fail_logins(client, "rep", 4) == [200, 200, 200, 200]
    assert log_in(client, "rep", DEMO_PASSWORD).status_code == 302


def test_an_address_spraying_many_usernames_is_locked(client, settings, personas):
    # Given a per-address limit of 8 and 4 wrong passwords each for two usernames (under their own limit),
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 8
    fail_logins(client, "rep", 4)
    fail_logins(client, "rep2", 4)
    # then every username is refused from that address, and still welcome from another one.
    assert log_in(client, "manager", DEMO_PASSWORD).status_code == 429
    assert log_in(client, "manager", DEMO_PASSWORD, ip="198.51.100.7").status_code == 302


def test_admin_login_is_throttled_too(client, admin_user):
    statuses = fail_logins(client, "admin", 5, path="/admin/login/")
    assert statuses[-1] == 429
    response = log_in(client, "admin", DEMO_PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failures_on_one_login_page_count_on_the_other(client, admin_user):
    fail_logins(client, "admin", 3, path="/admin/login/")
    fail_logins(client, "admin", 2)
    assert log_in(client, "admin", DEMO_PASSWORD).status_code == 429


def test_token_api_calls_are_not_logins(client, rep):
    from axes.models import AccessAttempt

    from tests.apihelpers import token_client

    # Given rep locked out of the login page, then an integration with rep's token still works,
    fail_logins(client, "rep", 5)
    assert token_client(rep).get("/api/v1/leads/").status_code == 200
    # and wrong tokens are refused by the API without counting as failed logins.
    for _ in range(6):
        assert client.get("/api/v1/leads/", HTTP_AUTHORIZATION="Token not-a-token").status_code == 401
    assert AccessAttempt.objects.exclude(username="rep").count() == 0


@pytest.mark.parametrize(
    "proxies, forwarded, counted_as",
    [
        (0, "203.0.113.9", "10.0.0.2"),  # no proxy trusted: the header is the client's own text
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # what the client wrote itself is ignored
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (2, "", "10.0.0.2"),
    ],
)
def test_address_behind_trusted_proxies(rf, settings, proxies, forwarded, counted_as):
    from leadscoring.login_limits import client_ip

    settings.LOGIN_TRUSTED_PROXIES = proxies
    request = rf.post(LOGIN, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == counted_as
