"""Error pages that work whatever is broken: no database, no cache, no request body.

They render without the request context (no context processors, which read the database)
and never read the request body (Django's own 400 view re-runs the CSRF check, which reads
it and fails again on the same bad body).
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


def _page(template, status, **context):
    return HttpResponse(loader.render_to_string(template, context), status=status)


def bad_request(request, exception=None, reason=""):
    return _page("400.html", 400, reason=reason)


def payload_too_large(request):
    from django.conf import settings

    return _page("413.html", 413, limit_kb=settings.REQUEST_MAX_BYTES // 1024)


def database_unavailable(request):
    response = _page("503.html", 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request):
    """handler500: a 503 'try again' when the database could not be reached, else the 500 page.

    Django calls it while handling the exception (sys.exc_info() is that exception), from
    wherever it was raised: a view, a middleware, a template, the session save.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable(request)
    return _page("500.html", 500)
