"""The row checks every input path shares (leads/rows.py): API, import commands, CSV page, dry run.

Given a lead or event row with a value the database cannot hold (a far-range timestamp, a text
wider than its column, NUL, an unpaired surrogate, a number JSON cannot carry, JSON nested too
deep), when it is parsed, then it is refused with an error naming the field, instead of passing
here and failing (500, a lost batch) when it is written or read back.
"""

import json
import math

import pytest

from leads.models import Lead
from leads.rows import MAX_JSON_DEPTH, RowError, parse_event, parse_lead, parse_timestamp, read_rows

pytestmark = pytest.mark.django_db

SURROGATE = "contains an unpaired surrogate '\\ud800', which is not valid Unicode"
RANGE = "is outside the supported range 1900-01-01 to 2200-12-31 (UTC)"


def lead(**fields) -> dict:
    return {"id": "L-1", "created_at": "2026-01-01T00:00:00Z", **fields}


def event(**fields) -> dict:
    return {"id": "E-1", "lead": "L-1", "kind": "page_view", "occurred_at": "2026-01-01T00:00:00Z", **fields}


def refused(parse, row) -> str:
    with pytest.raises(RowError) as caught:
        parse(row)
    return str(caught.value)


# --- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC: Postgres stores it, Python cannot read it back
        "0001-01-01T00:00:00+14:00",  # year 0 in UTC
        "9999-12-31T23:59:59Z",
        "2201-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
        "1900-01-01T00:59:59+01:00",  # 1899-12-31T23:59:59 in UTC
    ],
)
def test_a_timestamp_outside_the_supported_range_is_refused_naming_the_field(value):
    assert refused(parse_event, event(occurred_at=value)) == f"occurred_at: {value} {RANGE}"
    assert refused(parse_lead, lead(created_at=value)) == f"created_at: {value} {RANGE}"


def test_the_range_is_1900_to_2200_in_utc_bounds_included():
    for inside in (
        "1900-01-01T00:00:00Z",
        "1900-01-01T01:00:00+01:00",
        "2200-12-31T23:59:59.999999Z",
        "2201-01-01T09:59:59+14:00",
    ):
        assert parse_timestamp(inside, "occurred_at").isoformat() == inside.replace("Z", "+00:00")
    for outside in ("1899-12-31T23:59:59.999999Z", "2200-12-31T23:59:59-00:01", "1900-01-01T00:00:00+00:01"):
        assert refused(parse_event, event(occurred_at=outside)) == f"occurred_at: {outside} {RANGE}"


# --- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["company", "email", "first_name", "title", "industry", "country", "lead_source"])
def test_a_text_wider_than_its_column_is_refused_with_the_columns_width(name):
    width = Lead._meta.get_field(name).max_length
    assert parse_lead(lead(**{name: "x" * width})).fields[name] == "x" * width
    message = refused(parse_lead, lead(**{name: "x" * (width + 1)}))
    assert message == f"{name}: longer than {width} characters (got {width + 1})"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (lead(company="Acme\x00"), "company: contains a NUL character (\\x00), which cannot be stored"),
        (lead(id="L\x00"), "id: contains a NUL character (\\x00), which cannot be stored"),
        (lead(owner="rep\x00"), "owner: contains a NUL character (\\x00), which cannot be stored"),
        (lead(title="VP \ud800"), "title: contains an unpaired surrogate '\\ud800', which is not valid Unicode"),
        (lead(employees="12\x00"), "employees: contains a NUL character (\\x00), which cannot be stored"),
        (lead(email=math.inf), "email: must be text, not inf"),
    ],
)
def test_text_no_database_can_store_is_refused_naming_the_field(row, message):
    assert refused(parse_lead, row) == message


def test_event_text_is_checked_the_same_way():
    assert refused(parse_event, event(kind="page\x00view")).startswith("kind: contains a NUL character")
    assert refused(parse_event, event(id="\udfff")).startswith("id: contains an unpaired surrogate")
    assert refused(parse_event, event(lead="L\x00")).startswith("lead: contains a NUL character")


