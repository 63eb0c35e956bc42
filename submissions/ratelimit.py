"""A per-client limit on how often forms may be sent, shared through Django's cache.

The shared cache (Redis) may refuse, or accept and never answer: each of its calls has a
short socket timeout (CACHE_SOCKET_TIMEOUT), an error is logged, and this process then
counts on its own (the "local" cache) for CACHE_BACKOFF_SECONDS before trying the shared
cache again. A contribution is never refused because the cache is down: the limit
degrades to one per process.
"""

import functools
import logging
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.shortcuts import render
from redis.exceptions import RedisError

from config import backoff
from config.clientip import client_ip

log = logging.getLogger(__name__)

CACHE_ERRORS = (RedisError, OSError)

__all__ = ["client_ip", "hit", "rate_limited", "shared_cache_backoff_reset"]


def shared_cache_backoff_reset():
    """Try the shared cache again at once (for tests that bring it back)."""
    backoff.reset_all()


def _count(cache, key, period):
    cache.add(key, 0, timeout=period + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        return 1


def _count_anywhere(key, period):
    """Count in the shared cache if it answers, else in this process."""
    shared = backoff.for_url(settings.CACHE_URL)  # the server's record, shared by threads
    if shared.available():
        try:
            return _count(caches["default"], key, period)
        except CACHE_ERRORS as exc:
            shared.failed(settings.CACHE_BACKOFF_SECONDS)
            log.warning(
                "Rate limit: the shared cache failed (%s: %s); counting in this process for %ss.",
                type(exc).__name__,
                exc,
                settings.CACHE_BACKOFF_SECONDS,
            )
    return _count(caches["local"], key, period)


def hit(request, scope, limit, period):
    """Count one attempt; the seconds to wait if over the limit, else None."""
    now = time.time()
    window = int(now // period)
    count = _count_anywhere(f"ratelimit:{scope}:{client_ip(request)}:{window}", period)
    if count > limit:
        return max(1, math.ceil((window + 1) * period - now))
    return None


# Buttons that only show a form again with one more box or row ("Add another"): nothing is
# sent, so they are not counted (a contributor without JavaScript presses them often).
SHOWN_AGAIN = ("more_rows", "more_values")


def rate_limited(scope):
    """Limit the POSTs of a view per client: settings.SUBMISSION_RATE_LIMIT per SUBMISSION_RATE_PERIOD."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST" and not any(name in request.POST for name in SHOWN_AGAIN):
                wait = hit(request, scope, settings.SUBMISSION_RATE_LIMIT, settings.SUBMISSION_RATE_PERIOD)
                if wait is not None:
                    response = render(
                        request,
                        "429.html",
                        {"retry_after": wait, "minutes": math.ceil(wait / 60)},
                        status=429,
                    )
                    response["Retry-After"] = str(wait)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
