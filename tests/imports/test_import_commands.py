"""The file commands: import_leads, import_events, rescore, export_scores and the dry run's errors."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from leads.models import Event, Lead
from scoring.models import PendingScore, Score
from tests.conftest import EXAMPLES
from tests.imports.crm_data import CRM, EXPECTED, events_stored, leads_stored
from tests.matrix.helpers import cond, doc, eng, fit, publish

pytestmark = pytest.mark.django_db

AS_OF = "2026-06-01T12:00:00Z"


def run(*args, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def run_refused(*args, **options) -> tuple[str, str]:
    """An import that refuses rows: it reports them, stores the rest and ends with exit status 1."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="rows refused") as refused:
        call_command(*args, stdout=out, stderr=err, **options)
    assert refused.value.returncode == 1
    return out.getvalue(), err.getvalue()


def jsonl(path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def csv_file(path, header, rows) -> str:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def lead_row(external_id, **fields):
    return {"id": external_id, "created_at": "2026-01-01T00:00:00Z", **fields}


def event_row(external_id, lead, kind="page_view", occurred_at="2026-05-30T10:00:00+02:00", **props):
    row = {"lead": lead, "kind": kind, "occurred_at": occurred_at, "properties": props}
    if external_id is not None:
        row["id"] = external_id
    return row


# --- import_leads -------------------------------------------------------------------------------------


def test_import_leads_jsonl_upserts_by_id_and_coerces_numeric_strings(tmp_path):
    # Given a JSONL file with numeric strings and a second row for the same id
    path = jsonl(
        tmp_path / "leads.jsonl",
        [
            lead_row(
                "L-1", industry="SaaS", employees="1e3", annual_revenue=" 2500000.50 ", attributes={"plan": "Pro"}
            ),
            lead_row("L-2", employees=12.0, annual_revenue=7, country="FR", created_at="2026-01-01T09:00:00+09:00"),
            lead_row("L-1", industry="Software", employees="350", attributes={"seats": "40"}),
        ],
    )
    # When imported
    out, err = run("import_leads", path)
    # Then both leads are stored (counted once each), the later row of L-1 winning, numbers coerced
    assert "2 leads stored (2 new, 0 updated), 0 rows refused, 1 repeated ids" in out and err == ""
    first = Lead.objects.get(external_id="L-1")
    assert (first.industry, first.employees, first.annual_revenue) == ("Software", 350, None)
    assert first.attributes == {"seats": "40"}
    second = Lead.objects.get(external_id="L-2")
    assert (second.employees, second.annual_revenue, second.country) == (12, 7.0, "FR")
    assert second.created_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    # And importing again updates in place
    jsonl(tmp_path / "leads.jsonl", [lead_row("L-2", employees="13", title="CTO")])
    out, _ = run("import_leads", path)
    assert "1 leads stored (0 new, 1 updated)" in out
    assert Lead.objects.count() == 2
    second.refresh_from_db()
    assert (second.employees, second.title, second.country) == (13, "CTO", "")


def test_import_leads_csv_with_attribute_columns(tmp_path):
    path = csv_file(
        tmp_path / "leads.csv",
        ["id", "email", "employees", "annual_revenue", "created_at", "attributes.plan", "attributes.seats", "owner"],
        [
            ["L-1", "a@x.com", "5,000", "", "2026-01-01T00:00:00Z", "Pro", "", ""],
            ["L-4", "d@x.com", "5,00", "", "2026-01-01T00:00:00Z", "Pro", "", ""],
            ["L-2", "b@x.com", " 250 ", "1.5e6", "2026-01-02T00:00:00Z", "Free", "3", "ann"],
            ["L-3", "c@x.com", "", "", "2026-01-03T00:00:00Z", "", "", "ann@example.com"],
        ],
    )
    user = get_user_model().objects.create(username="ann", email="ann@example.com")
    out, err = run_refused("import_leads", path)
    # "5,000" reads as 5000 (a CRM writes thousands so); "5,00" is no number: that row is refused
    # with its CSV line number, the others kept
    assert "3 leads stored (3 new, 0 updated), 1 rows refused" in out
    assert "line 3: refused: employees: '5,00' is not a number" in err
    two = Lead.objects.get(external_id="L-2")
    assert (two.employees, two.annual_revenue, two.attributes, two.owner) == (
        250,
        1.5e6,
        {"plan": "Free", "seats": "3"},
        user,
    )
    three = Lead.objects.get(external_id="L-3")
    assert (three.employees, three.attributes, three.owner) == (None, {}, user)
    assert Lead.objects.get(external_id="L-1").employees == 5000


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (lead_row("L-9", created_at="2026-01-01T00:00:00"), "created_at: '2026-01-01T00:00:00' has no UTC offset"),
        (lead_row("L-9", created_at="2026-01-01"), "created_at: '2026-01-01' has no UTC offset"),
        (lead_row("L-9", created_at="yesterday"), "created_at: 'yesterday' is not a date"),
        ({"id": "L-9"}, "created_at: required"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "id: required"),
        (lead_row("  "), "id: required"),
        (lead_row("x" * 201), "id: longer than 200 characters"),
        (lead_row("L-9", employees=2.5), "employees: must be a whole number"),
        (lead_row("L-9", employees="12abc"), "employees: '12abc' is not a number"),
        (lead_row("L-9", employees=True), "employees: must be a number"),
        (lead_row("L-9", annual_revenue="NaN"), "annual_revenue: 'NaN' is not a number"),
        (lead_row("L-9", attributes=["a"]), "attributes: must be an object"),
        (lead_row("L-9", industry={"a": 1}), "industry: must be text"),
        ("[1, 2]", "row: must be an object"),
        ("{not json", "row: not valid JSON"),
    ],
)
def test_import_leads_rejects_bad_rows_with_line_and_reason(tmp_path, row, reason):
    # Given a bad row between two good ones
    path = jsonl(tmp_path / "leads.jsonl", [lead_row("L-1"), row, lead_row("L-2")])
    # When imported, then the bad row is reported by line with its reason and the others are stored
    out, err = run_refused("import_leads", path)
    assert "2 leads stored (2 new, 0 updated), 1 rows refused" in out
    assert f"line 2: refused: {reason}" in err
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["L-1", "L-2"]


