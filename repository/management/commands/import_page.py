from django.core.management.base import BaseCommand, CommandError

from repository.importers.pages import PageError, page_import, read_pages


class Command(BaseCommand):
    help = (
        "Import incident pages written in the plain-text page format. A page updates the "
        "incident whose slug is its file name, or creates it. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="FILE", help="Page files (.txt).")

    def handle(self, *args, paths, verbosity, **options):
        try:
            pages = read_pages(paths)
            results = page_import(pages=pages)
        except PageError as exc:
            raise CommandError(str(exc)) from None
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for _slug, outcome in results:
            state = "created" if outcome.created else "updated" if outcome.changed else "unchanged"
            counts[state] += 1
            if verbosity:
                self.stdout.write(f"  {state:9} /incidents/{outcome.incident.slug}/")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(results)} page(s): {counts['created']} created, "
                f"{counts['updated']} updated, {counts['unchanged']} unchanged."
            )
        )
