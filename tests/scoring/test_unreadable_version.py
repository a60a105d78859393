"""Readers of a version whose stored document no longer validates (docs/scoring.md, "When scoring fails").

Given the workspace's live version, scored, whose document is then changed in the database to
something the validator refuses today (half_life_days 0.01, lookback_days 999999: stored before
the validator's bounds, or edited by hand), when each page and API reader of its scores and of
the model is requested, then none answers 500: the stored scores are shown with their stored
breakdown lines, the pages say the version's rules no longer validate (with the first error) and
to publish a corrected version, and segment labels fall back to their keys.
"""

import pytest

from matrix.models import ModelVersion
from tests.leads.workspace_data import SLUG, workspace_build


@pytest.fixture
def broken(db, personas):
    ws = workspace_build(rep=personas["rep"], rep2=personas["rep2"])
    document = dict(ws.version.document, half_life_days=0.01, lookback_days=999999)
    # Through the ORM, as a row stored before the validator's bounds (or edited by hand) would be.
    ModelVersion.objects.filter(pk=ws.version.pk).update(document=document)
    return ws


NOTE = "rules no longer validate"


def test_the_lead_page_shows_the_stored_score_and_says_the_rules_no_longer_validate(broken, client, rep):
    client.force_login(rep)
    hot = broken.leads["L-HOT"]

    response = client.get(f"/leads/{hot.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert NOTE in page and "publish a corrected version" in page
    assert "lookback_days" in page  # the first error names what is wrong
    assert 'data-key="pricing-visit"' in page and 'data-key="demo-request"' in page  # the stored lines, by key
    assert '<td class="num" data-score>120</td>' in page  # the stored score


def test_the_lead_list_and_grid_answer_with_segment_keys(broken, client, manager):
    client.force_login(manager)
    for url in ("/leads/?stage=any", "/leads/grid/", f"/leads/?model={SLUG}&segment=enterprise&stage=any"):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get("/leads/?stage=any").content.decode()
    assert NOTE in page and "publish a corrected version" in page
    assert "Hana Hot" in page  # the stored scores are still listed
    assert ">enterprise<" in page and ">Enterprise<" not in page  # labels fall back to keys


@pytest.mark.parametrize("url", [f"/matrix/{SLUG}/", f"/matrix/{SLUG}/?version=1", f"/matrix/{SLUG}/history/?a=1&b=1"])
def test_the_matrix_pages_say_the_rules_no_longer_validate(broken, client, marketer, url):
    client.force_login(marketer)

    response = client.get(url)

    assert response.status_code == 200, url
    assert NOTE in response.content.decode() and "lookback_days" in response.content.decode()


@pytest.mark.parametrize("url", ["/matrix/", f"/matrix/{SLUG}/history/"])
def test_the_models_list_and_history_answer(broken, client, marketer, url):
    client.force_login(marketer)
    assert client.get(url).status_code == 200


def test_the_api_readers_answer(broken, client, manager):
    client.force_login(manager)
    hot = broken.leads["L-HOT"]
    for url in (
        "/api/v1/leads/",
        f"/api/v1/leads/{hot.external_id}/",
        f"/api/v1/leads/{hot.external_id}/scores/",
        "/api/v1/models/",
        f"/api/v1/models/{SLUG}/",
        f"/api/v1/models/{SLUG}/versions/",
        f"/api/v1/models/{SLUG}/versions/1/",
    ):
        response = client.get(url, HTTP_ACCEPT="application/json")
        assert response.status_code == 200, (url, response.status_code)
    # The stored breakdown lines are served as stored
    (score,) = client.get(f"/api/v1/leads/{hot.external_id}/", HTTP_ACCEPT="application/json").json()["scores"]
    assert score["score"] == 120 and {line["key"] for line in score["breakdown"]} >= {"pricing-visit", "demo-request"}


@pytest.mark.parametrize("page", ["conversion", "breakdown", "rejections", "calibration", "distribution"])
def test_the_reports_answer(broken, client, manager, page):
    client.force_login(manager)
    response = client.get(f"/reports/{page}/")
    assert response.status_code == 200
    if page in ("calibration", "distribution"):  # drawn from the live version's thresholds
        assert NOTE in response.content.decode()


@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_the_list_exports_answer(broken, client, manager, export):
    client.force_login(manager)
    response = client.get(f"/leads/?stage=any&_export={export}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body


def test_export_scores_writes_the_stored_lines(broken, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "scores.jsonl"
    call_command("export_scores", "--model", SLUG, "--output", str(out))
    assert "pricing-visit" in out.read_text()
