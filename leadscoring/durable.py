"""Durable background work: a row holds the state of a piece of work, its task message only wakes a worker.

Rescore jobs, uploads, impact previews and webhook deliveries all keep their state on a row with a
`state` field and timestamps. A message may be lost (broker down when sent, a worker killed),
delivered twice (acks_late) or late, so the row decides: a worker claims it with a compare-and-set
UPDATE before doing anything, a failure is written on it once with its reason, and a sweep sends
again the rows that waited in a state for too long. What each kind of work does between those
steps is its own.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from leadscoring.celery import task_send

Rows = type[Model] | QuerySet


def _queryset(rows: Rows) -> QuerySet:
    return rows if isinstance(rows, QuerySet) else rows._default_manager.all()


def _states(states: str | Iterable[str]) -> list[str]:
    return [states] if isinstance(states, str) else list(states)


def claim(rows: Rows, pk: int, *, from_state: str | Iterable[str], to_state: str | None = None, **fields) -> bool:
    """Move row `pk` of `rows` (a model, or a queryset of the rows that may be claimed) from
    `from_state` to `to_state`, writing `fields`, in one conditional UPDATE. True for the one
    caller that moved it; False when it was in another state (another worker, a second delivery).
    Without `to_state` the row keeps its state (a worker taking over a lost one)."""
    if to_state is not None:
        fields["state"] = to_state
    return bool(_queryset(rows).filter(pk=pk, state__in=_states(from_state)).update(**fields))


def fail(rows: Rows, pk: int, *, from_state: str | Iterable[str], to_state: str, error: str, **fields) -> bool:
    """Claim row `pk` from `from_state` into its failed state `to_state` with the reason `error`,
    cut to the width of the model's `error` field. Only the first failure is written: a row no
    longer in `from_state` keeps the reason it has. True if this call wrote it."""
    width = _queryset(rows).model._meta.get_field("error").max_length
    return claim(rows, pk, from_state=from_state, to_state=to_state, error=error[:width] if width else error, **fields)


def enqueue(rows: Rows, pk: int, *, task: str, what: str, stamp: str | None = None) -> bool:
    """Send the registered task `task` with the row's id, now. When sent, the row's `stamp` field
    (if any) records when: a sweep measures from it how long the message has gone unanswered.
    A broker that is down is logged (`what` names the work) and answered False: the row keeps
    its state and a sweep, or asking again, sends it later."""
    if not task_send(task, pk, what=f"{what} {pk}"):
        return False
    if stamp:
        # By id alone: the worker may have claimed the row already, out of `rows`.
        _queryset(rows).model._default_manager.filter(pk=pk).update(**{stamp: timezone.now()})
    return True


def stale(rows: Rows, *, before: datetime, since: Mapping[str, str], unstamped: Iterable[str] = ()) -> QuerySet:
    """The rows that waited too long: in a state of `since` whose timestamp field (`since[state]`)
    is before `before`. In the states of `unstamped`, a row whose timestamp is empty (its message
    was never sent) is stale too."""
    unstamped = set(unstamped)
    waited = Q(pk__in=[])
    for state, field in since.items():
        old = Q(**{f"{field}__lt": before})
        if state in unstamped:
            old |= Q(**{f"{field}__isnull": True})
        waited |= Q(state=state) & old
    return _queryset(rows).filter(waited)


def resend_stale(rows: QuerySet, send: Callable[[int], bool], *, limit: int | None = None) -> list[int]:
    """Send again the work of each row of `rows` (the stale ones, see `stale`), the first `limit`
    of them if given, with `send(pk)` (the same as its first sending, usually `enqueue`). Sending
    twice is harmless, as the worker claims the row first. Returns the ids sent; the others
    (broker down) wait for the next sweep."""
    ids = rows.values_list("pk", flat=True)
    return [pk for pk in list(ids[:limit] if limit is not None else ids) if send(pk)]