def test_a_rejected_lead_row_is_never_half_stored(tmp_path):
    # Given an existing lead, and a row updating it that has one bad field among good ones
    run("import_leads", jsonl(tmp_path / "a.jsonl", [lead_row("L-1", title="CEO", employees=10)]))
    path = jsonl(tmp_path / "b.jsonl", [lead_row("L-1", title="CTO", employees="many", country="FR")])
    out, err = run_refused("import_leads", path)
    # Then nothing of that row is written
    assert "0 leads stored (0 new, 0 updated), 1 rows refused" in out
    lead = Lead.objects.get()
    assert (lead.title, lead.employees, lead.country) == ("CEO", 10, "")


def test_every_problem_of_a_row_is_listed(tmp_path):
    path = jsonl(tmp_path / "leads.jsonl", [{"id": "", "employees": "x", "created_at": "2026-01-01"}])
    _, err = run_refused("import_leads", path)
    assert "id: required" in err and "created_at:" in err and "employees: 'x' is not a number" in err


def test_large_whole_numbers_are_kept_exactly(tmp_path):
    path = jsonl(
        tmp_path / "leads.jsonl",
        [lead_row("L-1", employees=9007199254740993), lead_row("L-2", employees="9007199254740993")],
    )
    out, err = run("import_leads", path)
    assert "2 leads stored (2 new, 0 updated), 0 rows refused" in out, err
    assert set(Lead.objects.values_list("employees", flat=True)) == {9007199254740993}


def non_utf8(tmp_path, name):
    path = tmp_path / name
    path.write_bytes('{"id": "L-1", "company": "Société"}\n'.encode("latin-1"))
    return str(path)


@pytest.mark.parametrize("command", ["import_leads", "import_events"])
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: non_utf8(tmp, "rows.jsonl"), "not UTF-8 text"),
        (lambda tmp: non_utf8(tmp, "rows.csv"), "not UTF-8 text"),
        (lambda tmp: str(tmp / "missing.jsonl"), "no such file"),
        (lambda tmp: _directory(tmp / "folder.jsonl"), "cannot read: Is a directory"),
        (lambda tmp: jsonl(tmp / "rows.txt", [lead_row("L-1")]), "unknown file type .txt"),
        (lambda tmp: _broken_csv(tmp), "(?i)malformed CSV"),
    ],
    ids=["jsonl-latin1", "csv-latin1", "missing", "directory", "txt", "malformed-csv"],
)
def test_an_unreadable_file_fails_with_a_clear_message_and_stores_nothing(tmp_path, command, make, message):
    path = make(tmp_path)
    with pytest.raises(CommandError, match=message):
        run(command, path)
    assert not Lead.objects.exists() and not Event.objects.exists()


