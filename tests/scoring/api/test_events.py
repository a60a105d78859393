"""POST /api/v1/events/: batches, per-row errors, repeats, limits, Idempotency-Key replays."""

import json

import pytest

from leads.models import Event
from leadscoring.models import IdempotencyRecord
from tests.apihelpers import add_lead, token_client

pytestmark = pytest.mark.django_db
EVENTS = "/api/v1/events/"


def event(i, lead="L-1", kind="page_view", **extra):
    return {"id": f"E-{i}", "lead": lead, "kind": kind, "occurred_at": "2026-05-01T10:00:00Z"} | extra


@pytest.fixture
def api(admin_user):
    add_lead("L-1")
    add_lead("L-2")
    return token_client(admin_user)


def post(api, body, **headers):
    return api.post(
        EVENTS, body, format="json", **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    )


def test_only_integrations_with_add_event_may_post(rep, manager, marketer):
    add_lead("L-1")
    for user in (rep, manager, marketer):
        assert post(token_client(user), [event(1)]).status_code == 403
    assert not Event.objects.exists()


def test_valid_rows_are_kept_and_each_bad_row_is_reported_by_index(
    api, django_capture_on_commit_callbacks, scoring_calls
):
    body = [
        event(1),
        event(2, kind="Webinar Attended (custom)"),  # kinds are free strings (spec 1)
        event(3, occurred_at="2026-05-01T10:00:00"),  # no offset
        event(4, lead="L-404"),
        {"lead": "L-2", "kind": "email_open", "occurred_at": "2026-05-01T10:00:00+02:00"},  # no id: fine
        event(6, properties=["not", "an", "object"]),
        event(7, kind=7),
        "not an object",
        event(9, occurred_at=1714557600),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api, body)
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["accepted"] == 3 and report["duplicates"] == 0
    assert [r["index"] for r in report["rejected"]] == [2, 3, 5, 6, 7, 8]
    reasons = {r["index"]: r["reason"] for r in report["rejected"]}
    assert "has no UTC offset" in reasons[2]
    assert reasons[3] == "lead: unknown lead id 'L-404'"
    assert reasons[5] == "properties: must be an object"
    assert reasons[6].startswith("kind: required")
    assert reasons[7] == "row: must be an object"
    assert reasons[8].startswith("occurred_at: required")
    assert Event.objects.count() == 3
    assert Event.objects.filter(kind="Webinar Attended (custom)").exists()
    assert len(scoring_calls()) == 2  # both leads touched wait for one drain of the ingest queue


def test_repeated_event_ids_are_stored_once_and_reported(api):
    first = post(api, [event(1), event(2), event(1)]).json()
    assert first == {"accepted": 2, "duplicates": 1, "rejected": []}
    again = post(api, [event(1), event(2), event(3)]).json()
    assert again == {"accepted": 1, "duplicates": 2, "rejected": []}
    # The same id on another lead is another event (ids are per lead).
    assert post(api, [event(1, lead="L-2")]).json()["accepted"] == 1
    assert Event.objects.count() == 4


def test_more_events_than_the_limit_is_400_naming_the_limit(api, settings):
    response = post(api, [event(i) for i in range(1001)])
    assert response.status_code == 400
    assert response.json()["errors"] == ["body: at most 1000 events per request, got 1001"]
    assert post(api, [event(i) for i in range(1000)]).json()["accepted"] == 1000


