"""Filter presets of the leads page: two built in for everyone, and each user's saved ones.

A preset is the query string of the list page (filters, sort, page size) without the page number
or an export request, so opening it shows its first page. Saving under an existing name of the
same user replaces that preset.
"""

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from django.db import transaction

from engine.fields import HOT
from scoring.models import SavedFilter

# Never part of a preset: where the user was in the list, or a download.
TRANSIENT_PARAMS = {"page", "_export", "csrfmiddlewaretoken"}
NAME_MAX = 100
QUERY_MAX = 2000


class SavedFilterError(ValueError):
    """A preset that cannot be saved as asked (no name, a query string too long)."""


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    querystring: str


# "Me" is resolved per request (LeadFilterSet's owner=me), "this week" is the last 7 days.
BUILTIN_PRESETS = (
    Preset("my-hot-leads", "My hot leads", f"owner=me&tier={HOT}"),
    Preset("new-mqls-this-week", "New MQLs this week", "mql_days=7"),
)


def querystring_clean(querystring: str) -> str:
    """The query string without transient parameters or empty values, in its given order."""
    pairs = [(k, v) for k, v in parse_qsl(querystring.lstrip("?"), keep_blank_values=True)]
    return urlencode([(k, v) for k, v in pairs if k not in TRANSIENT_PARAMS and v != ""])


def saved_filters_for(*, user) -> list[SavedFilter]:
    return list(SavedFilter.objects.filter(user=user).order_by("name", "id"))


@transaction.atomic
def saved_filter_save(*, user, name: str, querystring: str) -> SavedFilter:
    """Save the list's current filters under `name` for `user` (replacing a preset of that name)."""
    name = " ".join((name or "").split())
    if not name:
        raise SavedFilterError("give the preset a name")
    if len(name) > NAME_MAX:
        raise SavedFilterError(f"a preset name has at most {NAME_MAX} characters")
    querystring = querystring_clean(querystring or "")
    if len(querystring) > QUERY_MAX:
        raise SavedFilterError(f"these filters are too long to save (more than {QUERY_MAX} characters)")
    saved, _ = SavedFilter.objects.update_or_create(user=user, name=name, defaults={"querystring": querystring})
    return saved


def saved_filter_delete(*, user, pk: int) -> bool:
    """Delete one of `user`'s presets; False if they have none with that id."""
    deleted, _ = SavedFilter.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)
