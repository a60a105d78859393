"""The prioritized lead list (/leads/): scope, filters, sorting, presets, exports, query counts.

Given the workspace of tests/leads/workspace_data.py (seven leads scored by "new-biz"),
when a user opens the list with some query string, then the rows are the leads they may see
that match, in the order asked for, in one set-based query.
"""

import csv
import datetime as dt
import io
from datetime import timedelta

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.services import leads_import
from leadscoring import tables as base_tables
from leadscoring.tables import escape_formula, export_cell
from scoring import lifecycle
from scoring.filtersets import LeadFilterSet
from scoring.models import SavedFilter, ScoreHistory
from scoring.saved_filters import querystring_clean
from scoring.selectors import leads_prioritized
from scoring.services import leads_rescore
from scoring.tables import LeadTable
from tests.leads.workspace_data import SLUG, workspace_build

ALL = {"L-HOT", "L-MEGA", "L-OTHER", "L-WARM", "L-DECAY", "L-FREE", "L-COLD"}
REPS = {"L-HOT", "L-MEGA", "L-WARM", "L-DECAY", "L-COLD"}


@pytest.fixture
def ws(db, personas):
    return workspace_build(rep=personas["rep"], rep2=personas["rep2"])


def rows(client, query="") -> list[str]:
    response = client.get(f"/leads/?{query}")
    assert response.status_code == 200, response.content[:500]
    return [row.record.external_id for row in response.context["table"].page.object_list]


def as_user(client, user):
    client.force_login(user)
    return client


# --- who sees what --------------------------------------------------------------------------------


def test_a_rep_sees_their_own_leads_only_highest_score_first(ws, client, rep):
    assert rows(as_user(client, rep)) == ["L-HOT", "L-MEGA", "L-WARM", "L-DECAY", "L-COLD"]


@pytest.mark.parametrize("who", ["manager", "marketer", "saleslead", "admin"])
def test_managers_editors_and_admins_see_every_lead(ws, client, personas, who):
    assert set(rows(as_user(client, personas[who]))) == ALL


def test_a_user_without_a_role_may_not_open_the_list(ws, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get("/leads/").status_code == 403


def test_the_rep_filter_holds_whatever_the_owner_filter_says(ws, client, rep):
    assert rows(as_user(client, rep), "owner=rep2") == []


# --- each filter ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=hana", {"L-HOT"}),
        ("q=HANA+hot", {"L-HOT"}),
        ("q=acme", {"L-HOT"}),
        ("q=dora%40decay.example", {"L-DECAY"}),
        ("q=nobody", set()),
        (f"model={SLUG}", ALL),
        ("segment=enterprise", {"L-WARM", "L-MEGA"}),
        ("tier=hot", {"L-HOT", "L-MEGA", "L-OTHER"}),
        ("tier=hot&tier=warm", {"L-HOT", "L-MEGA", "L-OTHER", "L-WARM"}),
        ("grade=A4", {"L-HOT", "L-OTHER"}),
        ("grade=D2", {"L-DECAY"}),
        ("stage=mql", {"L-HOT", "L-MEGA", "L-OTHER"}),
        ("stage=lead", {"L-WARM", "L-DECAY", "L-FREE", "L-COLD"}),
        ("stage=sql", set()),
        ("mql=true", {"L-HOT", "L-MEGA", "L-OTHER"}),
        ("mql=false", {"L-WARM", "L-DECAY", "L-FREE", "L-COLD"}),
        ("owner=me", set()),
        ("owner=none", {"L-FREE"}),
        ("owner=rep2", {"L-OTHER"}),
        ("score_min=55", {"L-HOT", "L-MEGA", "L-OTHER", "L-WARM"}),
        ("score_max=15", {"L-DECAY", "L-FREE", "L-COLD"}),
        ("score_min=15&score_max=55", {"L-WARM", "L-DECAY", "L-FREE"}),
        ("industry=software", {"L-HOT", "L-WARM", "L-OTHER"}),
        ("country=gb", {"L-WARM"}),
        ("lead_source=Partner", {"L-MEGA"}),
        ("active_days=3", {"L-HOT", "L-MEGA", "L-OTHER"}),
        ("active_days=30", {"L-HOT", "L-MEGA", "L-OTHER", "L-WARM", "L-FREE"}),
        ("mql_days=7", {"L-HOT", "L-MEGA", "L-OTHER"}),
        ("tier=hot&industry=retail", {"L-MEGA"}),
    ],
)
def test_each_filter(ws, client, manager, query, expected):
    # Given the manager (who sees every lead), when they filter, then exactly these leads remain
    assert set(rows(as_user(client, manager), query)) == expected


