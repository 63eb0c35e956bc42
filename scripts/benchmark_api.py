"""Time the read API, the feeds and the sitemap on the database named by DATABASE_URL, and
count their queries: compare two sizes of data (the real sheet, then with more incidents).

    DATABASE_URL=postgres://airepo@127.0.0.1:5432/airepo_bench .venv/bin/python scripts/benchmark_api.py

Nothing is written. Each address is requested once to warm up, then --repeat times; the
median time (milliseconds, through Django's test client, no network) and the number of
queries are printed. The rate limit is lifted for the run.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from repository.models import Entity, Incident, Revision, Term

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.API_RATE_LIMIT = 10**9
    incident = Incident.objects.unmerged().order_by("-number").values_list("slug", flat=True).first()
    entity = (
        Entity.objects.filter(merged_into__isnull=True, incident_entities__role="deployer")
        .values_list("slug", flat=True)
        .first()
    )
    country = (
        Term.objects.filter(vocabulary__slug="country", slug="usa").values_list("slug", flat=True).first()
        or ""
    )
    client = Client()
    last = client.get("/api/v1/changes/?since=2000-01-01&page_size=1").json()["entries"]
    urls = [
        "/api/v1/incidents/",
        "/api/v1/incidents/?page_size=100",
        f"/api/v1/incidents/?country={country}&sort=newest",
        "/api/v1/incidents/?q=facial+recognition",
        f"/api/v1/incidents/{incident}/",
        f"/api/v1/incidents/{incident}/revisions/",
        "/api/v1/vocabularies/country/terms/",
        "/api/v1/entities/",
        f"/api/v1/entities/{entity}/",
        "/api/v1/changes/",
        f"/api/v1/changes/?since={last[0]['cursor']}" if last else "/api/v1/changes/",
        "/api/v1/schema/",
        "/feeds/new/",
        "/feeds/updated/",
        f"/feeds/incidents/?country={country}",
        "/sitemap.xml",
        "/sitemap-incidents.xml",
        "/sitemap-terms.xml",
    ]
    print(
        f"{Incident.objects.unmerged().count():,} incidents, {Revision.objects.count():,} revisions, "
        f"{Term.objects.count():,} terms, {Entity.objects.count():,} entities ({connection.vendor})"
    )
    # The last page of the API's incident list: the cursor's deepest point.
    page, url, pages = None, "/api/v1/incidents/?page_size=100", 0
    started = time.perf_counter()
    while url:
        page = client.get(url).json()
        url, pages = page["next"], pages + 1
    print(f"walking the whole incident list by 100s: {pages} pages in {time.perf_counter() - started:.1f} s")
    print(f"{'address':70} {'ms':>8} {'queries':>8} {'bytes':>9}")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
        print(f"{url[:70]:70} {statistics.median(times):8.1f} {len(queries):8} {len(response.content):9,}")


if __name__ == "__main__":
    main()
