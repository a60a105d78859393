"""The Postgres dialect's building blocks against the Python values they must equal (engine/sql.py)."""

import uuid
from decimal import ROUND_HALF_UP, Decimal

import dj_database_url
import psycopg
import pytest
from django.db import connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper

from engine.sql import Postgres
from engine.values import CENT, round2, trim
from tests.conftest import require_postgres

# Whole and not, near whole, halves, negative zero, around and past the shortcut's 1e9.
DOUBLES = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    45.0,
    44.995,
    2.675,
    -2.675,
    0.005,
    -0.005,
    1e-9,
    0.1 + 0.2,
    7.000000000000001,
    -7.999999999999999,
    999_999_999.0,
    999_999_999.5,
    1_000_000_000.0,
    123_456_789_012.5,
    1e15 + 2,
]
NUMERICS = ["2.005", "-2.005", "3.0", "123456.0000000000001", "-0.0000000000000001", "99999999.995", "1e12"]


def _rounded(sql_type: str, values: list) -> list[Decimal]:
    with psycopg.connect(require_postgres().replace("postgres://", "postgresql://")) as conn:
        sql = Postgres().round2("t.x")
        return [conn.execute(f"SELECT {sql} FROM (SELECT %s::{sql_type} AS x) AS t", [v]).fetchone()[0] for v in values]


def test_postgres_rounds_a_double_to_the_cents_python_gives():
    # Given doubles whole and not, near whole, halves and past 1e9
    # When Postgres rounds each with the dialect's round2
    got = _rounded("float8", DOUBLES)
    # Then each is the cents values.round2 gives the single-lead path, with two decimals
    assert got == [round2(v) for v in DOUBLES]
    assert all(g.as_tuple().exponent == -2 for g in got)


def test_postgres_rounds_a_numeric_exactly_halves_away_from_zero():
    # Given numerics, some within a double's precision of a whole number
    # When Postgres rounds each with the dialect's round2
    got = _rounded("numeric", NUMERICS)
    # Then each is its exact value rounded to cents, halves away from zero
    assert got == [Decimal(v).quantize(CENT, rounding=ROUND_HALF_UP) for v in NUMERICS]
    assert all(g.as_tuple().exponent == -2 for g in got)


# All ASCII (the "C" collation's branch), with white space to trim, and not (ICU's branch).
TEXTS = [
    "Software",
    "  SOFTWARE \t",
    "\vABC\f",
    "KYIV",
    "",
    "ÉCOLE",
    "İSTANBUL",
    "STRAẞE",
    "ΟΔΟΣ",
    "ASCII and Ünï",
    "\u00a0ABC",
]


@pytest.mark.django_db
def test_postgres_lower_cases_trimmed_text_as_python_does():
    # Given the suite's database on Postgres, in UTF-8, and texts all ASCII or not
    if connection.vendor != "postgresql":
        pytest.skip("reads the encoding from the suite's own connection, which is SQLite here")
    sql = Postgres(connection).lower_trimmed("t.x")
    assert 'COLLATE "C"' in sql
    # When the dialect trims and lower-cases each
    with connection.cursor() as cursor:
        got = []
        for text in TEXTS:
            cursor.execute(f"SELECT {sql} FROM (SELECT %s::text AS x) AS t", [text])
            got.append(cursor.fetchone()[0])
    # Then each is Python's lower() of the trimmed text (the single-lead path's)
    assert got == [trim(text).lower() for text in TEXTS]


@pytest.mark.django_db  # lets the test open a connection of its own
def test_postgres_lower_cases_with_icu_alone_outside_utf8():
    # Given a database in LATIN1, where a non-ASCII letter is one byte, and a dialect on it
    base = require_postgres()
    name = f"latin1_{uuid.uuid4().hex[:10]}"
    admin_url = base.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    url = base.rsplit("/", 1)[0] + f"/{name}"
    settings_dict = connections.configure_settings({"default": dj_database_url.parse(url)})["default"]
    wrapper = DatabaseWrapper(settings_dict, name)
    try:
        dialect = Postgres(wrapper)
        # When it lower-cases a trimmed column
        # Then it takes ICU's lower alone: "as many bytes as characters" means ASCII only in UTF-8
        assert dialect.lower_trimmed("t.x") == dialect.lower(dialect.trim("t.x"))
    finally:
        wrapper.close()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    # and so does a dialect that has no connection to ask
    assert Postgres().lower_trimmed("t.x") == dialect.lower(dialect.trim("t.x"))
