from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from repository.sheet import SheetError, sheet_import


class Command(BaseCommand):
    help = (
        "Import an export of the AIAAIC Repository sheet (CSV). Columns are read by name; "
        "the 2024 and 2026 layouts are known. All or nothing; safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file exported from the sheet.")

    def handle(self, *args, path, verbosity, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        self.stdout.write(f"Importing {file} …")
        step = 100

        def progress(done, total):
            if verbosity and (done % step == 0 or done == total):
                self.stdout.write(f"  {done:,}/{total:,} rows")

        try:
            result = sheet_import(data=file.read_bytes(), progress=progress)
        except SheetError as exc:
            raise CommandError(str(exc)) from None
        limit = None if verbosity > 1 else 10
        for warning in result.warnings[:limit]:
            self.stdout.write(self.style.WARNING(f"  warning: {warning}"))
        if limit is not None and len(result.warnings) > limit:
            self.stdout.write(f"  … and {len(result.warnings) - limit} more warnings (-v 2 shows all)")
        self.stdout.write(
            self.style.SUCCESS(
                f"Layout {result.layout}, {result.rows:,} rows: {result.created:,} created, "
                f"{result.updated:,} updated, {result.unchanged:,} unchanged, "
                f"{len(result.warnings):,} warnings "
                f"({result.terms_created:,} new terms, {result.entities_created:,} new entities)."
            )
        )
