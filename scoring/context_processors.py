from django.utils.functional import SimpleLazyObject

from scoring.alerts import alerts_unread_badge


def notifications(request):
    """The unread alert badge for the header ("", "7", "99+"), counted only when a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lines of the alerts page: a job's digest of many leads counts once.
    return {"unread_notifications": SimpleLazyObject(lambda: alerts_unread_badge(user=user))}
