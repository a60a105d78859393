"""Condition evaluation in Python (spec section 2); engine/sql.py compiles the same rules to SQL."""

from collections.abc import Callable

from engine.document import NEGATIVE_OPS
from engine.values import WHITESPACE, as_number, is_empty, scalar_eq


def _scalar_holds(op: str, element, value) -> bool:
    """A positive op on one non-empty scalar (never a list or an object)."""
    if op == "eq":
        return scalar_eq(element, value)
    if op == "in":
        return any(scalar_eq(element, v) for v in value)
    if op in ("contains", "startswith", "endswith"):
        if not isinstance(element, str):
            return False
        text = element.strip(WHITESPACE).lower()
        needle = value.strip(WHITESPACE).lower()
        if op == "contains":
            return needle in text
        if op == "startswith":
            return text.startswith(needle)
        return text.endswith(needle)
    number = as_number(element)
    if number is None:
        return False
    if op == "between":
        lo, hi = (as_number(v) for v in value)
        return lo <= number <= hi
    bound = as_number(value)
    return {
        "gt": number > bound,
        "gte": number >= bound,
        "lt": number < bound,
        "lte": number <= bound,
    }[op]


def _positive_holds(op: str, raw, value) -> bool:
    if is_empty(raw) or isinstance(raw, dict):
        return False
    if isinstance(raw, list):
        return any(not is_empty(e) and not isinstance(e, (list, dict)) and _scalar_holds(op, e, value) for e in raw)
    return _scalar_holds(op, raw, value)


def holds(cond: dict | None, get: Callable[[str], object]) -> bool:
    """Does `cond` hold, reading field values through `get(field)`? None holds always."""
    if cond is None:
        return True
    if "all" in cond:
        return all(holds(c, get) for c in cond["all"])
    if "any" in cond:
        return any(holds(c, get) for c in cond["any"])
    if "not" in cond:
        return not holds(cond["not"], get)
    op = cond["op"]
    raw = get(cond["field"])
    if op == "is_empty":
        return is_empty(raw)
    if op == "is_set":
        return not is_empty(raw)
    if op in NEGATIVE_OPS:
        return not _positive_holds(NEGATIVE_OPS[op], raw, cond.get("value"))
    return _positive_holds(op, raw, cond.get("value"))


# Every operator in words: the matrix page's conditions and the draft editor's operator picker.
OP_WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "contains": "contains",
    "not_contains": "does not contain",
    "startswith": "starts with",
    "endswith": "ends with",
    "gt": "is above",
    "gte": "is at least",
    "lt": "is below",
    "lte": "is at most",
    "between": "is between",
    "is_empty": "is empty",
    "is_set": "is set",
}


def describe(cond: dict | None) -> str:
    """The condition in words, for the matrix page ("industry is one of Software, IT Services")."""
    if cond is None:
        return "always"
    if "all" in cond:
        return " and ".join(f"({describe(c)})" if _is_group(c) else describe(c) for c in cond["all"]) or "always"
    if "any" in cond:
        return " or ".join(f"({describe(c)})" if _is_group(c) else describe(c) for c in cond["any"]) or "never"
    if "not" in cond:
        return f"not ({describe(cond['not'])})"
    fld = cond["field"].replace("attributes.", "").replace("_", " ")
    value = cond.get("value")
    op = cond["op"]
    if op in ("is_empty", "is_set"):
        return f"{fld} {OP_WORDS[op]}"
    if op == "between":
        return f"{fld} {OP_WORDS[op]} {_fmt(value[0])} and {_fmt(value[1])}"
    if isinstance(value, list):
        return f"{fld} {OP_WORDS[op]} {', '.join(_fmt(v) for v in value)}"
    return f"{fld} {OP_WORDS[op]} {_fmt(value)}"


def _is_group(cond: dict) -> bool:
    return "all" in cond or "any" in cond


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
