from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from repository.importers.pages import PageError, page_import, read_pages
from repository.models import Incident

DEMO_PAGES = Path(__file__).resolve().parents[2] / "demo" / "pages"


class Command(BaseCommand):
    help = (
        "Load the demo dataset (a dozen incident pages) into an empty database. "
        "A database that already has incidents is left alone unless --force is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Import the demo pages even if incidents exist."
        )

    def handle(self, *args, force, **options):
        existing = Incident.objects.count()
        if existing and not force:
            self.stdout.write(f"The database has {existing:,} incidents already; the demo was not loaded.")
            return
        paths = sorted(DEMO_PAGES.glob("*.txt"))
        if not paths:
            raise CommandError(f"No demo pages found in {DEMO_PAGES}.")
        try:
            results = page_import(pages=read_pages(paths), summary="Demo dataset")
        except PageError as exc:
            raise CommandError(str(exc)) from None
        created = sum(1 for _, outcome in results if outcome.created)
        self.stdout.write(self.style.SUCCESS(f"Demo dataset loaded: {created} incidents created."))
