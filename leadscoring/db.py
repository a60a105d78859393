"""Database helpers shared by every scoring path.

SQLite has no Unicode lower-casing, no numeric test and no half-away-from-zero rounding that
agree with the spec, so the same Python functions the single-lead engine uses are registered
as SQL functions on every SQLite connection. Postgres uses its own built-ins (see engine/sql.py).
"""

from django.db.backends.signals import connection_created
from django.dispatch import receiver


@receiver(connection_created)
def register_sqlite_functions(sender, connection, **kwargs):
    if connection.vendor != "sqlite":
        return
    from matrix.engine import sqlite_functions

    sqlite_functions.register(connection.connection)
