"""Stored timestamps outside the supported range never break a reader (leadscoring/db.py).

Given a database written before the range was enforced, holding a lead's `created_at` and its
events' `occurred_at` far outside 1900-2200 (written here straight into the table, as the old
API did: `9999-12-31T23:59:59-14:00` is year 10000 in UTC, which Postgres stores and Python
cannot represent; `0001-01-01T00:00:00+14:00` is 1 BC), when each reader opens it, then it
answers 200 and shows the nearest bound of the range, and the stored value is left as it was.
"""

import pytest
from django.db import connection
from django.test import Client

from leads.models import Event, Lead
from leadscoring.timestamps import TIMESTAMP_MAX, TIMESTAMP_MIN
from tests.apihelpers import token_client
from tests.leads.workspace_data import SLUG, workspace_build

# What the old API stored for each input, as each database holds it.
STORED = {
    "year 10000": {"postgresql": "9999-12-31T23:59:59-14:00", "sqlite": "10000-01-01 13:59:59"},
    "1 BC": {"postgresql": "0001-01-01T00:00:00+14:00", "sqlite": "0000-12-31 10:00:00"},
    "year 9999": {"postgresql": "9999-12-31T23:59:59Z", "sqlite": "9999-12-31 23:59:59"},
    "year 1": {"postgresql": "0001-01-01T00:00:00Z", "sqlite": "0001-01-01 00:00:00"},
}
READ_AS = {"year 10000": TIMESTAMP_MAX, "1 BC": TIMESTAMP_MIN, "year 9999": TIMESTAMP_MAX, "year 1": TIMESTAMP_MIN}


def store_raw(lead: Lead, when: str) -> None:
    """Write the lead's created_at and its events' occurred_at as SQL, past every check of the app."""
    value = STORED[when][connection.vendor]
    cast = "::timestamptz" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Lead._meta.db_table} SET created_at = %s{cast} WHERE id = %s", [value, lead.pk])
        cursor.execute(f"UPDATE {Event._meta.db_table} SET occurred_at = %s{cast} WHERE lead_id = %s", [value, lead.pk])


@pytest.fixture(params=list(STORED))
def far(request, db, personas):
    ws = workspace_build(rep=personas["rep"], rep2=personas["rep2"])
    lead = ws.leads["L-HOT"]  # scored, with events: every part of every page has something to show
    store_raw(lead, request.param)
    return lead, request.param


def test_a_stored_out_of_range_instant_is_read_as_the_nearest_bound(far):
    lead, when = far
    assert Lead.objects.get(pk=lead.pk).created_at == READ_AS[when]
    assert set(Event.objects.filter(lead=lead).values_list("occurred_at", flat=True)) == {READ_AS[when]}
    # The stored value itself is untouched (no silent rewrite).
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CAST(created_at AS text) FROM {Lead._meta.db_table} WHERE id = %s", [lead.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith(("10000", "0000", "0001", "9999"))


PAGES = {
    "lead page": lambda lead: f"/leads/{lead.pk}/",
    "lead page, chosen model": lambda lead: f"/leads/{lead.pk}/?model={SLUG}",
    "list page": lambda lead: "/leads/",
    "list page sorted by last activity": lambda lead: "/leads/?sort=last_activity",
    "grid page": lambda lead: "/leads/grid/",
    "CSV export": lambda lead: "/leads/?_export=csv",
    "XLSX export": lambda lead: "/leads/?_export=xlsx",
}


@pytest.mark.parametrize("page", list(PAGES))
def test_the_managers_pages_and_exports_answer(far, manager, page):
    lead, _ = far
    client = Client()
    client.force_login(manager)
    response = client.get(PAGES[page](lead))
    assert response.status_code == 200
    # A streamed export writes its rows only as it is read: read it whole.
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if page == "CSV export":
        assert lead.external_id in body.decode()


ADMIN = {
    "lead search": lambda lead: f"/admin/leads/lead/?q={lead.external_id}",
    "lead list": lambda lead: "/admin/leads/lead/",
    "lead change page": lambda lead: f"/admin/leads/lead/{lead.pk}/change/",
    "event search": lambda lead: f"/admin/leads/event/?q={lead.external_id}",
}


@pytest.mark.parametrize("page", list(ADMIN))
def test_the_admin_answers(far, admin_user, page):
    lead, _ = far
    client = Client()
    client.force_login(admin_user)
    assert client.get(ADMIN[page](lead)).status_code == 200


API = {
    "lead": lambda lead: f"/api/v1/leads/{lead.external_id}/",
    "lead list": lambda lead: "/api/v1/leads/",
    "lead scores": lambda lead: f"/api/v1/leads/{lead.external_id}/scores/",
}


@pytest.mark.parametrize("call", list(API))
def test_the_api_reads_answer(far, admin_user, call):
    lead, when = far
    response = token_client(admin_user).get(API[call](lead))
    assert response.status_code == 200
    if call == "lead":
        shown = READ_AS[when].isoformat().replace("+00:00", "Z")
        assert response.json()["created_at"] == shown
