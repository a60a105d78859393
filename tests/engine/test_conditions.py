"""Conditions (spec section 2), each case through the Python rules AND the SQL of the bulk path.

For every case, given a field value, an operator and its operand:
- the Python path (`conditions.holds`) gives the expected answer;
- the bulk SQL path, given a model whose fit criteria test the value as `attributes.x` (1 point)
  and, where the value fits one, as a standard field (10 points), and whose engagement criterion
  tests it as an event property (100 points), scores exactly those criteria that hold;
- the single-lead path agrees with the bulk path line for line (asserted by `scored`).
"""

from decimal import Decimal

import pytest
from django.db import connection

from engine.conditions import describe, holds
from tests.matrix.helpers import AS_OF, cond, doc, eng, fit, make_event, make_lead, publish, scored

MISSING = object()


def case(value, op, operand, expected, id_=None):
    return pytest.param(value, op, operand, expected, id=id_ or f"{value!r} {op} {operand!r}"[:80])


CASES = [
    # --- eq: text, trimmed, case-insensitive (Unicode lower-casing) ---
    case("Software", "eq", "software", True),
    case("  Software \t", "eq", "SOFTWARE", True),
    case("Software", "eq", "  software  ", True),
    case("Soft ware", "eq", "software", False),
    case("ÉCOLE", "eq", "école", True),
    case("école", "eq", "ÉCOLE", True),
    case("İSTANBUL", "eq", "i̇stanbul", True),
    case("STRAẞE", "eq", "straße", True),
    case("Straße", "eq", "STRASSE", False, "lower-casing is not case folding"),
    case("\vabc\f", "eq", "ABC", True, "vertical tab and form feed are white space"),
    case("\u00a0abc", "eq", "abc", False, "NBSP is not trimmed (the six ASCII white-space characters only)"),
    # Postgres once trimmed the letter "v" (E'\v' is a plain v there): values ending or starting with v.
    case("kyiv", "eq", "KYIV", True),
    case("vip", "eq", "VIP", True),
    case("Dev", "eq", "dev", True),
    case("dev", "contains", "dev", True),
    case("vendor", "startswith", "v", True),
    case("kiev", "endswith", "ev", True),
    case("v", "is_set", None, True),
    # --- eq: numeric when both sides are numeric ---
    case("350.0", "eq", 350, True),
    case("350", "eq", 350.0, True),
    case(" 350 ", "eq", "350.00", True),
    case("0350", "eq", 350, True),
    case("1e2", "eq", 100, True),
    case("1E2", "eq", "100", True),
    case("+5", "eq", 5, True),
    case(".5", "eq", 0.5, True),
    case("5.", "eq", 5, True),
    case("-0", "eq", 0, True),
    case("1.e5", "eq", 100000, True),
    case("350abc", "eq", 350, False),
    case("abc", "eq", 350, False),
    case("1,000", "eq", 1000, False),
    case("٣", "eq", 3, False, "non-ASCII digits are not numeric"),
    case("٣", "eq", "٣", True, "but still equal as text"),
    case(350, "eq", "350.0", True),
    case(350, "eq", 350, True),
    case(350, "eq", 351, False),
    case(350, "eq", "abc", False),
    case(1.5, "eq", 1.5, True),
    case(1.5, "eq", "1.50", True),
    case(0.1, "eq", 0.1, True),
    case(-2, "eq", "-2.0", True),
    case(0, "eq", 0, True, "zero is not empty"),
    # Doubles with 16-17 significant digits compare as the same number on every path.
    case(0.30000000000000004, "gt", 0.3, True),
    case(0.30000000000000004, "eq", 0.3, False),
    case(0.30000000000000004, "eq", 0.30000000000000004, True),
    case(123456789.12345679, "eq", 123456789.12345679, True),
    case(123456789.12345679, "lte", 123456789.1234568, True),
    # SQLite's bulk path reads numeric strings as doubles (see SQLITE_DOUBLES below).
    case("12345678901234567891", "eq", "12345678901234567890", False, "long numeric ids"),
    case("0.30000000000000001", "eq", 0.3, False, "more digits than a double holds"),
    case("1e-400", "gt", 0, True, "below the range of a double"),
    case("1e-20000", "gt", 0, False, "an exponent of 5 digits is text: beyond Postgres' numeric"),
    case("1" * 1001, "gt", 0, False, "1,001 digits are text: beyond Postgres' numeric"),
    case("1e-20000", "eq", "1E-20000", True, "compared as text, case-insensitive"),
    case("1e9999", "gt", 10**15, True, "an exponent of 4 digits is a number"),
    # --- eq: booleans are not numbers; their text is true/false ---
    case(True, "eq", True, True),
    case(True, "eq", "true", True),
    case(True, "eq", " TRUE ", True),
    case(False, "eq", False, True),
    case(False, "eq", "false", True),
    case(True, "eq", False, False),
    case(True, "eq", 1, False),
    case(False, "eq", 0, False),
    case(1, "eq", True, False),
    case("true", "eq", True, True),
    case("False", "eq", False, True),
    case("1", "eq", True, False),
    # --- eq: empty values ---
    case(MISSING, "eq", "x", False),
    case(None, "eq", "x", False),
    case("", "eq", "", False),
    case("   ", "eq", " ", False),
    case("x", "eq", "", False),
    case([], "eq", "x", False),
    case({}, "eq", "x", False),
    # --- eq: lists hold for any element; objects never ---
    case(["a", "B"], "eq", "b", True),
    case(["a"], "eq", "b", False),
    case([1, "2"], "eq", 2, True),
    case(["2.0"], "eq", 2, True),
    case([True], "eq", "true", True),
    case(["", None, " x "], "eq", "X", True),
    case([["a"]], "eq", "a", False),
    case([{"a": "a"}], "eq", "a", False),
    case({"a": "a"}, "eq", "a", False),
    case({"x": 1}, "eq", 1, False),
    # --- ne: true on empty; on a list, none of the elements ---
    case("Software", "ne", "software", False),
    case("Other", "ne", "software", True),
    case("350.0", "ne", 350, False),
    case(True, "ne", "true", False),
    case(True, "ne", 1, True),
    case(MISSING, "ne", "x", True),
    case(None, "ne", "x", True),
    case("", "ne", "x", True),
    case("  ", "ne", "x", True),
    case([], "ne", "x", True),
    case({}, "ne", "x", True),
    case({"a": "a"}, "ne", "a", True),
    case(["a", "b"], "ne", "A", False),
    case(["b", "c"], "ne", "a", True),
    # --- in / not_in ---
    case("SaaS", "in", ["software", "saas"], True),
    case(" saas ", "in", ["SaaS"], True),
    case("x", "in", [], False),
    case("350.0", "in", [1, 350], True),
    case(5, "in", ["5.0", "x"], True),
    case(5, "in", ["x", "y"], False),
    case(True, "in", ["true"], True),
    case(True, "in", [1], False),
    case(["a", "b"], "in", ["B"], True),
    case(["a", "b"], "in", ["c"], False),
    case(MISSING, "in", ["x"], False),
    case("", "in", [""], False),
    case({"a": 1}, "in", ["a"], False),
    case("x", "not_in", ["a"], True),
    case("A", "not_in", ["a"], False),
    case("1e1", "not_in", [10], False),
    case(MISSING, "not_in", ["a"], True),
    case(None, "not_in", ["a"], True),
    case("  ", "not_in", ["a"], True),
    case([], "not_in", ["a"], True),
    case(["a", "z"], "not_in", ["A"], False),
    case(["y", "z"], "not_in", ["a"], True),
    case({}, "not_in", ["a"], True),
    case({"k": "a"}, "not_in", ["a"], True),
    case("x", "not_in", [], True),
    # --- contains / not_contains: text only, case-insensitive, LIKE wildcards are literal ---
    case("Head of Marketing", "contains", "MARKETING", True),
    case("Head of Marketing", "contains", " of ", True),
    case("ÉCOLE Normale", "contains", "école", True),
    case("abc", "contains", "d", False),
    case("a%c", "contains", "%", True),
    case("abc", "contains", "%", False),
    case("a_c", "contains", "_", True),
    case("abc", "contains", "_", False),
    case("a\\c", "contains", "\\", True),
    case("abc", "contains", "\\", False),
    case("abc", "contains", "a%", False),
    case("12345", "contains", "23", True),
    case(12345, "contains", "23", False),
    case(1.5, "contains", ".", False),
    case(True, "contains", "ru", False),
    case(["Marketing", "x"], "contains", "mark", True),
    case([123], "contains", "2", False),
    case({"a": "b"}, "contains", "a", False),
    case(MISSING, "contains", "a", False),
    case("", "contains", "", False),
    case("x", "contains", "", True, "an empty needle is in any non-empty text"),
    case("abc", "not_contains", "B", False),
    case("abc", "not_contains", "x", True),
    case(MISSING, "not_contains", "x", True),
    case("", "not_contains", "x", True),
    case(123, "not_contains", "2", True),
    case(["ab", "cd"], "not_contains", "C", False),
    case(["ab"], "not_contains", "c", True),
    case({}, "not_contains", "a", True),
    case({"a": "a"}, "not_contains", "a", True),
    # --- startswith / endswith ---
    case("/pricing/enterprise", "startswith", "/Pricing", True),
    case(" /pricing", "startswith", "/pricing", True),
    case("x/pricing", "startswith", "/pricing", False),
    case("Sales VP", "endswith", "vp", True),
    case("Sales VP  ", "endswith", "vp", True),
    case("VP of Sales", "endswith", "vp", False),
    case(100, "startswith", "1", False),
    case(["a/b", "/pricing"], "startswith", "/pri", True),
    case("50%", "endswith", "%", True),
    case("500", "endswith", "%", False),
    case("a_b", "startswith", "a_", True),
    case("abb", "startswith", "a_", False),
    case(MISSING, "startswith", "", False),
    case(True, "endswith", "e", False),
    # --- gt / gte / lt / lte: numeric fields only ---
    case(100, "gt", 99, True),
    case(100, "gt", 100, False),
    case(100, "gte", 100, True),
    case(100, "lt", 100.5, True),
    case(100, "lte", 99.99, False),
    case("100", "gt", 99, True),
    case(" 1e2 ", "gte", 100, True),
    case("+5", "lt", 6, True),
    case(".5", "lt", 1, True),
    case("-3", "lt", -2, True),
    case("-1.5", "gt", -2, True),
    case("0", "lte", 0, True),
    case(0, "gte", 0, True),
    case(2.5, "lte", 2.5, True),
    case(2.5, "lt", 2.5, False),
    case(1e20, "gt", 1e15, True),
    case("1e400", "gt", 1e15, True, "huge numeric strings still compare"),
    case("abc", "gt", 0, False),
    case("abc", "lt", 0, False),
    case("1.2.3", "gt", 0, False),
    case("Infinity", "gt", 0, False),
    case("NaN", "lt", 0, False),
    case("0x10", "gt", 5, False),
    case("1e", "gt", 0, False),
    case(".", "gt", -1, False),
    case("+", "gt", -1, False),
    case(True, "gt", 0, False),
    case(False, "lt", 1, False),
    case(MISSING, "gt", 0, False),
    case(None, "lt", 0, False),
    case("", "lt", 1, False),
    case("  ", "gte", -1, False),
    case([1, 200], "gt", 100, True),
    case([1, 2], "gt", 100, False),
    case(["5", "x"], "lte", 5, True),
    case([], "lt", 1, False),
    case({"a": 1}, "gt", 0, False),
    # --- between: inclusive ---
    case(5, "between", [5, 10], True),
    case(10, "between", [5, 10], True),
    case(10.01, "between", [5, 10], False),
    case(4.99, "between", [5, 10], False),
    case("7", "between", [5, 10], True),
    case("1e1", "between", [5, 10], True),
    case(5, "between", [5, 5], True),
    case(-1, "between", [-1.5, -0.5], True),
    case([1, 7], "between", [5, 10], True),
    case([1, 70], "between", [5, 10], False),
    case("x", "between", [0, 10], False),
    case(True, "between", [0, 1], False),
    case(MISSING, "between", [0, 1], False),
    case({"a": 5}, "between", [0, 10], False),
    # --- is_empty / is_set ---
    case(MISSING, "is_empty", None, True),
    case(None, "is_empty", None, True),
    case("", "is_empty", None, True),
    case("   ", "is_empty", None, True),
    case("\t\n\r", "is_empty", None, True),
    case([], "is_empty", None, True),
    case({}, "is_empty", None, True),
    case(0, "is_empty", None, False),
    case(False, "is_empty", None, False),
    case("0", "is_empty", None, False),
    case(" x ", "is_empty", None, False),
    case([None], "is_empty", None, False),
    case([""], "is_empty", None, False),
    case({"a": None}, "is_empty", None, False),
    case("\u00a0", "is_empty", None, False),
    case(MISSING, "is_set", None, False),
    case(None, "is_set", None, False),
    case(" ", "is_set", None, False),
    case([], "is_set", None, False),
    case({}, "is_set", None, False),
    case(0, "is_set", None, True),
    case(False, "is_set", None, True),
    case("x", "is_set", None, True),
    case(["x"], "is_set", None, True),
    case({"a": 1}, "is_set", None, True),
]


