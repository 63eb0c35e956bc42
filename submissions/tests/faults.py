"""Broken services for the fault tests: a port that refuses, a server that never answers."""

import contextlib
import socket
import tempfile
import threading
import time

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
            "BACKEND": "config.cache.RedisCache",
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


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `down()` cuts every connection and refuses new
    ones (as a network drop or a stopped database would), `up()` forwards again. `pause()`
    keeps every connection open and accepts new ones but forwards nothing (as a server stopped
    with SIGSTOP, or a network that drops packets, looks to its clients); `resume()` lets
    what was held through."""

    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.lock = threading.Lock()
        self.sockets = []
        self.listener = None
        self.flowing = threading.Event()
        self.flowing.set()
        self.up()

    def pause(self):
        self.flowing.clear()

    def resume(self):
        self.flowing.set()

    def up(self):
        with self.lock:
            if self.listener is None:
                self.listener = socket.socket()
                self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.listener.bind(("127.0.0.1", self.port))
                self.listener.listen(128)
                threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def down(self):
        with self.lock:
            listener, self.listener = self.listener, None
            sockets, self.sockets = self.sockets, []
        for sock in [listener, *sockets]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self):
        self.down()
        self.flowing.set()  # the held data goes nowhere now: its threads end

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while chunk := source.recv(65536):
                self.flowing.wait()
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


CSRF_SECRET = "a" * 32  # a made-up CSRF cookie; the same value is a valid form token


class Site:
    """The site served by gunicorn in a process of its own, configured as in production
    (DEBUG off, collected static files), with `env` on top."""

    def __init__(self, env, static_root, workers=1):
        import os
        import subprocess
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="airepo-site-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            cwd=settings.BASE_DIR,
            env={**os.environ, **production_env(static_root), **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"The site did not start; see {self.log.name}")

    def request(self, method, path, data=None, timeout=15):
        """(status, body, seconds) of one request; a POST carries a valid CSRF pair."""
        import http.client
        from urllib.parse import urlencode

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {}
        body = None
        if method == "POST":
            body = urlencode({**(data or {}), "csrfmiddlewaretoken": CSRF_SECRET}, doseq=True)
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={CSRF_SECRET}",
            }
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read().decode()
        finally:
            connection.close()
        return response.status, content, time.monotonic() - started

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except Exception:
            self.process.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def production_env(static_root):
    """The environment of a production web process, minus what each test sets."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": "fault-tests-" + "k3y-" * 12,
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(static_root),
        "REDIS_URL": "",
        "CACHE_URL": "",
        "CELERY_BROKER_URL": "",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
    }


def collect_static(static_root):
    import os
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=settings.BASE_DIR,
        env={**os.environ, **production_env(static_root), "DATABASE_URL": "sqlite:///:memory:"},
        check=True,
    )