def test_a_body_over_the_size_limit_is_413_with_a_clear_message(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = [event(i, properties={"blob": "x" * 500}) for i in range(30)]
    response = post(api, body)
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert "limit is 10,000 bytes" in detail and "DATA_UPLOAD_MAX_MEMORY_SIZE" in detail
    assert not Event.objects.exists()


NAN_EVENT = (
    b'[{"id": "E-1", "lead": "L-1", "kind": "x", "occurred_at": "2026-05-01T10:00:00Z", "properties": {"v": NaN}}]'
)


@pytest.mark.parametrize(
    "raw, content_type",
    [
        (NAN_EVENT, "application/json"),
        (b"[{", "application/json"),
        (b"\xff\xfe[]", "application/json"),
        (b"[]", "text/csv"),
    ],
)
def test_malformed_bodies_are_refused_whole(api, raw, content_type):
    response = api.generic("POST", EVENTS, raw, content_type=content_type)
    assert response.status_code in (400, 415)
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", [{"events": []}, "text", 42, None])
def test_a_body_that_is_not_a_list_is_400(api, body):
    response = api.generic("POST", EVENTS, json.dumps(body), content_type="application/json")
    assert response.status_code == 400


# --- Idempotency-Key ----------------------------------------------------------------------------


def test_a_replay_returns_the_first_response_and_stores_nothing_twice(api):
    # Events without ids would be stored twice by a plain retry: the key prevents it.
    body = [{"lead": "L-1", "kind": "page_view", "occurred_at": "2026-05-01T10:00:00Z"}, event(2, lead="L-404")]
    first = post(api, body, **{"Idempotency-Key": "batch-1"})
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    # The same JSON with keys in another order is the same body.
    reordered = [dict(reversed(list(e.items()))) for e in body]
    second = post(api, reordered, **{"Idempotency-Key": "batch-1"})
    assert second.status_code == first.status_code
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == 1


def test_the_same_key_with_another_body_is_422(api):
    assert post(api, [event(1)], **{"Idempotency-Key": "k"}).status_code == 200
    response = post(api, [event(2)], **{"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    assert Event.objects.count() == 1


def test_a_replay_keeps_the_first_status_even_for_a_refused_request(api):
    body = [event(1, occurred_at="naive")]
    first = post(api, body, **{"Idempotency-Key": "k2"})
    second = post(api, body, **{"Idempotency-Key": "k2"})
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and second.json()["rejected"][0]["index"] == 0


def test_keys_belong_to_their_user(api, personas):
    other = personas["admin"].__class__.objects.create_superuser("integration2", "i2@example.com", "x")
    assert post(api, [event(1)], **{"Idempotency-Key": "shared"}).json()["accepted"] == 1
    response = post(token_client(other), [event(2)], **{"Idempotency-Key": "shared"})
    assert response.status_code == 200 and response.json()["accepted"] == 1


def test_a_key_still_being_processed_is_409(api, admin_user):
    from django.utils import timezone

    from leadscoring.api import body_hash

    IdempotencyRecord.objects.create(
        user=admin_user, key="busy", method="POST", path=EVENTS, request_hash=body_hash([event(1)]),
        created_at=timezone.now(),
    )  # fmt: skip
    assert post(api, [event(1)], **{"Idempotency-Key": "busy"}).status_code == 409


def test_an_expired_key_may_be_used_again(api, settings):
    settings.IDEMPOTENCY_TTL_SECONDS = 0
    assert post(api, [event(1)], **{"Idempotency-Key": "old"}).status_code == 200
    response = post(api, [event(2)], **{"Idempotency-Key": "old"})
    assert response.status_code == 200 and response.json()["accepted"] == 1


def test_a_batch_refused_whole_does_not_keep_its_key(api):
    too_many = [event(i) for i in range(1001)]
    assert post(api, too_many, **{"Idempotency-Key": "big"}).status_code == 400
    assert post(api, [event(1)], **{"Idempotency-Key": "big"}).status_code == 200


# --- throttling -------------------------------------------------------------------------------------


def test_event_batches_are_throttled_per_token(api, settings, admin_user, personas):
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": {"user": "100/min", "events": "2/min", "writes": "100/min"}
    }
    assert post(api, [event(1)]).status_code == 200
    assert post(api, [event(2)]).status_code == 200
    response = post(api, [event(3)])
    assert response.status_code == 429 and "Retry-After" in response.headers
    # Another token has its own budget.
    other = personas["admin"].__class__.objects.create_superuser("integration2", "i2@example.com", "x")
    assert post(token_client(other), [event(4)]).status_code == 200
