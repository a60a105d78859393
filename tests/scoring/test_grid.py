"""The fit x engagement grid (/leads/grid/): lead counts per grade, one GROUP BY query.

Given the workspace of tests/leads/workspace_data.py, when a user opens the grid, then each cell
counts the leads they may see with that grade under the chosen model, and opens the list
filtered to it.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.selectors import leads_visible
from scoring.charts import HEAT_LEVELS, heat_legend, heat_level
from scoring.selectors import leads_grade_counts, leads_scored_by
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
    # the thresholds of its versions (the tier's score range), the GROUP BY, roles and unread
    # alerts (menu)
    client.force_login(rep)
    with django_assert_max_num_queries(11):
        client.get("/leads/grid/?tier=hot")


def test_without_a_model_the_grid_says_so(db, client, rep):
    client.force_login(rep)
    assert "No scoring model yet." in client.get("/leads/grid/").content.decode()


def test_the_grid_is_a_heat_map_coloured_by_count_with_a_legend(ws, client, manager):
    """Given grades holding 2, 1 and 0 leads, when the manager opens the grid, then each cell's colour
    class follows its count (empty cells uncoloured, the fullest the darkest), each keeps its count
    and its link, and a legend maps every colour to its counts."""
    client.force_login(manager)
    response = client.get("/leads/grid/")
    levels = {cell["grade"]: cell["level"] for row in response.context["rows"] for cell in row["cells"]}
    assert levels["A4"] == HEAT_LEVELS and levels["B4"] == heat_level(1, 2) < HEAT_LEVELS
    assert levels["C3"] == 0
    body = response.content.decode()
    assert 'class="cell heat-5 filled" data-grade="A4" data-count="2"' in body
    assert 'class="cell heat-0" data-grade="C3" data-count="0"' in body
    assert [(s.level, s.label) for s in response.context["legend"]] == [(heat_level(1, 2), "1"), (5, "2")]
    assert 'class="swatch heat-5"></span> 2</li>' in body


def test_four_leads_and_522_do_not_look_alike():
    # The walk-through's complaint: a cell of 4 was painted like a cell of 522.
    assert (heat_level(4, 522), heat_level(522, 522), heat_level(0, 522)) == (1, HEAT_LEVELS, 0)
    # Square root: a tenth of the largest cell is already at the second level of five.
    assert heat_level(53, 522) == 2
    steps = heat_legend(522)
    assert [s.label for s in steps] == ["1–20", "21–83", "84–187", "188–334", "335–522"]
    # Every count falls in the legend step of its own level.
    for count in (1, 20, 21, 83, 84, 187, 188, 334, 335, 522):
        (step,) = [s for s in steps if s.low <= count <= s.high]
        assert step.level == heat_level(count, 522)
    # Few leads: the levels that no whole count reaches are left out of the legend.
    assert [(s.level, s.low, s.high) for s in heat_legend(2)] == [(4, 1, 1), (5, 2, 2)]


def test_the_grid_says_it_counts_open_leads_and_links_to_every_stage(ws, client, manager):
    """Given the default (open leads), when the grid opens, then its caption and the notice say
    so, as the list does, and one link shows every stage."""
    client.force_login(manager)
    body = client.get("/leads/grid/").content.decode()
    assert "7 open leads scored by" in body
    assert "Showing <strong>open leads</strong>" in body and "stage=any" in body
    every = client.get("/leads/grid/", {"stage": "any"}).content.decode()
    assert "open leads scored by" not in every and "Showing leads at <strong>every stage</strong>" in every
