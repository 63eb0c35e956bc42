from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from repository.importers.pages import PageError, page_import, read_pages
from repository.importers.reports import write_summary
from repository.importers.sheet import SheetError, sheet_import

DATA = Path(__file__).resolve().parents[3] / "data"
SHEET = DATA / "aiaaic-repository-2024.csv"


class Command(BaseCommand):
    help = (
        "Load the real data shipped in data/ (the AIAAIC Repository's 2024 export, 1,670 "
        "incidents, and its seed page; CC BY-SA 4.0, by AIAAIC). Safe to run again."
    )

    def handle(self, *args, verbosity, **options):
        if not SHEET.is_file():
            raise CommandError(f"{SHEET} is missing: the real data ships with the project's source.")
        self.stdout.write(f"Importing {SHEET.name} (AIAAIC, CC BY-SA 4.0) …")

        def progress(done, total):
            if verbosity and (done % 250 == 0 or done == total):
                self.stdout.write(f"  {done:,}/{total:,} rows")

        try:
            result = sheet_import(path=SHEET, progress=progress)
        except SheetError as exc:
            raise CommandError(str(exc)) from None
        if verbosity > 1:
            write_summary(result.report, lambda text, _warning: self.stdout.write(text))
        pages = sorted((DATA / "pages").glob("*.txt"))
        try:
            results = page_import(pages=read_pages(pages), summary="Imported from an AIAAIC incident page")
        except PageError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.rows:,} sheet rows: {result.created:,} created, {result.updated:,} updated, "
                f"{result.unchanged:,} unchanged ({len(result.report.warnings):,} warnings, "
                f"{len(result.report.notes):,} notes; -v 2 lists them); {len(results)} page(s) imported."
            )
        )