# --- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (lead(annual_revenue=10**400), "annual_revenue: out of range (at most about 1.8e308)"),
        # Refused without building the number (int() of it would take minutes and gigabytes).
        (lead(employees="1e999999999"), "employees: must be a finite number"),
    ],
)
def test_numbers_a_column_cannot_hold_are_refused(row, message):
    assert refused(parse_lead, row) == message


# --- attributes and properties ------------------------------------------------------------------


def nested(depth: int):
    value: object = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"plan": "pro\x00"}, "attributes.plan: contains a NUL character (\\x00), which cannot be stored"),
        ({"pl\x00an": "pro"}, "attributes: key 'pl\\x00an' contains a NUL character (\\x00), which cannot be stored"),
        ({"plan": ["a", "\ud800"]}, f"attributes.plan[1]: {SURROGATE}"),
        ({"seats": math.nan}, "attributes.seats: nan is not a number JSON can hold (use null or a finite number)"),
        ({"seats": math.inf}, "attributes.seats: inf is not a number JSON can hold (use null or a finite number)"),
        (nested(MAX_JSON_DEPTH + 1), f"attributes: nested deeper than {MAX_JSON_DEPTH} levels"),
        (nested(100_000), f"attributes: nested deeper than {MAX_JSON_DEPTH} levels"),
    ],
)  # fmt: skip
def test_attributes_and_properties_the_database_cannot_store_are_refused_by_path(attributes, message):
    assert refused(parse_lead, lead(attributes=attributes)) == message
    assert refused(parse_event, event(properties=attributes)) == message.replace("attributes", "properties", 1)


def test_json_as_deep_as_allowed_is_kept_and_one_level_more_is_refused():
    assert parse_lead(lead(attributes=nested(MAX_JSON_DEPTH))).attributes == nested(MAX_JSON_DEPTH)
    assert refused(parse_lead, lead(attributes=nested(MAX_JSON_DEPTH + 1))).startswith("attributes: nested deeper")


def test_every_problem_of_a_row_is_named_at_once():
    message = refused(parse_lead, lead(company="x" * 201, email="a\x00", created_at="9999-12-31T23:59:59Z"))
    assert message.split("; ") == [
        f"created_at: 9999-12-31T23:59:59Z {RANGE}",
        "email: contains a NUL character (\\x00), which cannot be stored",
        "company: longer than 200 characters (got 201)",
    ]


# --- files --------------------------------------------------------------------------------------


def test_a_jsonl_line_nested_too_deep_or_with_nan_is_a_row_error_and_the_other_lines_are_read(tmp_path):
    path = tmp_path / "leads.jsonl"
    good = json.dumps(lead())
    path.write_text(
        "\n".join([good, "[" * 100_000 + "]" * 100_000, '{"id": "L-2", "attributes": {"v": NaN}}', good]) + "\n"
    )
    rows = list(read_rows(path, "attributes"))
    assert [line for line, _ in rows] == [1, 2, 3, 4]
    assert str(rows[1][1]) == f"row: nested deeper than {MAX_JSON_DEPTH} levels"
    assert refused(parse_lead, {**rows[2][1], "created_at": "2026-01-01T00:00:00Z"}) == (
        "attributes.v: nan is not a number JSON can hold (use null or a finite number)"
    )
    assert parse_lead(rows[3][1]).external_id == "L-1"


def test_a_csv_attributes_cell_nested_too_deep_is_a_row_error(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text('id,created_at,attributes\nL-1,2026-01-01T00:00:00Z,"' + "[" * 50_000 + "]" * 50_000 + '"\n')
    [(line, row)] = list(read_rows(path, "attributes"))
    assert (line, str(row)) == (2, f"attributes: nested deeper than {MAX_JSON_DEPTH} levels")
