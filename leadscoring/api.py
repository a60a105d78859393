"""What every API view of the workbench shares: parsing limits, throttles, conditional requests.

The apps' `api/` packages build on these; docs/api.md describes the behaviour to integrators.
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ParseError, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet, ViewSet

from leadscoring.api_limits import ErrorBody  # noqa: F401  (the apps' views raise it from here)
from leadscoring.models import IdempotencyRecord

# --- Error answers in the schema ------------------------------------------------------------------


class ErrorsSerializer(serializers.Serializer):
    """The body of every error answer (leadscoring.api_limits.exception_handler)."""

    errors = serializers.ListField(child=serializers.CharField(), help_text='One line per problem: "field: reason".')
    detail = serializers.CharField(required=False, help_text="The same message, for errors that are not about a field.")


def username_field(source: str) -> serializers.CharField:
    """A read-only user foreign key (`source`) shown as the username, null where there is no user."""
    # A missing user makes "<source>.username" raise AttributeError, which allow_null turns into null.
    return serializers.CharField(source=f"{source}.username", allow_null=True, read_only=True)


# What any operation may answer besides its own responses; an operation that documents one of
# these codes itself (a 400 with another body, say) keeps its own.
ERROR_RESPONSES = {
    400: "The request broke these rules (one line per problem, naming the field).",
    401: "No valid token (or session): send `Authorization: Token <key>`.",
    403: "Your role does not allow this.",
    404: "No such object, or not one you may see; also a page number past the last page.",
    429: "Too many requests: retry after the seconds in the Retry-After header.",
}


class ApiSchema(AutoSchema):
    """drf-spectacular's schema, plus ERROR_RESPONSES on every operation, so no view repeats them.

    A request serializer with `unknown_keys_refused = True` (its view answers 400 to any other key)
    is described as closed (`additionalProperties: false`), so a client knows a typo is refused.
    """

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "unknown_keys_refused", False):
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in ERROR_RESPONSES.items():
            if str(code) not in responses:
                error = OpenApiResponse(ErrorsSerializer, description=description)
                responses[str(code)] = self._get_response_for_code(error, str(code), direction=direction)
        return responses


# --- Views open to token authentication ----------------------------------------------------------


class TokenFriendly:
    """Exempt a DRF view from LoginRequiredMiddleware: DRF authenticates (token or session) itself.

    The middleware runs before DRF and knows only sessions, so without this an integration
    sending `Authorization: Token ...` would be redirected to the login page. (Recent DRF
    releases mark their views so already; this keeps the API's contract explicit.)
    Every API view describes itself with ApiSchema.
    """

    schema = ApiSchema()

    @classmethod
    def as_view(cls, *args, **kwargs):
        view = super().as_view(*args, **kwargs)
        view.login_required = False
        return view


class ApiView(TokenFriendly, APIView):
    pass


class ApiViewSet(TokenFriendly, ViewSet):
    pass


class ApiGenericViewSet(TokenFriendly, GenericViewSet):
    pass


class ApiNotFoundView(ApiView):
    """A path under /api/ that names no endpoint: 404 in the API's error shape (Django's is HTML)."""

    schema = None  # not an operation

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication first: anonymous callers get 401
        raise NotFound(f"No API endpoint at {request.path!r}; the operations are listed at /api/schema/.")


def has_perms(*perms: str) -> type[BasePermission]:
    """A permission class requiring every Django permission named (e.g. "leads.add_event")."""

    class HasPerms(BasePermission):
        message = f"You need the permission{'s' if len(perms) > 1 else ''} {', '.join(perms)}."

        def has_permission(self, request, view):
            return bool(request.user and request.user.is_authenticated and request.user.has_perms(perms))

    HasPerms.__name__ = "Has_" + "_".join(p.replace(".", "_") for p in perms)
    return HasPerms


# --- Conditional requests (ETag / If-Match) --------------------------------------------------------


class PreconditionRequired(APIException):
    status_code = 428
    default_detail = "This request must carry an If-Match header with the ETag you read."
    default_code = "precondition_required"


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"


def etag_for(version) -> str:
    """The ETag of a model version: its number and revision (the revision moves on every edit)."""
    return f'"v{version.number}r{version.revision}"'


def if_match_revision(request, version) -> int:
    """The revision the client read, from If-Match; 428 without one, 412 if it is not the current one."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        raise PreconditionRequired()
    tags = [t.strip() for t in header.split(",") if t.strip()]
    current = etag_for(version)
    if current not in tags:  # strong comparison: a weak W/"..." tag never matches
        raise PreconditionFailed(
            f"The version changed since you read it (If-Match {header}, current ETag {current}): "
            "read it again and redo your change."
        )
    return version.revision


# --- Idempotency-Key ----------------------------------------------------------------------------


class IdempotencyConflict(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


class IdempotencyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."
    default_code = "idempotency_in_progress"


def body_hash(data) -> str:
    """Hash of the parsed body: the same JSON (key order and white space aside) hashes the same."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a body may carry an unpaired surrogate ("\ud800", refused later by the
    # row checks); the hash of every valid body stays what it was.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def idempotent(request, handler) -> Response:
    """Run `handler()` once per (user, Idempotency-Key); a replay gets the first response back.

    Without the header the handler simply runs. With it, the key is claimed first (a row with
    no response yet, committed), so a concurrent twin sees it and gets 409 instead of running
    too. A handler error releases the key, so the client may retry. Keys expire after
    IDEMPOTENCY_TTL_SECONDS.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return handler()
    key = key.strip()
    if not key or len(key) > 255:
        raise ParseError("Idempotency-Key: must be 1 to 255 characters.")
    user = request.user
    digest = body_hash(request.data)
    now = timezone.now()
    expired = now - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
    IdempotencyRecord.objects.filter(user=user, created_at__lt=expired).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user,
                key=key,
                method=request.method,
                path=request.path[:500],
                request_hash=digest,
                created_at=now,
            )
    except IntegrityError:
        first = IdempotencyRecord.objects.get(user=user, key=key)
        if first.request_hash != digest or first.method != request.method or first.path != request.path[:500]:
            raise IdempotencyConflict(
                f"Idempotency-Key {key!r} was already used with a different request "
                f"({first.method} {first.path} with another body); use a new key for a new request."
            ) from None
        if first.status_code is None:
            raise IdempotencyInProgress() from None
        response = Response(first.response, status=first.status_code)
        response["Idempotent-Replayed"] = "true"
        return response
    try:
        response = handler()
    except Exception:
        record.delete()
        raise
    if response.status_code >= 500:
        record.delete()
    else:
        IdempotencyRecord.objects.filter(pk=record.pk).update(status_code=response.status_code, response=response.data)
    return response


# --- Schema and docs pages ---------------------------------------------------------------------


class SchemaView(TokenFriendly, SpectacularAPIView):
    """The OpenAPI schema, for a session or a token (SERVE_PERMISSIONS: authenticated users)."""


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from the sidecar package, its init script served as a file (no inline script).

    A page for people: an anonymous visitor is sent to the login page (LoginRequiredMiddleware)
    rather than answered 401 as DRF would.
    """

    template_name = "api/swagger_ui.html"

    @classmethod
    def as_view(cls, *args, **kwargs):
        view = super().as_view(*args, **kwargs)
        view.login_required = True
        return view


class Conflict(ValidationError):
    """409: the request is well formed but the state of what it names does not allow it."""

    status_code = status.HTTP_409_CONFLICT
