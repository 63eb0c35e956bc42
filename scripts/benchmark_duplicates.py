"""Measure find_duplicates on the real AIAAIC sheet and on large generated repositories.

    DATABASE_URL=postgres://airepo@127.0.0.1:5432/airepo_bench \\
        .venv/bin/python scripts/benchmark_duplicates.py data/aiaaic-repository-2024.csv \\
        --sizes 10000 100000

DATABASE_URL must name an empty scratch database (createdb airepo_bench); it is migrated.
With --existing (and no sheet), the finder runs once on the database as it is (one that
scripts/benchmark_data.py built: bench2k, bench100k), which keeps the proposals it makes.

1. The sheet is imported (its incidents, organisations and vocabularies) and find_duplicates
   runs on it: the full run, then the same run again (every pair already known).
2. Incidents are then added by bulk inserts, up to each of --sizes, and find_duplicates runs
   on all of them, then incrementally for the last 1,000 added (what runs after an import).

The added incidents are made from the real ones, so that words and organisations are as
frequent as in the real data: each takes a real incident's headline with about half of
its words replaced by words of other real headlines and, two times in three, a made-up proper
noun (a larger repository names more places and people); the real incident's organisations
(one time in three) or a random real one; its year moved by up to three years; one to three references of its
own. One in fifty is a near copy of an earlier added incident (one word changed, same
organisation and year), a duplicate the finder should propose. Each gets a first revision
with a small document (the finder reads rows, not documents).
"""

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

BATCH = 2_000
SYLLABLES = ["ka", "lo", "ven", "tar", "mi", "dro", "sel", "un", "ba", "rik", "os", "ten", "qua", "zel"]


def made_up_name(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sheet", nargs="?", help="the AIAAIC sheet export (CSV)")
    parser.add_argument("--existing", action="store_true", help="measure one run on the database as it is")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="repository sizes to measure")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from config.celery import app
    from repository.importers.sheet import sheet_import
    from submissions.duplicates import duplicates_find

    app.conf.task_always_eager = True
    print(f"database: {connection.vendor} ({settings.DATABASES['default']['NAME']})")
    call_command("migrate", verbosity=0)
    from repository.models import Incident
    from repository.signals import incidents_imported

    if args.existing:
        from collections import Counter

        from submissions.models import Submission

        before = current_mib()
        found, seconds = timed(lambda: duplicates_find())
        per_incident = Counter()
        pending = Submission.objects.filter(kind="merge", state="pending")
        for a, b in pending.values_list("incident_id", "other_incident_id"):
            per_incident[a] += 1
            per_incident[b] += 1
        incidents = Incident.objects.unmerged().count()
        print(
            f"find_duplicates on {incidents:,} incidents: {seconds:.1f} s; {found.groups:,} groups of "
            f"look-alikes, {found.pairs_examined:,} pairs scored, {found.proposed:,} proposed "
            f"({found.proposed / max(1, incidents):.2f} per incident; the most on one incident: "
            f"{max(per_incident.values(), default=0)}), {found.known:,} known, {found.capped:,} capped, "
            f"{found.unclear:,} unclear; memory {before:.0f} MiB before, peak {peak_mib():.0f} MiB "
            f"(added {peak_mib() - before:.0f} MiB)"
        )
        return

    if Incident.objects.exists():
        sys.exit("The database holds incidents already: point DATABASE_URL at an empty scratch database.")

    incidents_imported.receivers = []  # measured below, not inside the import
    result, seconds = timed(lambda: sheet_import(data=Path(args.sheet).read_bytes()))
    print(f"imported the sheet: {result.created:,} incidents in {seconds:.1f} s")

    def measure(label, **kwargs):
        found, seconds = timed(lambda: duplicates_find(**kwargs))
        print(
            f"{label}: {seconds:.2f} s; {found.incidents:,} incidents compared, "
            f"{found.pairs_examined:,} pairs examined, {found.proposed:,} proposed, "
            f"{found.known:,} already known, {found.common_words:,} words too common to pair by; "
            f"process peak memory {peak_mib():.0f} MiB"
        )
        return found

    measure("find_duplicates on the sheet, full run")
    measure("find_duplicates on the sheet, again (all known)")

    rng = random.Random(args.seed)  # noqa: S311 (test data, not secrets)
    generator = Generator(rng)
    for size in args.sizes:
        added, seconds = timed(lambda size=size: generator.grow(size))
        if not added:
            continue
        print(f"added {len(added):,} generated incidents by bulk inserts in {seconds:.1f} s")
        measure(f"find_duplicates at {size:,} incidents, full run")
        measure(f"find_duplicates at {size:,} incidents, incremental for 1,000", incident_ids=added[-1_000:])


