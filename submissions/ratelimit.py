"""A per-client limit on how often forms may be sent, shared through Django's cache."""

import functools
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render


def client_ip(request):
    """The client's address; behind TRUSTED_PROXIES proxies, the one they saw."""
    proxies = settings.TRUSTED_PROXIES
    if proxies:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def hit(request, scope, limit, period):
    """Count one attempt; the seconds to wait if over the limit, else None."""
    now = time.time()
    window = int(now // period)
    key = f"ratelimit:{scope}:{client_ip(request)}:{window}"
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        count = 1
    if count > limit:
        return max(1, math.ceil((window + 1) * period - now))
    return None


def rate_limited(scope):
    """Limit the POSTs of a view per client: settings.SUBMISSION_RATE_LIMIT per SUBMISSION_RATE_PERIOD."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST":
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
