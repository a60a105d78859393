from django import template

register = template.Library()


@register.filter
def person(user) -> str:
    """A user as people read it: full name, else login; nobody (a command, a seed) is "the system"."""
    if user is None:
        return "the system"
    return user.get_full_name() or user.get_username()
