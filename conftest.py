"""Test-wide settings that only make the suite faster."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Editors sign in many times in the tests; a slow hasher would only cost time."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _no_page_cache():
    """Each request renders its page, so tests can read its context and see what they just
    published inside their own transaction (whose commit, which renews the freshness tokens,
    never comes). The page cache's own tests turn it on (repository/tests/test_caching.py)."""
    from django.conf import settings

    settings.PAGE_CACHE = False