def _directory(path):
    path.mkdir()
    return str(path)


def _broken_csv(tmp):
    path = tmp / "broken.csv"
    path.write_text('id,created_at\nL-1,"2026-01-01T00:00:00Z\n', encoding="utf-8")
    return str(path)


def test_a_bom_is_accepted(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes("\ufeffid,created_at\nL-1,2026-01-01T00:00:00Z\n".encode())
    out, _ = run("import_leads", str(path))
    assert "1 leads stored" in out and Lead.objects.get().external_id == "L-1"


# --- import_events ------------------------------------------------------------------------------------


def leads_present(*ids):
    for external_id in ids:
        Lead.objects.create(external_id=external_id, created_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_import_events_ignores_and_counts_repeated_ids(tmp_path):
    leads_present("L-1", "L-2")
    path = jsonl(
        tmp_path / "events.jsonl",
        [
            event_row("E-1", "L-1"),
            event_row("E-1", "L-1", kind="email_open"),  # repeated id, same lead: ignored
            event_row("E-1", "L-2"),  # same id, another lead: another event
            event_row(None, "L-1"),
            event_row(None, "L-1"),  # no id: never a repeat
            event_row(5, "L-2"),
            event_row("5", "L-2"),  # ids compare as text
        ],
    )
    out, err = run("import_events", path)
    assert "5 events stored, 0 rows refused, 2 repeated ids ignored" in out and err == ""
    assert Event.objects.get(lead__external_id="L-1", external_id="E-1").kind == "page_view"
    # Importing the same file again stores nothing new
    out, _ = run("import_events", path)
    assert "2 events stored, 0 rows refused, 5 repeated ids ignored" in out
    assert Event.objects.count() == 7


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (event_row("E-9", "L-404"), "lead: unknown lead id 'L-404'"),
        (
            event_row("E-9", "L-1", occurred_at="2026-05-30T10:00:00"),
            "occurred_at: '2026-05-30T10:00:00' has no UTC offset",
        ),
        (event_row("E-9", "L-1", occurred_at=None), "occurred_at: required"),
        (event_row("E-9", "L-1", kind=""), "kind: required"),
        (event_row("E-9", "L-1", kind="k" * 65), "kind: longer than 64 characters"),
        ({"id": "E-9", "kind": "page_view", "occurred_at": "2026-05-30T10:00:00Z"}, "lead: required"),
        ({**event_row("E-9", "L-1"), "properties": "url=/x"}, "properties: must be an object"),
    ],
)
def test_import_events_rejects_rows_one_by_one(tmp_path, row, reason):
    leads_present("L-1")
    path = jsonl(tmp_path / "events.jsonl", [event_row("E-1", "L-1"), row, event_row("E-2", "L-1")])
    out, err = run_refused("import_events", path)
    assert "2 events stored, 1 rows refused" in out
    assert f"line 2: refused: {reason}" in err
    assert sorted(Event.objects.values_list("external_id", flat=True)) == ["E-1", "E-2"]


def test_import_events_csv_with_property_columns(tmp_path):
    leads_present("L-1", "L-2")
    path = csv_file(
        tmp_path / "events.csv",
        ["id", "lead", "kind", "occurred_at", "properties.url", "properties.message_id"],
        [
            ["E-1", "L-1", "page_view", "2026-05-30T10:00:00Z", "/pricing", ""],
            ["", "L-2", "email_sent", "2026-05-30T11:00:00-05:00", "", "m-1"],
            ["E-3", "L-1", "page_view", "2026-05-30T10:00:00", "/blog", ""],
            ["E-1", "L-1", "page_view", "2026-05-31T10:00:00Z", "/again", ""],
        ],
    )
    out, err = run_refused("import_events", path)
    assert "2 events stored, 1 rows refused, 1 repeated ids ignored" in out
    assert "line 4: refused: occurred_at: '2026-05-30T10:00:00' has no UTC offset" in err
    first = Event.objects.get(external_id="E-1")
    assert first.properties == {"url": "/pricing"}
    sent = Event.objects.get(kind="email_sent")
    assert (sent.external_id, sent.properties) == (None, {"message_id": "m-1"})
    assert sent.occurred_at == datetime(2026, 5, 30, 16, 0, tzinfo=UTC)


