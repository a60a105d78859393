"""Documents over the API: refusals keep `valid` a JSON boolean, and text no database stores is refused.

Given a document or a body the model endpoints cannot take, when it is posted, then the answer is
`{"valid": false, "errors": [...]}` with `valid` a boolean (DRF's ValidationError used to make it
the string "False"), and a NUL or an unpaired surrogate anywhere in the document is named by its
JSON path instead of failing (500) when the draft is stored.
"""

import json

import pytest

from matrix.models import ModelVersion
from tests.apihelpers import model_doc, publish, token_client

pytestmark = pytest.mark.django_db
MODELS = "/api/v1/models/"


def send(api, method, url, body, **headers):
    raw = json.dumps(body, ensure_ascii=True).encode()  # \u escapes, as a client sends NUL and surrogates
    return api.generic(method, url, raw, content_type="application/json", **headers)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"document": False}, ["(document): must be a JSON object"]),
        ({"document": None}, ["document: This field may not be null."]),
        ({"note": "no document"}, ["document: This field is required."]),
        (["not", "an", "object"], ['body: must be an object {"document": {...}}']),
    ],
)
def test_a_refused_import_says_valid_false_as_a_boolean(marketer, body, errors):
    response = send(token_client(marketer), "POST", MODELS, body)
    assert response.status_code == 400
    assert response.json() == {"valid": False, "errors": errors}


def test_a_refused_publish_says_valid_false_as_a_boolean(marketer):
    publish()
    url = f"{MODELS}new-business/versions/1/publish/"
    response = token_client(marketer).post(url, HTTP_IF_MATCH='"v1r1"')
    assert response.status_code == 409
    assert response.json()["valid"] is False


def with_label(label: str) -> dict:
    doc = model_doc()
    doc["criteria"][0]["label"] = label
    return doc


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("VP\x00", "contains a NUL character (\\x00), which cannot be stored"),
        ("VP \ud800", "contains an unpaired surrogate '\\ud800', which is not valid Unicode"),
    ],
)
def test_text_no_database_stores_is_refused_by_its_json_path(marketer, label, problem):
    api = token_client(marketer)
    expected = {"valid": False, "errors": [f"document.criteria[0].label: {problem}"]}
    created = send(api, "POST", MODELS, {"document": with_label(label)})
    assert (created.status_code, created.json()) == (400, expected)
    assert not ModelVersion.objects.exists()
    validated = send(api, "POST", f"{MODELS}validate/", {"document": with_label(label)})
    assert (validated.status_code, validated.json()) == (200, expected)
    # A draft edit is checked the same way, and the draft keeps its document.
    assert send(api, "POST", MODELS, {"document": model_doc()}).status_code == 201
    edited = send(
        api, "PUT", f"{MODELS}new-business/versions/1/", {"document": with_label(label)}, HTTP_IF_MATCH='"v1r1"'
    )
    assert (edited.status_code, edited.json()) == (400, expected)
    assert ModelVersion.objects.get().document == model_doc()
