"""Reads for the pages of the workbench shell (home page)."""

from typing import NamedTuple

from django.db import connection
from django.db.models import OuterRef, Subquery

from leads.models import Event, Lead
from matrix.choices import VersionStatus
from matrix.models import ModelVersion, ScoringModel

# Above this many rows (by the planner's estimate) Postgres shows the estimate: an exact
# COUNT(*) reads the whole table, and the events table holds many millions of rows.
ESTIMATE_ABOVE = 100_000


class Tally(NamedTuple):
    """A row count, and whether it is exact or the planner's estimate."""

    value: int
    exact: bool


def _estimates(tables: list[str]) -> dict[str, int]:
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        # reltuples is -1 for a table never vacuumed or analyzed: that counts as "unknown".
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s) AND pg_table_is_visible(oid)",
            [tables],
        )
        return {name: n for name, n in cursor.fetchall() if n > ESTIMATE_ABOVE}


def _exact_counts(tables: list[str]) -> dict[str, int]:
    if not tables:
        return {}
    qn = connection.ops.quote_name
    # One round trip for all the tables.
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {qn(t)})" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def counts() -> dict[str, Tally]:
    """How many scoring models, leads and events there are (two queries at most)."""
    tables = {"scoring_models": ScoringModel, "leads": Lead, "events": Event}
    names = {key: model._meta.db_table for key, model in tables.items()}
    estimated = _estimates(list(names.values()))
    exact = _exact_counts([t for t in names.values() if t not in estimated])
    return {key: Tally(estimated[t], False) if t in estimated else Tally(exact[t], True) for key, t in names.items()}


def scoring_models_live() -> list[ScoringModel]:
    """Every scoring model with `live_number`: its published version's number, or None (one query)."""
    live = ModelVersion.objects.filter(scoring_model=OuterRef("pk"), status=VersionStatus.PUBLISHED)
    return list(ScoringModel.objects.annotate(live_number=Subquery(live.values("number")[:1])).order_by("name"))
