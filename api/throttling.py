"""A per-address limit on API requests: API_RATE_LIMIT requests per API_RATE_PERIOD seconds.

It is the site's own rate limit (submissions/ratelimit.py): the address the rest of the site
uses (config/clientip.py, which believes X-Forwarded-For only from trusted proxies), counted
in fixed windows in the shared cache, each web process counting on its own while the cache
fails. A request over the limit gets 429 with Retry-After: the seconds until the window ends.
"""

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from submissions import ratelimit


class AddressRateThrottle(BaseThrottle):
    def __init__(self):
        self.retry_after = None

    def allow_request(self, request, view):
        self.retry_after = ratelimit.hit(request, "api", settings.API_RATE_LIMIT, settings.API_RATE_PERIOD)
        return self.retry_after is None

    def wait(self):
        return self.retry_after
