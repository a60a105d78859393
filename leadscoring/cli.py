"""Small helpers shared by the management commands."""

from datetime import UTC, datetime

from django.core.management.base import CommandError


def parse_as_of(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of: {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise CommandError(f"--as-of: {value!r} has no UTC offset (add Z or +hh:mm)")
    return parsed


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
