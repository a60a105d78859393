from django import template

from leads.explain import signed as _signed

register = template.Library()


@register.filter
def signed(value) -> str:
    """Points with their sign and a real minus: +20, −20, 0, +12.50."""
    if value is None or value == "":
        return ""
    return _signed(value)


@register.filter
def plain(value) -> str:
    """A score without a plus sign: 63, −5, 12.50."""
    if value is None or value == "":
        return ""
    return _signed(value).lstrip("+")


@register.filter
def amount(value) -> str:
    """A money-like amount, currency unknown: 4,763,902,000 or 12,500.5 (at most two decimals)."""
    if value is None or value == "":
        return ""
    return _signed(value).lstrip("+")


@register.filter
def words(value) -> str:
    """A stored key read as words: `budget_confirmed` -> "budget confirmed"."""
    return str(value).replace("_", " ").replace("-", " ") if value is not None else ""
