"""Fault tests: what a contributor and an operator see when Redis or PostgreSQL falter.

Each prints its timings (pytest -s shows them)."""

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
from pathlib import Path
from unittest import mock
from unittest.mock import ANY

import redis
from django.core.cache import caches
from django.db import connection
from django.test import SimpleTestCase, TransactionTestCase, override_settings

from config.cache import RedisCache
from repository import caching
from repository.models import Incident
from repository.services import incident_publish
from repository.tests.base import publish
from submissions.forms import ImproveForm
from submissions.models import Notification, Submission
from submissions.tests.base import SubmissionsTestCase, form_data
from submissions.tests.faults import (
    REFUSING_URL,
    HangingServer,
    Site,
    TcpProxy,
    collect_static,
    production_env,
    redis_at,
)

IMPROVE = "/incidents/camera-flags-minority/improve/"
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")  # as the worker tests


class RedisFaultTests(SubmissionsTestCase):
    """Redis is the shared cache (rate limits) and the broker: neither may cost a contribution."""

    def setUp(self):
        super().setUp()
        caches["local"].clear()
        self.data = {**form_data(self.client.get(IMPROVE).context["form"])}

    def submit(self, insight):
        """Improve the incident as a contributor would; the response and the time it took,
        including what runs when the transaction commits (queueing the notifications)."""
        started = time.monotonic()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(IMPROVE, {**self.data, "insight": insight})
        return response, time.monotonic() - started

    def assert_stored_and_fast(self, case):
        for attempt in (1, 2):
            response, elapsed = self.submit(f"{case}, attempt {attempt}.")
            print(f"\n{case}: submission {attempt} answered {response.status_code} in {elapsed:.3f}s")
            self.assertEqual(response.status_code, 302)
            self.assertLess(elapsed, 1.0)
        self.assertEqual(Submission.objects.count(), 2)
        # The editors' notifications are rows, unqueued: the periodic task queues them later.
        self.assertTrue(Notification.objects.exists())
        self.assertFalse(Notification.objects.filter(queued_at__isnull=False).exists())

    def test_with_redis_refusing_a_contribution_is_stored_and_answered_fast(self):
        with redis_at(REFUSING_URL):
            self.assert_stored_and_fast("Redis refusing")

    def test_with_redis_hanging_a_contribution_is_stored_and_answered_fast(self):
        with HangingServer() as server, redis_at(f"redis://127.0.0.1:{server.port}/0"):
            self.assert_stored_and_fast("Redis hanging")

    @override_settings(SUBMISSION_RATE_LIMIT=2)
    def test_with_redis_down_the_limit_holds_per_process(self):
        with redis_at(REFUSING_URL):
            self.assertEqual(self.submit("one")[0].status_code, 302)
            self.assertEqual(self.submit("two")[0].status_code, 302)
            self.assertEqual(self.submit("three")[0].status_code, 429)
        self.assertEqual(Submission.objects.count(), 2)

    @override_settings(SUBMISSION_RATE_LIMIT=2)
    def test_with_redis_up_the_limit_is_shared_by_every_process(self):
        with redis_at(REDIS):
            caches["default"].clear()
            self.assertEqual(self.submit("one")[0].status_code, 302)
            self.assertEqual(self.submit("two")[0].status_code, 302)
            caches["local"].clear()  # another process has no count of its own; Redis has it
            self.assertEqual(self.submit("three")[0].status_code, 429)
            self.assertEqual(self.client.get("/readyz").json()["cache"], "ok")
            caches["default"].clear()

    def test_readyz_names_what_is_down_and_stays_in_rotation(self):
        with HangingServer() as server, redis_at(f"redis://127.0.0.1:{server.port}/0"):
            started = time.monotonic()
            response = self.client.get("/readyz")
            elapsed = time.monotonic() - started
        print(f"\nRedis hanging: /readyz answered {response.status_code} in {elapsed:.3f}s")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(),
            {
                "status": "degraded",
                "database": "ok",
                "cache": "down",
                "broker": "down",
                "down": ["cache", "broker"],
            },
        )
        self.assertLess(elapsed, 2.0)
        self.assertEqual(self.client.get("/healthz").status_code, 200)


