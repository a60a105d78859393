"""The breakdown lines live in their own table (scoring_scorebreakdown, docs/scoring.md): written
with the score rows, under the same version guard, and read back through `Score.breakdown`."""

from datetime import timedelta

import pytest
from django.db import connection

from scoring.models import Score, ScoreBreakdown
from scoring.services import leads_rescore
from tests.scoring.test_jobs import AS_OF, add_events, add_leads, model_doc, publish

pytestmark = pytest.mark.django_db


def lines_by_lead() -> dict[str, list[tuple[str, float]]]:
    scores = Score.objects.select_related("lead", "breakdown_row")
    return {s.lead.external_id: [(x["key"], float(x["points"])) for x in s.breakdown] for s in scores}


def test_every_written_score_has_its_lines_and_a_newer_version_replaces_them():
    # Given two leads, one with a demo request, scored by the first version
    add_leads(2)
    add_events([{"id": "E1", "lead": "L0000", "kind": "demo_request", "occurred_at": "2026-05-31T00:00:00Z"}])
    first = publish(model_doc(demo_points=50))
    leads_rescore(version=first, as_of=AS_OF)
    assert ScoreBreakdown.objects.count() == 2
    assert lines_by_lead() == {"L0000": [("vp", 10.0), ("demo", 50.0)], "L0001": [("vp", 10.0)]}
    # When a second version rescores them, its lines replace the first's (still one row per score)
    second = publish(model_doc(demo_points=70))
    leads_rescore(version=second, as_of=AS_OF)
    assert ScoreBreakdown.objects.count() == 2
    assert lines_by_lead() == {"L0000": [("vp", 10.0), ("demo", 70.0)], "L0001": [("vp", 10.0)]}
    # and a late computation of the first version leaves them alone, with the score
    leads_rescore(version=first, as_of=AS_OF + timedelta(days=1))
    assert lines_by_lead() == {"L0000": [("vp", 10.0), ("demo", 70.0)], "L0001": [("vp", 10.0)]}


def test_a_score_the_upsert_guard_keeps_keeps_its_lines_too():
    # Given a lead scored by the first version
    add_leads(1)
    add_events([{"id": "E1", "lead": "L0000", "kind": "demo_request", "occurred_at": "2026-05-31T00:00:00Z"}])
    first = publish(model_doc(demo_points=50))
    second = publish(model_doc(demo_points=70))
    leads_rescore(version=first, as_of=AS_OF)
    score = Score.objects.get()
    newer = [{"type": "criterion", "key": "newer", "points": 1.0}]

    def newer_write_lands_first(execute, sql, params, many, context):
        # Another worker stores the second version's score between this computation's choice of
        # rows to write (the `changed` table) and its update: the update's own guard keeps it.
        if (
            sql.startswith(f"UPDATE {Score._meta.db_table} AS s")
            and not ScoreBreakdown.objects.filter(lines=newer).exists()
        ):
            Score.objects.filter(pk=score.pk).update(version=second, version_number=second.number)
            ScoreBreakdown.objects.filter(score=score).update(lines=newer)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(newer_write_lands_first):
        leads_rescore(version=first, as_of=AS_OF + timedelta(days=1))
    stored = Score.objects.select_related("breakdown_row").get()
    assert (stored.version_id, stored.as_of, stored.breakdown) == (second.pk, AS_OF, newer)


def test_a_score_without_stored_lines_reads_as_an_empty_breakdown():
    add_leads(1)
    leads_rescore(version=publish(model_doc()), as_of=AS_OF)
    ScoreBreakdown.objects.all().delete()
    assert Score.objects.select_related("breakdown_row").get().breakdown == []
    assert Score.objects.get().breakdown == []


def test_deleting_a_score_deletes_its_lines():
    add_leads(1)
    leads_rescore(version=publish(model_doc()), as_of=AS_OF)
    Score.objects.all().delete()
    assert not ScoreBreakdown.objects.exists()


def test_bulk_reads_of_scores_do_not_read_the_lines():
    add_leads(1)
    leads_rescore(version=publish(model_doc()), as_of=AS_OF)
    sql = str(Score.objects.all().query)
    # Only the tail of a recount's lines is in the row, bounded (engine.recount.COMPACT_AT)
    assert '"lines"' not in sql and "breakdown" not in sql and '"lines_tail"' in sql


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row versions (xmin) are Postgres's")
def test_a_rescore_rewrites_only_the_lines_that_changed():
    # Given two leads, one with a demo request, scored by the first version
    add_leads(2)
    add_events([{"id": "E1", "lead": "L0000", "kind": "demo_request", "occurred_at": "2026-05-31T00:00:00Z"}])
    leads_rescore(version=publish(model_doc(demo_points=50)), as_of=AS_OF)

    def row_versions() -> dict[str, str]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT l.external_id, b.xmin::text FROM {ScoreBreakdown._meta.db_table} b "
                f"JOIN {Score._meta.db_table} s ON s.id = b.score_id JOIN leads_lead l ON l.id = s.lead_id"
            )
            return dict(cursor.fetchall())

    before = row_versions()
    # When a version that changes only the demo points rescores them
    leads_rescore(version=publish(model_doc(demo_points=70)), as_of=AS_OF)
    # Then only the lead whose lines changed had its lines row written again; both scores moved on
    after = row_versions()
    assert (after["L0000"] != before["L0000"], after["L0001"] == before["L0001"]) == (True, True)
    assert set(Score.objects.values_list("version_number", flat=True)) == {2}
    assert lines_by_lead() == {"L0000": [("vp", 10.0), ("demo", 70.0)], "L0001": [("vp", 10.0)]}


def test_half_life_lines_add_up_to_the_score_on_the_lead_page(client, manager):
    # Given a half-life model where the demo request earns 0.125 and the visit 0.625 (three days,
    # three half-lives): rounded each on its own they would be 0.13 + 0.63, a cent over the score
    doc = {**model_doc(demo_points=1), "half_life_days": 1}
    add_leads(1)
    add_events(
        [
            {"id": "E1", "lead": "L0000", "kind": "demo_request", "occurred_at": "2026-05-29T12:00:00Z"},
            {"id": "E2", "lead": "L0000", "kind": "page_view", "occurred_at": "2026-05-29T12:00:00Z"},
        ]
    )
    version = publish(doc)
    # When it is scored
    leads_rescore(version=version, as_of=AS_OF)
    score = Score.objects.select_related("lead", "breakdown_row").get()
    # Then the stored lines add up to the stored score exactly
    assert str(score.score) == "10.75"
    assert lines_by_lead() == {"L0000": [("vp", 10.0), ("demo", 0.13), ("visit", 0.62)]}
    # and the lead page shows the same lines, their sum equal to the score, and no excuse for a gap
    client.force_login(manager)
    response = client.get(f"/leads/{score.lead_id}/")
    explanation = response.context["explanation"]
    assert explanation.matches_stored
    assert explanation.lines_total == score.score
    assert "the sum may differ" not in response.content.decode()
