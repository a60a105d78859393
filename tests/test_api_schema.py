"""The API against its own OpenAPI schema: Schemathesis generates requests (valid and invalid)
for every operation of /api/schema/; no answer may be a server error (5xx), and every answer must
match the schema: a documented status code and content type, and a body of the documented shape
(a paginated object where the schema says so, `errors` in every error, booleans as booleans).

Runs in process against the WSGI application, on the test database, with an admin token (the
persona that may call every operation). One test per operation and generation mode (schema-valid
requests, and requests that break it); more examples with
API_FUZZ_EXAMPLES=200 pytest tests/test_api_schema.py
"""

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from matrix.services import model_import
from tests.apihelpers import add_events, add_lead, model_doc, publish, score_all, token_client

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _raw_schema() -> dict:
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, read from the schema the code generates."""
    return [(method.upper(), path) for path, item in _raw_schema()["paths"].items() for method in item]


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """Every operation with schema-valid requests; with invalid ones too where the schema has anything
    to break (a body, a query or header parameter: a bare path id has no invalid value to send)."""
    cases = []
    for path, item in _raw_schema()["paths"].items():
        for method, operation in item.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            breakable = "requestBody" in operation or any(p["in"] != "path" for p in operation.get("parameters", []))
            if breakable:
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture
def auth(admin_user):
    return {"Authorization": token_client(admin_user)._credentials["HTTP_AUTHORIZATION"]}


@pytest.fixture
def api_schema(db, auth, settings):
    # Given a workspace with a live model, a draft, scored leads and events
    settings.REST_FRAMEWORK = settings.REST_FRAMEWORK | {
        "DEFAULT_THROTTLE_RATES": {"user": "100000/min", "events": "100000/min", "writes": "100000/min"}
    }
    version = publish()
    model_import(data=model_doc())
    ids = {add_lead(f"L-{i}") for i in range(3)}
    add_events([{"id": "E-1", "lead": "L-1", "kind": "demo_request", "occurred_at": "2026-05-30T10:00:00Z"}])
    score_all(version, ids)
    # The schema as served to a token holder.
    response = Client().get("/api/schema/", {"format": "json"}, HTTP_AUTHORIZATION=auth["Authorization"])
    assert response.status_code == 200
    loaded = schemathesis.openapi.from_dict(response.json())
    # Requests go to a WSGI app made now, in process, on the test database: its middleware reads
    # the test settings (an app built at import would redirect every request to HTTPS). As the
    # test client does, requests leave the test's database connection (and transaction) open.
    loaded.app = WSGIHandler()
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield loaded
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_the_schema_lists_every_endpoint():
    operations = set(_operations())
    for expected in [
        ("GET", "/api/v1/leads/"),
        ("POST", "/api/v1/leads/"),
        ("PUT", "/api/v1/leads/{external_id}/"),
        ("PATCH", "/api/v1/leads/{external_id}/"),
        ("GET", "/api/v1/leads/{external_id}/scores/"),
        ("POST", "/api/v1/leads/{external_id}/reject/"),
        ("POST", "/api/v1/events/"),
        ("POST", "/api/v1/models/"),
        ("POST", "/api/v1/models/validate/"),
        ("PUT", "/api/v1/models/{slug}/versions/{number}/"),
        ("POST", "/api/v1/models/{slug}/versions/{number}/publish/"),
        ("GET", "/api/v1/jobs/{id}/"),
    ]:
        assert expected in operations


@pytest.mark.parametrize(("method", "path", "mode"), _cases(), ids=lambda v: getattr(v, "value", v))
def test_every_answer_is_documented_and_none_is_a_server_error(api_schema, auth, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        response = case.call(headers=auth)
        case.validate_response(response, checks=CHECKS)

    check()


def test_the_schema_needs_a_login_or_a_token(client, rep):
    assert client.get("/api/schema/").status_code == 401
    assert token_client(rep).get("/api/schema/", {"format": "json"}).json()["info"]["title"]
    client.force_login(rep)
    assert client.get("/api/schema/").status_code == 200


def test_the_docs_page_is_served_without_a_cdn_or_inline_code(client, rep):
    assert client.get("/api/docs/").status_code == 302  # the login page first
    client.force_login(rep)
    html = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "<style" not in html
    assert all("src=" in tag for tag in html.split("<script")[1:])
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
