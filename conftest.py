"""Test-wide fixtures: a faster suite, and an empty cache for each test."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Editors sign in many times in the tests; a slow hasher would only cost time."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache. Pages cached for readers are keyed by a freshness
    token that publishing renews on commit, and a TestCase never commits: without this, what one
    test cached could be served to the next."""
    from django.core.cache import caches

    from repository import freshness

    for alias in ("default", "local"):
        caches[alias].clear()
    freshness.backoff_reset()  # a test that took the cache down leaves no backoff behind


@pytest.fixture(autouse=True, scope="session")
def _no_page_cache():
    """Each request renders its page, so tests can read its context and see what they just
    published inside their own transaction (whose commit, which renews the freshness tokens,
    never comes). The page cache's own tests turn it on (repository/tests/test_caching.py)."""
    from django.conf import settings

    settings.PAGE_CACHE = False