def test_import_events_reports_many_rejections_briefly(tmp_path):
    path = jsonl(tmp_path / "events.jsonl", [event_row(f"E-{i}", "L-404") for i in range(60)])
    out, err = run_refused("import_events", path)
    assert "0 events stored, 60 rows refused" in out
    assert err.count("refused: lead: unknown lead id") == 50
    assert "... and 10 more refused rows" in err


# --- rescore and export_scores ----------------------------------------------------------------------


@pytest.fixture
def scored_world(tmp_path):
    """Two live models and three leads with events, imported through the commands."""
    publish(
        doc(slug="alpha", criteria=[fit("saas", cond("industry", "eq", "saas"), 30), eng("demo", "demo_request", 50)])
    )
    publish(doc(slug="beta", criteria=[fit("fr", cond("country", "eq", "fr"), 5)]))
    run(
        "import_leads",
        jsonl(
            tmp_path / "leads.jsonl",
            [
                lead_row("L-1", industry="SaaS", country="FR"),
                lead_row("L-2", industry="Retail"),
                lead_row("L-3", industry="saas "),
            ],
        ),
    )
    run(
        "import_events",
        jsonl(
            tmp_path / "events.jsonl",
            [
                event_row("E-1", "L-1", kind="demo_request"),
                event_row("E-2", "L-3", kind="demo_request", occurred_at="2026-06-02T00:00:00Z"),
            ],
        ),
    )
    return tmp_path


def test_rescore_reports_progress_per_chunk_and_model(scored_world):
    out, _ = run("rescore", "--as-of", AS_OF, "--chunk-size", "2")
    lines = out.splitlines()
    assert [x.split(" (")[0] for x in lines if "/3 leads" in x] == [
        "alpha v1: 2/3 leads",
        "alpha v1: 3/3 leads",
        "beta v1: 2/3 leads",
        "beta v1: 3/3 leads",
    ]
    assert any(x.startswith("rescored 3 leads for alpha v1 at 2026-06-01T12:00:00Z in ") for x in lines)
    assert Score.objects.count() == 6
    scores = dict(Score.objects.filter(scoring_model__slug="alpha").values_list("lead__external_id", "score"))
    # L-3's demo request is after as_of, so it does not count
    assert scores == {"L-1": Decimal("80.00"), "L-2": Decimal("0.00"), "L-3": Decimal("30.00")}


@pytest.mark.django_db(transaction=True)
def test_rescore_ends_by_analyzing_and_vacuuming_the_scores(scored_world):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("ANALYZE and VACUUM are Postgres' (SQLite's planner has no such statistics here)")

    def table_figures() -> tuple[float, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples, relallvisible FROM pg_class WHERE oid = 'scoring_score'::regclass")
            return cursor.fetchone()

    # Given three leads and two live models, never scored
    assert table_figures() != (0, 1)
    # When every lead is rescored in the foreground
    out, _ = run("rescore", "--as-of", AS_OF)
    # then the planner knows the six scores and their pages are marked all-visible, as after a job
    estimated, visible = table_figures()
    assert (estimated, visible >= 1) == (6, True)
    assert "analyzed and vacuumed the scores in " in out


def test_rescore_one_model(scored_world):
    out, _ = run("rescore", "--model", "beta", "--as-of", AS_OF)
    assert "alpha" not in out and "rescored 3 leads for beta v1" in out
    assert set(Score.objects.values_list("scoring_model__slug", flat=True)) == {"beta"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "tomorrow"], "--as-of: 'tomorrow' is not an ISO 8601 timestamp"),
        (["--as-of", "2026-06-01T12:00:00"], "has no UTC offset"),
        (["--model", "gamma"], "no live version for 'gamma'"),
    ],
)
def test_rescore_errors(scored_world, args, message):
    with pytest.raises(CommandError, match=message):
        run("rescore", *args)
    assert not Score.objects.exists()


def test_rescore_without_live_models():
    with pytest.raises(CommandError, match="no model has a live version"):
        run("rescore")


