"""Database helpers shared by every scoring path, and reading timestamps safely on both databases.

SQLite has no Unicode lower-casing, no numeric test and no half-away-from-zero rounding that
agree with the spec, so the same Python functions the single-lead engine uses are registered
as SQL functions on every SQLite connection. Postgres uses its own built-ins (see engine/sql.py).

Stored timestamps outside the supported range (leadscoring/timestamps.py) are read as the nearest
bound on both databases: Postgres can hold years Python cannot represent (psycopg would raise
"timestamp too large" on every read touching the row), and an older SQLite file can hold text
Django's parser refuses ("0000-12-31 10:00:00"). Clamping where rows are read keeps every reader
(pages, exports, admin, API) working without rewriting what is stored.
"""

import re
import sqlite3
from functools import cache

from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.utils.dateparse import parse_datetime
from psycopg import DataError

from engine import sqlite_functions
from leadscoring.timestamps import bound_for_year, clamp

_YEAR = re.compile(r"\s*(-?\d+)")


@receiver(connection_created)
def register_sqlite_functions(sender, connection, **kwargs):
    if connection.vendor != "sqlite":
        return
    sqlite_functions.register(connection.connection)


# --- Timestamps outside the supported range --------------------------------------------------------


def sqlite_datetime(text: str):
    """A stored SQLite datetime (UTC text), clamped to the supported range; None for garbage, as Django."""
    try:
        value = parse_datetime(text)
    except ValueError:  # "0000-12-31 10:00:00": year 0, which Python has not
        value = None
    if value is None:
        year = _YEAR.match(text)
        # A year Python cannot hold ("10000-01-01 ..."): the bound on its side.
        return bound_for_year(int(year.group(1)), aware=False) if year else None
    return clamp(value)


def _sqlite_converter(raw: bytes):
    return sqlite_datetime(raw.decode())


@receiver(connection_created)
def read_sqlite_timestamps_clamped(sender, connection, **kwargs):
    if connection.vendor != "sqlite":
        return
    # Replaces Django's converters for columns declared datetime/timestamp (it parses them
    # with parse_datetime too, at import of its backend); process-wide, like Django's own.
    sqlite3.register_converter("datetime", _sqlite_converter)
    sqlite3.register_converter("timestamp", _sqlite_converter)
    ops = connection.ops
    if not getattr(ops, "timestamps_clamped", False):
        # Computed values (Max(...), subqueries) carry no declared type and reach Django's
        # converter as text: parse those the same way.
        convert = ops.convert_datetimefield_value

        def convert_clamped(value, expression, conn):
            if isinstance(value, str):
                value = sqlite_datetime(value)
            return convert(value, expression, conn)

        ops.convert_datetimefield_value = convert_clamped
        ops.timestamps_clamped = True


@cache
def _postgres_loader(tz):
    class ClampedTzLoader(BaseTzLoader):
        """Django's timestamptz loader, reading instants outside the supported range as its bounds."""

        timezone = tz

        def load(self, data):
            try:
                value = super().load(data)
            except DataError:  # before year 1 ("... BC", "-infinity") or after 9999 ("10000-...", "infinity")
                text = bytes(data)
                early = text.endswith(b"BC") or text.startswith(b"-")
                bound = bound_for_year(0 if early else 10000, aware=True)
                return bound.astimezone(self.timezone) if self.timezone else bound.replace(tzinfo=None)
            return clamp(value)

    return ClampedTzLoader


@receiver(connection_created)
def read_postgres_timestamps_clamped(sender, connection, **kwargs):
    if connection.vendor != "postgresql":
        return
    # Same `timezone` as Django's own loader, so its create_cursor keeps this one.
    connection.connection.adapters.register_loader("timestamptz", _postgres_loader(connection.timezone))
