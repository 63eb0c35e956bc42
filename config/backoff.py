"""Leaving a failing Redis alone for a while, one record per server, shared by the process's threads.

The shared cache (page cache, freshness tokens, rate limits) and the Celery broker are each
given up on for a few seconds after a call to them fails (a refused connection, or a timeout
on one that hangs), so that an outage costs one timeout, not one per call. The record is per
server address, not per user of it: when the cache and the broker are the same Redis (one
REDIS_URL), a timeout seen by either puts both aside, and the first request after a backoff
pays for one timeout, not two.

Under threads (gunicorn's gthread workers), when a backoff runs out exactly one thread tries
the server again (the probe); the others go on without it for PROBE_SECONDS, or until the
probe fails and a new backoff starts.
"""

import threading
from time import monotonic
from urllib.parse import urlsplit

PROBE_SECONDS = 1.0


class Backoff:
    def __init__(self, name):
        self.name = name
        self._lock = threading.Lock()
        self._until = 0.0
        self._tripped = False

    def available(self):
        """Whether to call the server now (claims the probe when a backoff has just run out)."""
        now = monotonic()
        if not self._tripped:
            return now >= self._until
        with self._lock:
            if not self._tripped:
                return now >= self._until
            if now < self._until:
                return False
            self._tripped = False
            self._until = now + PROBE_SECONDS  # the others wait for the probe this long at most
            return True

    def failed(self, seconds):
        with self._lock:
            self._tripped = True
            self._until = monotonic() + seconds

    def reset(self):
        with self._lock:
            self._tripped = False
            self._until = 0.0


_registry = {}
_registry_lock = threading.Lock()


def server_key(url):
    """host:port of a redis:// URL (the first one of a comma-separated list); '' for none."""
    first = (url or "").split(",")[0].strip()
    if not first:
        return ""
    parts = urlsplit(first)
    return f"{(parts.hostname or '').lower()}:{parts.port or 6379}"


def for_url(url):
    key = server_key(url)
    backoff = _registry.get(key)
    if backoff is None:
        with _registry_lock:
            backoff = _registry.setdefault(key, Backoff(key))
    return backoff


def reset_all():
    """Try every server again at once (for tests that bring one back)."""
    with _registry_lock:
        backoffs = list(_registry.values())
    for backoff in backoffs:
        backoff.reset()
