"""Readiness checks for /readyz: the database, the cache and the broker, each bounded in time.

Each returns "ok", a word saying it is not in use ("local", "in-process"), or "down".
"""

import logging

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connection

from config.celery import app

log = logging.getLogger(__name__)

DOWN = "down"


def database():
    """Bounded by the pool's DATABASE_POOL_TIMEOUT and the connect timeout (settings)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        log.warning("Readiness: the database is down: %s", exc)
        return DOWN
    return "ok"


def cache():
    """Bounded by CACHE_SOCKET_TIMEOUT per call; "local" when no shared cache is configured."""
    if not settings.CACHE_URL:
        return "local"
    try:
        shared = caches["default"]
        shared.set("readyz", 1, timeout=10)
        if shared.get("readyz") != 1:
            return DOWN
    except Exception as exc:  # the cache backends' errors have no common base class
        log.warning("Readiness: the cache is down: %s", exc)
        return DOWN
    return "ok"


def broker():
    """Bounded by TASK_PUBLISH_TRANSPORT_OPTIONS; "in-process" when tasks run eagerly."""
    if app.conf.task_always_eager:
        return "in-process"
    try:
        with app.connection_for_write(transport_options=settings.TASK_PUBLISH_TRANSPORT_OPTIONS) as conn:
            conn.ensure_connection(max_retries=0)
            conn.default_channel  # noqa: B018 - opening the channel asks the broker
    except Exception as exc:  # the transports' errors have no common base class
        log.warning("Readiness: the broker is down: %s", exc)
        return DOWN
    return "ok"


def readiness():
    """(HTTP status, report). 503 only without the database: with the cache or the broker down
    the site still serves and stores contributions (degraded), so it stays in rotation."""
    report = {"database": database(), "cache": cache(), "broker": broker()}
    down = [name for name, state in report.items() if state == DOWN]
    if "database" in down:
        return 503, {"status": "unavailable", **report, "down": down}
    return 200, {"status": "degraded" if down else "ok", **report, "down": down}
