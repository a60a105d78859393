"""The range of instants the workbench supports, and reading stored timestamps outside it.

Every timestamp that comes from outside (a lead's `created_at`, an event's `occurred_at`, an
`--as-of`) must lie between 1900-01-01 and 2200-12-31 (inclusive, in UTC); leads/rows.py refuses
the rest. The bounds leave a century either side of any real CRM date, and keep every date
computation the scoring does (a look-back window, a decay step, a chart axis) inside what Python's
`datetime` (years 1 to 9999) can hold.

A database written before the range was enforced may still hold instants outside it (Postgres
even stores years Python cannot represent: `9999-12-31T23:59:59-14:00` is year 10000 in UTC).
leadscoring/db.py reads those as the nearest bound, via `clamp`, so no page, export or API read
fails on them; the stored value itself is left as it is.
"""

from datetime import UTC, datetime

TIMESTAMP_MIN = datetime(1900, 1, 1, tzinfo=UTC)
TIMESTAMP_MAX = datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
RANGE_TEXT = f"{TIMESTAMP_MIN:%Y-%m-%d} to {TIMESTAMP_MAX:%Y-%m-%d} (UTC)"


def in_range(value: datetime) -> bool:
    """Whether an aware datetime lies in the supported range (False when it cannot be converted to UTC)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00, past Python's year 9999
        return False
    return TIMESTAMP_MIN <= utc <= TIMESTAMP_MAX


def clamp(value: datetime) -> datetime:
    """The nearest supported instant; naive values (SQLite stores UTC without offset) stay naive."""
    low, high = TIMESTAMP_MIN, TIMESTAMP_MAX
    if value.tzinfo is None:
        low, high = low.replace(tzinfo=None), high.replace(tzinfo=None)
        return low if value < low else high if value > high else value
    return low.astimezone(value.tzinfo) if value < low else high.astimezone(value.tzinfo) if value > high else value


def bound_for_year(year: int, aware: bool) -> datetime:
    """The bound a stored instant of `year` (one Python cannot represent) is read as."""
    bound = TIMESTAMP_MIN if year < TIMESTAMP_MIN.year else TIMESTAMP_MAX
    return bound if aware else bound.replace(tzinfo=None)
