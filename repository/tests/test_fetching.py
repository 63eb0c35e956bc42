import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

from django.core.cache import cache
from django.test import SimpleTestCase, override_settings

from repository import fetching
from repository.tests.webserver import (
    HTML,
    LocalWebMixin,
    LocalWebServer,
    drip,
    endless,
    gzipped,
    html,
    redirect_to,
    slow,
)


def fake_dns(table):
    """A resolver answering from `table` (name -> [addresses]); other names do not resolve."""

    def lookup(host, port):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in table[host]
        ]

    return mock.patch.object(fetching, "_lookup", side_effect=lookup)


def echo_host(request):
    return 200, {"Content-Type": "text/plain"}, request.headers["Host"].encode()


def echo_agent(request):
    return 200, {"Content-Type": "text/plain"}, request.headers["User-Agent"].encode()


class AddressGuardTests(SimpleTestCase):
    """The addresses the fetcher refuses, decided before any connection is made."""

    def assertRefused(self, url):
        with (
            mock.patch.object(fetching, "_pool", side_effect=AssertionError("must not connect")),
            self.assertRaises(fetching.FetchRefused),
        ):
            fetching.fetch(url)

    def test_it_refuses_loopback_without_the_allowance(self):
        self.assertRefused("http://127.0.0.1:8000/")
        self.assertRefused("http://[::1]/")

    def test_it_refuses_private_ranges(self):
        for url in ("http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://[fd00::1]/"):
            with self.subTest(url):
                self.assertRefused(url)

    def test_it_refuses_the_cloud_metadata_address(self):
        self.assertRefused("http://169.254.169.254/latest/meta-data/")

    def test_it_refuses_link_local_multicast_reserved_and_unspecified(self):
        for url in (
            "http://[fe80::1]/",
            "http://224.0.0.1/",
            "http://240.0.0.1/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://[ff02::1]/",
        ):
            with self.subTest(url):
                self.assertRefused(url)

    def test_it_refuses_ipv4_mapped_and_nat64_forms_of_private_addresses(self):
        self.assertRefused("http://[::ffff:127.0.0.1]/")
        self.assertRefused("http://[::ffff:10.0.0.1]/")
        self.assertRefused("http://[64:ff9b::a9fe:a9fe]/")  # 169.254.169.254

    def test_it_refuses_numeric_spellings_of_loopback(self):
        self.assertRefused("http://2130706433/")
        self.assertRefused("http://0x7f.1/")

    def test_it_refuses_other_schemes(self):
        for url in (
            "ftp://example.org/file",
            "file:///etc/passwd",
            "gopher://example.org/",
            "javascript:alert(1)",
        ):
            with self.subTest(url):
                self.assertRefused(url)

    def test_it_refuses_credentials_in_the_address(self):
        self.assertRefused("http://user:secret@example.org/")

    def test_it_refuses_a_name_when_any_of_its_addresses_is_private(self):
        with fake_dns({"mixed.example": ["93.184.216.34", "10.1.2.3"], "inside.example": ["192.168.0.9"]}):
            self.assertRefused("http://mixed.example/")
            self.assertRefused("https://inside.example/")

    def test_public_names_are_allowed_through_the_guard(self):
        with fake_dns({"news.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}):
            self.assertEqual(
                fetching._addresses("news.example", 443),
                ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
            )

    def test_a_name_that_does_not_resolve_is_a_network_error(self):
        with fake_dns({}), self.assertRaises(fetching.FetchNetworkError):
            fetching.fetch("http://nowhere.example/")

    @override_settings(FETCH_ALLOWED_PRIVATE_HOSTS=["127.0.0.1"])
    def test_the_allowance_covers_only_the_hosts_it_names(self):
        self.assertRefused("http://localhost/")
        self.assertRefused("http://10.0.0.1/")
        self.assertEqual(fetching._addresses("127.0.0.1", 80), ["127.0.0.1"])

    def test_only_get_and_head_are_sent(self):
        with self.assertRaises(ValueError):
            fetching.fetch("https://example.org/", method="POST")


class FetchTests(LocalWebMixin, SimpleTestCase):
    routes = {
        "/page": html,
        "/gzip": gzipped,
        "/host": echo_host,
        "/agent": echo_agent,
        "/moved": redirect_to("/page", 301),
        "/to-private": redirect_to("http://10.0.0.1/secret"),
        "/to-metadata": redirect_to("http://169.254.169.254/latest/meta-data/"),
        "/to-ftp": redirect_to("ftp://example.org/file"),
        "/loop": redirect_to("/loop"),
        "/chain-1": redirect_to("/chain-2"),
        "/chain-2": redirect_to("/chain-3"),
        "/chain-3": redirect_to("/page"),
        "/big": lambda _request: (200, {"Content-Type": "text/html"}, b"a" * 5000),
        "/endless": endless(),
        "/slow": slow(1.5),
        "/drip": drip(30, 0.1),
        "/caf%C3%A9%20menu": html,
    }

    def test_it_fetches_a_page_from_the_allowed_test_server(self):
        result = fetching.fetch(self.web.url("/page"))
        self.assertEqual(result.status, 200)
        self.assertEqual(result.body, HTML)
        self.assertEqual(result.content_type, "text/html")
        self.assertEqual(result.charset, "utf-8")
        self.assertFalse(result.truncated)

    def test_spaces_and_non_ascii_in_the_address_are_percent_encoded_once(self):
        for url in (self.web.url("/café menu"), self.web.url("/caf%C3%A9%20menu")):
            with self.subTest(url):
                self.assertEqual(fetching.fetch(url).status, 200)
        self.assertEqual(self.requested(), [("GET", "/caf%C3%A9%20menu")] * 2)

    def test_head_reads_no_body(self):
        result = fetching.fetch(self.web.url("/page"), method="HEAD")
        self.assertEqual((result.status, result.body), (200, b""))
        self.assertEqual(self.requested(), [("HEAD", "/page")])

    def test_it_decodes_a_gzipped_body(self):
        self.assertEqual(fetching.fetch(self.web.url("/gzip")).body, HTML)

    def test_it_names_the_site_in_its_user_agent(self):
        with override_settings(SITE_NAME="Incident Site", SITE_URL="https://incidents.example.org"):
            agent = fetching.fetch(self.web.url("/agent")).body.decode()
        self.assertIn("Incident Site", agent)
        self.assertIn("+https://incidents.example.org", agent)

    def test_it_follows_redirects_and_reports_where_it_ended(self):
        result = fetching.fetch(self.web.url("/chain-1"))
        self.assertEqual(result.status, 200)
        self.assertEqual(result.final_url, self.web.url("/page"))
        self.assertEqual(result.redirects, 3)

    @override_settings(FETCH_MAX_REDIRECTS=2)
    def test_it_stops_after_too_many_redirects(self):
        with self.assertRaises(fetching.FetchTooManyRedirects):
            fetching.fetch(self.web.url("/chain-1"))
        with self.assertRaises(fetching.FetchTooManyRedirects):
            fetching.fetch(self.web.url("/loop"))
        self.assertEqual(len(self.requested()), 3 + 3)

    def test_a_redirect_to_a_private_address_is_refused(self):
        for path in ("/to-private", "/to-metadata"):
            with self.subTest(path), self.assertRaises(fetching.FetchRefused):
                fetching.fetch(self.web.url(path))

    def test_a_redirect_to_another_scheme_is_refused(self):
        with self.assertRaises(fetching.FetchRefused):
            fetching.fetch(self.web.url("/to-ftp"))

    def test_a_redirect_to_a_name_of_the_test_server_outside_the_allowance_is_refused(self):
        self.web.routes["/to-localhost"] = redirect_to(f"http://localhost:{self.web.port}/page")
        with self.assertRaises(fetching.FetchRefused):
            fetching.fetch(self.web.url("/to-localhost"))
        self.assertEqual(self.requested(), [("GET", "/to-localhost")])

    @override_settings(FETCH_MAX_BYTES=1024)
    def test_a_body_over_the_cap_is_refused_by_its_declared_length(self):
        with self.assertRaises(fetching.FetchTooLarge):
            fetching.fetch(self.web.url("/big"))

    @override_settings(FETCH_MAX_BYTES=1024)
    def test_an_endless_body_stops_at_the_cap(self):
        started = time.monotonic()
        with self.assertRaises(fetching.FetchTooLarge):
            fetching.fetch(self.web.url("/endless"))
        result = fetching.fetch(self.web.url("/endless"), truncate=True)
        self.assertEqual(len(result.body), 1024)
        self.assertTrue(result.truncated)
        self.assertLess(time.monotonic() - started, 5)

    def test_a_zero_cap_reads_no_body(self):
        result = fetching.fetch(self.web.url("/endless"), max_bytes=0)
        self.assertEqual((result.status, result.body), (200, b""))

    @override_settings(FETCH_READ_TIMEOUT=0.3)
    def test_a_slow_server_times_out(self):
        with self.assertRaises(fetching.FetchTimeout):
            fetching.fetch(self.web.url("/slow"))

    @override_settings(FETCH_TOTAL_TIMEOUT=1)
    def test_a_body_that_trickles_in_hits_the_overall_deadline(self):
        started = time.monotonic()
        with self.assertRaises(fetching.FetchTimeout):
            fetching.fetch(self.web.url("/drip"))
        self.assertLess(time.monotonic() - started, 2.5)

    def test_a_closed_port_is_a_network_error(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with self.assertRaises(fetching.FetchNetworkError) as caught:
            fetching.fetch(f"http://127.0.0.1:{port}/")
        self.assertNotIsInstance(caught.exception, fetching.FetchTimeout)

    def test_it_connects_to_the_checked_address_with_the_name_in_the_host_header(self):
        with (
            fake_dns({"news.test": ["127.0.0.1"]}) as lookup,
            override_settings(FETCH_ALLOWED_PRIVATE_HOSTS=["news.test"]),
        ):
            result = fetching.fetch(f"http://news.test:{self.web.port}/host")
        self.assertEqual(result.body.decode(), f"news.test:{self.web.port}")
        self.assertEqual(lookup.call_count, 1)  # resolved once; the connection used that answer

    def test_every_redirect_hop_is_resolved_and_checked_again(self):
        self.web.routes["/to-rebound"] = redirect_to(f"http://rebound.test:{self.web.port}/page")
        with (
            fake_dns({"first.test": ["127.0.0.1"], "rebound.test": ["10.9.8.7"]}),
            override_settings(FETCH_ALLOWED_PRIVATE_HOSTS=["first.test"]),
            self.assertRaises(fetching.FetchRefused),
        ):
            fetching.fetch(f"http://first.test:{self.web.port}/to-rebound")


class PacingTests(LocalWebMixin, SimpleTestCase):
    routes = {"/page": html}

    def setUp(self):
        super().setUp()
        cache.delete("fetch:host:127.0.0.1")
        self.addCleanup(cache.delete, "fetch:host:127.0.0.1")

    @override_settings(FETCH_HOST_INTERVAL=1, FETCH_HOST_MAX_WAIT=5)
    def test_requests_to_one_host_are_spaced_by_the_interval(self):
        started = time.monotonic()
        fetching.fetch(self.web.url("/page"))
        fetching.fetch(self.web.url("/page"))
        self.assertGreaterEqual(time.monotonic() - started, 0.9)

    @override_settings(FETCH_HOST_INTERVAL=30, FETCH_HOST_MAX_WAIT=0)
    def test_a_host_asked_too_recently_is_busy_rather_than_a_long_wait(self):
        fetching.fetch(self.web.url("/page"))
        with self.assertRaises(fetching.FetchHostBusy):
            fetching.fetch(self.web.url("/page"))
        self.assertEqual(len(self.requested()), 1)


def _make_certificate(directory, name):
    """A self-signed certificate for `name`; None when openssl is not installed."""
    if not shutil.which("openssl"):
        return None
    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class TlsTests(SimpleTestCase):
    """HTTPS to the checked address: the certificate is verified for the host name (sent as SNI)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.directory = tempfile.mkdtemp()
        cls.addClassCleanup(shutil.rmtree, cls.directory, True)
        made = _make_certificate(cls.directory, "secure.test")
        if made is None:
            raise unittest.SkipTest("openssl is not installed")
        cls.cert, key = made
        cls.web = LocalWebServer({"/page": html})
        cls.server_names = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cls.cert, key)
        context.sni_callback = lambda sock, name, ctx: cls.server_names.append(name)
        cls.web.server.socket = context.wrap_socket(cls.web.server.socket, server_side=True)
        cls.web.start()
        cls.addClassCleanup(cls.web.stop)

    def fetch(self, name, **settings):
        with (
            fake_dns({name: ["127.0.0.1"]}),
            override_settings(FETCH_ALLOWED_PRIVATE_HOSTS=[name], FETCH_HOST_INTERVAL=0, **settings),
        ):
            return fetching.fetch(f"https://{name}:{self.web.port}/page")

    def test_it_verifies_the_certificate_for_the_host_name_it_sends_as_sni(self):
        result = self.fetch("secure.test", FETCH_CA_CERTS=str(self.cert))
        self.assertEqual(result.body, HTML)
        self.assertIn("secure.test", self.server_names)

    def test_a_certificate_for_another_name_is_refused(self):
        with self.assertRaises(fetching.FetchError) as caught:
            self.fetch("other.test", FETCH_CA_CERTS=str(self.cert))
        self.assertIn("TLS", str(caught.exception))

    def test_an_untrusted_certificate_is_refused(self):
        with self.assertRaises(fetching.FetchError) as caught:
            self.fetch("secure.test", FETCH_CA_CERTS="")
        self.assertNotIsInstance(caught.exception, fetching.FetchNetworkError)