@override_settings(PAGE_CACHE=True)
class PageCacheFaultTests(SubmissionsTestCase):
    """Public pages are kept in Redis: when it falters they are rendered fresh, never refused."""

    PAGES = ("/incidents/camera-flags-minority/", "/incidents/?country=china", "/")

    def setUp(self):
        super().setUp()
        caching.backoff_reset()

    def tearDown(self):
        caching.backoff_reset()
        super().tearDown()

    def get(self, url):
        started = time.monotonic()
        response = self.client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        return response, time.monotonic() - started

    def assert_pages_rendered(self, case, first_within):
        with mock.patch.object(caching, "_cache_failed", side_effect=caching._cache_failed) as failed:
            for attempt in (1, 2, 3):
                for url in self.PAGES:
                    response, elapsed = self.get(url)
                    print(
                        f"\n{case}: GET {url} ({attempt}) answered {response.status_code} in {elapsed:.3f}s"
                    )
                    self.assertEqual(response.status_code, 200)
                    self.assertEqual(response["Content-Encoding"], "gzip")
                    self.assertIn(b"Camera system flags", gzip.decompress(response.content))
                    self.assertLess(elapsed, first_within if attempt == 1 and url == self.PAGES[0] else 1.0)
        # The first request found the cache down; this process then left it alone.
        self.assertEqual(failed.call_count, 1)
        # Rendered fresh: what is published shows at once, though the cache was not told.
        incident_publish(
            document={**self.incident.current_revision.document, "headline": "Cameras flag a minority"},
            incident=self.incident,
        )
        response, _ = self.get(self.PAGES[0])
        self.assertIn(b"Cameras flag a minority", gzip.decompress(response.content))

    def test_with_redis_refusing_public_pages_are_rendered_fresh_and_fast(self):
        with redis_at(REFUSING_URL):
            self.assert_pages_rendered("Redis refusing", first_within=1.0)

    def test_with_redis_hanging_public_pages_are_rendered_fresh_and_fast(self):
        with HangingServer() as server, redis_at(f"redis://127.0.0.1:{server.port}/0"):
            self.assert_pages_rendered("Redis hanging", first_within=2.0)

    def test_with_redis_up_pages_are_shared_and_a_publish_reaches_every_process_at_once(self):
        url = self.PAGES[0]
        with redis_at(REDIS):
            caches["default"].clear()
            self.assertContains(self.client.get(url), "Camera system flags")
            with self.assertNumQueries(0):
                self.assertContains(self.client.get(url), "Camera system flags")
            with self.captureOnCommitCallbacks(execute=True):
                incident_publish(
                    document={
                        **self.incident.current_revision.document,
                        "headline": "Cameras flag a minority",
                    },
                    incident=self.incident,
                )
            self.assertContains(self.client.get(url), "Cameras flag a minority")
            caches["default"].clear()

    def test_after_an_outage_the_cache_is_used_again(self):
        url = self.PAGES[0]
        with redis_at(REFUSING_URL):
            self.assertEqual(self.get(url)[0].status_code, 200)
        with redis_at(REDIS):
            caches["default"].clear()
            caching.backoff_reset()  # as CACHE_BACKOFF_SECONDS passing would
            self.client.get(url)
            with self.assertNumQueries(0):
                self.assertEqual(self.client.get(url).status_code, 200)
            caches["default"].clear()


