"""Handing background work to the broker once the transaction that asked for it commits."""

from django.db import transaction

from config.celery import enqueue_many


def enqueue_on_commit(task, ids):
    """One batch of tasks for these ids, handed to the broker after commit."""
    if ids:
        ids = list(ids)
        transaction.on_commit(lambda: enqueue_many(task, [(pk,) for pk in ids]))
