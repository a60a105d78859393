"""Login throttling on django-axes: failed logins are limited per (username, IP) and, higher, per IP.

Axes counts every failure that goes through `django.contrib.auth.authenticate` with a request:
the login page and the admin's login alike. Token-authenticated API calls never authenticate with
a password, so they are not logins and are never counted or refused here (the API has its own
rate limits, leadscoring/api_limits.py).

- A username locks from one IP after `LOGIN_FAILURE_LIMIT` failures, so a typo-prone user at
  one address does not lock the same user elsewhere, and an attacker cannot lock a user out of
  every address.
- An IP locks after `LOGIN_FAILURE_LIMIT_PER_IP` failures over any usernames (password
  spraying), a limit high enough for an office behind one address.
- A lock lasts `AXES_COOLOFF_TIME` from the failure that set it; attempts during the lock are
  refused without being counted, so the page can say when to try again. Failures are counted
  while they come less than that apart; a successful login clears its username's count at that IP.
"""

from datetime import datetime

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.shortcuts import render
from django.utils import timezone


def _failures(request, **match) -> tuple[int, datetime | None]:
    """Failures still counted for these parameters, and when the last one happened."""
    totals = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request), **match).aggregate(
        failures=Sum("failures_since_start"), last=Max("attempt_time")
    )
    return totals["failures"] or 0, totals["last"]


def _locks(request, credentials) -> list[datetime]:
    """The end of each lock that applies to this attempt (none: the attempt may go ahead)."""
    ip = request.axes_ip_address
    cool_off = get_cool_off(request)
    ends = []
    failures, last = _failures(request, username=get_client_username(request, credentials), ip_address=ip)
    if failures >= get_failure_limit(request, credentials):
        ends.append(last + cool_off)
    failures, last = _failures(request, ip_address=ip)
    if failures >= settings.LOGIN_FAILURE_LIMIT_PER_IP:
        ends.append(last + cool_off)
    return ends


class LoginLimitHandler(AxesDatabaseHandler):
    """Axes' database handler (SQLite and Postgres alike) with a second, per-IP limit."""

    def get_failures(self, request, credentials=None) -> int:
        # Axes compares this one number with AXES_FAILURE_LIMIT (per username and IP): an IP past
        # its own limit answers the limit, so it is locked whatever the username.
        failures, _ = _failures(
            request, username=get_client_username(request, credentials), ip_address=request.axes_ip_address
        )
        ip_failures, _ = _failures(request, ip_address=request.axes_ip_address)
        if ip_failures >= settings.LOGIN_FAILURE_LIMIT_PER_IP:
            return max(failures, get_failure_limit(request, credentials))
        return failures


def login_locked_out(request, original_response=None, credentials=None):
    """The page a locked-out login gets (AXES_LOCKOUT_CALLABLE): 429, when to try again, Retry-After."""
    now = timezone.now()
    until = max(_locks(request, credentials), default=now + get_cool_off(request))
    seconds = max(1, int((until - now).total_seconds()) + 1)
    context = {"until": until, "minutes": -(-seconds // 60)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def client_ip(request) -> str:
    """The address a login is counted against (AXES_CLIENT_IP_CALLABLE).

    REMOTE_ADDR, or behind `LOGIN_TRUSTED_PROXIES` reverse proxies the address the outermost one
    was called from: each proxy appends that to X-Forwarded-For, so it is the n-th entry from the
    right, and whatever the client itself wrote to the left of it is ignored.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.LOGIN_TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    return hops[-proxies] if len(hops) >= proxies else remote