def test_owner_me_is_the_user_asking(ws, client, rep):
    assert set(rows(as_user(client, rep), "owner=me")) == REPS


def test_an_invalid_filter_shows_its_error_and_no_rows(ws, client, manager):
    response = as_user(client, manager).get("/leads/?score_min=lots&tier=tepid")
    assert list(response.context["table"].page.object_list) == []
    assert b"Enter a number." in response.content
    assert b"Select a valid choice. tepid is not one of the available choices." in response.content


def test_an_unknown_model_is_not_found(ws, client, manager):
    assert as_user(client, manager).get("/leads/?model=nope").status_code == 404


def test_the_segment_filter_offers_the_models_segments(ws, client, manager):
    content = as_user(client, manager).get("/leads/").content.decode()
    assert '<option value="enterprise">Enterprise</option>' in content
    assert '<option value="default">Mid-market</option>' in content


# --- the default view: open leads ------------------------------------------------------------------


@pytest.fixture
def decided(ws, manager):
    """The three MQLs decided by sales: L-HOT accepted (SQL), L-MEGA rejected, L-OTHER recycled."""
    model = ws.scoring_model
    lifecycle.lead_accept(lead=ws.leads["L-HOT"], scoring_model=model, user=manager)
    lifecycle.lead_reject(lead=ws.leads["L-MEGA"], scoring_model=model, user=manager, reason="wrong_fit")
    lifecycle.lead_recycle(lead=ws.leads["L-OTHER"], scoring_model=model, user=manager)
    return ws


OPEN = ["L-WARM", "L-DECAY", "L-FREE", "L-COLD"]  # highest score first


def test_the_list_opens_on_open_leads_by_score(decided, client, manager):
    # Given three of the top leads accepted, rejected and recycled
    client = as_user(client, manager)
    # When the list is opened with no stage asked for, then only leads still to work are listed
    assert rows(client) == OPEN
    page = client.get("/leads/").content.decode()
    assert "Showing <strong>open leads</strong>" in page
    # and the filter form shows the default ticked: lead and MQL, not the other three
    assert 'value="lead" id="id_stage_0" checked>' in page and 'value="mql" id="id_stage_1" checked>' in page
    assert 'value="sql" id="id_stage_2">' in page


def test_every_stage_is_one_click_away(decided, client, manager):
    client = as_user(client, manager)
    page = client.get("/leads/?tier=hot").content.decode()
    assert 'href="?tier=hot&amp;stage=any"' in page  # "Show every stage" keeps the other filters
    assert set(rows(client, "stage=any")) == ALL
    assert rows(client, "stage=any&stage=sql") == ["L-HOT"]
    assert set(rows(client, "stage=rejected&stage=recycled")) == {"L-MEGA", "L-OTHER"}


def test_the_presets_and_the_grid_follow_the_default(decided, client, manager):
    client = as_user(client, manager)
    assert rows(client, "tier=hot") == []  # the three hot leads are all decided
    response = client.get(f"/leads/grid/?model={SLUG}")
    counts = {c["grade"]: c["count"] for row in response.context["rows"] for c in row["cells"] if c["count"]}
    assert sum(counts.values()) == len(OPEN)
    assert response.context["rows"][0]["cells"][0]["url"] == f"/leads/?model={SLUG}&grade=A4"


def test_the_api_still_lists_every_stage_by_default(decided, client, manager):
    client = as_user(client, manager)
    response = client.get(f"/api/v1/leads/?model={SLUG}&page_size=50", headers={"Accept": "application/json"})
    assert {lead["id"] for lead in response.json()["results"]} == ALL


# --- the same filter set serves the API -------------------------------------------------------------