class Generator:
    """Incidents made from the real ones, inserted in bulk (see the module's description)."""

    def __init__(self, rng):
        from repository.models import Entity, Incident, IncidentEntity

        self.rng = rng
        self.templates = list(Incident.objects.values_list("pk", "headline", "type", "occurred_start"))
        self.words = [word for _pk, headline, _type, _start in self.templates for word in headline.split()]
        self.organisations = {}
        for incident_id, entity_id, role in IncidentEntity.objects.filter(
            role__in=["deployer", "developer"]
        ).values_list("incident_id", "entity_id", "role"):
            self.organisations.setdefault(incident_id, []).append((entity_id, role))
        self.entity_ids = list(Entity.objects.filter(kind="organisation").values_list("pk", flat=True))
        self.recent = []  # (headline, year, organisations) of added incidents, for near copies

    def _one(self):
        rng = self.rng
        if self.recent and rng.random() < 0.02:
            headline, year, organisations = rng.choice(self.recent)
            words = headline.split()
            words[rng.randrange(len(words))] = rng.choice(self.words)
            return " ".join(words), year, organisations
        pk, headline, _type, start = rng.choice(self.templates)
        words = [rng.choice(self.words) if rng.random() < 0.5 else word for word in headline.split()]
        if rng.random() < 0.67:
            words.insert(rng.randrange(len(words) + 1), made_up_name(rng))
        year = (start.year if start else 2020) + rng.randint(-3, 3)
        organisations = self.organisations.get(pk, [])
        if not organisations or rng.random() < 0.67:
            organisations = [(rng.choice(self.entity_ids), rng.choice(["deployer", "developer"]))]
        item = (" ".join(words)[:300], year, organisations)
        self.recent = [*self.recent[-500:], item]
        return item

    def grow(self, size):
        from django.db import transaction
        from django.db.models import Max

        from repository import documents
        from repository.models import Incident, IncidentEntity, Reference, Revision

        top = Incident.objects.aggregate(top=Max("number"))["top"] or 0
        count = Incident.objects.count()
        added = []
        while count < size:
            n = min(BATCH, size - count)
            with transaction.atomic():
                incidents, links, refs = [], [], []
                for number in range(top + 1, top + n + 1):
                    headline, year, organisations = self._one()
                    incident = Incident(
                        number=number,
                        slug=f"generated-{number}",
                        headline=headline,
                        type="incident",
                        source_url=f"https://generated.example.org/{number}",
                    )
                    incident.set_occurred(str(year))
                    incidents.append((incident, organisations))
                Incident.objects.bulk_create([incident for incident, _ in incidents])
                revisions = []
                for incident, organisations in incidents:
                    document = documents.empty_document()
                    document.update(headline=incident.headline, occurred=incident.occurred, type="incident")
                    revisions.append(Revision(incident=incident, number=1, document=document))
                    for position, (entity_id, role) in enumerate(dict.fromkeys(organisations)):
                        links.append(
                            IncidentEntity(
                                incident=incident, entity_id=entity_id, role=role, position=position
                            )
                        )
                    for position in range(self.rng.randint(1, 3)):
                        refs.append(
                            Reference(
                                incident=incident,
                                category="news",
                                url=f"https://news{position}.example.com/{incident.number}/story",
                                position=position,
                            )
                        )
                Revision.objects.bulk_create(revisions)
                for (incident, _), revision in zip(incidents, revisions, strict=True):
                    incident.current_revision = revision
                Incident.objects.bulk_update([incident for incident, _ in incidents], ["current_revision"])
                IncidentEntity.objects.bulk_create(links)
                Reference.objects.bulk_create(refs)
            added += [incident.pk for incident, _ in incidents]
            top += n
            count += n
        return added


if __name__ == "__main__":
    main()
