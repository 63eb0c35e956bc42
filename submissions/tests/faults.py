"""Broken services for the fault tests: a port that refuses, a server that never answers."""

import contextlib
import socket
import threading

from django.conf import settings
from django.test import override_settings

from config.celery import app
from submissions.ratelimit import shared_cache_backoff_reset

REFUSING_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


class HangingServer:
    """A TCP server that accepts connections and never answers (nor closes them)."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(128)
        self.port = self.socket.getsockname()[1]
        self.held = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.closed = True
        for conn in [self.socket, *self.held]:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _use_broker(url, eager):
    from kombu import pools

    from config.celery import broker_backoff_reset

    app.conf.broker_url = url
    app.conf.task_always_eager = eager
    pools.reset()
    app._after_fork()
    broker_backoff_reset()


@contextlib.contextmanager
def redis_at(url):
    """The shared cache and the Celery broker both at `url`, as REDIS_URL would set them."""
    caches = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "socket_connect_timeout": settings.CACHE_SOCKET_TIMEOUT,
                "socket_timeout": settings.CACHE_SOCKET_TIMEOUT,
            },
        },
    }
    shared_cache_backoff_reset()
    _use_broker(url, eager=False)
    try:
        with override_settings(CACHES=caches, CACHE_URL=url):
            yield
    finally:
        _use_broker(settings.CELERY_BROKER_URL, eager=settings.CELERY_TASK_ALWAYS_EAGER)
        shared_cache_backoff_reset()
