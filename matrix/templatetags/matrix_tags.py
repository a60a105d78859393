from django import template

register = template.Library()


@register.filter
def person(user) -> str:
    """A user as people read it: full name, else login; nobody (a command, a seed) is "the system"."""
    if user is None:
        return "the system"
    return user.get_full_name() or user.get_username()


@register.filter
def fields(form, names: str) -> list:
    """The bound fields of `form` named in `names` (separated by spaces), in that order."""
    return [form[name] for name in names.split()]