def test_export_scores_jsonl(scored_world, capsys):
    run("rescore", "--as-of", AS_OF)
    capsys.readouterr()
    run("export_scores")  # writes to the process's standard output
    out = capsys.readouterr().out
    lines = [json.loads(x) for x in out.splitlines()]
    assert [(x["lead"], x["model"]) for x in lines] == [
        ("L-1", "alpha"),
        ("L-1", "beta"),
        ("L-2", "alpha"),
        ("L-2", "beta"),
        ("L-3", "alpha"),
        ("L-3", "beta"),
    ]
    assert lines[0] == {
        "lead": "L-1",
        "model": "alpha",
        "as_of": "2026-06-01T12:00:00Z",
        "score": 80.0,
        "fit": 30.0,
        "engagement": 50.0,
        "segment": "all",
        "tier": "hot",
        "grade": "B3",
        "mql": True,
        "breakdown": [
            {"type": "criterion", "key": "saas", "dimension": "fit", "points": 30.0, "count": 1, "events": []},
            {
                "type": "criterion",
                "key": "demo",
                "dimension": "engagement",
                "points": 50.0,
                "count": 1,
                "events": ["E-1"],
            },
        ],
    }
    run("export_scores", "--model", "beta", "--output", "-")
    out = capsys.readouterr().out
    assert [json.loads(x)["model"] for x in out.splitlines()] == ["beta"] * 3


def test_export_scores_csv_to_a_file(scored_world):
    run("rescore", "--as-of", AS_OF)
    target = scored_world / "scores.csv"
    run("export_scores", "--format", "csv", "--model", "alpha", "--output", str(target))
    rows = list(csv.reader(target.open(encoding="utf-8", newline="")))
    assert rows[0] == ["lead", "model", "as_of", "score", "fit", "engagement", "segment", "tier", "grade", "mql"]
    assert rows[1] == ["L-1", "alpha", "2026-06-01T12:00:00Z", "80.0", "30.0", "50.0", "all", "hot", "B3", "True"]
    assert len(rows) == 4


def test_export_scores_of_an_unknown_model():
    with pytest.raises(CommandError, match="no scores for model 'nope'"):
        run("export_scores", "--model", "nope")


# --- score_file (dry run) ---------------------------------------------------------------------------


def dry_run_files(tmp_path):
    model = tmp_path / "model.json"
    model.write_text(json.dumps(doc(slug="dry", criteria=[eng("demo", "demo_request", 50)])), encoding="utf-8")
    leads = jsonl(tmp_path / "leads.jsonl", [lead_row("L-1"), lead_row("L-2", created_at="2026-01-01")])
    events = jsonl(
        tmp_path / "events.jsonl",
        [event_row("E-1", "L-1", kind="demo_request"), event_row("E-2", "L-404", kind="demo_request")],
    )
    return str(model), leads, events


def test_score_file_scores_rows_and_reports_rejected_ones(tmp_path):
    model, leads, events = dry_run_files(tmp_path)
    target = tmp_path / "out.jsonl"
    _, err = run(
        "score_file", "--model", model, "--leads", leads, "--events", events, "--as-of", AS_OF, "--output", str(target)
    )
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    assert [(x["lead"], x["score"]) for x in lines] == [("L-1", 50.0)]
    assert "line 2: rejected: created_at" in err
    assert "line 2: rejected: lead: unknown lead id 'L-404'" in err
    assert "2 rows rejected" in err
    assert not Lead.objects.exists()


def _as_txt(path):
    target = path.replace(".jsonl", ".txt")
    with open(path, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as dst:
        dst.write(src.read())
    return target


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m, ld, e: (m, ld, e, "soon"), "--as-of: 'soon' is not an ISO 8601 timestamp"),
        (lambda m, ld, e: (m, ld, e, "2026-06-01T00:00:00"), "has no UTC offset"),
        (lambda m, ld, e: (m + ".missing", ld, e, AS_OF), "cannot read"),
        (lambda m, ld, e: (ld, ld, e, AS_OF), "not valid JSON"),
        (lambda m, ld, e: (m, ld + ".missing", e, AS_OF), "no such file"),
        (lambda m, ld, e: (m, ld, _as_txt(e), AS_OF), "unknown file type .txt"),
    ],
    ids=["bad-as-of", "naive-as-of", "missing-model", "model-not-json", "missing-leads", "events-txt"],
)
def test_score_file_errors(tmp_path, change, message):
    model, leads, events, as_of = change(*dry_run_files(tmp_path))
    with pytest.raises(CommandError, match=message):
        run("score_file", "--model", model, "--leads", leads, "--events", events, "--as-of", as_of)


