import time

from django.core.management.base import BaseCommand, CommandError

from repository.importers.aiid import AiidError, AiidRefused, aiid_import
from repository.importers.reports import write_summary


class Command(BaseCommand):
    help = (
        "Import the AI Incident Database's public snapshot (its CSV export): a directory holding "
        "incidents.csv and, when present, entities.csv, reports.csv and the duplicates file, or an "
        "incidents.csv with those next to it. Read whole first (an unreadable snapshot changes "
        "nothing), then published a chunk at a time, each committing on its own; safe to run "
        "again, and a run that stopped half-way is finished by running it again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "path", metavar="DIR_OR_FILE", help="The snapshot directory or its incidents.csv."
        )
        parser.add_argument(
            "--report", dest="report_path", metavar="FILE", help="Write every warning and note to FILE (CSV)."
        )
        parser.add_argument(
            "--strict", action="store_true", help="Import nothing when the snapshot has any warning."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what the import would change, and change nothing."
        )

    def handle(self, *args, path, report_path, strict, dry_run, verbosity, **options):
        self.stdout.write(f"Importing the AI Incident Database snapshot {path} …")
        started = time.monotonic()

        def progress(done, total):
            if verbosity:
                self.stdout.write(f"  {done:,}/{total:,} incidents")

        try:
            result = aiid_import(path_or_dir=path, progress=progress, strict=strict, dry_run=dry_run)
        except AiidRefused as exc:
            self._report(exc.report, report_path, verbosity)
            raise CommandError(str(exc)) from None
        except AiidError as exc:
            raise CommandError(str(exc)) from None
        files = result.files
        used = [name for name, file in (("entities", files.entities), ("reports", files.reports)) if file]
        if files.duplicates:
            used.append(f"duplicates ({files.duplicates.name})")
        self.stdout.write(
            f"  Read {files.incidents.name}" + (f" with {', '.join(used)}" if used else " alone")
        )
        self.stdout.write(f"  {result.as_of_note}")
        self._report(result.report, report_path, verbosity)
        counts = [
            f"{result.created:,} created",
            f"{result.updated:,} updated",
            f"{result.unchanged:,} unchanged",
            *([f"{result.skipped:,} skipped"] if result.skipped else []),
            f"{result.merged_duplicates:,} merged duplicates",
            f"{len(result.warnings):,} warnings",
            *([f"{result.proposals:,} changes proposed to editors"] if result.proposals else []),
        ]
        summary = (
            f"{result.rows:,} rows: {', '.join(counts)} ({result.entities_created:,} new entities) "
            f"in {time.monotonic() - started:.1f}s."
        )
        if result.dry_run:
            self.stdout.write(f"Dry run: nothing was changed. The import would give: {summary}")
            return
        self.stdout.write(self.style.SUCCESS(f"{summary} Import batch {result.batch}."))

    def _report(self, report, path, verbosity):
        def write(text, warning):
            self.stdout.write(self.style.WARNING(text) if warning else text)

        write_summary(report, write, limit=None if verbosity > 1 else 10)
        if path:
            try:
                report.write_csv(path)
            except OSError as exc:
                raise CommandError(f"Cannot write the report to {path}: {exc.strerror}.") from None
            self.stdout.write(f"Report written to {path}.")
