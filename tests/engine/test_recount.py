"""Counting only the criteria that changed (engine/recount.py) gives what counting afresh gives.

Given leads and events scored by v1 at t1, when v2 (v1 with some criteria added, removed, moved
or changed in condition, kinds, cap or window, the segments' conditions changed, other points)
rescores them at t2 >= t1 with reuse on, then every lead's score, tier, grade, MQL and breakdown
equal the single-lead path's at t2, and the stored lines read as those of v2's criteria only.
"""

import json
import re

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import assume, given
from hypothesis import strategies as st

from engine.document import DocumentError, parse_document, structure_key
from engine.lines import lines_decode
from engine.recount import COMPACT_AT, lines_pattern, lines_splice, recount_plan
from engine.sql import Params, dialect_for
from engine.sqlite_functions import regexp_drop
from leads.models import Event
from matrix.selectors import version_recount_source, version_spec, versions_reusable
from scoring.models import Score
from scoring.services import leads_rescore
from tests.engine.test_engine_properties import (
    SCENARIO_SETTINGS,
    engagement_criterion,
    fit_criterion,
    segments,
)
from tests.engine.test_reuse import (
    all_leads,
    assert_counted_afresh,
    pricing_lead,
    pricing_model,
    repointed,
    rescored_with_reuse,
    scenarios,
)
from tests.matrix.helpers import AS_OF, ago, publish


@st.composite
def restructured(draw, data):
    """v1 with some criteria changed, added, removed or moved, maybe new segments and points."""
    new = draw(repointed(data))
    criteria = []
    for c in new["criteria"]:
        action = draw(st.sampled_from(["keep", "keep", "change", "drop"]))
        if action == "change":
            c = {**draw(st.one_of(fit_criterion(), engagement_criterion())), "key": c["key"], "label": c["label"]}
        if action != "drop":
            criteria.append(c)
    for i in range(draw(st.integers(0, 2))):
        criteria.append({**draw(st.one_of(fit_criterion(), engagement_criterion())), "key": f"n{i}", "label": "New"})
    new["criteria"] = draw(st.permutations(criteria))
    if draw(st.booleans()):
        new["segments"] = draw(segments())
    return new


