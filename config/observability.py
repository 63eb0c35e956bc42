"""Request ids in every log line (web and Celery), JSON logs on request, errors to Sentry.

- Each web request has an id: the `X-Request-ID` nginx sets (`$request_id`), believed only from
  a trusted proxy (config/clientip.py: TRUSTED_PROXY_NETWORKS or TRUSTED_PROXIES), else a new
  one. It is in every log line written while the request runs and in the response's
  `X-Request-ID`, so a reader's complaint, nginx's access log and the site's log meet.
- A task queued during a request carries the request's id; its log lines show it (a task run
  by beat shows its own task id).
- LOG_FORMAT=json writes one JSON object per line (time, level, logger, message, request_id,
  and the traceback when there is one) for a log collector; `text` (the default) a plain line.
- SENTRY_DSN (any Sentry-compatible service) sends unhandled errors there, with the request id
  as a tag; without it nothing is loaded.
"""

import contextvars
import json
import logging
import re
import time
import uuid

from .clientip import peer_is_trusted

request_id_var = contextvars.ContextVar("request_id", default="-")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = "X-Request-ID"


def new_id():
    return uuid.uuid4().hex


def request_id_from(request):
    """The proxy's id when it is a trusted proxy and the id looks like one; else a new one."""
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    if given and _VALID_ID.match(given) and peer_is_trusted(request):
        return given
    return new_id()


class RequestIdFilter(logging.Filter):
    """Puts the current request's (or task's) id on every record as `request_id`."""

    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    converter = time.gmtime  # times in UTC, marked Z

    def format(self, record):
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def sentry_init(dsn, *, environment, release):
    """Report errors to a Sentry-compatible service (sentry-sdk, loaded only when asked)."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,  # no cookies, addresses or form contents: contributors' privacy
        traces_sample_rate=0,
    )


class RequestIdMiddleware:
    """The request's id for its log lines and its response (the outermost middleware)."""

    def __init__(self, get_response):
        request_finished_connect()
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request)
        # Kept until the response is closed (request_finished), so that Django's own lines
        # about the response ("Not Found: …", logged after the middleware) carry it too.
        request_id_var.set(request.request_id)
        response = self.get_response(request)
        response[HEADER] = request.request_id
        return response


def _request_finished(**kwargs):
    request_id_var.set("-")


def request_finished_connect():
    from django.core.signals import request_finished

    request_finished.connect(_request_finished, dispatch_uid="config.observability.request_finished")


# --- Celery: the request's id travels with the task it queued.


def _publish_with_request_id(headers=None, **kwargs):
    if headers is not None and request_id_var.get() != "-":
        headers.setdefault("request_id", request_id_var.get())


def _task_started(task_id=None, task=None, **kwargs):
    given = getattr(task.request, "request_id", None) if task is not None else None
    if given is None and task is not None:
        given = (getattr(task.request, "headers", None) or {}).get("request_id")
    request_id_var.set(given or task_id or new_id())


def _task_finished(**kwargs):
    request_id_var.set("-")


def celery_connect():
    from celery import signals

    signals.before_task_publish.connect(_publish_with_request_id, weak=False)
    signals.task_prerun.connect(_task_started, weak=False)
    signals.task_postrun.connect(_task_finished, weak=False)
