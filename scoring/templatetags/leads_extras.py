from django import template

from matrix import wording

register = template.Library()


@register.filter(name="signed")
def signed_or_blank(value) -> str:
    """Points with their sign and a real minus (matrix.wording.signed): +20, −20, 0, +12.5; blank for none."""
    if value is None or value == "":
        return ""
    return wording.signed(value)


@register.filter(name="plain")
def plain_or_blank(value) -> str:
    """A score without a plus sign (matrix.wording.plain): 63, −5, 12.5; also a money-like amount,
    currency unknown: 4,763,902,000 or 12,500.5 (at most two decimals); blank for none."""
    if value is None or value == "":
        return ""
    return wording.plain(value)


# Amounts (annual revenue) read as scores do; the name says what a template shows.
register.filter("amount", plain_or_blank)


@register.filter
def words(value) -> str:
    """A stored key read as words: `budget_confirmed` -> "budget confirmed"."""
    return str(value).replace("_", " ").replace("-", " ") if value is not None else ""


def _fact_value(value) -> str:
    if value is True or value is False:
        return "yes" if value else "no"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return wording.plain(value)  # 8,000; 12.5; −3
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
