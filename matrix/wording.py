"""How rules and points read in sentences, on the matrix pages and the lead page."""

import math
from decimal import Decimal

from engine.conditions import describe
from engine.document import Criterion, DecayRule

MINUS = "\u2212"


KIND_WORDS = {
    "page_view": "web visit",
    "pricing_view": "pricing view",
    "email_open": "e-mail open",
    "email_click": "e-mail click",
    "email_sent": "e-mail sent",
    "form_submit": "form submission",
    "webinar_attended": "webinar attended",
    "content_download": "content download",
    "demo_request": "demo request",
    "contact_sales": "contact-sales request",
    "social_engagement": "social engagement",
    "unsubscribe": "unsubscribe",
}


def kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, kind.replace("_", " "))


def kinds_words(kinds) -> str:
    if not kinds:
        return "activity"
    return " or ".join(kind_words(k) for k in kinds)


def signed(value) -> str:
    """+20, −20, 0, +12.5, +126.91: the one format of points and scores on every page (at most two
    decimals, trailing zeros dropped, thousands separated, a real minus sign)."""
    number = Decimal(str(value))
    text = f"{abs(number):,.2f}".rstrip("0").rstrip(".")
    if number > 0 and text != "0":
        return "+" + text
    return MINUS + text if number < 0 and text != "0" else "0"


def plain(value) -> str:
    """A score or an amount as `signed` writes it, without the plus sign: 63, −5, 12.5, 4,763,902,000."""
    return signed(value).lstrip("+")


def with_article(words: str) -> str:
    """ "a web visit", "an e-mail sent", "an unsubscribe": the article goes by the first sound."""
    return f"an {words}" if words[:1].lower() in "aeiou" else f"a {words}"


def days_words(days: float) -> str:
    whole = math.floor(days)
    return f"{whole} day" if whole == 1 else f"{whole} days"


def criterion_words(criterion: Criterion, points: Decimal, events: int) -> str:
    if criterion.is_fit:
        return f"{criterion.label}: {signed(points)}"
    times = "1 event" if events == 1 else f"{events} events"
    return f"{criterion.label} ({times}): {signed(points)}"


def decay_words(rule: DecayRule, points: Decimal, idle_days: dict[str, float]) -> tuple[str, str]:
    """The decay a lead got in words (`no activity for 64 days: −20`), and the rule that gave it:
    the rule's sentence on the matrix pages (`decay_rule_words`), referring back to what is missing."""
    amount = signed(points)
    if rule.type == "unanswered":
        sends, answers = kinds_words(rule.events), kinds_words(rule.responses)
        words = f"{sends} unanswered for {rule.after_days}+ days (no {answers} with the same {rule.match_property})"
        return f"{words}: {amount}", f"{signed(rule.points)} for each unanswered send in the lookback"
    days = idle_days.get(rule.key, 0.0)
    words = f"no {kinds_words(rule.events)} for {days_words(days)}"
    steps = math.floor(days / rule.every_days) if rule.type == "inactivity_step" else 1
    full = abs(rule.points) * steps
    detail = decay_rule_words(rule, points=signed(rule.points), missing="it")
    if abs(points) < full:
        detail += f"; limited to {signed(points)}: decay never takes engagement below the floor"
    return f"{words}: {amount}", detail


def cap_words(criterion: Criterion) -> str:
    per = f" per {criterion.cap_window_days} days" if criterion.cap_window_days else " in all"
    times = "1 event" if criterion.cap == 1 else f"{criterion.cap} events"
    return f"{criterion.label} counts at most {times}{per} (the most recent)"


def decay_rule_words(rule: DecayRule, *, points: str | None = None, missing: str | None = None) -> str:
    """A decay rule as a sentence, e.g. "−5 points for every 30 days without any event".

    `points` and `missing` replace the amount and what the lead went without (default: the
    rule's points, and its event kinds or "any event"): the lead page's explanation, having
    named what is missing, says "−5 for every 30 days without it".
    """
    events = ", ".join(rule.events) if rule.events else "any event"
    points = f"{signed(rule.points)} points" if points is None else points
    if rule.type == "inactivity_step":
        return f"{points} for every {rule.every_days} days without {missing or events}"
    if rule.type == "inactivity_once":
        return f"{points} once after {rule.after_days} days without {missing or events}"
    return (
        f"{points} when {events} gets no {', '.join(rule.responses)} "
        f"(matched on {rule.match_property}) within {rule.after_days} days"
    )


def criterion_row(c) -> dict:
    """A criterion with its condition in words, for the matrix tables."""
    if c.is_fit:
        condition = describe(c.when)
    else:
        condition = f"event {', '.join(c.events)}" + (f" where {describe(c.where)}" if c.where else "")
    return {"criterion": c, "condition": condition}
