"""Metrics, request ids and logs as an operator sees them."""

import json
import logging
import os
import re
import shutil
import tempfile
import unittest
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings
from django.utils import timezone

from config import observability
from repository.tests.base import publish
from submissions import services
from submissions.models import Notification, Submission
from submissions.tests.faults import Site, collect_static

TOKEN = "scraper-token-for-tests"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def sample(text, name, **labels):
    """The value of one sample in Prometheus's text format (None when absent)."""
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return None


@override_settings(METRICS_TOKEN=TOKEN)
class MetricsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(
            "Delivery robot blocks an ambulance", slug="robot-blocks-ambulance", occurred="2024"
        )
        document = cls.incident.current_revision.document
        old = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT, incident=cls.incident, proposed={**document, "summary": "Old."}
        )
        Submission.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
        services.submission_create(
            kind=Submission.Kind.NEW_INCIDENT, proposed={**document, "headline": "New one"}
        )
        services.editor_create(username="edith", email="edith@example.org", password="x" * 20)

    def test_the_sites_state_is_read_at_scrape_time(self):
        Notification.objects.create(
            kind="received", key="k1", recipient="e@example.org", subject="s", body_text="b"
        )
        text = self.client.get("/metrics", **AUTH).content.decode()
        self.assertEqual(
            sample(text, "airepo_proposals_waiting", state="pending", kind="improvement", age="7d"), 1
        )
        self.assertEqual(sample(text, "airepo_proposals_waiting", state="pending", kind="new", age="1h"), 1)
        self.assertEqual(
            sample(text, "airepo_proposals_waiting", state="needs_changes", kind="new", age="1h"), 0
        )
        unsent = Notification.objects.filter(sent_at__isnull=True, cancelled_at__isnull=True).count()
        self.assertEqual(sample(text, "airepo_outbox_unsent"), unsent)
        self.assertEqual(sample(text, "airepo_revisions_published_total"), 1)
        self.assertEqual(sample(text, "airepo_snapshot_age_seconds"), -1)

    def test_requests_are_counted_by_view_and_page_cache_hits_show(self):
        def count(view, status="200"):
            text = self.client.get("/metrics", **AUTH).content.decode()
            return sample(text, "airepo_http_requests_total", view=view, method="GET", status=status) or 0

        before = count("repository:incident")
        self.client.get("/incidents/robot-blocks-ambulance/")
        self.assertEqual(count("repository:incident"), before + 1)
        self.assertEqual(self.client.get("/no-such-page/").status_code, 404)
        self.assertGreaterEqual(count("unmatched", "404"), 1)

    @override_settings(PAGE_CACHE=True)
    def test_page_cache_hits_and_misses_are_counted(self):
        def hits(result):
            text = self.client.get("/metrics", **AUTH).content.decode()
            return sample(text, "airepo_page_cache_requests_total", result=result) or 0

        from django.core.cache import cache

        cache.clear()
        hit, miss = hits("hit"), hits("miss")
        self.client.get("/incidents/robot-blocks-ambulance/")
        self.client.get("/incidents/robot-blocks-ambulance/")
        self.assertEqual((hits("hit"), hits("miss")), (hit + 1, miss + 1))


class RequestIdTests(TestCase):
    def test_every_response_has_a_new_id_unless_a_trusted_proxy_gave_one(self):
        first, second = self.client.get("/healthz"), self.client.get("/healthz")
        self.assertRegex(first["X-Request-ID"], r"^[0-9a-f]{32}$")
        self.assertNotEqual(first["X-Request-ID"], second["X-Request-ID"])
        # From a client directly (no trusted proxy configured): its id is not believed.
        self.assertNotEqual(
            self.client.get("/healthz", HTTP_X_REQUEST_ID="forged-id")["X-Request-ID"], "forged-id"
        )
        with self.settings(TRUSTED_PROXY_NETWORKS=["127.0.0.1/32"]):
            self.assertEqual(
                self.client.get("/healthz", HTTP_X_REQUEST_ID="nginx-id-1")["X-Request-ID"], "nginx-id-1"
            )
            self.assertNotEqual(  # nor anything that does not look like an id
                self.client.get("/healthz", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"], "bad id\n"
            )
        with self.settings(TRUSTED_PROXY_NETWORKS=["10.0.0.0/8"]):
            self.assertNotEqual(
                self.client.get("/healthz", HTTP_X_REQUEST_ID="nginx-id-2")["X-Request-ID"], "nginx-id-2"
            )

    def test_log_lines_carry_the_request_id_as_text_or_json(self):
        lines = []

        class Keep(logging.Handler):
            def emit(self, record):
                lines.append((self.format(record), json.loads(observability.JsonFormatter().format(record))))

        handler = Keep()
        handler.addFilter(observability.RequestIdFilter())
        handler.setFormatter(logging.Formatter("[%(request_id)s] %(message)s"))
        logger = logging.getLogger("django.request")
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        with self.settings(TRUSTED_PROXY_NETWORKS=["127.0.0.1/32"]):
            self.client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-42")
        text, as_json = lines[-1]
        self.assertEqual(text, "[req-42] Not Found: /no-such-page/")
        self.assertEqual(as_json["request_id"], "req-42")
        self.assertEqual(as_json["level"], "WARNING")
        self.assertEqual(observability.request_id_var.get(), "-")  # nothing left behind

    def test_a_task_logs_with_the_id_of_the_request_that_queued_it(self):
        headers = {}
        token = observability.request_id_var.set("req-77")
        try:
            observability._publish_with_request_id(headers=headers)
        finally:
            observability.request_id_var.reset(token)
        self.assertEqual(headers, {"request_id": "req-77"})

        class Request:
            request_id = "req-77"

        class Task:
            request = Request()

        observability._task_started(task_id="task-1", task=Task())
        self.assertEqual(observability.request_id_var.get(), "req-77")
        observability._task_finished()
        Task.request = type("Request", (), {"headers": None})()
        observability._task_started(task_id="task-2", task=Task())  # queued by beat: its own id
        self.assertEqual(observability.request_id_var.get(), "task-2")
        observability._task_finished()


@unittest.skipUnless(connection.vendor == "postgresql", "the site process shares the test database")
class MultiprocessMetricsTests(TransactionTestCase):
    def test_a_scrape_of_any_worker_adds_up_every_workers_requests(self):
        static_root = Path(tempfile.mkdtemp(prefix="airepo-static-"))
        metrics_dir = Path(tempfile.mkdtemp(prefix="airepo-metrics-"))
        self.addCleanup(shutil.rmtree, static_root, ignore_errors=True)
        self.addCleanup(shutil.rmtree, metrics_dir, ignore_errors=True)
        collect_static(static_root)
        db = connection.settings_dict
        env = {
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "METRICS_TOKEN": TOKEN,
        }
        with Site(env, static_root, workers=2) as site:
            for _ in range(40):
                site.request("GET", "/healthz")
            pids = {name.split("_")[-1] for name in os.listdir(metrics_dir) if name.startswith("counter_")}
            import http.client

            conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
            conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            response = conn.getresponse()
            text = response.read().decode()
        self.assertEqual(response.status, 200)
        self.assertEqual(len(pids), 2, "both workers answered requests")
        # The probe's requests from Site's start-up count too; at least the 40 are there, summed.
        self.assertGreaterEqual(
            sample(text, "airepo_http_requests_total", view="repository:healthz", status="200"), 40
        )
