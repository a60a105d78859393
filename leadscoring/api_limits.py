"""Request limits and throttles of the API, named in settings.REST_FRAMEWORK.

Kept apart from leadscoring/api.py: DRF reads these settings while defining APIView, so this
module must not import rest_framework.views itself.
"""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
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
    and on the bytes actually read otherwise. NaN and Infinity are refused (strict JSON), and so
    is a document nested deeper than MAX_BODY_DEPTH (Python's parser would overflow its stack on
    100,000 brackets, and every later reader of such a value would too). Values JSON allows but
    the database does not (NUL, unpaired surrogates, 1e309) are left to the checks of each field
    (leads/rows.py), so that one bad event in a batch is refused with its index, not the batch.
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
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_BODY_DEPTH} levels") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if nested_deeper_than(data, MAX_BODY_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_BODY_DEPTH} levels")
        return data


# The deepest body the API reads: a model document's conditions nest a few levels, an event's
# properties at most leads.rows.MAX_JSON_DEPTH (32) below the batch's list and the event object.
MAX_BODY_DEPTH = 64


def nested_deeper_than(value, limit: int) -> bool:
    """Whether a parsed JSON value nests lists/objects more than `limit` deep (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


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


# --- Error answers ---------------------------------------------------------------------------------


class ErrorBody(APIException):
    """An error answered with exactly this body (DRF would turn every value into a string: `"valid": "False"`)."""

    def __init__(self, body: dict, status_code: int = status.HTTP_400_BAD_REQUEST):
        super().__init__(body.get("errors"))
        self.body = body
        self.status_code = status_code


def exception_handler(exc, context):
    """DRF's handler, with one body shape for every error: `{"errors": ["field: reason", ...]}`.

    A validation error keyed by field becomes one line per problem; any other error keeps DRF's
    `detail` and gets it in `errors` too, so a client reads `errors` whatever went wrong. Django's
    "body too big" (raised when DRF reads request.body) becomes a clear 413.
    """
    # Here, not at the top: rest_framework.views reads REST_FRAMEWORK's classes, this module's
    # among them, when it is first imported.
    from rest_framework.response import Response
    from rest_framework.views import exception_handler as drf_handler

    if isinstance(exc, ErrorBody):
        return Response(exc.body, status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        request = context.get("request")
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else None
        except ValueError:
            size = None
        exc = RequestTooLarge(too_large_message(size or None, settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
    response = drf_handler(exc, context)
    if response is not None:
        response.data = error_body(response.data, prefix="body: " if isinstance(exc, ParseError) else "")
    return response


def error_body(data, prefix: str = "") -> dict:
    """DRF's error data in the API's shape (see exception_handler)."""
    if isinstance(data, dict) and "errors" in data:
        return data
    if isinstance(data, dict) and set(data) == {"detail"}:
        detail = _printable(data["detail"])
        return {"errors": [f"{prefix}{detail}"], "detail": detail}
    return {"errors": [_printable(line) for line in _error_lines(data, "")]}


def _printable(text) -> str:
    # A message may quote the input; an unpaired surrogate in it would break the UTF-8 rendering.
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def _error_lines(data, path: str):
    if isinstance(data, dict):
        for key, value in data.items():
            name = "" if key == "non_field_errors" else str(key)
            yield from _error_lines(value, f"{path}.{name}" if path and name else path or name)
    elif isinstance(data, list):
        nested = any(isinstance(item, (dict, list)) for item in data)
        for index, item in enumerate(data):
            yield from _error_lines(item, f"{path}[{index}]" if nested else path)
    else:
        yield f"{path}: {data}" if path else str(data)
