"""The site's error pages also when DEBUG is on (the demo runs with DEBUG=1).

With DEBUG on, Django answers a 404 with its technical page, which lists every URL pattern of
the site, and an uncaught exception with its traceback page. The demo is shown to users, so
this middleware answers both with the site's own pages (leadscoring/views.py) unless
FRIENDLY_ERROR_PAGES is turned off for a developer who wants Django's debug pages. With DEBUG
off it does nothing: Django calls the handlers of leadscoring/urls.py itself.
"""

import logging
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.signals import got_request_exception
from django.http import Http404
from django.urls import Resolver404, get_resolver

from leadscoring import views

log = logging.getLogger("django.request")


class FriendlyErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def _active(self) -> bool:
        return settings.DEBUG and getattr(settings, "FRIENDLY_ERROR_PAGES", True)

    def __call__(self, request):
        if self._active():
            # An address that matches no pattern never reaches a view (nor process_exception):
            # resolve it here, the way the handler will, and answer the 404 ourselves.
            try:
                get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
            except Resolver404 as exc:
                response = self.get_response_for_unmatched(request, exc)
                if response is not None:
                    return response
        return self.get_response(request)

    def get_response_for_unmatched(self, request, exc):
        # With APPEND_SLASH, "/leads" must still redirect to "/leads/": let CommonMiddleware
        # (which runs before us) see the 404 and decide; only a true miss gets our page.
        if settings.APPEND_SLASH and not request.path_info.endswith("/"):
            try:
                get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info + "/")
                return None
            except Resolver404:
                pass
        return views.page_not_found(request, exc)

    def process_exception(self, request, exception):
        if not self._active():
            return None
        if isinstance(exception, Http404):
            return views.page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return None  # Django calls handler403 whatever DEBUG says
        # What Django does for an uncaught exception (log it with its traceback, tell the
        # listeners: the test client re-raises it), then the friendly page instead of the trace.
        log.error("Internal Server Error: %s", request.path, exc_info=sys.exc_info(), extra={"status_code": 500})
        got_request_exception.send(sender=None, request=request)
        return views.server_error(request)