def stored_texts() -> list[str]:
    """Each score's stored lines as one text: its breakdown's, then its tail's (Score.lines_tail)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.lines, s.lines_tail FROM scoring_scorebreakdown b "
            "JOIN scoring_score s ON s.id = b.score_id ORDER BY b.score_id"
        )
        return [text if not tail else text[:-1] + ("," if len(text) > 2 else "") + tail[1:] for text, tail in cursor]


@pytest.mark.django_db
@SCENARIO_SETTINGS
@given(scenarios(change=restructured))
def test_counting_the_changed_criteria_gives_the_scores_of_a_fresh_count(scenario):
    try:
        parse_document(scenario[1])
    except DocumentError:
        assume(False)
    with transaction.atomic():
        # Given leads and events scored by v1, when v2 (some criteria counted differently)
        # rescores them with reuse on
        v2, as_of = rescored_with_reuse(scenario)
        # Then every lead has the score counting afresh gives, with v2's lines only
        assert_counted_afresh(v2, as_of)
        keys = {c["key"] for c in scenario[1]["criteria"]}
        for text in stored_texts():
            assert {line["key"] for line in lines_decode(text) if line["type"] != "decay"} <= keys, text
        transaction.set_rollback(True)


# --- what is counted afresh, and what is read back ---------------------------------------------------


def docs_visit(value="/docs", cap=2):
    return {
        "key": "docs",
        "label": "Docs page",
        "dimension": "engagement",
        "event": "page_view",
        "where": {"field": "url", "op": "contains", "value": value},
        "points": 4,
        "cap": cap,
        "cap_window_days": None,
    }


def test_the_plan_pairs_criteria_by_key_and_counts_only_the_changed_ones():
    v1 = parse_document(pricing_model())
    # A criterion added: the others are read back at their stored positions
    added = pricing_model()
    added["criteria"].insert(0, docs_visit())
    plan = recount_plan(v1, parse_document(added))
    assert [c.key for c in plan.recounted] == ["docs"]
    assert plan.reused == {1: 0, 2: 1} and plan.stale == () and not plan.segments
    # A changed cap: that criterion is counted afresh and its stored lines go
    capped = pricing_model()
    capped["criteria"][1]["cap"] = 5
    plan = recount_plan(v1, parse_document(capped))
    assert [c.key for c in plan.recounted] == ["pricing"] and plan.stale == (("pricing", 1),)
    assert plan.keys == ["pricing"]
    # Points only: the same structure, which engine/reuse.py reads back whole
    assert recount_plan(v1, parse_document(pricing_model(points=30))) is None
    # Another lookback, or other decay rules: every count may differ, nothing is read back
    assert recount_plan(v1, parse_document(pricing_model(lookback_days=60))) is None
    other_decay = pricing_model()
    other_decay["decay"][0]["every_days"] = 5
    assert recount_plan(v1, parse_document(other_decay)) is None
    # Half-life scores are never read back
    assert recount_plan(v1, parse_document(pricing_model(half_life_days=7))) is None
    assert structure_key(parse_document(added)) != structure_key(v1)


@pytest.fixture
def with_docs():
    """A lead with three pricing visits and two docs visits (1 and 3 days old), scored by v1, which
    has no docs criterion."""
    return pricing_lead(docs_days=(1, 3))


@pytest.mark.django_db
def test_a_new_criterion_is_counted_and_the_others_are_read_back(with_docs, tmp_path):
    # Given the pricing visits are gone from the table (so only the stored counts can give them back)
    Event.objects.filter(properties__url="/pricing").delete()
    v1 = Score.objects.get(lead=with_docs).version
    # When v2 adds a docs criterion and rescores with reuse on
    data = pricing_model()
    data["criteria"].append(docs_visit())
    v2 = publish(data)
    assert version_recount_source(version=v2, spec=version_spec(version=v2))[0] == [v1.pk]
    leads_rescore(version=v2, as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then the pricing visits come from the stored counts and the docs visits from the events
    score = Score.objects.select_related("breakdown_row").get(lead=with_docs)
    assert score.version_id == v2.pk
    assert (score.fit, score.engagement, score.score) == (15, 38, 53)
    assert [(x["key"], x["count"], x["points"]) for x in score.breakdown] == [
        ("saas", 1, 15.0),
        ("pricing", 3, 30.0),
        ("docs", 2, 8.0),
    ]
    assert json.loads(score.basis) == [1, 3, 2, 0, 0]
    # and the export reads the docs line from the score's tail, as the lead's page does
    assert score.lines_tail is not None
    call_command("export_scores", "--output", str(tmp_path / "scores.jsonl"))
    [line] = [json.loads(x) for x in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert line["breakdown"] == score.breakdown


def versions_listed(sql: str) -> set[int]:
    """The version pks a look for a score of some versions (stmt_scored_by) names."""
    return {int(pk) for pk in re.search(r"version_id IN \(([^)]*)\)", sql).group(1).split(",")}


@pytest.mark.django_db
def test_a_recount_with_no_score_to_read_back_whole_skips_the_reuse_statements(with_docs):
    # Given scores of v1, when v2 adds a docs criterion (no score is of a version counting as v2)
    data = pricing_model()
    data["criteria"].append(docs_visit())
    v2 = publish(data)
    with CaptureQueriesContext(connection) as queries:
        leads_rescore(version=v2, as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then one look found no score of v2, and the recount's statement made the scores' table
    # itself: no statement read back whole scores first (to find none) or moved them to v2
    assert [versions_listed(q["sql"]) for q in queries if q["sql"].startswith("SELECT 1 FROM")][0] == {v2.pk}
    made = [q["sql"] for q in queries if q["sql"].startswith("CREATE TEMP TABLE tmp_scores")]
    assert len(made) == 1 and Event._meta.db_table in made[0]
    assert not [q["sql"] for q in queries if q["sql"].startswith("INSERT INTO tmp_scores")]
    assert Score.objects.get(lead=with_docs).engagement == 30 + 8


@pytest.mark.django_db
def test_a_recount_passes_its_events_and_counts_on_without_storing_them(with_docs, plans_of):
    if connection.vendor != "postgresql":
        pytest.skip("the plan is Postgres's: SQLite materializes every level")
    # Given scores of v1, when v2 adds a docs criterion (only its events are read) and rescores
    data = pricing_model()
    data["criteria"].append(docs_visit())
    with plans_of(Event._meta.db_table) as plans:  # the statement that reads the events
        leads_rescore(version=publish(data), as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then the one statement reading events hands each on to the counting, and the counts on to
    # the score rows: nothing is copied into a tuple store to be read back (a CTE scan), which
    # a single reader does not need
    assert len(plans) == 1 and " on leads_event e" in plans[0], plans
    assert "CTE" not in plans[0], plans[0]
    assert Score.objects.get(lead=with_docs).engagement == 30 + 8


@pytest.mark.django_db
def test_a_changed_criterion_replaces_its_stored_line_and_leaves_the_others(with_docs):
    # Given v2 (with a docs criterion, cap 2) has scored the lead
    data = pricing_model()
    data["criteria"].append(docs_visit())
    leads_rescore(version=publish(data), as_of=AS_OF, id_range=all_leads(), reuse=True)
    [before] = stored_texts()
    # When v3 caps docs visits at 1 and rescores
    data["criteria"][2]["cap"] = 1
    leads_rescore(version=publish(data), as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then the new docs line was appended to the stored text and reads in place of the old one:
    # one visit, the latest; the other lines read as they did
    [after] = stored_texts()
    assert after.startswith(before[:-1]) and len(after) > len(before)
    keep = [line for line in lines_decode(before) if line["key"] != "docs"]
    assert [line for line in lines_decode(after) if line["key"] != "docs"] == keep
    [docs] = [line for line in lines_decode(after) if line["key"] == "docs"]
    assert docs["count"] == 1 and len(docs["events"]) == 1
    assert Score.objects.get(lead=with_docs).engagement == 34


@pytest.mark.django_db
def test_a_removed_criterion_takes_its_line_with_it(with_docs):
    # When v2 has no pricing criterion
    data = pricing_model()
    del data["criteria"][1]
    leads_rescore(version=publish(data), as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then the stored pricing line is marked gone: it reads as no line, and the score has no pricing points
    [text] = stored_texts()
    assert json.loads(text)[-1] == ["x", "pricing"]
    assert [line["key"] for line in lines_decode(text)] == ["saas"]
    score = Score.objects.get(lead=with_docs)
    assert (score.fit, score.engagement) == (15, 0)


@pytest.mark.django_db
def test_a_compacted_tail_keeps_a_gone_line_hidden(with_docs):
    # Given v2's docs line in the stored breakdown (counted afresh), then v3's condition matching
    # none of the lead's visits, which leaves a GONE for docs in the score's tail
    data = pricing_model()
    data["criteria"].append(docs_visit())
    leads_rescore(version=publish(data), as_of=AS_OF, id_range=all_leads())
    data["criteria"][2] = docs_visit("/nowhere")
    leads_rescore(version=publish(data), as_of=AS_OF, id_range=all_leads(), reuse=True)
    score = Score.objects.get(lead=with_docs)
    assert score.lines_tail == '[["x", "docs"]]' and [x["key"] for x in score.breakdown] == ["saas", "pricing"]
    # and earlier recounts' lines that take the tail past COMPACT_AT
    filler = ", ".join(['["x", "gone-before"]'] * (COMPACT_AT // 20))
    Score.objects.filter(pk=score.pk).update(lines_tail=f'[{filler}, ["x", "docs"]]')
    # When v4 recounts the pricing visits (the lead keeps a line) and docs (still none)
    data["criteria"][1]["cap"] = 2
    data["criteria"][2] = docs_visit("/elsewhere")
    v4 = publish(data)
    leads_rescore(version=v4, as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then the tail was compacted (the recounted keys' earlier entries dropped) and still hides the
    # breakdown's docs line, as counting afresh has none
    tail = Score.objects.get(lead=with_docs).lines_tail
    assert tail.count('"docs"') == 1 and tail.endswith('["x", "docs"]]') and "gone-before" in tail
    assert_counted_afresh(v4, AS_OF)


@pytest.mark.django_db
def test_counting_a_lead_afresh_clears_its_tail(with_docs):
    # Given a recount's docs line in the score's tail
    data = pricing_model()
    data["criteria"].append(docs_visit())
    leads_rescore(version=publish(data), as_of=AS_OF, id_range=all_leads(), reuse=True)
    assert Score.objects.get(lead=with_docs).lines_tail is not None
    # When the lead is counted afresh (a manual rescore: no reuse)
    v3 = publish(data)
    leads_rescore(version=v3, as_of=AS_OF, id_range=all_leads())
    # Then its whole lines are in the breakdown and the tail is gone
    score = Score.objects.select_related("breakdown_row").get(lead=with_docs)
    assert score.lines_tail is None and [x["key"] for x in score.breakdown_row.lines] == ["saas", "pricing", "docs"]
    assert_counted_afresh(v3, AS_OF)


@pytest.mark.django_db
def test_a_lead_whose_counts_no_longer_hold_is_counted_whole(with_docs):
    # Given v2 adds the docs criterion, and rescores 30 days later (the visits left the lookback)
    data = pricing_model()
    data["criteria"].append(docs_visit())
    v2 = publish(data)
    later = AS_OF + (ago(0) - ago(30))
    leads_rescore(version=v2, as_of=later, id_range=all_leads(), reuse=True)
    # Then nothing is read back: the lead is counted afresh, as the single-lead path counts it
    assert_counted_afresh(v2, later)


# --- the stored lines, edited in SQL -----------------------------------------------------------------

STORED = [
    ["f", "saas", 15],
    ["e", "pricing", 30, 3, ["P-1", 'P"2]', None]],
    ["e", "docs", 8, 2, ["D,1", "D\\]2"]],
    ["x", "web"],
    ["d", "idle", -2],
]


@pytest.mark.parametrize("separators", [(",", ", "), (", ", ", ")])
@pytest.mark.parametrize(
    "keys",
    [["saas"], ["pricing"], ["docs"], ["idle"], ["web"], ["pricing", "docs"], ["saas", "pricing", "docs"], ["nothing"]],
)
def test_the_lines_pattern_drops_exactly_the_lines_of_the_keys(keys, separators):
    text = json.dumps(STORED, separators=separators)
    kept = [line for line in STORED if line[0] == "d" or line[1] not in keys]
    dropped = regexp_drop(text, lines_pattern(keys))
    assert json.loads(re.sub(r",\s*\]$", "]", dropped)) == kept


def spliced(stored: str, new: str, keys: list[str]) -> str:
    """The database's splice of `new` into the text `stored`."""
    p = Params()
    text, fragment = p.add(stored), p.add(new)
    with connection.cursor() as cursor:
        splice = lines_splice(dialect_for(connection), p, "x.lines", "x.new", keys)
        cursor.execute(f"SELECT {splice} FROM (SELECT {text} AS lines, {fragment} AS new) AS x", p.values)
        [(result,)] = cursor.fetchall()
    return result


