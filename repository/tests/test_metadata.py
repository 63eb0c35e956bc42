import socket

from django.test import SimpleTestCase, TestCase, override_settings

from repository import fetching, tasks
from repository.metadata import parse_metadata, partial_date_iso
from repository.models import SourceMetadata
from repository.services import source_metadata_fetch, source_metadata_request
from repository.tests.webserver import HTML, LocalWebMixin, html, redirect_to

URL = "https://www.example.org/news/1"


def page(head, body=""):
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


class ParseMetadataTests(SimpleTestCase):
    def test_open_graph_wins_over_the_html_title(self):
        found = parse_metadata(HTML, url=URL)
        self.assertEqual(found.title, "Robot blocks ambulance")
        self.assertEqual(found.publisher, "The Daily Example")
        self.assertEqual(found.published, "2021-02-09")

    def test_citation_tags_win_for_scholarly_pages(self):
        found = parse_metadata(
            page(
                '<meta name="citation_title" content="Gait recognition in schools">'
                '<meta property="og:title" content="A paper">'
                '<meta name="citation_journal_title" content="Journal of Surveillance">'
                '<meta name="citation_publication_date" content="2023/04/17">'
            ),
            url=URL,
        )
        self.assertEqual(
            (found.title, found.publisher, found.published),
            ("Gait recognition in schools", "Journal of Surveillance", "2023-04-17"),
        )

    def test_citation_date_may_be_a_year_or_a_month(self):
        self.assertEqual(
            parse_metadata(page('<meta name="citation_date" content="2019">'), url=URL).published, "2019"
        )
        self.assertEqual(
            parse_metadata(page('<meta name="citation_date" content="2019/03">'), url=URL).published,
            "2019-03",
        )

    def test_the_html_title_is_the_fallback_and_the_host_the_last_publisher(self):
        found = parse_metadata(page("<title>  Only a\n title &amp; more </title>"), url=URL)
        self.assertEqual(
            (found.title, found.publisher, found.published), ("Only a title & more", "example.org", "")
        )

    def test_a_date_meta_tag_is_read(self):
        found = parse_metadata(page('<meta name="date" content="February 9, 2021">'), url=URL)
        self.assertEqual(found.published, "2021-02-09")

    def test_json_ld_fills_what_the_tags_leave_out(self):
        found = parse_metadata(
            page(
                "<title>x</title>"
                '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
                '{"@type": "NewsArticle", "headline": "Fares surge", "datePublished": "2024-05-02T08:00:00Z",'
                ' "publisher": {"@type": "Organization", "name": "Example News"}}]}</script>'
            ),
            url=URL,
        )
        self.assertEqual(
            (found.title, found.publisher, found.published), ("Fares surge", "Example News", "2024-05-02")
        )

    def test_the_charset_of_the_page_is_honoured(self):
        body = page('<meta charset="iso-8859-1"><title>Café robots</title>').decode().encode("latin-1")
        self.assertEqual(parse_metadata(body, url=URL).title, "Café robots")
        self.assertEqual(parse_metadata("<title>Ĉu</title>".encode(), url=URL, charset="utf-8").title, "Ĉu")

    def test_broken_markup_and_nonsense_give_what_can_be_read(self):
        found = parse_metadata(b"<title>Half <meta property='og:site_name' content='X", url=URL)
        self.assertEqual(found.publisher, "example.org")
        found = parse_metadata(page('<meta property="article:published_time" content="soon">'), url=URL)
        self.assertEqual(found.published, "")
        self.assertEqual(parse_metadata(b"\xff\xfe\x00garbage", url=URL).title, "")

    def test_long_values_are_cut_to_the_reference_fields(self):
        found = parse_metadata(page(f'<meta property="og:title" content="{"t" * 900}">'), url=URL)
        self.assertEqual(len(found.title), 500)

    def test_dates_in_the_forms_pages_use(self):
        cases = {
            "2021-02-09T10:30:00+00:00": "2021-02-09",
            "2021-02-09": "2021-02-09",
            "2021/2/9": "2021-02-09",
            "2021": "2021",
            "9 February 2021": "2021-02-09",
            "Tue, 09 Feb 2021 10:00:00 GMT": "2021-02-09",
            "2021-13-01": "",
            "yesterday": "",
            "": "",
        }
        for text, expected in cases.items():
            with self.subTest(text):
                self.assertEqual(partial_date_iso(text), expected)


