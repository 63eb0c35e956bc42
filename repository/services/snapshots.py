"""Dataset snapshots: writing the published incidents to files, keeping the newest few."""

import itertools
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .. import freshness
from ..models import DatasetSnapshot

SNAPSHOT_LOCK = "dataset-snapshot:writing"
SNAPSHOT_LOCK_SECONDS = 30 * 60  # outlives a writer that died, not a long wait


class SnapshotInProgress(Exception):
    """Another process is writing a snapshot at this moment."""


def dataset_snapshot_create(*, progress=None):
    """Write the published dataset as CSV and JSON in EXPORT_DIR, record both files, and keep
    only the newest EXPORT_KEEP of each format. Returns ([DatasetSnapshot], [removed names]).

    One writer at a time (a lock in the shared cache): raises SnapshotInProgress otherwise.
    """
    if not cache.add(SNAPSHOT_LOCK, 1, timeout=SNAPSHOT_LOCK_SECONDS):
        raise SnapshotInProgress("Another snapshot is being written; try again when it is done.")
    try:
        return _dataset_snapshot_write(progress)
    finally:
        cache.delete(SNAPSHOT_LOCK)


def _dataset_snapshot_write(progress):
    from .. import snapshots

    created_at = timezone.now()
    stem = base = f"{snapshots.FILE_PREFIX}{created_at:%Y%m%d-%H%M%S}"
    for n in itertools.count(2):
        names = [f"{stem}.{format}" for format in DatasetSnapshot.Format.values]
        exists = any(snapshots.snapshot_path(name).exists() for name in names)
        if not exists and not DatasetSnapshot.objects.filter(file_name__in=names).exists():
            break
        stem = f"{base}-{n}"
    title = f"{settings.SITE_NAME}: published incidents, {created_at:%Y-%m-%d %H:%M} UTC"
    written, count = snapshots.write_dataset(stem=stem, title=title, progress=progress)
    try:
        with transaction.atomic():
            rows = [
                DatasetSnapshot.objects.create(
                    format=file.format,
                    file_name=file.file_name,
                    created_at=created_at,
                    size=file.size,
                    sha256=file.sha256,
                    incident_count=count,
                )
                for file in written
            ]
            freshness.changed(freshness.SNAPSHOTS)
    except Exception:
        for file in written:
            snapshots.snapshot_path(file.file_name).unlink(missing_ok=True)
        raise
    removed = dataset_snapshots_prune(keep=settings.EXPORT_KEEP)
    return rows, removed


def dataset_snapshots_prune(*, keep):
    """Delete all but the newest `keep` snapshots of each format: rows, then their files once
    the deletion is committed, and temporary files left by a write that died a day ago."""
    from .. import snapshots

    old = []
    for format in DatasetSnapshot.Format.values:
        old += DatasetSnapshot.objects.filter(format=format).order_by("-created_at", "-id")[keep:]
    names = [snapshot.file_name for snapshot in old]

    def remove_files():
        for name in names:
            snapshots.snapshot_path(name).unlink(missing_ok=True)
        directory = Path(settings.EXPORT_DIR)
        if directory.is_dir():
            stale = time.time() - 24 * 3600
            for path in directory.glob(f"{snapshots.TEMP_PREFIX}*{snapshots.TEMP_SUFFIX}"):
                if path.stat().st_mtime < stale:
                    path.unlink(missing_ok=True)

    with transaction.atomic():
        DatasetSnapshot.objects.filter(pk__in=[snapshot.pk for snapshot in old]).delete()
        if old:
            freshness.changed(freshness.SNAPSHOTS)
        transaction.on_commit(remove_files, robust=True)  # a file that will not go is logged
    return names
