"""What the engine's scoring statements need from this project: the tables they read."""

from django.contrib.auth import get_user_model

from engine.sql import Tables
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
