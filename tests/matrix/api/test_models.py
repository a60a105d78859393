"""/api/v1/models/: documents in and out, validation by JSON path, ETag/If-Match, publish, jobs."""

import copy

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from matrix.choices import VersionStatus
from matrix.models import AuditEntry, ModelVersion
from matrix.services import model_import, model_version_approve
from scoring.models import RescoreJob
from tests.apihelpers import model_doc, publish, token_client

pytestmark = pytest.mark.django_db
MODELS = "/api/v1/models/"


def version_url(slug="new-business", number=1):
    return f"{MODELS}{slug}/versions/{number}/"


def bad_doc():
    doc = model_doc()
    doc["criteria"][1]["points"] = 5000
    doc["segments"][0]["thresholds"] = {"warm": 60, "hot": 55, "mql": 50}
    return doc


# --- reading ------------------------------------------------------------------------------------------


def test_every_role_reads_models_and_versions_as_documents(personas):
    publish()
    model_import(data=model_doc())
    for user in personas.values():
        api = token_client(user)
        [model] = api.get(MODELS).json()["results"]
        assert model == model | {"slug": "new-business", "name": "New business", "live_version": 1}
        versions = api.get(f"{MODELS}new-business/versions/").json()["results"]
        assert [(v["number"], v["status"]) for v in versions] == [(2, "draft"), (1, "published")]
        response = api.get(version_url(number=2))
        assert response.status_code == 200
        assert response.json()["document"] == model_doc()
        assert response.headers["ETag"] == '"v2r1"'


def test_the_version_list_costs_the_same_queries_for_more_versions(marketer):
    api = token_client(marketer)
    counts = []
    for extra in (1, 6):
        for _ in range(extra):
            model_import(data=model_doc(), user=marketer)
        api.get(f"{MODELS}new-business/versions/")
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(f"{MODELS}new-business/versions/").status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] == VERSION_LIST_QUERIES, counts
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(MODELS).status_code == 200
    assert len(ctx.captured_queries) == MODEL_LIST_QUERIES


VERSION_LIST_QUERIES = 7  # token, user permissions (2), the model, count, page, approvals
MODEL_LIST_QUERIES = 5  # token, user permissions (2), count, page


# --- drafts -----------------------------------------------------------------------------------------


def test_an_editor_imports_a_draft_and_a_rep_may_not(marketer, rep):
    assert token_client(rep).post(MODELS, {"document": model_doc()}, format="json").status_code == 403
    response = token_client(marketer).post(MODELS, {"document": model_doc(), "note": "first"}, format="json")
    assert response.status_code == 201, response.content
    assert response.headers["Location"].endswith(version_url())
    assert response.headers["ETag"] == '"v1r1"'
    body = response.json()
    assert body["status"] == "draft" and body["note"] == "first" and body["created_by"] == "marketer"