# Known divergence: on SQLite the bulk path compares numbers as doubles, so numeric strings beyond
# a double's precision or range compare equal there while Python (Decimal) and Postgres (numeric)
# keep them apart. Strict xfail: when SQLite compares exactly, these start passing and must be unmarked.
SQLITE_DOUBLES = [
    ("12345678901234567891", "eq", "12345678901234567890"),
    ("0.30000000000000001", "eq", 0.3),
    ("1e-400", "gt", 0),
]


def standard_field(value):
    """The standard lead field that can hold this value (and how to store it), or None."""
    if value is MISSING or value is None:
        return ("industry", "")
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return ("industry", value) if len(value) <= 100 else None  # the column's length
    if isinstance(value, int):
        return ("employees", value)
    if isinstance(value, float):
        return ("annual_revenue", value)
    return None


def model_for(op, operand, std):
    criteria = [fit("attr", cond("attributes.x", op, operand), 1)]
    if std:
        criteria.append(fit("std", cond(std, op, operand), 10))
    criteria.append(eng("prop", "ping", 100, where=cond("x", op, operand)))
    return doc(criteria=criteria)


@pytest.mark.parametrize(("value", "op", "operand", "expected"), CASES)
def test_condition_in_python(value, op, operand, expected):
    # Given a field holding `value`, when the condition is evaluated in Python, then it gives `expected`.
    data = {} if value is MISSING else {"x": value}
    assert holds(cond("x", op, operand), data.get) is expected


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "op", "operand", "expected"), CASES)
def test_condition_in_sql_matches_python(value, op, operand, expected, request):
    if connection.vendor == "sqlite" and (value, op, operand) in SQLITE_DOUBLES:
        request.applymarker(pytest.mark.xfail(strict=True, reason="SQLite compares numeric strings as doubles"))
    # Given a lead (attribute x, maybe a standard field) and one event (property x) holding `value`
    std = standard_field(value)
    fields = {std[0]: std[1]} if std else {}
    lead = make_lead(attributes={} if value is MISSING else {"x": value}, **fields)
    make_event(lead, "ping", AS_OF, "E-1", **({} if value is MISSING else {"x": value}))
    version = publish(model_for(op, operand, std and std[0]))
    # When scored by the bulk SQL path and the single-lead path (which must agree)
    result = scored(version, lead)
    # Then exactly the criteria whose condition holds have counted
    hit = 1 if expected else 0
    assert result["fit"] == Decimal(hit * (1 + (10 if std else 0)))
    assert result["engagement"] == Decimal(100 * hit)


