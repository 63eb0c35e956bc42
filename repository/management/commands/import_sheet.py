import argparse
from pathlib import Path

from django.core import checks
from django.core.management.base import BaseCommand, CommandError

from repository.bulk import long_lived_objects
from repository.importers.dating import parse_as_of
from repository.importers.reports import write_changes, write_summary
from repository.importers.sheet import SheetError, sheet_import

SNAPSHOT_MODES = {
    "restore": "a restore (numbers and slugs kept)",
    "same": "this installation's (rows matched by number and slug)",
    "sheet": "another installation's (an ordinary sheet, numbers not kept)",
}


class Command(BaseCommand):
    help = (
        "Import an export of the AIAAIC Repository sheet (CSV), any layout since 2023, or a "
        "snapshot of this site. Columns are read by name; row problems are warnings (the row or "
        "cell is left out and reported), never a refusal. Each chunk of rows commits on its own; "
        "safe to run again, and a run that stopped half-way is finished by running it again."
    )
    # The models' checks guard what the import writes; the others (URLs, templates, security
    # settings) concern serving pages and would only add to every import's time.
    requires_system_checks = [checks.Tags.models]

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file exported from the sheet.")
        parser.add_argument("--report", metavar="FILE", help="Write every warning and note to FILE as CSV.")
        parser.add_argument(
            "--strict", action="store_true", help="Refuse the whole file on any warning (one transaction)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what the import would change, and change nothing."
        )
        parser.add_argument(
            "--blank-clears",
            action="store_true",
            help="A blank cell clears the stored value (by default it keeps it).",
        )
        parser.add_argument(
            "--as-of",
            metavar="YYYY-MM-DD",
            type=_as_of,
            help="The export's date, when its title row and file name do not say it (wins over them).",
        )

    def handle(self, *args, path, verbosity, report, strict, blank_clears, dry_run, as_of=None, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        self.stdout.write(f"Importing {file} …")

        def progress(done, total):
            if verbosity and (done % 250 == 0 or done == total):
                self.stdout.write(f"  {done:,}/{total:,} rows")

        try:
            with long_lived_objects():
                result = sheet_import(
                    path=file,
                    progress=progress,
                    strict=strict,
                    blank_clears=blank_clears,
                    dry_run=dry_run,
                    as_of=as_of,
                )
        except SheetError as exc:
            raise CommandError(str(exc)) from None

        def write(text, warning):
            self.stdout.write(self.style.WARNING(text) if warning else text)

        self.stdout.write(result.as_of_note)
        if verbosity:
            write_summary(result.report, write, limit=None if verbosity > 1 else 5)
        if report:
            result.report.write_csv(report)
            self.stdout.write(f"Report written to {report}.")
        counts = (
            f"Layout {result.layout}, {result.rows:,} rows: {result.created:,} created, "
            f"{result.updated:,} updated, {result.unchanged:,} unchanged, {result.skipped:,} skipped, "
            f"{len(result.report.warnings):,} warnings, {len(result.report.notes):,} notes "
            f"({result.terms_created:,} new terms, {result.entities_created:,} new entities, "
            f"{result.aliases_kept:,} spellings kept) in {result.seconds:.1f} s."
        )
        if result.proposals or result.doubts:
            counts += (
                f" {result.proposals:,} change(s) proposed to editors (values an editor changed), "
                f"{result.doubts:,} merge(s) proposed (ids that name another story)."
            )
        if result.snapshot_mode:
            counts += f" Snapshot read as: {SNAPSHOT_MODES[result.snapshot_mode]}."
        if result.dry_run:
            self.stdout.write(f"Dry run: nothing was changed. The import would give: {counts}")
            write_changes(result.changes, self.stdout.write, limit=None if verbosity > 1 else 20)
            return
        self.stdout.write(self.style.SUCCESS(f"{counts} Import batch {result.batch}."))


def _as_of(text):
    try:
        return parse_as_of(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
