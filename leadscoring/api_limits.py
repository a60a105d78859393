"""Request limits and throttles of the API, named in settings.REST_FRAMEWORK.

Kept apart from leadscoring/api.py: DRF reads these settings while defining APIView, so this
module must not import rest_framework.views itself.
"""

import json

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle

# --- Request size ---------------------------------------------------------------------------------


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


class LimitedJSONParser(JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE bytes; larger ones get a 413 naming the limit.

    DRF's own parser reads the stream whole whatever its size (Django checks the limit only on
    `request.body` and form data), so the limit is enforced here: on Content-Length when given,
    and on the bytes actually read otherwise. NaN and Infinity are refused (strict JSON).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if request is not None and limit is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise RequestTooLarge(too_large_message(declared, limit))
        if stream is None:
            raise ParseError("The request body is empty: send a JSON document.")
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge(too_large_message(None, limit))
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - the body is not {encoding} text: {exc}") from None
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON (use null or a finite number)")


def too_large_message(size: int | None, limit: int) -> str:
    got = f"{size:,} bytes" if size is not None else "more"
    return (
        f"Request body too large: {got}; the limit is {limit:,} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE). "
        f"Send fewer items per request (at most {settings.API_MAX_BATCH} events)."
    )


# --- Throttles (rates read when used, so settings overrides apply) --------------------------------


class UserThrottle(UserRateThrottle):
    """A budget of requests per user (per token); anonymous requests never get this far."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class ScopedThrottle(ScopedRateThrottle):
    """A separate, tighter budget for the views that set `throttle_scope` (writes, event batches)."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


def exception_handler(exc, context):
    """DRF's handler, plus Django's "body too big" (raised when DRF reads request.body) as a clear 413."""
    from django.core.exceptions import RequestDataTooBig
    from rest_framework.views import exception_handler as drf_handler

    if isinstance(exc, RequestDataTooBig):
        request = context.get("request")
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else None
        except ValueError:
            size = None
        exc = RequestTooLarge(too_large_message(size or None, settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
    return drf_handler(exc, context)
