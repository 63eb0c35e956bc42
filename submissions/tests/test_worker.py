"""A real Celery worker process against the real Redis: notifications go out through it,
and none is lost or doubled when the broker is down for a while."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase
from django.utils import timezone
from kombu import pools

from config.celery import app, broker_backoff_reset
from repository.tests.base import publish
from submissions import notifications, services, tasks
from submissions.models import Notification, Submission

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")  # a database of its own
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens there


def redis_reachable():
    try:
        import redis

        return redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except Exception:
        return False


def use_broker(url):
    """Point this process's Celery app at a broker, dropping pooled connections (test-only)."""
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    pools.reset()  # kombu's connection and producer pools, shared by URL
    app._after_fork()  # and the app's references to them
    broker_backoff_reset()


def wait_for(condition, timeout=30.0, what="the worker"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


@unittest.skipUnless(
    connection.vendor == "postgresql", "a worker process shares the test database only on PostgreSQL"
)
class WorkerTests(TransactionTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not redis_reachable():
            raise AssertionError(f"Redis is needed at {REDIS} for the worker tests (make test starts it).")
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        cls.mail_dir = Path(tempfile.mkdtemp(prefix="airepo-mail-"))
        cls.log = tempfile.NamedTemporaryFile(prefix="airepo-worker-", suffix=".log", delete=False)  # noqa: SIM115
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "DATABASE_POOL": "false",
            "CELERY_BROKER_URL": REDIS,
            "REDIS_URL": "",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(cls.mail_dir),
        }
        cls.worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=cls.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                lambda: b"ready." in Path(cls.log.name).read_bytes(), timeout=60, what="the worker to start"
            )
        except AssertionError:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.worker.terminate()
        try:
            cls.worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cls.worker.kill()
        shutil.rmtree(cls.mail_dir, ignore_errors=True)
        use_broker(settings.CELERY_BROKER_URL)
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
        super().tearDownClass()

    def setUp(self):
        self.editor, _ = services.editor_create(username="edith", email="edith@example.org", password=None)
        self.incident = publish(
            "Delivery robot blocks an ambulance", slug="robot-blocks-ambulance", occurred="2024"
        )
        for message in self.mail_dir.iterdir():
            message.unlink()

    def tearDown(self):
        use_broker(settings.CELERY_BROKER_URL)
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER

    def improve(self):
        """A contributor improves the incident through the web; the response and its time."""
        form = self.client.get("/incidents/robot-blocks-ambulance/improve/").context["form"]
        from submissions.tests.base import form_data

        data = {**form_data(form), "insight": "The ambulance was delayed four minutes."}
        started = time.monotonic()
        response = self.client.post("/incidents/robot-blocks-ambulance/improve/", data)
        return response, time.monotonic() - started

    def sends_done(self):
        """How many send_notification tasks the worker has finished, by its log."""
        lines = Path(self.log.name).read_bytes().splitlines()
        return sum(1 for line in lines if b"send_notification" in line and b"succeeded" in line)

    def emails(self):
        return sorted(self.mail_dir.iterdir())

    def test_the_worker_sends_the_notification_of_a_web_submission(self):
        use_broker(REDIS)
        response, _ = self.improve()
        self.assertEqual(response.status_code, 302)
        notification = Notification.objects.get()
        wait_for(lambda: Notification.objects.filter(pk=notification.pk, sent_at__isnull=False).exists())
        [email] = self.emails()
        self.assertIn("edith@example.org", email.read_text())
        self.assertIn("The ambulance was delayed four minutes.", email.read_text())

    def test_with_the_broker_down_the_submission_succeeds_and_is_delivered_once_later(self):
        use_broker(DEAD_BROKER)
        response, elapsed = self.improve()
        self.assertEqual(response.status_code, 302)
        self.assertLess(elapsed, 2.0)
        print(f"submission with the broker down answered in {elapsed:.2f}s")
        submission = Submission.objects.get()
        self.assertEqual(submission.state, Submission.State.PENDING)
        notification = Notification.objects.get()
        self.assertIsNone(notification.queued_at)
        self.assertIsNone(notification.sent_at)

        use_broker(REDIS)  # the broker is back
        later = timezone.now() + timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER + 1)
        self.assertEqual(notifications.notifications_requeue(now=later), 1)
        wait_for(lambda: Notification.objects.filter(pk=notification.pk, sent_at__isnull=False).exists())
        # A second re-queue and a stray duplicate task change nothing.
        self.assertEqual(notifications.notifications_requeue(now=later + timedelta(minutes=10)), 0)
        done_before = self.sends_done()
        tasks.send_notification.apply_async(args=[notification.pk])
        wait_for(lambda: self.sends_done() > done_before, what="the duplicate task to run")
        self.assertEqual(len(self.emails()), 1)
        notification.refresh_from_db()
        self.assertEqual(notification.attempts, 1)
