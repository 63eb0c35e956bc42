from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from repository.models import DatasetSnapshot
from repository.services import SnapshotInProgress, dataset_snapshot_create


class Command(BaseCommand):
    help = (
        "Write the published dataset now, as the nightly task does: CSV in the AIAAIC sheet's "
        "2024 layout and JSON incident documents, in EXPORT_DIR, keeping the newest EXPORT_KEEP "
        "of each. Prints each file's name, size and SHA-256."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-none",
            action="store_true",
            help="Write only if there is no snapshot yet (the quick start's first one).",
        )

    def handle(self, *args, verbosity, if_none=False, **options):
        if if_none and DatasetSnapshot.objects.exists():
            self.stdout.write("A dataset snapshot exists already: /export/ offers it.")
            return
        self.stdout.write(f"Writing the dataset to {settings.EXPORT_DIR} …")
        step = 500

        def progress(done):
            if verbosity and done % step == 0:
                self.stdout.write(f"  {done:,} incidents")

        try:
            rows, removed = dataset_snapshot_create(progress=progress)
        except OSError as exc:
            raise CommandError(f"Could not write the snapshot: {exc}") from None
        except SnapshotInProgress as exc:
            raise CommandError(str(exc)) from None
        for row in rows:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{row.file_name}: {row.incident_count:,} incidents, {row.size:,} bytes, "
                    f"sha256 {row.sha256}"
                )
            )
        if removed:
            self.stdout.write(f"Removed {len(removed)} older file(s): {', '.join(removed)}")
