"""Helpers for the API tests: token clients for the personas, a small model, leads made by the services."""

from datetime import UTC, datetime

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leads.services import events_ingest, leads_import
from matrix.services import model_import
from scoring.jobs import model_version_publish
from scoring.services import leads_rescore

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)


def token_client(user) -> APIClient:
    """An API client that authenticates like an integration: a token header, no session."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def model_doc(slug="new-business", mql=50, name="New business"):
    return {
        "name": name,
        "slug": slug,
        "description": "",
        "lookback_days": 90,
        "half_life_days": None,
        "engagement_floor": 0,
        "criteria": [
            {"key": "vp", "label": "VP", "dimension": "fit", "points": 10,
             "when": {"field": "title", "op": "contains", "value": "vp"}},
            {"key": "demo", "label": "Demo", "dimension": "engagement", "event": "demo_request",
             "where": None, "points": 50, "cap": 1, "cap_window_days": None},
        ],
        "decay": [],
        "segments": [{"key": "all", "label": "All", "when": None, "thresholds": {"warm": 20, "hot": 55, "mql": mql}}],
        "grades": {"fit": {"A": 10, "B": 5, "C": 1}, "engagement": {"4": 50, "3": 20, "2": 5}},
    }  # fmt: skip


def publish(doc=None, user=None):
    return model_version_publish(version=model_import(data=doc or model_doc()), user=user)


def add_lead(external_id, owner=None, **fields):
    row = {"id": external_id, "created_at": "2026-01-01T00:00:00Z", **fields}
    if owner is not None:
        row["owner"] = owner.username
    report, touched = leads_import(rows=[(0, row)])
    assert not report.rejected, report.rejected
    return touched.pop()


def add_events(rows):
    report, touched = events_ingest(rows=list(enumerate(rows)))
    assert not report.rejected, report.rejected
    return touched


def score_all(version, lead_ids):
    return leads_rescore(version=version, as_of=AS_OF, lead_ids=sorted(lead_ids))
