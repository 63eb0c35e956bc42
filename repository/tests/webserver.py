"""A small web server on 127.0.0.1 for the fetcher's tests, and the guard that keeps every
test connection on this machine.

Routes map a path to a function of the request handler that returns (status, headers,
body); a body may be an iterable of byte chunks, sent as they come. Every request is
recorded as (method, path, headers).
"""

import gzip
import http.server
import threading
import time
from unittest import mock

from django.test import override_settings

from repository import fetching

HTML = b"""<!doctype html><html><head><meta charset="utf-8">
<title>Plain title | The Daily Example</title>
<meta property="og:title" content="Robot blocks ambulance">
<meta property="og:site_name" content="The Daily Example">
<meta property="article:published_time" content="2021-02-09T10:30:00+00:00">
</head><body><p>Story.</p></body></html>"""


def html(_request):
    return 200, {"Content-Type": "text/html; charset=utf-8"}, HTML


def redirect_to(location, status=302):
    return lambda _request: (status, {"Location": location}, b"")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        server = self.server
        path = self.path.split("?", 1)[0]
        server.requests.append((self.command, self.path, dict(self.headers)))
        route = server.routes.get(path)
        if route is None:
            status, headers, body = 404, {"Content-Type": "text/plain"}, b"not here"
        else:
            status, headers, body = route(self)
        if status is None:  # drop the connection without an answer
            self.close_connection = True
            return
        self.send_response(status)
        chunks = [body] if isinstance(body, bytes) else body
        if isinstance(body, bytes):
            headers = {"Content-Length": str(len(body)), **headers}
        else:
            self.close_connection = True
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should past its cap

    do_GET = _serve
    do_HEAD = _serve

    def log_message(self, *args):
        pass


class LocalWebServer:
    def __init__(self, routes=None):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.routes = dict(routes or {})
        self.server.requests = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def routes(self):
        return self.server.routes

    @property
    def requests(self):
        return self.server.requests

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def gzipped(_request):
    return 200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, gzip.compress(HTML)


def slow(seconds):
    def route(_request):
        time.sleep(seconds)
        return html(_request)

    return route


def drip(count, pause):
    """A body sent one byte at a time, `pause` seconds apart."""

    def body():
        for _ in range(count):
            time.sleep(pause)
            yield b"x"

    return lambda _request: (200, {"Content-Type": "text/plain"}, body())


def endless(chunk=64 * 1024, limit=20 * 1024 * 1024):
    """A body without a length that goes on far past any cap (up to `limit` bytes)."""
    return lambda _request: (
        200,
        {"Content-Type": "text/html"},
        (b"a" * chunk for _ in range(limit // chunk)),
    )


_real_pool = fetching._pool


def _loopback_only_pool(target, address):
    if address != "127.0.0.1":
        raise AssertionError(f"A test tried to connect to {address}; tests reach 127.0.0.1 only.")
    return _real_pool(target, address)


class LocalWebMixin:
    """For TestCase classes: a server on 127.0.0.1 for the class, the fetcher allowed to
    reach it (the test-only allowance) with no pacing, and any connection elsewhere an error."""

    routes = {}

    @classmethod
    def setUpClass(cls):
        cls.web = LocalWebServer(cls.routes).start()
        cls.addClassCleanup(cls.web.stop)
        cls._fetch_settings = override_settings(
            FETCH_ALLOWED_PRIVATE_HOSTS=["127.0.0.1"],
            FETCH_HOST_INTERVAL=0,
            FETCH_CONNECT_TIMEOUT=2,
            FETCH_READ_TIMEOUT=2,
            FETCH_TOTAL_TIMEOUT=10,
        )
        cls._fetch_settings.enable()
        cls.addClassCleanup(cls._fetch_settings.disable)
        guard = mock.patch.object(fetching, "_pool", _loopback_only_pool)
        guard.start()
        cls.addClassCleanup(guard.stop)
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.web.requests.clear()

    def requested(self):
        """(method, path) of each request the server has seen in this test."""
        return [(method, path) for method, path, _headers in self.web.requests]
