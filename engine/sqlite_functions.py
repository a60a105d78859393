"""SQL functions for SQLite connections: the engine's own text and number rules."""

import re

from engine import values


def regexp_drop(text, pattern):
    """Postgres' regexp_replace(text, pattern, '', 'g') for the patterns the engine writes,
    which mean the same in Python's `re` and in Postgres' advanced regular expressions."""
    return None if text is None else re.sub(pattern, "", text)


def register(dbapi_connection) -> None:
    dbapi_connection.create_function("ls_lower", 1, values.sql_lower, deterministic=True)
    dbapi_connection.create_function("ls_num", 1, values.sql_num, deterministic=True)
    dbapi_connection.create_function("ls_round2", 1, values.round2_float, deterministic=True)
    dbapi_connection.create_function("ls_days", 2, values.sql_days_between, deterministic=True)
    dbapi_connection.create_function("ls_key", 2, values.sql_match_key, deterministic=True)
    dbapi_connection.create_function("ls_plus_days", 2, values.sql_plus_days, deterministic=True)
    dbapi_connection.create_function("ls_regexp_drop", 2, regexp_drop, deterministic=True)
