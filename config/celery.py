"""The Celery app (`celery -A config worker`, `celery -A config beat`) and safe queueing."""

import logging
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("airepo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)


def enqueue(task, *args):
    """Hand a task to the broker with short timeouts (settings.TASK_PUBLISH_OPTIONS).

    A broker that is down is logged, never the caller's failure: what must not be lost is
    recorded in the database first and re-queued by a periodic task. Returns whether the
    broker took it. Without a broker the task runs here and now (eager).
    """
    from django.conf import settings

    try:
        task.apply_async(args=args, **settings.TASK_PUBLISH_OPTIONS)
    except Exception as exc:  # the transports' errors have no common base class
        log.warning("Could not queue %s%r: %s", task.name, args, exc)
        return False
    return True


def enqueue_on_commit(task, *args):
    """`enqueue` once the current transaction has committed."""
    from django.db import transaction

    transaction.on_commit(lambda: enqueue(task, *args))
