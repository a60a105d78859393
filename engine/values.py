"""Value rules of spec section 2 (empty, numeric, text) and the rounding of section 6.

These functions are the single source of truth: the single-lead engine calls them directly,
and SQLite calls them as SQL functions (see sqlite_functions.py) in the bulk path.
"""

import json
import math
import re
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ASCII digits only: Python's \d would also accept other scripts' digits, Postgres' would not.
# At most 4 exponent digits and NUMERIC_MAX_LENGTH characters: anything longer ("1e-20000", a
# 200,000-digit string) is beyond what Postgres' numeric holds, so every path reads it as text.
NUMERIC_RE = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,4})?$")
NUMERIC_MAX_LENGTH = 1000
# "White space" for trimming: the same six characters in Python, Postgres and SQLite.
WHITESPACE = " \t\n\r\f\v"
CENT = Decimal("0.01")
# Half-life weights stop halving after this many half-lives: 0.5 ** 1000 is about 1e-301, far below
# a cent of any points, and a smaller weight would underflow a double (Postgres raises "value out
# of range: underflow" where Python and SQLite quietly give 0). Both paths use the same bound.
HALF_LIVES_MAX = 1000.0


def trim(text: str) -> str:
    return text.strip(WHITESPACE)


def is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return trim(value) == ""
    if isinstance(value, (list, dict)):
        return len(value) == 0
    return False


def as_number(value) -> Decimal | None:
    """The numeric value of a JSON number or numeric string, else None (booleans are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Decimal(repr(value))
    if isinstance(value, str):
        text = trim(value)
        if len(text) <= NUMERIC_MAX_LENGTH and NUMERIC_RE.match(text):
            try:
                return Decimal(text)
            except InvalidOperation:  # pragma: no cover - the regex only admits valid literals
                return None
    return None


def as_text(value) -> str:
    """The text of a scalar for case-insensitive comparison: trimmed strings, JSON text otherwise."""
    if isinstance(value, str):
        return trim(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def is_scalar(value) -> bool:
    return isinstance(value, (str, int, float, bool)) and not is_empty(value)


def scalar_eq(left, right) -> bool:
    a, b = as_number(left), as_number(right)
    if a is not None and b is not None:
        return a == b
    return as_text(left).lower() == as_text(right).lower()


def round2(value: float) -> Decimal:
    """Round to cents, halves away from zero, reading the float at 15 significant digits.

    Fifteen digits is how Postgres turns a double into numeric, so `round(x::numeric, 2)`
    there and this function here give the same cents for the same double.
    """
    return Decimal(format(value, ".15g")).quantize(CENT, rounding=ROUND_HALF_UP) + 0


def running_cents(start, values) -> tuple[list[Decimal], float]:
    """Each value's share of the running total `start + values...`, rounded: round2(the total
    after it) minus round2(the total before it), and the unrounded total at the end.

    With `start` whole, the shares add up to exactly round2(end) - start; each is within 0.01 of
    its value (docs/scoring.md, "Rounding"). The total is summed one addition at a time in the
    order given, as the SQL path (engine/sql.py, `_finish`) does.
    """
    shares, total = [], start
    shown = round2(total)
    for value in values:
        total += value
        now = round2(total)
        shares.append(now - shown)
        shown = now
    return shares, total


def round2_float(value):
    if value is None:
        return None
    return float(round2(value))


# --- SQLite SQL functions ---------------------------------------------------------------------


def sql_lower(value):
    return None if value is None else str(value).lower()


def sql_num(value):
    """ls_num(text): the number of a numeric string, else NULL."""
    if value is None or not isinstance(value, str):
        return None
    number = as_number(value)
    return None if number is None else float(number)


def days_between(later: datetime, earlier: datetime) -> float:
    """(later - earlier) in days of exactly 86,400 s (spec 1), correctly rounded."""
    return (later - earlier) / timedelta(days=1)


def _parse_sqlite_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def sql_days_between(later, earlier):
    """ls_days(later, earlier): (later - earlier) in days of 86,400 s, as Django stores them."""
    if later is None or earlier is None:
        return None
    return days_between(_parse_sqlite_datetime(later), _parse_sqlite_datetime(earlier))


def match_key(value) -> str | None:
    """A key such that two scalars match "as with eq" exactly when their keys are equal."""
    if not is_scalar(value):
        return None
    number = as_number(value)
    if number is not None:
        return "n:" + format(number.normalize() + 0, "f")
    return "t:" + as_text(value).lower()


def sql_match_key(json_type, value):
    """ls_key(json_type, value) for SQLite's json_each/json_extract pair."""
    if json_type is None or json_type in ("null", "array", "object"):
        return None
    if json_type == "true":
        return match_key(True)
    if json_type == "false":
        return match_key(False)
    return match_key(value)


def sql_plus_days(when, days):
    """ls_plus_days(instant, days): the instant `days` of 86,400 s later, as Django stores it."""
    if when is None or days is None:
        return None
    try:
        return str(_parse_sqlite_datetime(when) + timedelta(days=days))
    except OverflowError:  # past year 9999: as good as never
        return "9999-12-31 00:00:00"
