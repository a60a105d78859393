from django.utils.functional import SimpleLazyObject

from scoring.alerts import alerts_unread_count


def notifications(request):
    """The unread alert count for the header, counted only when a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lines of the alerts page: a job's digest of many leads counts once.
    return {"unread_notifications": SimpleLazyObject(lambda: alerts_unread_count(user=user))}
