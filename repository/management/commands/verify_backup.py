import time

from django.core.management.base import BaseCommand, CommandError

from repository.backups import BackupError, backup_verify


class Command(BaseCommand):
    help = (
        "Check a backup without restoring over anything: every file against its checksum, then the "
        "database loaded into a scratch database (dropped afterwards) and compared table by table "
        "with the manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", help="The backup's directory.")

    def handle(self, *args, backup, **options):
        started = time.monotonic()
        try:
            manifest, differences = backup_verify(source=backup)
        except (BackupError, OSError) as exc:
            raise CommandError(f"The backup is not good: {exc}") from None
        if differences:
            raise CommandError("The backup does not restore whole:\n" + "\n".join(differences))
        rows = sum(table["rows"] for table in manifest["tables"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"{backup}: good. {len(manifest['tables'])} tables, {rows:,} rows and "
                f"{len(manifest['exports'])} snapshot file(s) match the manifest ({time.monotonic() - started:.1f}s)"
            )
        )
