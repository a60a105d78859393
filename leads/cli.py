"""Small helpers shared by the management commands."""

from datetime import UTC, datetime

from django.core.management.base import CommandError

from leads.rows import RowError, parse_timestamp


def parse_instant(value: str, option: str) -> datetime:
    """An option's ISO 8601 instant with offset in the supported range, as every input (leads/rows.py)."""
    try:
        return parse_timestamp(value, option)
    except RowError as exc:
        raise CommandError(str(exc)) from None


def parse_as_of(value: str | None) -> datetime:
    """`--as-of`: an instant (parse_instant); by default the current time."""
    if value is None:
        return datetime.now(UTC)
    return parse_instant(value, "--as-of")


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