def test_score_file_rejects_an_invalid_model_listing_its_errors(tmp_path):
    model, leads, events = dry_run_files(tmp_path)
    data = json.loads((tmp_path / "model.json").read_text())
    data["criteria"][0]["points"] = 5000
    data["lookback_days"] = 0
    (tmp_path / "model.json").write_text(json.dumps(data))
    with pytest.raises(CommandError) as info:
        run("score_file", "--model", model, "--leads", leads, "--events", events, "--as-of", AS_OF)
    assert "criteria[0].points: must be an integer between -1000 and 1000" in str(info.value)
    assert "lookback_days: must be a positive integer or null" in str(info.value)


def test_score_file_on_a_non_utf8_events_file(tmp_path):
    model, leads, _ = dry_run_files(tmp_path)
    events = non_utf8(tmp_path, "events.jsonl")
    with pytest.raises(CommandError, match="not UTF-8 text"):
        run("score_file", "--model", model, "--leads", leads, "--events", events, "--as-of", AS_OF)


def test_the_example_files_import_through_the_commands():
    out, _ = run("import_leads", str(EXAMPLES / "leads.jsonl"))
    assert "30 leads stored (30 new, 0 updated), 0 rows refused" in out
    out, _ = run("import_events", str(EXAMPLES / "events.jsonl"))
    assert "216 events stored, 0 rows refused, 10 repeated ids ignored" in out


def test_rescore_reuses_stored_counts_and_full_counts_afresh(scored_world):
    # Given every lead scored, with nothing waiting for real-time scoring
    run("rescore", "--as-of", AS_OF)
    PendingScore.objects.all().delete()
    # When the events are deleted behind the application's back (no lead is queued)
    Event.objects.all().delete()
    later = "2026-06-01T13:00:00Z"
    # Then a rescore reuses the stored counts (L-1's demo request still counts) ...
    out, _ = run("rescore", "--model", "alpha", "--as-of", later)
    assert "rescored 3 leads for alpha v1" in out
    assert Score.objects.get(lead__external_id="L-1", scoring_model__slug="alpha").score == Decimal("80.00")
    # ... and --full counts every lead afresh from its events, reconciling
    out, _ = run("rescore", "--model", "alpha", "--as-of", later, "--full")
    assert "rescored 3 leads for alpha v1" in out
    assert Score.objects.get(lead__external_id="L-1", scoring_model__slug="alpha").score == Decimal("30.00")


# --- real CRM exports, the same files as the import page (tests/fixtures/crm) ---------------------------


def cli_options(options: dict) -> list[str]:
    flags = ["--date-format", options["date_format"], "--timezone", options["timezone"]]
    return flags + (["--decimal", options["decimal"]] if "decimal" in options else [])


@pytest.mark.parametrize("name", ["hubspot-contacts.csv", "salesforce-leads.csv"])
def test_crm_exports_import_every_row_through_the_command(name, personas):
    # Given a HubSpot- or Salesforce-shaped export and the date order and zone of its users
    expected = EXPECTED[name]
    # When imported with the same options as on the import page (delimiter detected)
    out, err = run("import_leads", str(CRM / name), *cli_options(expected["options"]))
    # Then every row is stored as the CRM meant it, and the owner matching no user is listed
    count = len(expected["leads"])
    assert f"{count} leads stored ({count} new, 0 updated), 0 rows refused" in out
    assert ("read ';'-separated" if name.startswith("salesforce") else "read ','-separated") in out
    ((owner, rows),) = expected["unmatched_owners"].items()
    assert f"owner {owner!r} matches no user (no user has this username, e-mail or full name): {rows} leads" in err
    assert leads_stored() == expected["leads"]


def test_crm_activities_import_through_the_command(personas):
    run("import_leads", str(CRM / "salesforce-leads.csv"), *cli_options(EXPECTED["salesforce-leads.csv"]["options"]))
    expected = EXPECTED["salesforce-activities.csv"]
    out, _ = run("import_events", str(CRM / "salesforce-activities.csv"), *cli_options(expected["options"]))
    assert "4 events stored, 0 rows refused" in out
    assert events_stored() == expected["events"]


