"""The Celery application; tasks are discovered from the Django apps."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")

app = Celery("leadscoring")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
