"""What readers see changes only when something is published, and then at once.

A scope's token names the current state of what it covers; anything cached for readers
(rendered pages, facet counts, charts) puts the token in its key, so publishing makes every
such entry unreachable at the moment its transaction commits, and nothing depends on a
timeout. A token is random, not a counter: when the cache loses it (a restart, an eviction)
a new one is drawn and the old entries are unreachable too, so a lost token can never bring
a stale page back.

Scopes:
- PUBLISHED: anything published (a revision, a merge, a taxonomy curation); lists, counts,
  term and entity pages, charts and feeds follow it.
- SNAPSHOTS: the dataset snapshots (a new one written, old ones pruned); the download page
  follows it.
"""

import contextlib
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from config import backoff

PUBLISHED = "published"
SNAPSHOTS = "snapshots"
_KEY = "freshness:{}"


def cache_key(scope=PUBLISHED):
    """Where the scope's token is kept: for reading it together with what it guards."""
    return _KEY.format(scope)


# When the cache fails (Redis down or hanging), this process leaves it alone for
# CACHE_BACKOFF_SECONDS: every reader of it (pages, counts, charts) computes afresh meanwhile,
# so a hanging cache costs one timeout, not one per lookup. The record is the server's, shared
# by the process's threads and by the rate limit and the broker on the same Redis
# (config/backoff.py).
def _backoff():
    return backoff.for_url(settings.CACHE_URL)


def cache_available():
    return _backoff().available()


def cache_failed():
    _backoff().failed(settings.CACHE_BACKOFF_SECONDS)


def backoff_reset():
    """Use the cache again at once (for tests that bring it back)."""
    backoff.reset_all()


def cache_get(key):
    """The cached value, or None when absent or when the cache is failing."""
    if not cache_available():
        return None
    try:
        return cache.get(key)
    except Exception:  # the cache backends' errors have no common base class
        cache_failed()
        return None


def cache_set(key, value, timeout):
    if not cache_available():
        return
    try:
        cache.set(key, value, timeout)
    except Exception:
        cache_failed()


def token(scope=PUBLISHED):
    """The scope's current token (a new one if the cache has none or is failing)."""
    if not cache_available():
        return uuid.uuid4().hex
    key = _KEY.format(scope)
    try:
        value = cache.get(key)
        if value is None:
            value = uuid.uuid4().hex
            if not cache.add(key, value, timeout=None):
                value = cache.get(key) or value
        return value
    except Exception:  # the cache is down: nothing read from it can be trusted or reused
        cache_failed()
        return uuid.uuid4().hex


def changed(*scopes):
    """Draw new tokens for the scopes when the current transaction commits (now, outside one)."""

    def renew():
        for scope in scopes or (PUBLISHED,):
            # An unreachable cache cannot be told; entries cached for readers therefore also
            # carry a timeout, the bound on how long an outage can leave a page stale.
            with contextlib.suppress(Exception):
                cache.set(_KEY.format(scope), uuid.uuid4().hex, timeout=None)

    transaction.on_commit(renew)
