"""The Celery application; tasks are discovered from the Django apps' `tasks` modules."""

import logging
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")

app = Celery("leadscoring")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_send(name: str, *args, what: str) -> bool:
    """Send the task registered as `name` with `args` now, without the broker's own retries.

    By name, so that no service imports a tasks module (each imports the services it calls).
    Either way the message goes to the task's queue (CELERY_TASK_ROUTES are by name). A broker
    that is down is logged as `what` and answered False, never raised: every caller has a sweep
    that sends what was not sent, and a request must not fail because a queue is away."""
    task = app.tasks.get(name)
    if task is None and app.conf.task_always_eager:
        # Eager mode (CELERY_TASK_ALWAYS_EAGER) runs the task in this process: load its code,
        # which send_task would not, and would hand the message to a broker instead.
        app.loader.import_default_modules()
        task = app.tasks.get(name)
    try:
        if task is not None:
            # Loaded here (a worker, a test): the task's own options and the eager mode apply.
            task.apply_async(args=list(args), retry=False)
        else:
            # A web request or a command sends without loading the tasks modules: their import
            # would delay the message, and a row waits unsent for a sweep meanwhile.
            app.send_task(name, args=list(args), retry=False)
    except Exception as exc:  # the broker's own errors vary by transport
        logging.getLogger(__name__).warning("%s not queued: %s", what, exc)
        return False
    return True