def test_the_filterset_scores_an_unscored_queryset_by_the_model_named(ws, rf, manager):
    # Given the API's queryset (no model) and ?model=new-biz&tier=hot
    request = rf.get("/")
    request.user = manager
    filterset = LeadFilterSet({"model": SLUG, "tier": ["hot"]}, leads_prioritized(user=manager), request=request)
    # Then the rows carry that model's score, highest first
    assert filterset.is_valid()
    assert [(lead.external_id, int(lead.score)) for lead in filterset.qs] == [
        ("L-HOT", 120),
        ("L-MEGA", 115),
        ("L-OTHER", 95),
    ]


def test_without_a_model_the_score_filters_match_any_models_score(ws, rf, manager):
    request = rf.get("/")
    request.user = manager
    filterset = LeadFilterSet({"grade": "A4", "stage": ["mql"]}, leads_prioritized(user=manager), request=request)
    assert sorted(lead.external_id for lead in filterset.qs) == ["L-HOT", "L-OTHER"]


# --- sorting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("score", ["L-COLD", "L-DECAY", "L-FREE", "L-WARM", "L-OTHER", "L-MEGA", "L-HOT"]),
        ("-score", ["L-HOT", "L-MEGA", "L-OTHER", "L-WARM", "L-DECAY", "L-FREE", "L-COLD"]),
        ("tier", ["L-HOT", "L-MEGA", "L-OTHER", "L-WARM", "L-DECAY", "L-FREE", "L-COLD"]),
        ("-tier", ["L-DECAY", "L-FREE", "L-COLD", "L-WARM", "L-HOT", "L-MEGA", "L-OTHER"]),
        ("grade", ["L-HOT", "L-OTHER", "L-WARM", "L-MEGA", "L-FREE", "L-DECAY", "L-COLD"]),
        ("-grade", ["L-COLD", "L-DECAY", "L-FREE", "L-MEGA", "L-WARM", "L-HOT", "L-OTHER"]),
        ("lead", ["L-COLD", "L-DECAY", "L-FREE", "L-HOT", "L-MEGA", "L-OTHER", "L-WARM"]),
        ("company", ["L-COLD", "L-HOT", "L-WARM", "L-FREE", "L-MEGA", "L-OTHER", "L-DECAY"]),
        ("-last_activity", ["L-HOT", "L-OTHER", "L-MEGA", "L-FREE", "L-WARM", "L-DECAY", "L-COLD"]),
        ("last_activity", ["L-DECAY", "L-WARM", "L-FREE", "L-MEGA", "L-OTHER", "L-HOT", "L-COLD"]),
        ("stage", ["L-HOT", "L-MEGA", "L-OTHER", "L-WARM", "L-DECAY", "L-FREE", "L-COLD"]),
        ("-change", ["L-HOT", "L-OTHER", "L-DECAY", "L-WARM", "L-COLD", "L-MEGA", "L-FREE"]),
    ],
)
def test_every_column_sorts(ws, client, manager, sort, expected):
    assert rows(as_user(client, manager), f"sort={sort}") == expected


@pytest.mark.parametrize(
    "column",
    ["segment", "title", "owner", "-owner", "change", "-stage", "-segment", "-company", "-lead", "-title"],
)
def test_the_other_sorts_answer(ws, client, manager, column):
    assert set(rows(as_user(client, manager), f"sort={column}")) == ALL


def test_change_since_yesterday_comes_from_score_history(ws, client, manager):
    # L-HOT was 50 two days ago and is 120 now; L-OTHER 25 then, 95 now; L-DECAY unchanged.
    response = as_user(client, manager).get("/leads/")
    change = {row.record.external_id: row.record.change for row in response.context["table"].page.object_list}
    assert (change["L-HOT"], change["L-OTHER"], change["L-DECAY"]) == (70, 70, 0)
    assert "+70" in response.content.decode()


def _cells(response, column: str) -> dict[str, str]:
    """The text of one column's cell per lead id, as the page shows it."""
    table = response.context["table"]
    return {row.record.external_id: str(row.get_cell(column)) for row in table.page.object_list}


