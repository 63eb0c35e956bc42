"""The Celery app (`celery -A config worker`, `celery -A config beat`) and safe queueing."""

import logging
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("airepo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The id of the request that queued a task is in the task's log lines (config/observability.py).
from config.observability import celery_connect  # noqa: E402

celery_connect()

log = logging.getLogger(__name__)

BROKER_BACKOFF_SECONDS = 10.0  # after a failed publish, this process does not try again for this long


def enqueue_many(task, calls):
    """Hand tasks to the broker (`calls` is a list of argument tuples); how many it took.

    Publishing uses a connection of its own with short timeouts (TASK_PUBLISH_TRANSPORT_OPTIONS),
    so a broker that refuses, or accepts and never answers, costs a request well under a
    second, and only once: after a failure this process skips the broker for a few seconds.
    A broker that is down is logged, never the caller's failure: what must not be lost is in
    the database first and re-queued by a periodic task. Without a broker, tasks run here.
    """
    from django.conf import settings

    from config import backoff

    calls = list(calls)
    if app.conf.task_always_eager:
        for args in calls:
            task.apply_async(args=args)
        return len(calls)
    broker = backoff.for_url(app.conf.broker_url)  # shared with the cache when it is the same Redis
    if not broker.available():
        return 0
    taken = 0
    try:
        with app.connection_for_write(transport_options=settings.TASK_PUBLISH_TRANSPORT_OPTIONS) as conn:
            for args in calls:
                task.apply_async(args=args, connection=conn, **settings.TASK_PUBLISH_OPTIONS)
                taken += 1
    except Exception as exc:  # the transports' errors have no common base class
        broker.failed(BROKER_BACKOFF_SECONDS)
        log.warning("Could not queue %s (%d of %d queued): %s", task.name, taken, len(calls), exc)
    return taken


def enqueue(task, *args):
    """`enqueue_many` for one call: whether the broker took it."""
    return enqueue_many(task, [args]) == 1


def broker_backoff_reset():
    """Forget a failed publish (for tests that bring the broker back)."""
    from config import backoff

    backoff.reset_all()
