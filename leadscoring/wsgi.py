"""WSGI entry point for gunicorn (and `manage.py runserver`, which loads the same application)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")
application = get_wsgi_application()

from leadscoring.checks import require_secret_key  # noqa: E402  (after Django is set up)

# Refused here, before the first request: a server that starts would only fail later, request by request.
require_secret_key()