@pytest.mark.django_db
def test_empty_standard_fields_with_null_numbers():
    # Given a lead with no employee count and no revenue (NULL columns)
    lead = make_lead(employees=None, annual_revenue=None, industry="  ")
    version = publish(
        doc(
            criteria=[
                fit("emp-empty", cond("employees", "is_empty"), 1),
                fit("rev-ne", cond("annual_revenue", "ne", 5), 2),
                fit("emp-gt", cond("employees", "gt", -1), 4),
                fit("rev-not-in", cond("annual_revenue", "not_in", [1, 2]), 8),
                fit("ind-empty", cond("industry", "is_empty"), 16),
                fit("ind-contains", cond("industry", "contains", ""), 32),
            ]
        )
    )
    assert scored(version, lead)["fit"] == 1 + 2 + 8 + 16


@pytest.mark.django_db
def test_every_standard_field_is_readable_by_conditions():
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create(username="ann", email="ann@example.com")
    lead = make_lead(
        "ID-7",
        email=" Ann@Example.com ",
        first_name="Ann",
        last_name="Lee",
        company="Acme",
        title="VP Sales",
        industry="SaaS",
        country="FR",
        employees=250,
        annual_revenue=1.5e6,
        lead_source="webinar",
        owner=owner,
    )
    checks = [
        cond("id", "eq", "id-7"),
        cond("email", "endswith", "@example.com"),
        cond("first_name", "eq", "ANN"),
        cond("last_name", "startswith", "le"),
        cond("company", "eq", "acme"),
        cond("title", "contains", "vp"),
        cond("industry", "in", ["saas"]),
        cond("country", "eq", "fr"),
        cond("employees", "between", [200, 300]),
        cond("annual_revenue", "gte", 1500000),
        cond("lead_source", "eq", "Webinar"),
        cond("owner", "eq", "ANN"),
    ]
    version = publish(doc(criteria=[fit(f"c{i}", c, 1) for i, c in enumerate(checks)]))
    result = scored(version, lead)
    assert result["fit"] == len(checks), result["breakdown"]
    unowned = make_lead()
    version = publish(doc(criteria=[fit("no-owner", cond("owner", "is_empty"), 1)]))
    assert scored(version, unowned)["fit"] == 1


