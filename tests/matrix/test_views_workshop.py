"""The workshop pages: /matrix/<slug>/scenarios/ (the simulator) and /matrix/<slug>/impact/ (the
impact preview). Every role reads them with pinned query counts; only editors write (reps and
managers get 403); the impact page polls while a worker computes, then shows moves and movers."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from matrix.choices import PreviewState, VersionStatus
from matrix.models import ModelVersion, Scenario
from matrix.services import model_draft_update, model_import
from matrix.workshop import scenario_create
from scoring.impact import impact_preview_run
from scoring.models import ImpactPreview
from tests.leads.workspace_data import SLUG, model_document, workspace_build

ROLES = ["marketer", "saleslead", "rep", "manager", "admin"]
EDITORS = ["marketer", "saleslead", "admin"]
READERS = ["rep", "manager"]
SCENARIOS = f"/matrix/{SLUG}/scenarios/"
IMPACT = f"/matrix/{SLUG}/impact/"


def cheaper_demo() -> dict:
    data = model_document()
    next(c for c in data["criteria"] if c["key"] == "demo-request")["points"] = 30
    return data


@pytest.fixture
def ws(db, personas):
    ws = workspace_build(rep=personas["rep"], rep2=personas["rep2"])
    ws.draft = model_import(data=cheaper_demo(), note="Cheaper demo")
    ws.scenario = scenario_create(
        scoring_model=ws.scoring_model,
        name="VP at a software company",
        description="Marketing VP, pricing page and a demo request",
        lead={"title": "VP Marketing", "industry": "Software", "employees": 200},
        events=[
            {"kind": "page_view", "days_ago": 1, "properties": {"url": "/pricing"}},
            {"kind": "demo_request", "days_ago": 1, "properties": {}},
        ],
        user=personas["marketer"],
    )
    return ws


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def get(client, user, url, queries=None, **headers):
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.content[:500]
    if queries is not None:
        assert len(captured) == queries, "\n".join(q["sql"] for q in captured.captured_queries)
    return response


def post(client, user, url, **data):
    client.force_login(user)
    return client.post(url, data)


# Session, user, groups, unread notifications, the user's permissions (2, none for a superuser),
# then: model, versions (draft and live in one query), scenarios (impact: the latest preview).
QUERIES = {"marketer": 9, "saleslead": 9, "rep": 9, "manager": 9, "admin": 7}


# --- the simulator ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_scenarios_side_by_side(client, personas, ws, role):
    # Given a scenario and a draft whose demo request is worth 30 instead of 50
    response = get(client, personas[role], SCENARIOS, queries=QUERIES[role])
    html, page = response.content.decode(), text(response)
    # then the live version gives 25 + 20 + 50 = 95 and the draft 75, both hot and MQL, A4 / A4
    scores = re.findall(r'data-side="(live|draft)" data-field="score">([\d.]+)', html)
    assert scores == [("live", "95"), ("draft", "75")]  # one format for scores: no trailing zeros
    assert "(−20)" in page and "hot" in page and "A4" in page
    assert "Demo request (1 event): +50 (action 2)" in page and "Demo request (1 event): +30 (action 2)" in page
    assert "VP at a software company" in page and "web visit, 1 day ago · url=/pricing" in page
    assert ("Save scenario" in page) is (role in EDITORS)
    assert ("Delete" in page) is (role in EDITORS)


def test_query_count_does_not_grow_with_scenarios(client, personas, ws):
    for i in range(5):
        scenario_create(scoring_model=ws.scoring_model, name=f"S{i}", lead={"title": "Student"}, events=[])
    get(client, personas["rep"], SCENARIOS, queries=QUERIES["rep"])


def test_no_draft_and_no_live_version(client, personas, ws, marketer):
    ModelVersion.objects.filter(pk=ws.draft.pk).delete()
    page = text(get(client, marketer, SCENARIOS))
    assert "There is no draft" in page and "no draft" in page
    assert re.search(r"Score 95 no draft", page)
    fresh = model_import(data=model_document(slug="fresh", name="Fresh"))
    scenario_create(scoring_model=fresh.scoring_model, name="Student", lead={"title": "Student"}, events=[])
    page = text(get(client, marketer, "/matrix/fresh/scenarios/"))
    assert "There is no live version yet" in page and re.search(r"Score no live version −20 ", page)


def test_an_editor_creates_edits_and_deletes_a_scenario(client, marketer, ws):
    # When an editor types a buyer and three blog visits, a webinar and a demo request
    response = post(
        client, marketer, SCENARIOS, name="Director at a retailer", description="",
        buyer="title=Director of IT\nindustry=Retail\nemployees=1500\nattributes.plan=team",
        actions="3 x page_view, 5, url=/blog/roi\nwebinar_attended, 10\ndemo_request, 2",
    )  # fmt: skip
    scenario = Scenario.objects.get(name="Director at a retailer")
    assert response.status_code == 302 and response.url == f"{SCENARIOS}#scenario-{scenario.pk}"
    assert scenario.lead == {"title": "Director of IT", "industry": "Retail", "employees": 1500,
                             "attributes": {"plan": "team"}}  # fmt: skip
    assert len(scenario.events) == 5 and scenario.created_by == marketer
    # The edit page shows the same lines back
    page = get(client, marketer, f"{SCENARIOS}{scenario.pk}/").content.decode()
    assert "page_view, 5, url=/blog/roi" in page and "attributes.plan=team" in page
    response = post(
        client, marketer, f"{SCENARIOS}{scenario.pk}/", name="Director, retail", description="edited",
        buyer="title=Director of IT", actions="demo_request, 2",
    )  # fmt: skip
    assert response.status_code == 302
    scenario.refresh_from_db()
    assert (scenario.name, scenario.description, len(scenario.events)) == ("Director, retail", "edited", 1)
    assert post(client, marketer, f"{SCENARIOS}{scenario.pk}/delete/").status_code == 302
    assert not Scenario.objects.filter(pk=scenario.pk).exists()


def test_form_errors_come_back_with_line_numbers(client, marketer, ws):
    response = post(
        client, marketer, SCENARIOS, name="VP at a software company",
        buyer="title=VP\ncolour=blue", actions="page_view, -3\n, 2",
    )  # fmt: skip
    assert response.status_code == 400
    page = text(response)
    assert "line 2: unknown field &#x27;colour&#x27;" in response.content.decode()
    assert "line 1: days_ago must be 0 or more" in page and "line 2: the kind is empty" in page
    # A name already taken comes back from the service, on the name field
    response = post(client, marketer, SCENARIOS, name="VP at a software company", buyer="", actions="")
    assert response.status_code == 400 and "this model already has a scenario named" in text(response)
    assert Scenario.objects.count() == 1


@pytest.mark.parametrize("role", READERS)
def test_readers_cannot_write(client, personas, ws, role):
    user = personas[role]
    pk = ws.scenario.pk
    assert post(client, user, SCENARIOS, name="x", buyer="", actions="").status_code == 403
    assert post(client, user, f"{SCENARIOS}{pk}/", name="x", buyer="", actions="").status_code == 403
    assert post(client, user, f"{SCENARIOS}{pk}/delete/").status_code == 403
    client.force_login(user)
    assert client.get(f"{SCENARIOS}{pk}/").status_code == 403
    assert post(client, user, IMPACT).status_code == 403
    assert Scenario.objects.get(pk=pk).name == "VP at a software company"
    assert not ImpactPreview.objects.exists()


# --- the impact preview --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_impact_page(client, personas, ws, role):
    page = text(get(client, personas[role], IMPACT, queries=QUERIES[role]))
    assert "Draft version 2, revision 1, against the live version 1" in page
    assert "No preview of this draft yet" in page
    assert ("Preview the impact of revision 1" in page) is (role in EDITORS)


def test_an_editor_asks_the_page_polls_then_shows_moves_and_movers(client, personas, ws, saleslead, rep):
    # When an editor asks for a preview
    response = post(client, saleslead, IMPACT)
    assert response.status_code == 302 and response.url == IMPACT
    preview = ImpactPreview.objects.get()
    assert (preview.version, preview.revision, preview.state) == (ws.draft, 1, PreviewState.QUEUED)
    # then while it waits the page says so and polls (htmx, every 2 s)
    html = get(client, rep, IMPACT, queries=QUERIES["rep"]).content.decode()
    assert 'hx-trigger="every 2s"' in html and "Waiting for a worker" in html
    # When the worker has run it, the polled part comes back with the results and stops polling
    impact_preview_run(preview_id=preview.pk)
    # (the part alone: no header, so neither the groups nor the notifications are read)
    fragment = get(client, rep, IMPACT, queries=QUERIES["rep"] - 2, HX_Request="true").content.decode()
    assert "<html" not in fragment and 'hx-trigger="every 2s"' not in fragment
    page = text(get(client, rep, IMPACT))
    # L-HOT, L-MEGA, L-OTHER each lose 20 (the demo), none changes tier or crosses the MQL line
    assert re.search(r"Leads scored 7 Change tier 0 Become MQL 0 Stop being MQL 0", page)
    # and the sales lead who asked for it is named as people read it
    assert "asked by Sam Saleslead at" in page
    html = get(client, personas["manager"], IMPACT).content.decode()
    assert re.findall(r'data-lead="([\w-]+)"', html) == ["L-HOT", "L-MEGA", "L-OTHER"]
    assert "Demo request: 50 → 30" in page
    tables = dict(re.findall(r'data-segment="(\w+)">(.*?)</table>', html, flags=re.S))
    moved = {seg: dict(re.findall(r'data-move="([\w-]+)"[^>]*>(\d+)<', body)) for seg, body in tables.items()}
    # enterprise: L-MEGA stays hot, L-WARM warm; mid-market: L-HOT and L-OTHER hot, 3 cold
    assert {k: v for k, v in moved["enterprise"].items() if v != "0"} == {"hot-hot": "1", "warm-warm": "1"}
    assert {k: v for k, v in moved["default"].items() if v != "0"} == {"hot-hot": "2", "cold-cold": "3"}
    # A rep sees the counts, and by name only the movers among their own leads (L-OTHER is rep2's)
    rep_html = get(client, rep, IMPACT).content.decode()
    assert re.findall(r'data-lead="([\w-]+)"', rep_html) == ["L-HOT", "L-MEGA"]
    assert "1 of the biggest movers are other owners' leads" in rep_html
    # Asking again for the same revision reuses it
    post(client, saleslead, IMPACT)
    assert ImpactPreview.objects.count() == 1


def test_a_preview_of_an_older_revision_is_marked_stale(client, ws, marketer):
    preview = ImpactPreview.objects.create(version=ws.draft, revision=1, as_of=ws.as_of, created_by=marketer)
    impact_preview_run(preview_id=preview.pk)
    model_draft_update(version=ws.draft, data=model_document(), user=marketer, revision=1)
    page = text(get(client, marketer, IMPACT))
    assert "Stale: this preview scored revision 1; the draft is now at revision 2" in page
    assert "Preview revision 2" in page
    post(client, marketer, IMPACT)
    assert list(ImpactPreview.objects.order_by("id").values_list("revision", flat=True)) == [1, 2]


def test_no_draft_to_preview(client, ws, marketer):
    ModelVersion.objects.filter(status=VersionStatus.DRAFT).delete()
    page = text(get(client, marketer, IMPACT))
    assert "There is no draft to preview. The live version is 1." in page
    response = post(client, marketer, IMPACT)
    assert response.status_code == 302 and not ImpactPreview.objects.exists()


def test_a_failed_preview_shows_its_reason(client, ws, marketer):
    ImpactPreview.objects.create(
        version=ws.draft, revision=1, as_of=ws.as_of, state=PreviewState.FAILED, error="RuntimeError: boom"
    )
    page = text(get(client, marketer, IMPACT))
    assert "The preview failed. RuntimeError: boom" in page


def test_the_matrix_page_links_to_the_workshop(client, ws, rep):
    html = get(client, rep, f"/matrix/{SLUG}/").content.decode()
    assert f'href="{SCENARIOS}"' in html and f'href="{IMPACT}"' in html


def test_a_scenarios_buyer_reads_in_words_with_formatted_numbers(client, personas, ws):
    """The buyer's fields and attributes on one line: words for keys, 8,000 for a number, yes/no
    for a boolean, and no empty " · · " where the attributes begin."""
    scenario_create(
        scoring_model=ws.scoring_model,
        name="Director gone quiet",
        lead={"title": "Director of IT", "employees": 8000, "attributes": {"budget_confirmed": True}},
        events=[],
        user=personas["marketer"],
    )
    html = get(client, personas["marketer"], SCENARIOS).content.decode()
    assert '<p class="muted">Title: Director of IT · Employees: 8,000 · Budget confirmed: yes</p>' in html
    buyers = re.findall(r'<p class="muted">([^<]*)</p>', html)
    assert buyers and not any("budget_confirmed" in b or "· ·" in b or b.startswith(" ·") for b in buyers)
