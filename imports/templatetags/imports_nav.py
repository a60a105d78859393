"""`user|may_import`: whether the navigation offers the CSV import page (imports.views.PERMISSIONS)."""

from django import template

from imports.views import may_import as _may_import

register = template.Library()


@register.filter
def may_import(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and _may_import(user)