# --- all / any / not ------------------------------------------------------------------------------

A_TRUE = cond("attributes.a", "eq", "yes")
A_FALSE = cond("attributes.a", "eq", "no")
B_TRUE = cond("attributes.b", "gt", 1)
B_FALSE = cond("attributes.b", "lt", 1)

GROUPS = [
    ({"all": [A_TRUE, B_TRUE]}, True),
    ({"all": [A_TRUE, B_FALSE]}, False),
    ({"all": []}, True),
    ({"any": [A_FALSE, B_TRUE]}, True),
    ({"any": [A_FALSE, B_FALSE]}, False),
    ({"any": []}, False),
    ({"not": A_TRUE}, False),
    ({"not": A_FALSE}, True),
    ({"not": {"not": A_TRUE}}, True),
    ({"all": [{"any": [A_FALSE, {"not": B_FALSE}]}, {"not": {"all": [A_TRUE, B_FALSE]}}]}, True),
    ({"any": [{"all": [A_TRUE, B_FALSE]}, {"not": {"any": [A_TRUE]}}]}, False),
    ({"not": cond("attributes.missing", "eq", "x")}, True),
    ({"not": cond("attributes.missing", "ne", "x")}, False),
    ({"all": [cond("attributes.missing", "is_empty"), {"not": cond("attributes.a", "is_empty")}]}, True),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("condition", "expected"), GROUPS, ids=[describe(g) for g, _ in GROUPS])
