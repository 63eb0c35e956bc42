from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from repository.importers.batches import UndoRefused, import_batch_undo, import_batches_list
from repository.models import ImportBatch


class Command(BaseCommand):
    help = (
        "List the import batches (every run of an importer, newest first), or undo one: each "
        "incident it changed gets a new revision with its document from before the batch, and "
        "the incidents it created are removed. Refused when anything it touched changed since."
    )

    def add_arguments(self, parser):
        parser.add_argument("--undo", type=int, metavar="ID", help="Undo the import batch ID.")
        parser.add_argument("--editor", metavar="USERNAME", help="Who undoes it (the revisions' author).")
        parser.add_argument("--limit", type=int, default=50, help="How many batches to list (50).")

    def handle(self, *args, undo, editor, limit, **options):
        if undo is None:
            for batch in import_batches_list(limit=limit):
                if batch.undone_at:
                    state = f"undone {batch.undone_at:%Y-%m-%d %H:%M}"
                elif batch.finished_at:
                    state = f"{batch.created:,} created, {batch.updated:,} updated"
                else:
                    state = "did not finish (run the import again to finish it)"
                self.stdout.write(
                    f"{batch.pk:>6}  {batch.started_at:%Y-%m-%d %H:%M}  {batch.source:8} "
                    f"{batch.file_name or '-'}: {batch.incidents:,} incidents; {state}"
                )
            return
        user = None
        if editor:
            user = get_user_model().objects.filter(username=editor).first()
            if user is None:
                raise CommandError(f"No user {editor!r}.")
        batch = ImportBatch.objects.filter(pk=undo).first()
        if batch is None:
            raise CommandError(f"No import batch {undo}.")
        try:
            published, removed = import_batch_undo(batch=batch, editor=user)
        except UndoRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Import {batch.pk} undone: {published:,} incidents published back, {removed:,} removed."
            )
        )
