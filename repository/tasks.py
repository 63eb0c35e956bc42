"""Background work of the published record (Celery).

Each task takes ids, re-reads fresh rows, calls one service, and may run twice without
harm. Network errors are retried with exponential backoff and jitter; the last try records
the error instead. Without a broker (the quick start, the tests) tasks run eagerly, in
process, and do not retry: the first try is the last.
"""

from celery import shared_task

from . import services
from .fetching import FetchNetworkError
from .models import Reference, SourceMetadata

NETWORK_RETRIES = {
    "autoretry_for": (FetchNetworkError,),
    "retry_backoff": 60,  # seconds: 1, 2, 4, 8 minutes (with jitter)
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 4,
}


def _last_try(task):
    return task.request.is_eager or task.request.retries >= task.max_retries


@shared_task(bind=True, **NETWORK_RETRIES)
def reference_check(self, reference_id):
    """Check one reference's link (skipped when it was checked recently)."""
    reference = Reference.objects.filter(pk=reference_id).first()
    if reference is None:
        return  # removed by a publish since it was queued
    services.reference_check(reference=reference, final_attempt=_last_try(self))


@shared_task
def references_check_due():
    """Periodic (beat): queue the next batch of link checks."""
    return len(services.references_check_due())


@shared_task(bind=True, **NETWORK_RETRIES)
def source_metadata_fetch(self, metadata_id):
    """Fetch a source's title, publisher and date (nothing to do once fetched)."""
    row = SourceMetadata.objects.filter(pk=metadata_id).first()
    if row is None:
        return
    services.source_metadata_fetch(url=row.url, final_attempt=_last_try(self))


@shared_task
def source_metadata_requeue():
    """Periodic (beat): queue again the lookups the broker never took."""
    return len(services.source_metadata_requeue())


@shared_task
def dataset_snapshot_create():
    """Nightly (beat): write the dataset snapshots and prune the old ones."""
    try:
        rows, _removed = services.dataset_snapshot_create()
    except services.SnapshotInProgress:
        return []  # the other run writes tonight's snapshot
    return [row.file_name for row in rows]
