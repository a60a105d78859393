"""One format per kind of value (issue 17): scores, amounts, durations, dates.

The pages format through these, so a number or a date reads the same on every page.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template

from matrix.wording import signed
from reports.views import hours


@pytest.mark.parametrize(
    ("value", "shown"),
    [("25.00", "25"), ("45.0", "45"), ("12.50", "12.5"), ("126.91", "126.91"), (Decimal("-20"), "−20"),
     ("0.00", "0"), ("-0.001", "0"), (1234.5, "1,234.5")],
)  # fmt: skip
def test_a_score_has_at_most_two_decimals_and_no_trailing_zeros(value, shown):
    template = Template("{% load leads_extras %}{{ value|plain }}")
    assert template.render(Context({"value": value})) == shown
    assert signed(value).lstrip("+") == shown


def test_an_amount_has_thousands_separators_and_no_trailing_zero():
    template = Template("{% load leads_extras %}{{ value|amount }}")
    assert template.render(Context({"value": 4763902000.0})) == "4,763,902,000"


def test_durations_in_one_column_have_one_unit():
    assert [hours(v) for v in (12.6, 67.2, 76.8, None)] == ["12.6 h", "67.2 h", "76.8 h", "—"]


def test_dates_have_one_format_whether_named_or_localized():
    at = datetime(2026, 12, 3, 15, 4, tzinfo=UTC)
    template = Template('{{ at }}|{{ at|date:"DATETIME_FORMAT" }}|{{ at|date }}|{{ day }}')
    assert (
        template.render(Context({"at": at, "day": at.date()}))
        == "2026-12-03 15:04|2026-12-03 15:04|2026-12-03|2026-12-03"
    )


def test_the_reports_name_no_repository_file_as_plain_text(db, client, personas):
    # The docs are not served: a path like "docs/reports.md" on a page is a dead end
    client.force_login(personas["manager"])
    response = client.get("/reports/conversion/")
    assert response.status_code == 200 and ".md" not in response.content.decode()


def test_the_api_documentation_names_no_repository_file(db, client, personas):
    # /api/docs/ shows the schema's description: it points at the browsable root instead
    client.force_login(personas["manager"])
    schema = client.get("/api/schema/", {"format": "json"}).json()
    description = schema["info"]["description"]
    assert ".md" not in description and "/api/v1/" in description
