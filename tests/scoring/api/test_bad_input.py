"""Bad input over the API is a 400 naming the field, never a 500, and never loses a batch's good rows.

Given values JSON can carry but no database column can hold (a text wider than its column, NUL,
an unpaired surrogate, 1e309, a timestamp outside 1900-2200, JSON nested 100,000 deep), when they
are sent as a lead or inside an event batch, then the lead is refused with `{"errors": [...]}`
naming the field, and a batch keeps its valid rows and reports each bad one by index.
"""

import json

import pytest
from django.test import Client

from leads.models import Event, Lead
from tests.apihelpers import add_lead, token_client

pytestmark = pytest.mark.django_db
LEADS = "/api/v1/leads/"
EVENTS = "/api/v1/events/"
RANGE = "is outside the supported range 1900-01-01 to 2200-12-31 (UTC)"


def raw_json(value) -> bytes:
    """JSON as a client may send it: \\u escapes for NUL and unpaired surrogates, 1e309 kept as written."""
    return json.dumps(value, ensure_ascii=True).replace('"<1e309>"', "1e309").encode()


def send(client, method, url, body, **headers):
    return client.generic(method, url, raw_json(body), content_type="application/json", **headers)


def lead_body(**fields) -> dict:
    return {"id": "L-1", "created_at": "2026-01-02T09:00:00Z", **fields}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"company": "x" * 201}, "company: longer than 200 characters (got 201)"),
        ({"email": "a" * 250 + "@x.io"}, "email: longer than 254 characters (got 255)"),
        ({"title": "x" * 201}, "title: longer than 200 characters"),
        ({"first_name": "Ann\x00"}, "first_name: contains a NUL character"),
        ({"last_name": "\ud800"}, "last_name: contains an unpaired surrogate '\\ud800'"),
        ({"attributes": {"plan": "pro\x00"}}, "attributes.plan: contains a NUL character"),
        ({"attributes": {"pl\x00an": "pro"}}, "attributes: key 'pl\\x00an' contains a NUL character"),
        ({"attributes": {"\udc00": 1}}, "attributes: key '\\udc00' contains an unpaired surrogate"),
        ({"attributes": {"seats": "<1e309>"}}, "attributes.seats: inf is not a number JSON can hold"),
        ({"annual_revenue": "<1e309>"}, "annual_revenue: must be a finite number"),
        ({"employees": "1e999999999"}, "employees: must be a finite number"),
        ({"created_at": "9999-12-31T23:59:59-14:00"}, f"created_at: 9999-12-31T23:59:59-14:00 {RANGE}"),
        ({"created_at": "0001-01-01T00:00:00+14:00"}, f"created_at: 0001-01-01T00:00:00+14:00 {RANGE}"),
        ({"created_at": "9999-12-31T23:59:59Z"}, f"created_at: 9999-12-31T23:59:59Z {RANGE}"),
        ({"\x00": 1}, "'\\x00': unknown field"),
    ],
)
def test_a_lead_the_database_cannot_hold_is_400_naming_the_field(admin_user, change, message):
    api = token_client(admin_user)
    for method, url in (("POST", LEADS), ("PUT", f"{LEADS}L-1/")):
        response = send(api, method, url, lead_body(**change))
        assert response.status_code == 400, response.content
        assert any(line.startswith(message) for line in response.json()["errors"]), response.json()
    assert not Lead.objects.exists()


def test_a_patch_is_checked_the_same_way_and_leaves_the_lead_as_it_was(admin_user):
    add_lead("L-1", company="Acme")
    response = send(token_client(admin_user), "PATCH", f"{LEADS}L-1/", {"company": "Acme\x00", "industry": "y" * 101})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "company: contains a NUL character (\\x00), which cannot be stored",
        "industry: longer than 100 characters (got 101)",
    ]
    assert Lead.objects.get().company == "Acme"


def test_an_id_with_nul_in_the_url_is_not_found_or_refused_never_a_server_error(admin_user):
    api = token_client(admin_user)
    assert api.get(f"{LEADS}L%00/").status_code == 404
    assert api.get(f"{LEADS}L%00/scores/").status_code == 404
    assert send(api, "PATCH", f"{LEADS}L%00/", {"company": "x"}).status_code == 404
    put = send(api, "PUT", f"{LEADS}L%00/", lead_body(id=None))
    assert put.status_code == 400 and put.json()["errors"][0].startswith("id: contains a NUL character")
    assert api.get("/api/v1/jobs/", {"model": "x\x00"}).status_code == 400


def nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("url", [LEADS, EVENTS, "/api/v1/models/validate/"])
def test_json_nested_100k_deep_is_400_naming_the_body(admin_user, url):
    response = token_client(admin_user).generic("POST", url, nested(100_000), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == ["body: JSON parse error - nested deeper than 64 levels"]


def test_nan_and_infinity_are_not_json_and_refused_whole(admin_user):
    api = token_client(admin_user)
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"id": "L-1", "created_at": "2026-01-02T09:00:00Z", "annual_revenue": ' + literal + b"}"
        response = api.generic("POST", LEADS, body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["errors"][0].startswith(f"body: JSON parse error - {literal.decode()} is not valid JSON")


# --- event batches --------------------------------------------------------------------------------


def event(i, **fields) -> dict:
    return {"id": f"E-{i}", "lead": "L-1", "kind": "page_view", "occurred_at": "2026-05-01T10:00:00Z", **fields}


NUL = "contains a NUL character (\\x00), which cannot be stored"
SURROGATE = "contains an unpaired surrogate '\\ud800', which is not valid Unicode"
NOT_JSON = "is not a number JSON can hold (use null or a finite number)"
BAD_EVENTS = [
    (event(1, occurred_at="9999-12-31T23:59:59-14:00"), f"occurred_at: 9999-12-31T23:59:59-14:00 {RANGE}"),
    (event(2, occurred_at="0001-01-01T00:00:00+14:00"), f"occurred_at: 0001-01-01T00:00:00+14:00 {RANGE}"),
    (event(3, occurred_at="9999-12-31T23:59:59Z"), f"occurred_at: 9999-12-31T23:59:59Z {RANGE}"),
    (event(4, kind="k" * 65), "kind: longer than 64 characters (got 65)"),
    (event(5, kind="page\x00view"), f"kind: {NUL}"),
    (event("6" * 201), "id: longer than 200 characters (got 203)"),
    (event(7, lead="L-1\x00"), f"lead: {NUL}"),
    (event(8, properties={"url": "/pricing\x00"}), f"properties.url: {NUL}"),
    (event(9, properties={"\ud800": "x"}), f"properties: key '\\ud800' {SURROGATE}"),
    (event(10, properties={"value": "<1e309>"}), f"properties.value: inf {NOT_JSON}"),
    (event(11, properties=json.loads(nested(40))), "properties: nested deeper than 32 levels"),
    (event(12, kind="\ud800"), f"kind: {SURROGATE}"),
]  # fmt: skip


def test_a_batch_keeps_its_good_rows_and_refuses_each_bad_one_with_its_index_and_reason(admin_user):
    add_lead("L-1")
    body = [event("good-1"), *(row for row, _ in BAD_EVENTS), event("good-2")]
    response = send(token_client(admin_user), "POST", EVENTS, body)
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["accepted"], report["duplicates"]) == (2, 0)
    assert report["rejected"] == [{"index": i, "reason": reason} for i, (_, reason) in enumerate(BAD_EVENTS, start=1)]
    assert sorted(Event.objects.values_list("external_id", flat=True)) == ["E-good-1", "E-good-2"]


def test_a_batch_with_an_idempotency_key_and_an_unpaired_surrogate_is_reported_and_replayed(admin_user):
    add_lead("L-1")
    api = token_client(admin_user)
    body = [event(1), event(2, properties={"name": "\ud800"})]
    first = send(api, "POST", EVENTS, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 200, first.content
    assert [r["index"] for r in first.json()["rejected"]] == [1]
    again = send(api, "POST", EVENTS, body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == 1


# --- one error shape --------------------------------------------------------------------------------


def test_every_error_answer_carries_errors(admin_user, settings):
    api = token_client(admin_user)
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": {"user": "2/min", "events": "2/min", "writes": "2/min"}
    }
    answers = {
        401: Client().get(LEADS),
        404: api.get(f"{LEADS}L-404/"),
        400: api.get(LEADS, {"active_days": 0}),
    }
    answers[429] = api.get(LEADS)  # the third request of the minute (a 401 is not counted)
    for status, response in answers.items():
        assert response.status_code == status
        body = response.json()
        assert isinstance(body["errors"], list) and body["errors"] and all(isinstance(e, str) for e in body["errors"])
    assert answers[400].json()["errors"] == ["active_days: Ensure this value is greater than or equal to 1."]
    assert answers[404].json() == {
        "errors": ["No Lead matches the given query."],
        "detail": "No Lead matches the given query.",
    }


def test_a_path_under_the_api_that_names_no_endpoint_is_a_json_404(admin_user):
    response = token_client(admin_user).get("/api/v1/jobs/0.5/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["errors"] == [
        "No API endpoint at '/api/v1/jobs/0.5/'; the operations are listed at /api/schema/."
    ]