def test_since_yesterday_reads_the_score_in_force_24_hours_ago(ws, client, manager):
    # Given history rows made here for L-WARM (55 now): 40 at 30 hours ago, 50 at 3 hours ago
    warm, now = ws.leads["L-WARM"], timezone.now()
    for hours, score in ((30, "40"), (3, "50")):
        ScoreHistory.objects.create(
            lead=warm, scoring_model=ws.scoring_model, version_number=1, as_of=now - timedelta(hours=hours),
            score=score, fit="25", engagement=str(int(score) - 25), tier="warm", mql=False, recorded_at=now,
        )  # fmt: skip
    # and a lead first scored now, with no score 24 hours ago
    leads_import(
        rows=[(0, {"id": "L-NEW", "title": "VP", "owner": manager.username, "created_at": "2026-01-01T00:00:00Z"})]
    )
    leads_rescore(version=ws.version, as_of=timezone.now(), alerts=False)
    # When the manager opens the list
    cells = _cells(as_user(client, manager).get("/leads/?stage=any"), "change")
    # Then L-WARM moved +15 since the score in force then (40, not the later 50), L-DECAY did
    # not move, and the new lead says so instead of a dash
    assert ">+15<" in cells["L-WARM"] and ">0<" in cells["L-DECAY"]
    assert ">new<" in cells["L-NEW"]
    assert "—" not in "".join(cells.values())


def test_segments_are_shown_by_their_labels(ws, client, manager):
    cells = _cells(as_user(client, manager).get("/leads/"), "segment")
    assert (cells["L-WARM"], cells["L-HOT"]) == ("Enterprise", "Mid-market")


def test_pages_and_page_size(ws, client, manager):
    client = as_user(client, manager)
    response = client.get("/leads/?per_page=25")
    assert response.context["table"].paginator.per_page == 25
    assert client.get("/leads/?per_page=7").context["table"].paginator.per_page == 25  # not a choice: the default
    assert client.get("/leads/?page=9").context["table"].page.number == 1  # past the end: the last page
    assert client.get("/leads/?page=x").context["table"].page.number == 1


# --- presets ----------------------------------------------------------------------------------------


def test_the_built_in_presets_are_offered_and_work(ws, client, rep):
    client = as_user(client, rep)
    content = client.get("/leads/").content.decode()
    assert "My hot leads" in content and "New MQLs this week" in content
    assert rows(client, f"model={SLUG}&owner=me&tier=hot") == ["L-HOT", "L-MEGA"]
    assert rows(client, f"model={SLUG}&mql_days=7") == ["L-HOT", "L-MEGA"]


def test_a_user_saves_the_current_filters_as_a_preset_and_deletes_it(ws, client, rep, manager):
    client = as_user(client, rep)
    # When the rep saves "tier=hot, sorted by change" while on page 2 of an export link
    response = client.post(
        "/leads/filters/", {"name": "  Hot  movers ", "querystring": "tier=hot&sort=-change&page=2&_export=csv&q="}
    )
    # Then the preset keeps the filters and sorting only, and the list shows it
    assert response.status_code == 302
    saved = SavedFilter.objects.get(user=rep)
    assert (saved.name, saved.querystring) == ("Hot movers", "tier=hot&sort=-change")
    assert "Hot movers" in client.get("/leads/").content.decode()
    # Saving again under the same name replaces it
    client.post("/leads/filters/", {"name": "Hot movers", "querystring": "tier=warm"})
    assert list(SavedFilter.objects.filter(user=rep).values_list("querystring", flat=True)) == ["tier=warm"]
    # Another user sees none of it and cannot delete it
    other = as_user(Client(), manager)
    assert "Hot movers" not in other.get("/leads/").content.decode()
    assert other.post(f"/leads/filters/{saved.pk}/delete/").status_code == 404
    # Its owner can
    client.post(f"/leads/filters/{saved.pk}/delete/")
    assert not SavedFilter.objects.exists()


def test_a_preset_needs_a_name(ws, client, rep):
    response = as_user(client, rep).post("/leads/filters/", {"name": " ", "querystring": "tier=hot"}, follow=True)
    assert not SavedFilter.objects.exists()
    assert "Not saved" in response.content.decode()


