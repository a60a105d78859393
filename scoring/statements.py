"""What the engine's scoring statements need from this project: the tables they read, and the
session set-up they run under (the bulk rescore's and the impact preview's)."""

from django.contrib.auth import get_user_model

from engine.sql import Dialect, Tables
from leads.models import Event, Lead
from scoring.models import PendingScore, Score


def engine_tables() -> Tables:
    """The tables the engine's statements read, as the models name them."""
    return Tables(
        lead=Lead._meta.db_table,
        event=Event._meta.db_table,
        user=get_user_model()._meta.db_table,
        score=Score._meta.db_table,
        pending=PendingScore._meta.db_table,
    )


def session_prepare(cursor, dialect: Dialect) -> None:
    """Set the planner up for a scoring statement and the statements after it, until the end of the
    transaction (Dialect.session_settings): the bulk rescore and the impact preview."""
    for setting in dialect.session_settings():
        cursor.execute(setting)


def session_nested_loops(cursor, dialect: Dialect, *, on: bool) -> None:
    """Allow nested-loop joins (or not) until told otherwise or the transaction ends: on for the
    statements that probe an index for a few rows."""
    for setting in dialect.nested_loops(on):
        cursor.execute(setting)
