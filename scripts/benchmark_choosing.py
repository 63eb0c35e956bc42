"""Time the contribution forms with their suggestions, and the organisation lookup.

    DATABASE_URL=sqlite:///db-real.sqlite3 .venv/bin/python scripts/benchmark_choosing.py
    DATABASE_URL=postgres://airepo@127.0.0.1:5432/scratch .venv/bin/python scripts/benchmark_choosing.py \\
        --entities 100000

It reads the database as it is (`make real-data` gives the 2024 sheet's 1,670 incidents, 2,234
terms and 2,300 organisation and system spellings). With --entities N it first adds synthetic
organisations and systems until there are N spellings: give it a scratch database. Each page
is the median of --repeat requests through Django's test client (middleware, SQL, template),
"cold" right after the suggestion lists' cache entry was dropped (as after a publish), "warm"
from the cache; with its SQL queries and its size (form pages are never compressed: they hold
a CSRF token). Each lookup is the median of --repeat calls of the query behind /lookup/names/.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

WORDS = [
    "police",
    "city",
    "council",
    "tech",
    "data",
    "systems",
    "group",
    "labs",
    "health",
    "bank",
    "university",
]


def grow(total):
    from repository import documents
    from repository.models import Entity, EntityAlias

    have = EntityAlias.objects.count()
    rnd = random.Random(1)  # noqa: S311 (synthetic names, the same each run)
    entities = [
        Entity(
            name=f"{' '.join(rnd.choice(WORDS).title() for _ in range(3))} {n}",
            slug=f"benchmark-entity-{n}",
            kind=Entity.Kind.SYSTEM if n % 4 == 0 else Entity.Kind.ORGANISATION,
        )
        for n in range(max(0, total - have))
    ]
    Entity.objects.bulk_create(entities, batch_size=5_000)
    EntityAlias.objects.bulk_create(
        (EntityAlias(entity=e, name=e.name, key=documents.fold(e.name)) for e in entities), batch_size=5_000
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=0, help="add synthetic spellings up to this many")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--lookups", nargs="+", default=["bp", "dahua", "police", "universit", "zzzz"])
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from repository import freshness
    from repository.models import EntityAlias, Incident, TermAlias
    from submissions.suggestions import entities_matching

    print(f"database: {connection.vendor} ({settings.DATABASES['default']['NAME']})")
    if args.entities:
        grow(args.entities)
    print(
        f"term spellings: {TermAlias.objects.count():,}; organisation and system spellings: "
        f"{EntityAlias.objects.count():,}"
    )
    incident = Incident.objects.unmerged().exclude(current_revision=None).order_by("number").first()
    client = Client()
    for url in (f"/incidents/{incident.slug}/improve/", "/submit/"):
        client.get(url)  # warm-up
        for state in ("cold", "warm"):
            times = []
            for _ in range(args.repeat):
                if state == "cold":
                    cache.delete(freshness.cache_key())
                with CaptureQueriesContext(connection) as queries:
                    start = time.perf_counter()
                    response = client.get(url)
                    times.append((time.perf_counter() - start) * 1000)
            print(
                f"{url:<60} {state}: {statistics.median(times):6.1f} ms, {len(queries)} queries, "
                f"{len(response.content) / 1024:.0f} KiB"
            )
    for text in args.lookups:
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                found = entities_matching(kind="organisation", text=text)
                times.append((time.perf_counter() - start) * 1000)
        print(
            f"lookup {text!r:<12} {statistics.median(times):6.1f} ms, {len(queries)} query, {len(found)} names"
        )


if __name__ == "__main__":
    main()
