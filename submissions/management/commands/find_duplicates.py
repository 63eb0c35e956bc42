from django.core.management.base import BaseCommand, CommandError

from repository.models import Incident
from submissions.duplicates import duplicates_find


class Command(BaseCommand):
    help = (
        "Propose pairs of published incidents that may describe the same event as merge proposals "
        "in the moderation queue, each with its evidence (headlines' likeness, periods, shared "
        "organisations, sources and external ids) and a score; at most 3 pending per incident. "
        "A pair proposed before, whatever was decided, is not proposed again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--incident",
            dest="numbers",
            type=int,
            action="append",
            metavar="NUMBER",
            help="Compare only this incident (by number) with all others; repeat for more.",
        )

    def handle(self, *args, numbers=None, verbosity=1, **options):
        incident_ids = None
        if numbers:
            incident_ids = self._incident_ids(numbers)

        def progress(done, total):
            if verbosity:
                self.stdout.write(f"  compared {done:,} of {total:,} groups of look-alikes")

        result = duplicates_find(incident_ids=incident_ids, progress=progress)
        if result.unrelated_sources:
            self.stdout.write(
                f"{len(result.unrelated_sources):,} pair(s) share a source but not their headlines "
                "(a wrong link in one of them, likely); not proposed."
                + ("" if verbosity > 1 else " -v 2 lists them.")
            )
            if verbosity > 1:
                for first, second, url in result.unrelated_sources:
                    self.stdout.write(f"  #{first} and #{second}: {url}")
        if verbosity > 1:
            for submission in result.submissions:
                reasons = "; ".join(reason["text"] for reason in submission.reasons)
                self.stdout.write(f"  proposed #{submission.pk}: {reasons}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.incidents:,} incident(s) compared: {result.pairs_examined:,} pair(s) examined, "
                f"{result.proposed:,} proposed, {result.known:,} already known."
                + (f" {result.capped:,} left for later (3 pending on an incident)." if result.capped else "")
            )
        )

    def _incident_ids(self, numbers):
        found = {
            number: (pk, merged_into)
            for pk, number, merged_into in Incident.objects.filter(number__in=numbers).values_list(
                "pk", "number", "merged_into__number"
            )
        }
        missing = sorted(set(numbers) - set(found))
        if missing:
            raise CommandError(f"No incident has the number {', '.join(map(str, missing))}.")
        merged = [f"#{number} (into #{into})" for number, (_pk, into) in sorted(found.items()) if into]
        if merged:
            raise CommandError(
                f"Merged into another incident, compare that one instead: {', '.join(merged)}."
            )
        return [pk for pk, _into in found.values()]
