from django import template

from matrix.wording import signed as _signed

register = template.Library()


@register.filter
def signed(value) -> str:
    """Points with their sign and a real minus: +20, −20, 0, +12.5."""
    if value is None or value == "":
        return ""
    return _signed(value)


@register.filter
def plain(value) -> str:
    """A score without a plus sign: 63, −5, 12.5; also a money-like amount, currency unknown:
    4,763,902,000 or 12,500.5 (at most two decimals)."""
    if value is None or value == "":
        return ""
    return _signed(value).lstrip("+")


# Amounts (annual revenue) read as scores do; the name says what a template shows.
register.filter("amount", plain)


@register.filter
def words(value) -> str:
    """A stored key read as words: `budget_confirmed` -> "budget confirmed"."""
    return str(value).replace("_", " ").replace("-", " ") if value is not None else ""


def _fact_value(value) -> str:
    if value is True or value is False:
        return "yes" if value else "no"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return plain(value)  # 8,000; 12.5; −3
    return str(value)


@register.filter
def facts(lead) -> str:
    """A lead given as a dict (a scenario's buyer) in one line: "Title: Director of IT · Employees:
    8,000 · Budget confirmed: yes", fields then attributes, empty values left out."""
    if not isinstance(lead, dict):
        return ""
    pairs = [(k, v) for k, v in lead.items() if k != "attributes"]
    pairs += list((lead.get("attributes") or {}).items())
    return " · ".join(f"{words(k).capitalize()}: {_fact_value(v)}" for k, v in pairs if v not in (None, ""))
