"""Small helpers shared by the management commands."""

from datetime import UTC, datetime

from django.core.management.base import CommandError

from leads.rows import RowError, parse_timestamp


def parse_as_of(value: str | None) -> datetime:
    """`--as-of`: an ISO 8601 instant with offset in the supported range, as every input (leads/rows.py)."""
    if value is None:
        return datetime.now(UTC)
    try:
        return parse_timestamp(value, "--as-of")
    except RowError as exc:
        raise CommandError(str(exc)) from None


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
