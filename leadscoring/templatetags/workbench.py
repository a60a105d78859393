from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

from leadscoring.roles import user_roles

register = template.Library()


@register.filter
def roles(user) -> list[str]:
    """The user's role names, sorted; kept on the user so a page asks the database once."""
    if not hasattr(user, "_role_names"):
        user._role_names = sorted(user_roles(user))
    return user._role_names


@register.filter
def tally(value) -> str:
    """A selectors.Tally with thousands separators, marked "≈" when it is an estimate."""
    text = intcomma(value.value)
    return text if value.exact else f"≈ {text}"