def test_an_invalid_document_is_400_with_every_error_by_json_path(marketer):
    response = token_client(marketer).post(MODELS, {"document": bad_doc()}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "criteria[1].points: must be an integer between -1000 and 1000" in errors
    assert any(e.startswith("segments[0].thresholds") for e in errors)
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize("body", [[], "x", {"doc": {}}, {"document": None}])
def test_a_body_without_a_document_is_400(marketer, body):
    assert token_client(marketer).post(MODELS, body, format="json").status_code == 400


def test_validate_saves_nothing_and_lists_every_error(rep):
    api = token_client(rep)  # validating is reading: every role may
    ok = api.post(f"{MODELS}validate/", {"document": model_doc()}, format="json")
    assert ok.status_code == 200 and ok.json() == {"valid": True, "errors": []}
    bad = api.post(f"{MODELS}validate/", {"document": bad_doc()}, format="json").json()
    assert bad["valid"] is False and "criteria[1].points: must be an integer between -1000 and 1000" in bad["errors"]
    assert api.post(f"{MODELS}validate/", {"document": []}, format="json").json()["valid"] is False
    assert not ModelVersion.objects.exists()


# --- optimistic concurrency -------------------------------------------------------------------------


def test_a_draft_edit_needs_if_match_and_bumps_the_revision(marketer, saleslead):
    model_import(data=model_doc(), user=marketer)
    api = token_client(marketer)
    etag = api.get(version_url()).headers["ETag"]
    changed = copy.deepcopy(model_doc())
    changed["criteria"][0]["points"] = 20
    body = {"document": changed, "note": "vp worth more"}

    missing = api.put(version_url(), body, format="json")
    assert missing.status_code == 428 and "If-Match" in missing.json()["detail"]

    response = api.put(version_url(), body, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content
    assert response.headers["ETag"] == '"v1r2"' and response.json()["revision"] == 2
    assert response.json()["document"]["criteria"][0]["points"] == 20
    assert response.json()["updated_by"] == "marketer"
    assert AuditEntry.objects.filter(action="draft_updated").count() == 1

    # Another editor still holding the first ETag would undo that edit: 412, nothing written.
    stale = token_client(saleslead).put(version_url(), {"document": model_doc()}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and '"v1r2"' in stale.json()["detail"]
    assert ModelVersion.objects.get().document["criteria"][0]["points"] == 20
    weak = api.put(version_url(), body, format="json", HTTP_IF_MATCH='W/"v1r2"')
    assert weak.status_code == 412
    assert api.put(version_url(), body, format="json", HTTP_IF_MATCH="*").status_code == 428


def test_a_draft_edit_is_validated_and_keeps_its_slug(marketer):
    model_import(data=model_doc(), user=marketer)
    api = token_client(marketer)
    response = api.put(version_url(), {"document": bad_doc()}, format="json", HTTP_IF_MATCH='"v1r1"')
    assert response.status_code == 400 and "criteria[1].points" in " ".join(response.json()["errors"])
    other = model_doc(slug="renamed")
    response = api.put(version_url(), {"document": other}, format="json", HTTP_IF_MATCH='"v1r1"')
    assert response.status_code == 400 and response.json()["errors"] == [
        "slug: must stay 'new-business' (the model of this draft)"
    ]
    assert ModelVersion.objects.get().revision == 1


def test_published_versions_and_reps_cannot_edit(marketer, rep):
    publish()
    api = token_client(marketer)
    response = api.put(version_url(), {"document": model_doc()}, format="json", HTTP_IF_MATCH='"v1r1"')
    assert response.status_code == 409 and "only a draft" in response.json()["errors"][0]
    model_import(data=model_doc())
    response = token_client(rep).put(
        version_url(number=2), {"document": model_doc()}, format="json", HTTP_IF_MATCH='"v2r1"'
    )
    assert response.status_code == 403


# --- publish and jobs --------------------------------------------------------------------------------


def test_an_editor_publishes_with_if_match_and_a_rescore_job_starts(
    marketer, saleslead, rep, django_capture_on_commit_callbacks
):
    model_import(data=model_doc())
    url = version_url() + "publish/"
    assert token_client(rep).post(url, HTTP_IF_MATCH='"v1r1"').status_code == 403
    api = token_client(saleslead)
    assert api.post(url).status_code == 428
    assert api.post(url, HTTP_IF_MATCH='"v1r0"').status_code == 412
    # Publishing through the API needs both sign-offs of the current revision (matrix-workspace.md).
    refused = api.post(url, HTTP_IF_MATCH='"v1r1"')
    assert refused.status_code == 409 and refused.json()["errors"] == [
        "version 1 revision 1 still needs the approval of: marketing, sales"
    ]
    model_version_approve(version=ModelVersion.objects.get(), user=marketer, revision=1)
    model_version_approve(version=ModelVersion.objects.get(), user=saleslead, revision=1)
    response = api.post(url, HTTP_IF_MATCH='"v1r1"')
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"]["status"] == "published" and body["version"]["published_by"] == "saleslead"
    assert body["job"]["trigger"] == "publish" and body["job"]["progress"]["state"] == "pending"
    assert ModelVersion.objects.get().status == VersionStatus.PUBLISHED
    again = api.post(url, HTTP_IF_MATCH='"v1r1"')
    assert again.status_code == 409 and "only a draft can be published" in again.json()["errors"][0]


def test_editors_approve_through_the_api_in_their_role(marketer, saleslead, rep, manager):
    model_import(data=model_doc())
    url = version_url() + "approve/"
    for reader in (rep, manager):
        assert token_client(reader).post(url, HTTP_IF_MATCH='"v1r1"').status_code == 403
    assert token_client(marketer).post(url).status_code == 428
    assert token_client(marketer).post(url, HTTP_IF_MATCH='"v1r0"').status_code == 412
    response = token_client(marketer).post(url, HTTP_IF_MATCH='"v1r1"')
    assert response.status_code == 200, response.content
    response = token_client(saleslead).post(url, HTTP_IF_MATCH='"v1r1"')
    assert [(a["role"], a["revision"]) for a in response.json()["approvals"]] == [("marketing", 1), ("sales", 1)]
    assert token_client(saleslead).post(version_url() + "publish/", HTTP_IF_MATCH='"v1r1"').status_code == 200


def test_jobs_show_their_progress_and_editors_start_a_manual_rescore(marketer, rep, manager):
    publish()
    assert token_client(rep).post(f"{MODELS}new-business/rescore/").status_code == 403
    response = token_client(marketer).post(f"{MODELS}new-business/rescore/")
    assert response.status_code == 202
    job = response.json()
    assert job["trigger"] == "manual" and job["model"] == "new-business" and job["version"] == 1
    assert set(job["progress"]) >= {"state", "percent", "leads_done", "total_leads", "seconds_left"}
    listed = token_client(manager).get("/api/v1/jobs/?model=new-business").json()["results"]
    assert {j["id"] for j in listed} == set(RescoreJob.objects.values_list("id", flat=True))
    assert token_client(manager).get(f"/api/v1/jobs/{job['id']}/").json()["id"] == job["id"]
    assert token_client(marketer).post(f"{MODELS}nope/rescore/").status_code == 404


def test_a_model_without_a_live_version_cannot_be_rescored(marketer):
    model_import(data=model_doc())
    assert token_client(marketer).post(f"{MODELS}new-business/rescore/").status_code == 409


def test_a_user_with_the_permission_but_no_editor_role_is_refused_403_with_the_reason(db):
    # Given a user granted matrix.approve_version directly, in neither editor group
    user = User.objects.create_user("auditor")
    user.user_permissions.add(Permission.objects.get(codename="approve_version"))
    model_import(data=model_doc())
    # When they approve through the API, then the refusal is 403 (not a state conflict, 409)
    response = token_client(user).post(version_url() + "approve/", HTTP_IF_MATCH='"v1r1"')
    assert response.status_code == 403
    assert response.json()["errors"] == ["auditor is neither a marketing nor a sales editor"]
    assert not ModelVersion.objects.get().approvals.exists()


def test_a_manual_rescore_of_a_model_without_a_live_version_is_409_and_starts_nothing(marketer):
    # Given a model with a draft only
    model_import(data=model_doc())
    # When an editor asks for a rescore, then it is refused as a state conflict, naming the model
    response = token_client(marketer).post(f"{MODELS}new-business/rescore/")
    assert response.status_code == 409
    assert response.json()["errors"] == ["model 'new-business' has no published version to rescore with"]
    assert not RescoreJob.objects.exists()
