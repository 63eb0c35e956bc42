"""What the submissions app does when the published record says something happened."""

from django.db import transaction

from config.celery import enqueue

# Beyond this many incidents an import compares everything (one message, the same pairs).
INCREMENTAL_LIMIT = 5_000


def queue_duplicates_find(sender, incident_ids=(), **kwargs):
    """After an import commits, look for duplicates among the incidents it created or changed."""
    from . import tasks

    ids = sorted(set(incident_ids or ()))
    if not ids:
        return
    argument = ids if len(ids) <= INCREMENTAL_LIMIT else None
    # robust: finding duplicates must never undo or fail the import that asked for it.
    transaction.on_commit(lambda: enqueue(tasks.duplicates_find, argument), robust=True)
