"""One shape for every API error, so that a client reads all of them the same way:

    {"error": {"status": 404, "code": "not_found", "message": "…", "fields": {…}}}

`status` repeats the HTTP status; `code` is a stable word (`invalid`, `invalid_cursor`,
`not_found`, `method_not_allowed`, `throttled`, `not_acceptable`, `server_error`); `message`
is for people and may change; `fields` (400 only) maps each query parameter that was refused
to its messages. A 429 carries `Retry-After` (seconds) and `retry_after` in the body.
"""

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

MESSAGES = {
    400: "Some parameters are not valid.",
    404: "Nothing is published at this address.",
    405: "This API only reads: use GET, HEAD or OPTIONS.",
    406: "This API answers in JSON only.",
    429: "Too many requests from this address; try again after the time in Retry-After.",
}


def error_body(status_code, code, message, fields=None, **extra):
    error = {"status": status_code, "code": code, "message": message}
    if fields:
        error["fields"] = fields
    error.update(extra)
    return {"error": error}


def _fields(detail):
    """DRF's detail of a ValidationError as {parameter: [messages]}."""
    if isinstance(detail, dict):
        return {
            str(name): [str(item) for item in (value if isinstance(value, list) else [value])]
            for name, value in detail.items()
        }
    items = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(item) for item in items]}


def _code(exc, status_code):
    if status_code == 404:
        return "not_found"  # Http404 as well as NotFound
    return getattr(exc, "default_code", "error")


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling (logged, no detail shown)
    detail = getattr(exc, "detail", None)
    code = _code(exc, response.status_code)
    fields = None
    extra = {}
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(detail)
        message = MESSAGES[400]
    elif isinstance(exc, exceptions.Throttled):
        message = MESSAGES[429]
        extra["retry_after"] = int(response.get("Retry-After", 1))
    else:
        message = MESSAGES.get(response.status_code) or str(detail or "")
    response.data = error_body(response.status_code, code, message, fields, **extra)
    return response


def not_found(request, *args, **kwargs):
    """Any address under /api/ that names nothing: the same JSON body as the API's own 404s
    (an address that only lacks its final slash is redirected, as elsewhere on the site)."""
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
    return JsonResponse(error_body(404, "not_found", MESSAGES[404]), status=status.HTTP_404_NOT_FOUND)