def test_owner_fallback_and_an_unknown_fallback(personas):
    path = str(CRM / "hubspot-contacts.csv")
    with pytest.raises(CommandError, match="--owner-fallback: no user 'nobody'"):
        run("import_leads", path, "--date-format", "us", "--timezone", "UTC", "--owner-fallback", "nobody")
    assert not Lead.objects.exists()
    _, err = run("import_leads", path, "--date-format", "us", "--timezone", "UTC", "--owner-fallback", "rep2")
    assert "owner 'Pat Former' matches no user" in err and "1 leads given to rep2" in err
    assert Lead.objects.get(external_id="104").owner.username == "rep2"


def test_a_mapping_file_names_columns(tmp_path, personas):
    path = csv_file(
        tmp_path / "leads.csv",
        ["Ref", "Signed up", "Firm", "Internal note"],
        [["X-1", "8.8.2026", "Acme", "call back"]],
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("Ref: id\nSigned up: created_at\nFirm: company\nInternal note: skip\n", encoding="utf-8")
    out, _ = run("import_leads", path, "--mapping", str(mapping), "--date-format", "eu", "--timezone", "Europe/Paris")
    assert "1 leads stored" in out
    lead = Lead.objects.get()
    assert (lead.external_id, lead.company, lead.attributes) == ("X-1", "Acme", {})
    assert lead.created_at == datetime(2026, 8, 7, 22, 0, tzinfo=UTC)
    # A mapping naming a column the file lacks, or a target we do not know, stores nothing
    mapping.write_text(json.dumps({"Reference": "id", "Firm": "firm"}), encoding="utf-8")
    json_mapping = tmp_path / "mapping.json"
    json_mapping.write_text(mapping.read_text(), encoding="utf-8")
    with pytest.raises(CommandError, match="column 'Reference', which the file does not have.*unknown target 'firm'"):
        run("import_leads", path, "--mapping", str(json_mapping))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("leads.csv", b"", "leads.csv is empty: there are no rows to import"),
        ("leads.jsonl", b"\n\n", "leads.jsonl is empty: there are no rows to import"),
        ("leads.csv", "\ufeff".encode(), "leads.csv is empty"),
        ("leads.csv", b"id,created_at\r\n", "leads.csv has a header but no rows: there is nothing to import"),
    ],
)
def test_an_empty_file_says_so(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run("import_leads", str(path))


def test_a_semicolon_file_quoting_every_cell_imports(tmp_path):
    # As Excel saves "CSV (semicolon)" in many locales: every cell quoted, `;` inside quotes
    path = tmp_path / "leads.csv"
    path.write_bytes('\ufeff"Lead ID";"Company";"Create Date"\r\n"L-1";"Client; SARL";"08.08.2026"\r\n'.encode())
    out, _ = run("import_leads", str(path), "--date-format", "eu", "--timezone", "UTC")
    assert "1 leads stored" in out
    assert Lead.objects.get().company == "Client; SARL"


def test_repeated_ids_are_counted_once_and_named(tmp_path):
    path = csv_file(
        tmp_path / "leads.csv",
        ["id", "created_at", "title"],
        [["L-1", "2026-01-01T00:00:00Z", "CEO"], ["L-1", "2026-01-01T00:00:00Z", "CFO"]],
    )
    out, _ = run("import_leads", path)
    assert "1 leads stored (1 new, 0 updated), 0 rows refused, 1 repeated ids (the last row of each id wins)" in out
    assert Lead.objects.get().title == "CFO"


# --- never a half-stored import -----------------------------------------------------------------------


def test_a_row_too_long_for_its_column_is_refused_and_every_other_row_stored(tmp_path):
    # Given 2,500 rows (two batches) whose row 2,301 has a 300-character company
    rows = [[f"L-{i:05d}", "2026-01-01T00:00:00Z", "x" * 300 if i == 2301 else f"Company {i}"] for i in range(1, 2501)]
    path = csv_file(tmp_path / "leads.csv", ["id", "created_at", "company"], rows)
    # When imported, then that row is refused by its line (exit status 1), every other row stored
    out, err = run_refused("import_leads", path)
    assert "2499 leads stored (2499 new, 0 updated), 1 rows refused" in out
    assert "line 2302: refused: company:" in err and "200" in err and "Traceback" not in err
    assert Lead.objects.count() == 2499 and not Lead.objects.filter(external_id="L-02301").exists()


def test_nan_in_attributes_refuses_that_row_only(tmp_path):
    # Given a JSONL file whose second row has NaN in its attributes (Python's json reads it)
    path = tmp_path / "leads.jsonl"
    path.write_text(
        json.dumps(lead_row("L-1", attributes={"plan": "pro"}))
        + '\n{"id": "L-2", "created_at": "2026-01-01T00:00:00Z", "attributes": {"score": NaN}}\n'
        + json.dumps(lead_row("L-3"))
        + "\n",
        encoding="utf-8",
    )
    out, err = run_refused("import_leads", str(path))
    assert "2 leads stored" in out and "line 2: refused: row: NaN is not valid JSON" in err
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["L-1", "L-3"]


def test_a_row_the_database_refuses_costs_no_other_row(tmp_path):
    # Given a database that refuses one lead the row checks let through (a trigger, as a
    # constraint added by a DBA would), a row the import cannot foresee
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the refusing trigger is written in PL/pgSQL")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN IF NEW.company = 'Boom' THEN "
            "RAISE EXCEPTION 'no Boom here' USING ERRCODE = '22023'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        # (created inside the test's transaction: rolled back with it)
        cursor.execute(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON leads_lead FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
        )
    path = jsonl(tmp_path / "leads.jsonl", [lead_row("L-1"), lead_row("L-2", company="Boom"), lead_row("L-3")])
    # When imported, then the batch is stored row by row: that row refused with the database's reason
    out, err = run_refused("import_leads", path)
    assert "2 leads stored" in out and "line 2: refused: row: the database refused it (no Boom here)" in err
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["L-1", "L-3"]


def test_nan_reaching_the_service_is_refused_with_its_row(tmp_path):
    # NaN from a caller that parsed JSON leniently (the service is the last check before the database)
    from leads.services import leads_import

    rows = [(1, lead_row("L-1")), (2, lead_row("L-2", attributes={"score": float("nan")})), (3, lead_row("L-3"))]
    report, touched = leads_import(rows=rows)
    assert report.rejected == [(2, "attributes.score: nan is not a number JSON can hold (use null or a finite number)")]
    assert (report.accepted, len(touched)) == (2, 2)
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["L-1", "L-3"]


def test_a_row_with_a_nul_character_costs_no_other_row(tmp_path):
    # Given a file whose second lead has a NUL in its company (Postgres cannot store it)
    path = jsonl(tmp_path / "leads.jsonl", [lead_row("L-1"), lead_row("L-2", company="a\x00b"), lead_row("L-3")])
    # When imported, then that row is refused by name and the others are stored
    out, err = run_refused("import_leads", path)
    assert "2 leads stored" in out and "line 2: refused: company:" in err
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["L-1", "L-3"]


def test_owners_are_matched_by_username_email_or_full_name():
    from leads.services import owners_match

    User = get_user_model()
    ann = User.objects.create(username="ann", email="Ann.Lee@Example.com", first_name="Ann", last_name="Lee")
    User.objects.create(username="sam1", first_name="Sam", last_name="Smith")
    User.objects.create(username="sam2", first_name="sam", last_name="SMITH")
    found, unmatched = owners_match(names=["ANN", "ann.lee@example.com", " ann   LEE ", "Sam Smith", "Nobody"])
    assert found == {"ANN": ann.pk, "ann.lee@example.com": ann.pk, " ann   LEE ": ann.pk}
    assert unmatched == {
        "Sam Smith": "its full name fits 2 users",
        "Nobody": "no user has this username, e-mail or full name",
    }


def test_a_line_nested_past_what_json_reads_is_refused_alone(tmp_path):
    # Given a JSONL and a CSV whose second lead's attributes nest 5,000 levels deep
    deep = '{"a": ' * 5000 + "1" + "}" * 5000
    path = jsonl(tmp_path / "leads.jsonl", [lead_row("L-1"), f'{{"id": "L-2", "attributes": {deep}}}', lead_row("L-3")])
    cells = csv_file(tmp_path / "leads.csv", ["id", "created_at", "attributes"], [
        ["L-4", "2026-01-01T00:00:00Z", ""], ["L-5", "2026-01-01T00:00:00Z", deep],
    ])  # fmt: skip
    # When imported, then that row is refused by name and the others are stored
    out, err = run_refused("import_leads", path)
    assert "2 leads stored" in out and "line 2: refused: row: nested deeper than" in err
    out, err = run_refused("import_leads", cells)
    assert "1 leads stored" in out and "line 3: refused: attributes: nested deeper than" in err
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["L-1", "L-3", "L-4"]
