import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from repository.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the site: the database first (pg_dump's custom format on PostgreSQL, a consistent "
        "copy on SQLite), then the dataset snapshots of EXPORT_DIR, with a manifest of checksums. "
        "Writes a new directory under --to (default BACKUP_DIR) and prints its path."
    )

    def add_arguments(self, parser):
        parser.add_argument("--to", default=None, help="Where to write the backup (default: BACKUP_DIR).")

    def handle(self, *args, to, **options):
        started = time.monotonic()
        try:
            path, manifest = backup_create(destination=to or settings.BACKUP_DIR)
        except (BackupError, OSError) as exc:
            raise CommandError(f"Backup failed: {exc}") from None
        rows = sum(table["rows"] for table in manifest["tables"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"{path}: {len(manifest['tables'])} tables, {rows:,} rows, "
                f"{manifest['database']['size']:,} bytes of database, {len(manifest['exports'])} snapshot "
                f"file(s), in {time.monotonic() - started:.1f}s"
            )
        )
