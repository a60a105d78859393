"""The fit x engagement grid (/leads/grid/): lead counts per grade, one GROUP BY query.

Given the workspace of tests/leads/workspace_data.py, when a user opens the grid, then each cell
counts the leads they may see with that grade under the chosen model, and opens the list
filtered to it.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.selectors import leads_grade_counts, leads_scored_by, leads_visible
from tests.leads.workspace_data import SLUG, workspace_build


@pytest.fixture
def ws(db, personas):
    return workspace_build(rep=personas["rep"], rep2=personas["rep2"])


def cells(response) -> dict[str, int]:
    return {cell["grade"]: cell["count"] for row in response.context["rows"] for cell in row["cells"]}


def test_the_grid_counts_every_grade_for_a_manager(ws, client, manager):
    client.force_login(manager)
    response = client.get("/leads/grid/")
    counts = cells(response)
    assert len(counts) == 16 and list(counts)[:4] == ["A4", "A3", "A2", "A1"]
    assert {g: n for g, n in counts.items() if n} == {"A4": 2, "B4": 1, "A2": 1, "D2": 1, "B1": 1, "D1": 1}
    assert response.context["total"] == 7


def test_a_rep_counts_their_own_leads(ws, client, rep):
    client.force_login(rep)
    counts = cells(client.get(f"/leads/grid/?model={SLUG}"))
    assert {g: n for g, n in counts.items() if n} == {"A4": 1, "B4": 1, "A2": 1, "D2": 1, "D1": 1}


def test_the_grid_follows_the_list_filters(ws, client, manager):
    client.force_login(manager)
    counts = cells(client.get("/leads/grid/?segment=enterprise&grade=D1"))  # a grade filter is ignored here
    assert {g: n for g, n in counts.items() if n} == {"B4": 1, "A2": 1}


def test_a_cell_opens_the_list_filtered_to_its_grade(ws, client, manager):
    # Given the grid filtered to enterprise leads
    client.force_login(manager)
    response = client.get("/leads/grid/?segment=enterprise")
    url = next(c["url"] for row in response.context["rows"] for c in row["cells"] if c["grade"] == "B4")
    assert url == f"/leads/?segment=enterprise&model={SLUG}&grade=B4"
    # When the cell is opened, then the list shows exactly its leads
    listed = client.get(url).context["table"].page.object_list
    assert [row.record.external_id for row in listed] == ["L-MEGA"]
    assert f'href="{url.replace("&", "&amp;")}"' in response.content.decode()


def test_the_counts_are_one_group_by_query(ws, manager):
    scored = leads_scored_by(queryset=leads_visible(user=manager), scoring_model=ws.scoring_model)
    with CaptureQueriesContext(connection) as ctx:
        counts = leads_grade_counts(queryset=scored.filter(tier="hot"))
    assert counts == {"A4": 2, "B4": 1}
    assert len(ctx.captured_queries) == 1
    assert "GROUP BY" in ctx.captured_queries[0]["sql"]


def test_the_grid_query_count_is_pinned(ws, client, rep, django_assert_max_num_queries):
    # session, user, permissions (2), models, the live version (segments), the model asked for,
    # the GROUP BY, roles and unread alerts (menu)
    client.force_login(rep)
    with django_assert_max_num_queries(10):
        client.get("/leads/grid/?tier=hot")


def test_without_a_model_the_grid_says_so(db, client, rep):
    client.force_login(rep)
    assert "No scoring model yet." in client.get("/leads/grid/").content.decode()