# --- counting past the cap -------------------------------------------------------------------------


def test_below_the_cap_the_list_has_an_exact_total_and_last_page(ws, client, manager):
    response = as_user(client, manager).get("/leads/?per_page=25")
    paginator = response.context["table"].paginator
    assert (paginator.count, paginator.count_capped, paginator.num_pages) == (7, False, 1)
    assert b"1\xe2\x80\x937 of 7" in response.content


def test_past_the_cap_the_total_reads_more_than_and_pages_are_found_by_looking_ahead(ws, client, manager, monkeypatch):
    # Given a cap of 3 rows and pages of 2 (the paginator takes any page size; the view only 25+)
    monkeypatch.setattr(base_tables.CappedCountPaginator, "cap", 3)
    queryset = leads_prioritized(user=manager, model=ws.scoring_model)
    lead_table = LeadTable(queryset, scoring_model=ws.scoring_model)
    # When page 2 is asked for
    with CaptureQueriesContext(connection) as queries:
        lead_table.paginate(paginator_class=base_tables.CappedCountPaginator, per_page=2, page=2)
        page_rows = [row.record.external_id for row in lead_table.page.object_list]
    # Then the count stopped at cap + 1 rows, the page holds rows 3-4 of the score order
    paginator = lead_table.paginator
    assert (paginator.count, paginator.count_capped) == (4, True)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 4" in counts[0]
    everyone = [row.record.external_id for row in LeadTable(queryset, scoring_model=ws.scoring_model).rows]
    assert page_rows == everyone[2:4]
    assert (lead_table.page.start_index(), lead_table.page.end_index()) == (3, 4)
    # and the pages known so far end one past this one, with more to come
    assert paginator.num_pages == 3 and not paginator.is_last_page(2)
    # When the last page is asked for, it is known to be the last
    lead_table.paginate(paginator_class=base_tables.CappedCountPaginator, per_page=2, page=4)
    assert [row.record.external_id for row in lead_table.page.object_list] == everyone[6:]
    assert lead_table.paginator.is_last_page(4) and lead_table.page.end_index() == 7


def test_past_the_cap_the_page_says_more_than_and_a_page_past_the_end_shows_the_last(ws, client, manager, monkeypatch):
    monkeypatch.setattr(base_tables.CappedCountPaginator, "cap", 3)
    as_user(client, manager)
    response = client.get("/leads/?per_page=25")
    assert b"1\xe2\x80\x937 of more than 3" in response.content
    assert client.get("/leads/?per_page=25&page=9").context["table"].page.number == 1


def test_querystring_clean_drops_pages_exports_and_blanks():
    assert querystring_clean("?tier=hot&page=3&_export=xlsx&q=&tier=warm") == "tier=hot&tier=warm"


# --- exports ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_text_is_escaped(text):
    assert escape_formula(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "", " =not first", 5, -5, 1.5, None])
def test_other_values_are_left_alone(value):
    assert escape_formula(value) == value


def test_export_cells_are_typed():
    from datetime import UTC, datetime

    assert export_cell(datetime(2026, 6, 1, 12, 0, 30, 999, tzinfo=UTC)) == datetime(2026, 6, 1, 12, 0, 30)
    assert export_cell(True) == "yes"


def test_csv_export_of_the_filtered_list_escapes_formulas(ws, client, rep):
    # When the rep exports their cold leads as CSV
    response = as_user(client, rep).get("/leads/?tier=cold&_export=csv")
    # Then the file holds those leads, every column of the table, and the formula as text
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith(f'attachment; filename="leads-{SLUG}-')
    # streamed as its rows are read, not built whole first
    assert response.streaming
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, body = table[0], table[1:]
    assert header[:4] == ["Lead", "Score", "Tier", "Grade"] and "Lead id" in header and "E-mail" in header
    by_id = {row[header.index("Lead id")]: row for row in body}
    assert set(by_id) == {"L-DECAY", "L-COLD"}
    assert by_id["L-COLD"][header.index("Company")] == '\'=HYPERLINK("http://x")'
    assert by_id["L-COLD"][header.index("Score")] == "-20.00"  # a number stays a number
    assert by_id["L-COLD"][header.index("Last activity")] == ""


