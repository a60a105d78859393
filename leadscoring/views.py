"""The start page and the site's error pages.

The error pages (403, 404, 500) are the site's own templates in the site layout, in production
(Django calls the `handler403/404/500` of leadscoring/urls.py) and in the demo too: with DEBUG on,
Django would answer a 404 with its debug page listing every URL pattern, so
`leadscoring.middleware.FriendlyErrorsMiddleware` renders these views instead (see
docs/rep-workspace.md, "Error pages").
"""

import logging

from django.http import HttpResponseForbidden, HttpResponseNotFound, HttpResponseServerError
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.reverse import reverse as api_reverse

from leadscoring.api import ApiView

log = logging.getLogger(__name__)


def _is_htmx(request) -> bool:
    return bool(getattr(request, "htmx", False)) or request.headers.get("HX-Request") == "true"


@requires_csrf_token
def permission_denied(request, exception=None):
    """403: what the user may not do and where to go; htmx asks get a fragment for the swap target."""
    template = "errors/_403.html" if _is_htmx(request) else "403.html"
    body = loader.render_to_string(template, {"reason": _reason(exception)}, request=request)
    return HttpResponseForbidden(body)


@requires_csrf_token
def page_not_found(request, exception=None):
    """404: nothing here, or nothing this user may see (ids of other reps' leads leak nothing)."""
    template = "errors/_404.html" if _is_htmx(request) else "404.html"
    body = loader.render_to_string(template, {"path": request.path}, request=request)
    return HttpResponseNotFound(body)


@requires_csrf_token
def server_error(request):
    """500: rendered without the request (no context processors, no database): whatever broke
    the page must not break its error page too."""
    try:
        body = loader.get_template("500.html").render({})
    except Exception:  # the template itself failed: still answer, in plain text
        log.exception("the 500 page could not be rendered")
        return HttpResponseServerError("Server error: something went wrong on our side.", content_type="text/plain")
    return HttpResponseServerError(body)


def _reason(exception) -> str:
    # A PermissionDenied raised with a message meant for the user (e.g. "only editors may ...");
    # Django's decorators raise it bare.
    text = str(exception or "").strip()
    return text if text and text != "None" else ""


class ApiRootView(ApiView):
    """Every endpoint of version 1 of the API, with a link to each.

    Authenticate with a token (header Authorization: Token <key>) or your session. The interactive
    documentation is at /api/docs/, the OpenAPI schema at /api/schema/.
    """

    # (The docstring is the browsable page's description, shown as plain text: no Markdown
    # backticks.) DRF's DefaultRouter would give a root
    # per router; the API has two routers (leads, matrix) and plain paths, so one view lists all.

    # The links are the same for every user; what each endpoint lets them do is its own business.
    ENDPOINTS = (
        ("leads", "leads-api:lead-list"),
        ("events", "leads-api:events"),
        ("models", "matrix-api:model-list"),
        ("models_validate", "matrix-api:validate"),
        ("jobs", "matrix-api:job-list"),
        ("schema", "api-schema"),
        ("docs", "api-docs"),
    )

    def get_view_name(self):
        return "Lead-scoring workbench API"

    @extend_schema(exclude=True)  # a list of links, not an operation integrators call
    def get(self, request, format=None):
        return Response({name: api_reverse(url_name, request=request) for name, url_name in self.ENDPOINTS})