class SharedCacheClientTests(SimpleTestCase):
    """The cache keeps one Redis client per server and process (config/cache.py), which must
    outlive Redis going away and coming back."""

    def test_one_client_serves_every_call_and_outlives_an_outage(self):
        target = urllib.parse.urlsplit(REDIS)
        proxy = TcpProxy(target.port or 6379, target.hostname or "127.0.0.1")
        cache = RedisCache(
            f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}",
            {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}},
        )
        try:
            cache.set("shared-client-test", "kept", 60)
            client = cache._cache.get_client(write=True)
            self.assertEqual(cache.get("shared-client-test"), "kept")
            self.assertIs(cache._cache.get_client(), client)
            proxy.down()
            with self.assertRaises((redis.ConnectionError, redis.TimeoutError)):
                cache.get("shared-client-test")
            proxy.up()
            self.assertEqual(cache.get("shared-client-test"), "kept")
            self.assertIs(cache._cache.get_client(), client)
        finally:
            proxy.up()
            cache.delete("shared-client-test")
            cache.close()
            proxy.close()

    def test_a_production_process_given_redis_uses_it(self):
        code = (
            "import django; django.setup(); from django.core.cache import caches; "
            "cache = caches['default']; cache.set('shared-client-setting', 1, 60); "
            "print(type(cache).__module__, type(cache).__name__, cache.get('shared-client-setting'))"
        )
        with tempfile.TemporaryDirectory() as static_root:
            env = {**os.environ, **production_env(static_root), "CACHE_URL": REDIS}
            env["DJANGO_SETTINGS_MODULE"] = "config.settings"
            result = subprocess.run(  # noqa: S603
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
        self.assertEqual(result.stdout.split(), ["config.cache", "RedisCache", "1"])


class SiteProcessTestCase:
    """Collects the static files once for the class's production-like site processes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.static_root = Path(tempfile.mkdtemp(prefix="airepo-static-"))
        collect_static(cls.static_root)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.static_root, ignore_errors=True)
        super().tearDownClass()


class DatabaseUnreachableTests(SiteProcessTestCase, SimpleTestCase):
    def test_with_postgresql_unreachable_requests_fail_fast_with_a_503(self):
        with Site({"DATABASE_URL": "postgres://airepo@127.0.0.1:1/airepo"}, self.static_root) as site:
            for method, path, data in (
                ("GET", "/", None),
                ("GET", "/submit/", None),
                ("POST", "/submit/", {"headline": "Robot blocks ambulance", "occurred": "2024"}),
                ("GET", "/incidents/", None),
            ):
                status, body, elapsed = site.request(method, path, data)
                print(f"\nPostgreSQL unreachable: {method} {path} answered {status} in {elapsed:.3f}s")
                self.assertEqual(status, 503, body[:300])
                self.assertIn("try again", body)
                self.assertLess(elapsed, 2.0)
            status, body, elapsed = site.request("GET", "/readyz")
            print(f"PostgreSQL unreachable: /readyz answered {status} in {elapsed:.3f}s: {body}")
            self.assertEqual(status, 503)
            self.assertEqual(json.loads(body)["database"], "down")
            self.assertEqual(json.loads(body)["down"], ["database"])
            self.assertLess(elapsed, 2.0)
            self.assertEqual(site.request("GET", "/healthz")[0], 200)


@unittest.skipUnless(
    connection.vendor == "postgresql", "the site process shares the test database only on PostgreSQL"
)
class DatabaseOutageTests(SiteProcessTestCase, TransactionTestCase):
    def setUp(self):
        publish("Delivery robot blocks an ambulance", slug="robot-blocks-ambulance", occurred="2024")
        db = connection.settings_dict
        self.proxy = TcpProxy(int(db["PORT"] or 5432), db["HOST"] or "127.0.0.1")
        self.database_url = f"postgres://{db['USER']}@127.0.0.1:{self.proxy.port}/{db['NAME']}"
        incident = Incident.objects.get()
        form = ImproveForm(vocabularies=[], document=incident.current_revision.document)
        self.improve_data = form_data(form)

    def tearDown(self):
        self.proxy.close()

    def improve(self, site, insight):
        status, _, elapsed = site.request(
            "POST", "/incidents/robot-blocks-ambulance/improve/", {**self.improve_data, "insight": insight}
        )
        return status, elapsed

    def test_an_outage_refuses_contributions_fast_and_the_site_recovers_by_itself(self):
        with Site({"DATABASE_URL": self.database_url}, self.static_root) as site:
            self.assertEqual(site.request("GET", "/readyz")[0], 200)
            self.assertEqual(self.improve(site, "Before the outage."), (302, ANY))

            self.proxy.down()
            status, elapsed = self.improve(site, "During the outage.")
            print(f"\nPostgreSQL gone: a submission answered {status} in {elapsed:.3f}s")
            self.assertEqual(status, 503)
            self.assertLess(elapsed, 2.0)
            status, body, elapsed = site.request("GET", "/readyz")
            print(f"PostgreSQL gone: /readyz answered {status} in {elapsed:.3f}s")
            self.assertEqual((status, json.loads(body)["database"]), (503, "down"))
            self.assertLess(elapsed, 2.0)

            self.proxy.up()
            started = time.monotonic()
            while site.request("GET", "/readyz")[0] != 200:
                self.assertLess(time.monotonic() - started, 30, "the pool did not recover")
                time.sleep(0.2)
            print(f"PostgreSQL back: ready again after {time.monotonic() - started:.1f}s")
            self.assertEqual(self.improve(site, "After the outage.")[0], 302)
        self.assertEqual(
            sorted(Submission.objects.values_list("insight", flat=True)),
            ["After the outage.", "Before the outage."],
        )
