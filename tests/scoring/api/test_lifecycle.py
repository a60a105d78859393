"""POST /api/v1/leads/<id>/accept|reject|recycle/ through scoring/lifecycle.py, with the UI's rules."""

import pytest

from scoring.choices import Stage
from scoring.models import LeadStage, StageTransition
from tests.apihelpers import add_events, add_lead, publish, score_all, token_client

pytestmark = pytest.mark.django_db
LEADS = "/api/v1/leads/"


@pytest.fixture
def mql(rep):
    """L-1, owned by rep, an MQL under new-business."""
    version = publish()
    pk = add_lead("L-1", owner=rep, title="VP Sales")
    add_events([{"id": "E-1", "lead": "L-1", "kind": "demo_request", "occurred_at": "2026-05-30T10:00:00Z"}])
    score_all(version, {pk})
    assert LeadStage.objects.get(lead_id=pk).stage == Stage.MQL
    return pk


def test_the_owner_accepts_their_mql(rep, mql):
    response = token_client(rep).post(f"{LEADS}L-1/accept/", {"model": "new-business"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() | {"changed_at": None} == {
        "lead": "L-1",
        "model": "new-business",
        "stage": "sql",
        "reject_reason": "",
        "reject_text": "",
        "changed_at": None,
    }
    assert StageTransition.objects.filter(to_stage=Stage.SQL, actor=rep).count() == 1


def test_a_reject_needs_a_valid_reason_and_keeps_the_text(rep, mql):
    api = token_client(rep)
    bad = api.post(f"{LEADS}L-1/reject/", {"model": "new-business", "reason": "meh"}, format="json")
    assert bad.status_code == 400
    other = api.post(f"{LEADS}L-1/reject/", {"model": "new-business", "reason": "other"}, format="json")
    assert other.status_code == 409 and "needs a text" in other.json()["errors"][0]
    response = api.post(
        f"{LEADS}L-1/reject/", {"model": "new-business", "reason": "no_budget", "text": "Q3"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["stage"] == "rejected" and response.json()["reject_reason"] == "no_budget"
    assert response.json()["reject_text"] == "Q3"
    recycled = api.post(f"{LEADS}L-1/recycle/", {"model": "new-business"}, format="json")
    assert recycled.status_code == 200 and recycled.json()["stage"] == "recycled"


def test_a_move_the_stage_does_not_allow_is_409(rep, mql):
    api = token_client(rep)
    assert api.post(f"{LEADS}L-1/accept/", {"model": "new-business"}, format="json").status_code == 200
    again = api.post(f"{LEADS}L-1/accept/", {"model": "new-business"}, format="json")
    assert again.status_code == 409 and "cannot accept" in again.json()["errors"][0]


def test_who_may_act(mql, personas, marketer, manager):
    body = {"model": "new-business"}
    # Another rep does not even see the lead; an editor may not act on leads; a manager may.
    assert token_client(personas["rep2"]).post(f"{LEADS}L-1/accept/", body, format="json").status_code == 404
    assert token_client(marketer).post(f"{LEADS}L-1/accept/", body, format="json").status_code == 403
    assert token_client(manager).post(f"{LEADS}L-1/accept/", body, format="json").status_code == 200


def test_an_unknown_model_or_lead_is_404_and_a_missing_model_400(rep, mql):
    api = token_client(rep)
    assert api.post(f"{LEADS}L-1/accept/", {"model": "nope"}, format="json").status_code == 404
    assert api.post(f"{LEADS}L-9/accept/", {"model": "new-business"}, format="json").status_code == 404
    assert api.post(f"{LEADS}L-1/accept/", {}, format="json").status_code == 400
