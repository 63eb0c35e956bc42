"""Exactly one beat: a second `celery beat` started by mistake schedules nothing twice.

The beat that sends holds a lock in the broker's Redis (a key with a time to live, renewed on
every tick); any other beat ticks without sending until the lock is free, then takes over. The
last time each periodic task was sent is kept in Redis too, so a beat that takes over does not
send again what the one before it has just sent (the nightly snapshot stays nightly).

    CELERY_BEAT_SCHEDULER = "config.beat:SingleBeatScheduler"   (config/settings.py)

A beat that cannot reach Redis sends nothing: a task a little late is better than one twice.
"""

import contextlib
import logging
import os
import socket
import uuid
from datetime import datetime

import redis
from celery.beat import PersistentScheduler
from django.conf import settings

log = logging.getLogger(__name__)

LOCK_KEY = "airepo:beat:lock"
LAST_RUN_KEY = "airepo:beat:last-run"

# Take the lock if it is free, or renew it if it is ours; 1 if we hold it now, else 0.
_ACQUIRE = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# Let the lock go, only if it is ours.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class SingleBeatScheduler(PersistentScheduler):
    """Celery's own scheduler (its schedule file included), sending only while it holds the lock.

    The lock lives `lock_ttl` seconds (BEAT_LOCK_TTL, default 60) unless renewed; the holder
    renews it at least every third of that. A standby looks every `standby_interval` seconds, so
    it takes over within a TTL and a look after the holder stopped (at once if it stopped cleanly:
    it lets the lock go).
    """

    def __init__(self, *args, lock_url=None, lock_ttl=None, **kwargs):
        self.lock_url = lock_url
        self.lock_ttl = float(lock_ttl or settings.BEAT_LOCK_TTL)
        self.standby_interval = max(1.0, self.lock_ttl / 6)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = None  # not yet known
        self._redis = None
        super().__init__(*args, **kwargs)

    @property
    def redis(self):
        if self._redis is None:
            url = self.lock_url or self.app.conf.broker_url
            self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        return self._redis

    def lead(self):
        """Whether this beat holds the lock now (taking or renewing it)."""
        try:
            held = bool(self.redis.eval(_ACQUIRE, 1, LOCK_KEY, self.token, int(self.lock_ttl * 1000)))
        except redis.RedisError as exc:
            if self.leading is not False:
                log.warning("Beat: Redis is unreachable (%s); sending nothing until it is back.", exc)
            self.leading = False
            return False
        if held != self.leading:
            if held:
                log.info("Beat: %s holds the lock and sends the periodic tasks.", self.token)
                self.catch_up()
            else:
                log.info("Beat: another beat holds the lock; %s stands by, sending nothing.", self.token)
        self.leading = held
        return held

    def catch_up(self):
        """Take the last run times other beats recorded, so nothing they sent is sent again."""
        try:
            recorded = self.redis.hgetall(LAST_RUN_KEY)
        except redis.RedisError:
            return
        changed = False
        for name, entry in self.schedule.items():
            value = recorded.get(name.encode())
            if value is None:
                continue
            last_run_at = datetime.fromisoformat(value.decode())
            if entry.last_run_at is None or last_run_at > entry.last_run_at:
                entry.last_run_at = last_run_at
                changed = True
        if changed:
            self._heap = None  # worked out again from the new last run times

    def reserve(self, entry):
        new_entry = super().reserve(entry)
        try:
            self.redis.hset(LAST_RUN_KEY, entry.name, new_entry.last_run_at.isoformat())
        except redis.RedisError as exc:
            log.warning("Beat: could not record that %s was sent: %s", entry.name, exc)
        return new_entry

    def tick(self, *args, **kwargs):
        if not self.lead():
            return self.standby_interval
        return min(super().tick(*args, **kwargs), self.lock_ttl / 3)

    def close(self):
        try:
            super().close()
        finally:
            if self.leading:
                with contextlib.suppress(redis.RedisError):  # else it expires by itself
                    self.redis.eval(_RELEASE, 1, LOCK_KEY, self.token)
                self.leading = False
