"""Module-level state under gunicorn's threaded workers: the Redis backoffs and the cache client."""

import threading
import time

from django.core.cache import caches
from django.test import SimpleTestCase, override_settings

from config import backoff
from config.cache import RedisCache
from repository import freshness


def in_threads(function, count=8):
    """function() run by `count` threads released together; their results."""
    barrier = threading.Barrier(count)
    results = []

    def run():
        barrier.wait()
        results.append(function())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class BackoffTests(SimpleTestCase):
    def setUp(self):
        self.backoff = backoff.Backoff("test")

    def test_when_a_backoff_runs_out_exactly_one_thread_tries_the_server_again(self):
        self.backoff.failed(60)
        self.assertEqual(in_threads(self.backoff.available), [False] * 8)
        self.backoff._until = time.monotonic() - 1  # as if the 60 s had passed
        self.assertEqual(sorted(in_threads(self.backoff.available)), [False] * 7 + [True])

    def test_after_the_probe_the_others_follow_unless_it_failed(self):
        self.backoff.failed(60)
        self.backoff._until = time.monotonic() - 1
        self.assertTrue(self.backoff.available())  # the probe
        self.backoff.failed(10)  # it failed: everyone waits again
        self.assertFalse(self.backoff.available())
        self.backoff.reset()
        self.assertEqual(in_threads(self.backoff.available), [True] * 8)

    def test_the_cache_and_the_broker_on_one_redis_share_one_record(self):
        cache = backoff.for_url("redis://Redis.internal:6379/0")
        self.assertIs(backoff.for_url("redis://redis.internal/1"), cache)
        self.assertIsNot(backoff.for_url("redis://redis.internal:6380/0"), cache)

    @override_settings(CACHE_URL="redis://127.0.0.1:1/0")
    def test_a_cache_failure_seen_by_a_page_puts_the_rate_limit_and_the_broker_aside_too(self):
        self.addCleanup(backoff.reset_all)
        freshness.cache_failed()
        self.assertFalse(backoff.for_url("redis://127.0.0.1:1/0").available())
        self.assertFalse(freshness.cache_available())


class CacheClientTests(SimpleTestCase):
    @override_settings(
        CACHES={"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/14"}}
    )
    def test_each_thread_has_its_own_cache_object_so_the_client_table_is_never_shared(self):
        found = in_threads(lambda: caches["default"], count=4)
        self.assertTrue(all(isinstance(cache, RedisCache) for cache in found))
        self.assertEqual(len({id(cache) for cache in found}), 4)
