"""Deployment checks (`manage.py check --deploy`) for what the submissions app relies on."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.caches, deploy=True)
def shared_cache_check(app_configs, **kwargs):
    if settings.CACHE_URL:
        return []
    return [
        Warning(
            "No shared cache (CACHE_URL or REDIS_URL): each web process counts the submission rate "
            "limit on its own, so with several workers a client may send that many times more.",
            hint="Set REDIS_URL (or CACHE_URL) to the Redis that every web process shares.",
            id="submissions.W001",
        )
    ]
