"""Time the editors' queue page (/moderation/) with 100 and with 5,000 pending proposals.

    createdb -U postgres -h 127.0.0.1 airepo_queue_bench
    DATABASE_URL=postgres://airepo@127.0.0.1:5432/airepo_queue_bench SECRET_KEY=x \\
        .venv/bin/python scripts/benchmark_queue.py --sizes 100 5000

DATABASE_URL must name a scratch database; it is migrated and its submissions are replaced.
The pending proposals are a realistic mix for a busy incident and a busy queue: a third add a
source to one of 50 incidents (one in five the same source as another), a third change a field,
a third report a new incident (one in ten with the headline of another). Each size is timed
as the median of --repeat requests by a signed-in editor through Django's test client (the
whole request: middleware, SQL and template), after two warm-up requests, with the number of
SQL queries of one request.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

INCIDENTS = 50


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 5_000])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from config.celery import app
    from repository.services import incident_publish
    from repository.tests.base import make_document
    from submissions import services
    from submissions.models import ModerationEvent, Submission

    app.conf.task_always_eager = True
    print(f"database: {connection.vendor} ({settings.DATABASES['default']['NAME']})")
    call_command("migrate", verbosity=0)
    ModerationEvent.objects.all().delete()
    Submission.objects.all().delete()
    from repository.models import Incident

    incidents = list(Incident.objects.order_by("pk")[:INCIDENTS])
    for n in range(len(incidents), INCIDENTS):
        document = make_document(
            f"Benchmark incident {n}: a camera system flags people",
            occurred="2021",
            references={"news": [{"url": f"https://news.example.org/bench/{n}"}]},
        )
        incidents.append(incident_publish(document=document).incident)
    editor, _ = services.editor_create(username="bench-editor", email="bench@example.org", password="x" * 20)
    stored = {field.name for field in Submission._meta.get_fields()}

    def proposal(i):
        incident = incidents[i % INCIDENTS]
        document = incident.current_revision.document
        fields = {}
        if i % 3 == 0:
            source = f"https://news.example.org/story/{i // 5 if i % 5 == 0 else i}"
            news = [*document["references"]["news"], {"url": source}]
            proposed = {**document, "references": {**document["references"], "news": news}}
            fields = {"effect": "adds 1 source", "effect_kind": "sources", "source_keys": [source[8:]]}
            if i % 5 == 0:
                fields["group_key"] = f"g-source-{i // 5 % 40}"
        elif i % 3 == 1:
            proposed = {**document, "summary": f"A fuller summary {i}."}
            fields = {"effect": "changes Summary", "effect_kind": "fields"}
        else:
            headline = f"Chatbot tells user {i % 97 if i % 10 == 0 else i} to do harm"
            proposed = make_document(
                headline, occurred="2024", references={"news": [{"url": f"https://r.example.org/{i}"}]}
            )
            fields = {"effect": "new incident", "effect_kind": "new"}
            if i % 10 == 0:
                fields["group_key"] = f"g-report-{i % 97}"
            return Submission(
                kind="new", proposed=proposed, **{k: v for k, v in fields.items() if k in stored}
            )
        return Submission(
            kind="improvement",
            incident=incident,
            base_revision=incident.current_revision,
            proposed=proposed,
            **{k: v for k, v in fields.items() if k in stored},
        )

    # The page as served, but with static files named without the production manifest.
    override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()
    client = Client(HTTP_HOST=(settings.ALLOWED_HOSTS or ["localhost"])[0].lstrip(".") or "localhost")
    client.force_login(editor)
    have = 0
    for size in sorted(args.sizes):
        Submission.objects.bulk_create([proposal(i) for i in range(have, size)], batch_size=1_000)
        have = size
        for _ in range(2):
            assert client.get("/moderation/").status_code == 200
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            client.get("/moderation/")
            times.append(time.perf_counter() - started)
        with CaptureQueriesContext(connection) as queries:
            client.get("/moderation/")
        print(
            f"{size:>6} pending: median {statistics.median(times) * 1000:6.1f} ms "
            f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}), {len(queries)} queries"
        )


if __name__ == "__main__":
    main()
