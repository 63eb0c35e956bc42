"""Exactly one beat: two beats against one Redis, and each periodic task is sent once."""

import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta

import redis
from celery import Celery
from django.test import SimpleTestCase

from config.beat import LAST_RUN_KEY, LOCK_KEY, SingleBeatScheduler

REDIS = os.environ.get("TEST_BEAT_REDIS_URL", "redis://127.0.0.1:6379/12")  # a database of its own
TTL = 2.0  # seconds the lock lives unrenewed (60 in production)


class RecordingScheduler(SingleBeatScheduler):
    """The real scheduler, sending to the real broker, that also notes what it sent and when."""

    def __init__(self, *args, **kwargs):
        self.sent = []
        super().__init__(*args, **kwargs)

    def apply_entry(self, entry, producer=None):
        self.sent.append((entry.name, time.monotonic()))
        super().apply_entry(entry, producer=producer)


class Beat:
    """A scheduler ticking in a thread, sleeping as `celery beat` does between ticks."""

    def __init__(self, app, folder, name):
        self.scheduler = RecordingScheduler(
            app=app, schedule_filename=os.path.join(folder, name), lock_url=REDIS, lock_ttl=TTL
        )
        self.running = True
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while self.running:
            time.sleep(max(0.0, min(self.scheduler.tick(), 0.1)))

    def start(self):
        self.thread.start()
        return self

    def crash(self):
        """Stops ticking without letting the lock go, as a killed process would."""
        self.running = False
        self.thread.join(timeout=5)

    def stop(self):
        self.crash()
        if not self.closed:
            self.closed = True
            self.scheduler.close()

    def sent(self, name):
        return [at for entry, at in self.scheduler.sent if entry == name]


class SingleBeatTests(SimpleTestCase):
    def setUp(self):
        self.redis = redis.Redis.from_url(REDIS)
        try:
            self.redis.flushdb()
        except redis.RedisError as exc:
            raise AssertionError(
                f"Redis is needed at {REDIS} for the beat tests (make test starts it): {exc}"
            ) from None
        self.folder = tempfile.mkdtemp(prefix="airepo-beat-")
        self.app = Celery("beat-test", broker=REDIS, set_as_current=False)
        self.app.conf.beat_schedule = {
            "every-second": {"task": "beat_test.every_second", "schedule": 1.0},
            "nightly": {"task": "beat_test.nightly", "schedule": timedelta(days=1)},
        }
        self.beats = []

    def tearDown(self):
        for beat in self.beats:
            beat.stop()
        self.redis.flushdb()
        shutil.rmtree(self.folder, ignore_errors=True)

    def beat(self, name, nightly_due=False):
        beat = Beat(self.app, self.folder, name)
        if nightly_due:  # as two beats whose schedule files both say the nightly task is due
            entry = beat.scheduler.schedule["nightly"]
            entry.last_run_at = entry.last_run_at - timedelta(days=2)
        self.beats.append(beat)
        return beat

    def queued(self):
        """The messages in the broker's queue, by task name."""
        return Counter(
            json.loads(message)["headers"]["task"] for message in self.redis.lrange("celery", 0, -1)
        )

    def test_of_two_beats_only_the_one_holding_the_lock_sends_each_due_task_once(self):
        first = self.beat("first", nightly_due=True).start()
        time.sleep(0.3)
        second = self.beat("second", nightly_due=True).start()
        time.sleep(3.2)
        first.stop()
        second.crash()

        self.assertEqual(len(second.scheduler.sent), 0, "the second beat sent something")
        self.assertEqual(len(first.sent("nightly")), 1)
        self.assertGreaterEqual(len(first.sent("every-second")), 3)
        self.assertEqual(
            self.queued(),
            Counter({"beat_test.nightly": 1, "beat_test.every_second": len(first.sent("every-second"))}),
        )
        self.assertIsNone(self.redis.get(LOCK_KEY), "a beat that stops lets the lock go")

    def test_a_standby_takes_over_when_the_beat_stops_and_sends_nothing_twice(self):
        first = self.beat("first", nightly_due=True).start()
        time.sleep(0.3)
        second = self.beat("second", nightly_due=True).start()
        time.sleep(1.0)
        self.assertEqual(second.scheduler.sent, [])
        self.assertIn(b"nightly", self.redis.hgetall(LAST_RUN_KEY))

        stopped = time.monotonic()
        first.stop()  # a clean stop: the lock is let go at once
        time.sleep(2.5)
        second.crash()
        taken_over = second.sent("every-second")[0] - stopped
        print(f"\nbeat: the standby sent its first task {taken_over:.2f}s after the beat stopped")
        self.assertLess(taken_over, TTL / 6 + 1.5)
        self.assertEqual(second.sent("nightly"), [], "the nightly task was sent again")
        self.assertEqual(self.queued()["beat_test.nightly"], 1)

    def test_after_a_crash_the_standby_waits_for_the_lock_to_expire(self):
        first = self.beat("first").start()
        time.sleep(0.3)
        second = self.beat("second").start()
        time.sleep(1.2)
        self.assertTrue(first.scheduler.sent)
        crashed = time.monotonic()
        first.crash()  # no clean stop: the lock stays until its time to live runs out
        deadline = crashed + TTL + 3
        while not second.scheduler.sent and time.monotonic() < deadline:
            time.sleep(0.05)
        second.crash()
        self.assertTrue(second.scheduler.sent, "the standby never took over")
        waited = second.scheduler.sent[0][1] - crashed
        print(f"\nbeat: after a crash the standby took over in {waited:.2f}s (lock TTL {TTL:.0f}s)")
        self.assertGreater(waited, TTL - 1.0)  # the last renewal was at most a third of the TTL before
        last_sent_by_first = max(at for _, at in first.scheduler.sent)
        self.assertGreater(second.scheduler.sent[0][1], last_sent_by_first)

    def test_a_beat_that_cannot_reach_redis_sends_nothing(self):
        app = Celery("beat-test-unreachable", broker="redis://127.0.0.1:1/0", set_as_current=False)
        app.conf.beat_schedule = self.app.conf.beat_schedule
        scheduler = RecordingScheduler(
            app=app, schedule_filename=os.path.join(self.folder, "lost"), lock_ttl=TTL
        )
        try:
            for _ in range(3):
                self.assertEqual(scheduler.tick(), scheduler.standby_interval)
        finally:
            scheduler.close()
        self.assertEqual(scheduler.sent, [])
