import time

from django.core.management.base import BaseCommand, CommandError

from repository.backups import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `backup` into the site's database and EXPORT_DIR, compare every "
        "table with the backup's manifest, and rebuild the dataset snapshots whose files are "
        "missing. Refuses a database that has tables unless --replace."
    )

    def add_arguments(self, parser):
        parser.add_argument("backup", help="The backup's directory.")
        parser.add_argument("--replace", action="store_true", help="Replace what the database holds.")

    def handle(self, *args, backup, replace, **options):
        started = time.monotonic()
        try:
            manifest, differences, rebuilt = backup_restore(source=backup, replace=replace)
        except (BackupError, OSError) as exc:
            raise CommandError(f"Restore failed: {exc}") from None
        if differences:
            raise CommandError(
                "Restored, but the database differs from the manifest:\n" + "\n".join(differences)
            )
        for name in rebuilt:
            self.stdout.write(f"Rebuilt the missing snapshot as {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the backup of {manifest['created_at']}: {len(manifest['tables'])} tables equal "
                f"to the manifest, in {time.monotonic() - started:.1f}s"
            )
        )