def pdf(_request):
    return 200, {"Content-Type": "application/pdf"}, b"%PDF-1.4 ..."


def big_page(_request):
    head = b'<html><head><meta property="og:title" content="Early in a long page"></head><body>'
    return 200, {"Content-Type": "text/html"}, head + b"x" * 50_000


class SourceMetadataTests(LocalWebMixin, TestCase):
    routes = {
        "/article": html,
        "/moved": redirect_to("/article"),
        "/report.pdf": pdf,
        "/long": big_page,
        "/to-private": redirect_to("http://169.254.169.254/latest/meta-data/"),
    }

    def test_it_stores_title_publisher_and_date(self):
        row = source_metadata_fetch(url=self.web.url("/moved"))
        row.refresh_from_db()
        self.assertEqual(row.status, SourceMetadata.Status.FETCHED)
        self.assertEqual(
            (row.title, row.publisher, row.published),
            ("Robot blocks ambulance", "The Daily Example", "2021-02-09"),
        )
        self.assertEqual((row.status_code, row.final_url), (200, self.web.url("/article")))
        self.assertIsNotNone(row.fetched_at)

    def test_a_url_is_fetched_once_and_reused(self):
        first = source_metadata_fetch(url=self.web.url("/article"))
        second = source_metadata_fetch(url=self.web.url("/article"))
        self.assertEqual(first.pk, second.pk)
        self.assertEqual(self.requested(), [("GET", "/article")])
        source_metadata_fetch(url=self.web.url("/article"), refresh=True)
        self.assertEqual(len(self.requested()), 2)

    def test_a_page_that_is_not_html_gets_its_host_as_publisher(self):
        row = source_metadata_fetch(url=self.web.url("/report.pdf"))
        self.assertEqual((row.status, row.title, row.publisher), ("fetched", "", "127.0.0.1"))

    @override_settings(FETCH_MAX_BYTES=2048)
    def test_a_long_page_is_read_up_to_the_cap(self):
        row = source_metadata_fetch(url=self.web.url("/long"))
        self.assertEqual((row.status, row.title), ("fetched", "Early in a long page"))

    def test_an_error_page_is_a_failure_with_its_status(self):
        row = source_metadata_fetch(url=self.web.url("/missing"))
        self.assertEqual((row.status, row.status_code), ("failed", 404))
        self.assertIn("404", row.error)

    def test_a_refused_address_is_a_failure(self):
        row = source_metadata_fetch(url=self.web.url("/to-private"), final_attempt=False)
        self.assertEqual(row.status, "failed")
        self.assertIn("not a public address", row.error)
        row = source_metadata_fetch(url="file:///etc/passwd")
        self.assertEqual(row.status, "failed")

    def test_a_network_error_is_raised_for_a_retry_and_recorded_on_the_last_try(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        with self.assertRaises(fetching.FetchNetworkError):
            source_metadata_fetch(url=closed, final_attempt=False)
        self.assertEqual(SourceMetadata.objects.get(url=closed).status, "pending")
        row = source_metadata_fetch(url=closed)
        self.assertEqual(row.status, "failed")

    def test_a_request_queues_the_fetch_after_commit_and_running_it_twice_is_harmless(self):
        url = self.web.url("/article")
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            rows = source_metadata_request(urls=[url, f"  {url} ", ""])
        self.assertEqual(list(rows), [url])
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(rows[url].status, "pending")
        self.assertEqual(self.requested(), [])
        callbacks[0]()
        state = SourceMetadata.objects.values("status", "title", "publisher", "published", "fetched_at").get()
        tasks.source_metadata_fetch.delay(rows[url].pk)
        self.assertEqual(
            SourceMetadata.objects.values("status", "title", "publisher", "published", "fetched_at").get(),
            state,
        )
        self.assertEqual(SourceMetadata.objects.count(), 1)
        self.assertEqual(len(self.requested()), 1)
        self.assertEqual(state["title"], "Robot blocks ambulance")

    def test_a_url_already_fetched_is_not_queued_again(self):
        source_metadata_fetch(url=self.web.url("/article"))
        with self.captureOnCommitCallbacks() as callbacks:
            source_metadata_request(urls=[self.web.url("/article")])
        self.assertEqual(callbacks, [])

    def test_the_task_ignores_a_removed_row(self):
        tasks.source_metadata_fetch.delay(424242)
        self.assertEqual(self.requested(), [])