def by_key(lines: list[dict]) -> list[dict]:
    return sorted(lines, key=lambda line: line["key"])


# What a recount appends: new lines of the keys it counted, "x" for those whose line went.
NEW = ['["e", "docs", 5, 1, ["W-1"]]', '["x", "docs"]', '["f", "saas", 15],["x", "pricing"]', '["x", "web"]']
# Long enough to be compacted before the new lines are appended.
LONG = ["e", "blog", 3, 40, [f"B-{i:04}" for i in range(100)]]


@pytest.mark.django_db
@pytest.mark.parametrize("new", NEW)
@pytest.mark.parametrize("stored", [STORED, STORED[:3], STORED[1:2], [], [*STORED, LONG]])
def test_the_database_splices_lines_as_python_reads_them(new, stored):
    # Given stored lines (as the bulk path writes them: "," between lines)
    text = json.dumps(stored, separators=(",", ", "))
    keys = sorted({line[1] for line in json.loads(f"[{new}]")})
    # When the database adds the new lines of a recount of `keys`
    result = spliced(text, new, keys)
    # Then the text is JSON, and reads as the stored lines with each new line in place of its key's
    # (in the order of the keys: readers put them in document order, lines_priced)
    assert by_key(lines_decode(result)) == by_key(lines_decode([*stored, *json.loads(f"[{new}]")]))
    if len(text.encode()) <= COMPACT_AT:
        # A short text only grows: the new lines are appended
        assert json.loads(result) == [*stored, *json.loads(f"[{new}]")]
    else:
        # A long one first loses every line of the keys (earlier replaced ones too)
        old = [line for line in json.loads(result)[: -len(json.loads(f"[{new}]"))] if line[0] != "d"]
        assert not {line[1] for line in old} & set(keys)


