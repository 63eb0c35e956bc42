"""Fault tests: what a contributor and an operator see when Redis or PostgreSQL falter.

Each prints its timings (pytest -s shows them)."""

import os
import time

from django.core.cache import caches
from django.test import override_settings

from submissions.models import Notification, Submission
from submissions.tests.base import SubmissionsTestCase, form_data
from submissions.tests.faults import REFUSING_URL, HangingServer, redis_at

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
