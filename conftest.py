"""Test-wide settings that only make the suite faster."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Editors sign in many times in the tests; a slow hasher would only cost time."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: what readers see is cached per publication, and a
    test's transaction never commits, so nothing renews the tokens between tests."""
    from django.core.cache import caches

    caches["default"].clear()