@pytest.mark.django_db
def test_a_text_recounted_again_and_again_stays_bounded():
    # Given stored lines, when a recount replaces the docs line a hundred times
    text = json.dumps(STORED, separators=(",", ", "))
    for i in range(100):
        text = spliced(text, f'["e", "docs", 4, 1, ["D-{i}"]]', ["docs"])
    # Then the text never grew past the compaction bound by more than a recount adds
    assert len(text.encode()) <= COMPACT_AT + 40
    assert [line["events"] for line in lines_decode(text) if line["key"] == "docs"] == [["D-99"]]


@pytest.mark.django_db
def test_a_points_change_after_a_recount_reads_no_event(with_docs):
    # Given every score was made by v2, which added the docs criterion to v1
    data = pricing_model()
    data["criteria"].append(docs_visit())
    leads_rescore(version=publish(data), as_of=AS_OF, id_range=all_leads(), reuse=True)
    # When v3 changes only points (v1, which counts differently, scored nothing left)
    data["criteria"][2]["points"] = 6
    v3 = publish(data)
    source = version_recount_source(version=v3, spec=version_spec(version=v3))
    assert source is not None
    with CaptureQueriesContext(connection) as queries:
        leads_rescore(version=v3, as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then no statement read the events: every score came back from its counts, and with every
    # lead read back none looked for a score of v1 (a scan of the chunk's scores, finding none).
    # The look for a score of v2 or v3 finds one at once.
    assert not [q["sql"] for q in queries if Event._meta.db_table in q["sql"]]
    looked = [versions_listed(q["sql"]) for q in queries if q["sql"].startswith("SELECT 1 FROM")]
    assert looked == [set(versions_reusable(version=v3, spec=version_spec(version=v3)))]
    assert not set(source[0]) & looked[0]
    assert Score.objects.get(lead=with_docs).engagement == 30 + 12


@pytest.mark.django_db
def test_scores_of_an_earlier_version_counting_alike_are_read_back_too(with_docs):
    # Given the scores are v1's, and v2 (other points) was published but its rescore never ran
    v1 = Score.objects.get(lead=with_docs).version
    v2 = publish(pricing_model(points=15))
    Event.objects.filter(properties__url="/pricing").delete()
    # When v3 (v2 with a docs criterion) rescores with reuse on
    data = pricing_model(points=15)
    data["criteria"].append(docs_visit())
    v3 = publish(data)
    assert version_recount_source(version=v3, spec=version_spec(version=v3))[0] == [v2.pk, v1.pk]
    leads_rescore(version=v3, as_of=AS_OF, id_range=all_leads(), reuse=True)
    # Then v1's counts of the (deleted) pricing visits are read back, priced by v3
    score = Score.objects.get(lead=with_docs)
    assert (score.version_id, score.engagement) == (v3.pk, 45 + 8)
