"""The Celery application; tasks are discovered from the Django apps."""

import logging
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")

app = Celery("leadscoring")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_send(task, *args, what: str) -> bool:
    """Send `task` with `args` now, without the broker's own retries. A broker that is down is
    logged as `what` and answered False, never raised: every caller has a sweep that sends
    what was not sent, and a request must not fail because a queue is away."""
    try:
        task.apply_async(args=list(args), retry=False)
    except Exception as exc:  # the broker's own errors vary by transport
        logging.getLogger(__name__).warning("%s not queued: %s", what, exc)
        return False
    return True