def test_groups_on_both_paths(condition, expected):
    attributes = {"a": "Yes", "b": "2"}
    lead = make_lead(attributes=attributes)
    assert holds(condition, lambda f: attributes.get(f.removeprefix("attributes."))) is expected
    # The same group as an event `where` (fields renamed to properties) and as a fit condition
    version = publish(doc(criteria=[fit("group", condition, 1)]))
    assert scored(version, lead)["fit"] == (1 if expected else 0)


@pytest.mark.django_db
def test_groups_on_event_properties():
    lead = make_lead()
    make_event(lead, "page_view", AS_OF, "E-1", url="/pricing", ref="ads")
    make_event(lead, "page_view", AS_OF, "E-2", url="/blog", ref="ads")
    make_event(lead, "page_view", AS_OF, "E-3", url="/pricing")
    where = {"all": [cond("url", "startswith", "/pricing"), {"not": cond("ref", "is_empty")}]}
    version = publish(doc(criteria=[eng("paid-pricing", "page_view", 7, where=where)]))
    result = scored(version, lead)
    assert result["breakdown"][0]["events"] == ["E-1"]


@pytest.mark.django_db
def test_a_key_is_taken_whole_not_as_a_path():
    # Given an attribute whose key contains a dot, and a nested object with the same "path"
    flat = make_lead(attributes={"a.b": "x"})
    nested = make_lead(attributes={"a": {"b": "x"}})
    version = publish(
        doc(
            criteria=[
                fit("dotted", cond("attributes.a.b", "eq", "x"), 1),
                fit("empty", cond("attributes.a.b", "is_empty"), 2),
            ]
        )
    )
    results = {lead.pk: r for lead, r in ((flat, scored(version, flat)), (nested, scored(version, nested)))}
    assert results[flat.pk]["fit"] == 1
    assert results[nested.pk]["fit"] == 2


@pytest.mark.django_db
def test_field_names_with_sql_and_json_path_characters():
    attributes = {"it's": "a", "$.x": "b", "a[0]": "c", "weird key": "d", "%_": "e"}
    lead = make_lead(attributes=attributes)
    version = publish(
        doc(criteria=[fit(f"k{i}", cond(f"attributes.{k}", "eq", v), 1) for i, (k, v) in enumerate(attributes.items())])
    )
    assert scored(version, lead)["fit"] == len(attributes)


def test_describe_reads_like_a_sentence():
    assert describe(cond("industry", "in", ["Software", "SaaS"])) == "industry is one of Software, SaaS"
    assert describe(cond("employees", "between", [50, 1000])) == "employees is between 50 and 1,000"
    assert describe({"not": cond("attributes.plan", "is_empty")}) == "not (plan is empty)"
