"""A per-address limit on API requests: API_RATE_LIMIT requests per API_RATE_PERIOD seconds.

The address is the one the rest of the site uses (config/clientip.py, which believes
X-Forwarded-For only from trusted proxies). Requests are counted in fixed windows in the
shared cache (Redis in production), so every web process shares one count; when the cache
fails, this process counts on its own (the "local" cache) for CACHE_BACKOFF_SECONDS. A
request over the limit gets 429 with Retry-After: the seconds until the window ends.
"""

import logging
import time

from django.conf import settings
from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from config.clientip import client_ip

log = logging.getLogger(__name__)
CACHE_ERRORS = (RedisError, OSError)
_shared_down_until = 0.0


def _count(cache, key, period):
    cache.add(key, 0, timeout=period + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        return 1


def _count_anywhere(key, period):
    global _shared_down_until
    if time.monotonic() >= _shared_down_until:
        try:
            return _count(caches["default"], key, period)
        except CACHE_ERRORS as exc:
            _shared_down_until = time.monotonic() + settings.CACHE_BACKOFF_SECONDS
            log.warning("API rate limit: the shared cache failed (%s); counting in this process.", exc)
    return _count(caches["local"], key, period)


class AddressRateThrottle(BaseThrottle):
    def __init__(self):
        self.retry_after = None

    def allow_request(self, request, view):
        limit, period = settings.API_RATE_LIMIT, settings.API_RATE_PERIOD
        now = time.time()
        window = int(now // period)
        key = f"api-rate:{client_ip(request) or 'unknown'}:{window}"
        if _count_anywhere(key, period) <= limit:
            return True
        self.retry_after = max(1, int((window + 1) * period - now + 0.999))
        return False

    def wait(self):
        return self.retry_after