def test_export_rows_are_the_cells_django_tables2_would_export(ws, manager):
    # Given the manager's list (every column, shown or not, every kind of cell)
    def table():
        return LeadTable(leads_prioritized(user=manager, model=ws.scoring_model), scoring_model=ws.scoring_model)

    # When its rows are read for an export, then they are django-tables2's as_values cells, escaped
    expected = [
        ["" if i and v == table().default else export_cell(v) for v in row] for i, row in enumerate(table().as_values())
    ]
    assert list(table().export_rows()) == expected
    assert len(expected) == 1 + len(ALL)


def test_xlsx_export_has_no_formula_cells(ws, client, manager):
    response = as_user(client, manager).get("/leads/?_export=xlsx&sort=score")
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    header = [c.value for c in next(sheet.iter_rows())]
    first = [c.value for c in next(sheet.iter_rows(min_row=2))]
    assert first[header.index("Lead id")] == "L-COLD"
    assert first[header.index("Company")] == '\'=HYPERLINK("http://x")'
    assert first[header.index("Score")] == -20
    assert sheet.max_row == 1 + len(ALL)
    # typed cells: a number, a date and time, a "no"; the header bold and frozen
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b
    assert isinstance(first[header.index("Scored as of")], dt.datetime)
    assert first[header.index("MQL")] == "no"


def test_an_export_too_large_is_refused_with_a_message(ws, client, manager, monkeypatch):
    monkeypatch.setattr(base_tables, "EXPORT_MAX_ROWS", 3)
    response = as_user(client, manager).get("/leads/?_export=csv&tier=hot&tier=cold", follow=True)
    assert response.redirect_chain[-1][0] == "/leads/?tier=hot&tier=cold"
    assert "more than 3 rows: narrow the filters" in response.content.decode()


# --- one set-based query, whatever the number of leads ------------------------------------------------


def more_leads(ws, owner, n):
    rows = [
        (i, {"id": f"L-X{i:03d}", "title": "VP", "industry": "Software", "owner": owner.username,
             "created_at": "2026-01-01T00:00:00Z"})
        for i in range(n)
    ]  # fmt: skip
    leads_import(rows=rows)
    leads_rescore(version=ws.version, as_of=ws.as_of, alerts=False)


def list_queries(client, query="") -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/leads/?{query}").status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "query", ["", "tier=hot&stage=mql&active_days=30&q=a&sort=-change", "sort=last_activity&owner=none"]
)
def test_the_list_costs_the_same_queries_for_5_or_45_leads(ws, rep, manager, query):
    # Given the list's query count for the rep's five leads and the manager's seven
    rep_client, manager_client = as_user(Client(), rep), as_user(Client(), manager)
    small = {"rep": list_queries(rep_client, query), "manager": list_queries(manager_client, query)}
    # When forty more leads arrive, then the list runs exactly as many queries
    more_leads(ws, rep, 40)
    assert list_queries(rep_client, query) == small["rep"]
    assert list_queries(manager_client, query) == small["manager"]


def test_the_list_query_count_is_pinned(ws, client, rep, django_assert_max_num_queries):
    # session, user, permissions (2), the models, the live version (segments), the model asked
    # for (filter validation), the thresholds of its versions (the tier's score range), the count,
    # the page of rows, saved presets; the page's menu: the roles and the unread alerts. (A
    # manager adds one: the owners of the owner select.)
    client = as_user(client, rep)
    with django_assert_max_num_queries(14):
        client.get("/leads/?tier=hot&sort=-last_activity")


def test_the_managers_list_adds_one_query_for_the_owner_select(ws, client, manager, django_assert_max_num_queries):
    client = as_user(client, manager)
    with django_assert_max_num_queries(14):
        client.get("/leads/?tier=hot&sort=-last_activity")


def test_an_export_is_one_query_for_the_rows(ws, client, manager, django_assert_max_num_queries):
    client = as_user(client, manager)
    more_leads(ws, manager, 30)
    with django_assert_max_num_queries(9):
        client.get("/leads/?_export=csv")
