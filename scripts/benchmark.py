"""Measure the repository on the real AIAAIC sheet and print the numbers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/airepo_bench \\
        .venv/bin/python scripts/benchmark.py ../shared/data/aiaaic-repository-2024.csv

The database named by DATABASE_URL is emptied first, so point it at a scratch one.
It prints: the sheet import (first and second run), the query count and time of the browse
page unfiltered, with three facets and with a search, the incident page, and the dataset
snapshot (time and file sizes). Times are medians of several runs, in milliseconds, with the
machine's noise in mind: compare them as ratios between runs on one machine.
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def timed(function, repeat=1):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
    return result, statistics.median(times)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sheet", help="the AIAAIC sheet export (CSV)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per page measurement")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from repository.models import Incident
    from repository.sheet import sheet_import

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    # Pages are measured without collectstatic's manifest, whatever DEBUG says.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    print(f"database: {connection.vendor} ({settings.DATABASES['default']['NAME']})")
    call_command("migrate", verbosity=0)
    call_command("migrate", "submissions", "zero", verbosity=0)  # a clean slate, the starting
    call_command("migrate", "repository", "zero", verbosity=0)  # vocabularies included
    call_command("migrate", verbosity=0)

    data = Path(args.sheet).read_bytes()
    result, first = timed(lambda: sheet_import(data=data))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"import_sheet, first run: {first / 1000:.1f} s for {result.rows:,} rows "
        f"({result.created:,} created); process peak memory {rss:.0f} MiB"
    )
    result, second = timed(lambda: sheet_import(data=data))
    print(
        f"import_sheet, second run: {second / 1000:.1f} s "
        f"({result.created} created, {result.updated} updated, {result.unchanged:,} unchanged)"
    )

    client = Client()
    slug = Incident.objects.order_by("number").values_list("slug", flat=True).first()
    pages = {
        "/incidents/": "browse, unfiltered",
        "/incidents/?country=usa&sector=govt-police&technology=facial-recognition": "browse, three facets",
        "/incidents/?q=facial+recognition+police": "browse, search",
        f"/incidents/{slug}/": "incident page",
        "/taxonomy/technology/machine-learning/": "term page",
    }
    for url, name in pages.items():
        client.get(url)  # warm
        reset_queries()  # DEBUG keeps a log of at most 9,000 queries; the import filled it
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        _, ms = timed(lambda url=url: client.get(url), repeat=args.repeat)
        count = response.context["page"].paginator.count if "page" in (response.context or {}) else ""
        print(
            f"{name}: {response.status_code}, {len(queries)} queries, {ms:.0f} ms median {count and f'({count:,} results)'}"
        )

    from repository import services

    with tempfile.TemporaryDirectory() as directory:
        settings.EXPORT_DIR = Path(directory)
        (rows, _), ms = timed(services.dataset_snapshot_create)
        sizes = ", ".join(f"{row.format.upper()} {row.size / 1024:,.0f} KiB" for row in rows)
        print(f"dataset snapshot: {ms / 1000:.2f} s for {rows[0].incident_count:,} incidents: {sizes}")


if __name__ == "__main__":
    main()
