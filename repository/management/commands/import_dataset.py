from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from repository.bulk import long_lived_objects
from repository.importers.dataset import DatasetError, dataset_import
from repository.importers.reports import write_changes, write_summary


class Command(BaseCommand):
    help = (
        "Restore a JSON dataset snapshot (as /export/ offers it) into this database, empty or "
        "not: incidents are matched by slug, and a document is published only when it differs, "
        "so running it again changes nothing. Items that fail the schema are reported by line "
        "and left out; the others are imported a chunk at a time, each chunk committed (a restore "
        "stopped half-way is finished by running it again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The JSON snapshot (incidents-….json).")
        parser.add_argument("--report", metavar="FILE", help="Write every warning and note to FILE (CSV).")
        parser.add_argument(
            "--strict", action="store_true", help="Import nothing if any item is left out or changed."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Change nothing: print what the restore would create and update.",
        )

    def handle(self, *args, path, report, strict, dry_run, verbosity, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        self.stdout.write(f"Restoring {file} …")

        def progress(done):
            if verbosity:
                self.stdout.write(f"  {done:,} items")

        try:
            with long_lived_objects():
                result = dataset_import(path=file, strict=strict, progress=progress, dry_run=dry_run)
        except DatasetError as exc:
            if exc.report is not None:
                self._summary(exc.report, report, verbosity)
            raise CommandError(str(exc)) from None
        self._summary(result.report, report, verbosity)
        counts = (
            f"{result.items:,} items ({'one per line' if result.layout == 'lines' else 'read whole'}): "
            f"{result.created:,} created, {result.updated:,} updated, {result.unchanged:,} unchanged, "
            f"{result.left_out:,} left out, {len(result.warnings):,} warnings."
        )
        if result.dry_run:
            self.stdout.write(f"Dry run: nothing was changed. The restore would give: {counts}")
            write_changes(result.changes, self.stdout.write, limit=None if verbosity > 1 else 20)
            return
        self.stdout.write(self.style.SUCCESS(counts))

    def _summary(self, findings, path, verbosity):
        def write(text, warning):
            self.stdout.write(self.style.WARNING(text) if warning else text)

        if verbosity:
            write_summary(findings, write, limit=None if verbosity > 1 else 10)
        if path:
            try:
                findings.write_csv(path)
            except OSError as exc:
                raise CommandError(f"Could not write the report to {path}: {exc.strerror or exc}") from None
            self.stdout.write(f"Report written to {path} ({len(findings.findings):,} findings).")
