"""Public pages for anonymous readers: kept in the cache until something they show is published,
validated (304), compressed when safe; editors always get fresh pages."""

import gzip
import importlib
import tempfile
from unittest import mock

import brotli
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.test import RequestFactory, TestCase, override_settings
from django.utils.http import http_date, parse_http_date

from repository import caching, freshness
from repository.models import Incident, Reference, Term
from repository.narrative import render_html
from repository.services import (
    dataset_snapshot_create,
    incident_merge,
    incident_publish,
    reference_check,
    term_rename,
)
from repository.tests.base import make_document, publish

INCIDENT = "/incidents/camera-flags-minority/"
BROWSE = "/incidents/?country=china&technology=facial-recognition"
PUBLIC_PAGES = [
    "/",
    "/incidents/",
    BROWSE,
    INCIDENT,
    f"{INCIDENT}history/",
    f"{INCIDENT}document.json",
    "/taxonomy/country/",
    "/taxonomy/country/china/",
    "/entities/acme-retail/",
    "/export/",
    "/id/aiaaic/AIAAIC0001",
    f"{INCIDENT}v/1/",
    f"{INCIDENT}v/1/cite.bib",
    "/stats/",
    "/stats/?country=china",
    "/stats/years.csv",
    "/feeds/new/",
    "/feeds/incidents/?country=china",
    "/sitemap.xml",
    "/sitemap-incidents.xml",
    "/robots.txt",
]


def document_of(incident, **changes):
    incident.refresh_from_db()
    return {**incident.current_revision.document, **changes}


@override_settings(PAGE_CACHE=True)
class PageCacheTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(
            "Camera system flags an ethnic minority to police",
            slug="camera-flags-minority",
            occurred="February 2021",
            narrative="What happened, **in brief**.",
            external_id="AIAAIC0001",
            entities={"deployer": ["Acme Retail"], "developer": ["Lens Corp"]},
            terms={"country": ["China"], "technology": ["Facial recognition"]},
            references={"news": [{"url": "https://news.example.org/a", "title": "Paper reports the alerts"}]},
        )
        # AIAAIC reused an id: /id/aiaaic/AIAAIC0001 lists both.
        cls.other = publish(
            "Chatbot invents a court case",
            slug="chatbot-court-case",
            occurred="2023",
            external_id="AIAAIC0001",
        )
        cls.editor = get_user_model().objects.create_superuser(
            "edith", "edith@example.org", "pw-edith-123456"
        )

    def setUp(self):
        caches["default"].clear()
        caching.backoff_reset()

    def publish_committed(self, incident, **changes):
        """A change published and committed, as an editor's approval is."""
        with self.captureOnCommitCallbacks(execute=True):
            incident_publish(document=document_of(incident, **changes), incident=incident)


class CacheHitTests(PageCacheTestCase):
    def test_an_anonymous_reader_gets_a_cached_page_without_a_query(self):
        for url in PUBLIC_PAGES:
            with self.subTest(url=url):
                first = self.client.get(url)
                self.assertEqual(first.status_code, 200)
                with self.assertNumQueries(0):
                    again = self.client.get(url)
                self.assertEqual(again.status_code, 200)
                self.assertEqual(again.content, first.content)
                self.assertEqual(again["Content-Type"], first["Content-Type"])

    def test_a_hit_costs_no_query_whatever_the_number_of_incidents(self):
        for size in (5, 40):
            for n in range(Incident.objects.count(), size):
                publish(f"Camera case {n}", occurred="2022", terms={"country": ["China"]})
            with self.captureOnCommitCallbacks(execute=True):
                freshness.changed()
            self.client.get(BROWSE)
            self.client.get(INCIDENT)
            with self.assertNumQueries(0):
                self.assertEqual(self.client.get(BROWSE).status_code, 200)
                self.assertEqual(self.client.get(INCIDENT).status_code, 200)

    def test_the_decorator_alone_serves_kept_pages_too(self):
        middleware = [
            name for name in settings.MIDDLEWARE if name != "repository.caching.PageCacheMiddleware"
        ]
        with override_settings(MIDDLEWARE=middleware):
            first = self.client.get(INCIDENT)
            with self.assertNumQueries(0):
                again = self.client.get(INCIDENT)
            self.assertEqual(again.content, first.content)
            self.assertEqual(again["ETag"], first["ETag"])
            self.assertNotIn("Cookie", again.get("Vary", ""))
            self.publish_committed(self.incident, headline="Cameras flag a minority to police")
            self.assertContains(self.client.get(INCIDENT), "Cameras flag a minority to police")

    def test_each_query_string_is_its_own_page(self):
        china = self.client.get("/incidents/?country=china").content
        self.assertNotEqual(self.client.get("/incidents/?type=issue").content, china)

    def test_unknown_pages_and_redirects_are_not_kept(self):
        self.assertEqual(self.client.get("/incidents/no-such-incident/").status_code, 404)
        with self.assertNumQueries(1):
            self.assertEqual(self.client.get("/incidents/no-such-incident/").status_code, 404)
        with self.captureOnCommitCallbacks(execute=True):
            incident_merge(survivor=self.incident, merged=self.other, editor=self.editor)
        for _ in ("miss", "no hit"):
            response = self.client.get("/id/aiaaic/AIAAIC0001")  # one incident now
            self.assertRedirects(response, INCIDENT, fetch_redirect_response=False)


class InvalidationTests(PageCacheTestCase):
    def test_publishing_changes_what_anonymous_readers_see_at_once(self):
        self.assertContains(self.client.get(INCIDENT), "Camera system flags")
        self.assertContains(self.client.get(BROWSE), "Camera system flags")
        self.publish_committed(self.incident, headline="Cameras flag a minority to police")
        self.assertContains(self.client.get(INCIDENT), "Cameras flag a minority to police")
        self.assertContains(self.client.get(BROWSE), "Cameras flag a minority to police")
        self.assertContains(self.client.get("/"), "Cameras flag a minority to police")

    def test_until_the_change_commits_readers_keep_the_published_page(self):
        self.client.get(INCIDENT)
        incident_publish(
            document=document_of(self.incident, headline="Not committed yet"), incident=self.incident
        )
        self.assertNotContains(self.client.get(INCIDENT), "Not committed yet")

    def test_a_merge_takes_the_merged_incident_out_of_every_page_at_once(self):
        self.assertContains(self.client.get("/incidents/"), "Chatbot invents a court case")
        self.client.get("/incidents/chatbot-court-case/")
        with self.captureOnCommitCallbacks(execute=True):
            incident_merge(survivor=self.incident, merged=self.other, editor=self.editor)
        self.assertNotContains(self.client.get("/incidents/"), "Chatbot invents a court case")
        response = self.client.get("/incidents/chatbot-court-case/")
        self.assertRedirects(response, INCIDENT, status_code=301)

    def test_renaming_a_term_shows_the_new_name_on_every_page_at_once(self):
        for url in (INCIDENT, "/taxonomy/country/china/", "/taxonomy/country/"):
            self.assertContains(self.client.get(url), "China")
        with self.captureOnCommitCallbacks(execute=True):
            term_rename(
                term=Term.objects.get(name="China"), name="People's Republic of China", editor=self.editor
            )
        for url in (INCIDENT, "/taxonomy/country/china/", "/taxonomy/country/"):
            with self.subTest(url=url):
                self.assertContains(self.client.get(url), "People&#x27;s Republic of China")

    def test_a_new_snapshot_shows_on_the_download_page_at_once(self):
        with tempfile.TemporaryDirectory() as directory, override_settings(EXPORT_DIR=directory):
            self.assertNotContains(self.client.get("/export/"), "checksum")
            with self.captureOnCommitCallbacks(execute=True):
                [snapshot, _json], _removed = dataset_snapshot_create()
            self.assertContains(self.client.get("/export/"), snapshot.sha256)

    def test_a_new_release_never_serves_a_page_of_the_one_before(self):
        first = self.client.get(INCIDENT)
        with mock.patch.object(caching, "_release", "another-release"):
            response = self.client.get(INCIDENT)
            self.assertNotEqual(response["ETag"], first["ETag"])


class LinkHealthTests(PageCacheTestCase):
    def check(self, reference, status):
        result = mock.Mock(status=status, final_url=reference.url)
        with (
            mock.patch("repository.services.references.fetching.fetch", return_value=result),
            self.captureOnCommitCallbacks(execute=True),
        ):
            reference_check(reference=reference, force=True)

    def test_a_link_found_broken_or_mended_renews_the_pages_and_a_check_that_finds_nothing_new_does_not(self):
        reference = Reference.objects.get(incident=self.incident)
        tokens = [freshness.token()]
        self.check(reference, 200)  # never checked, found healthy: the page shows nothing new
        tokens.append(freshness.token())
        self.check(reference, 404)
        tokens.append(freshness.token())
        self.check(reference, 404)
        tokens.append(freshness.token())
        self.check(reference, 200)
        tokens.append(freshness.token())
        self.assertEqual(tokens[0], tokens[1])
        self.assertNotEqual(tokens[1], tokens[2])
        self.assertEqual(tokens[2], tokens[3])
        self.assertNotEqual(tokens[3], tokens[4])


class EditorTests(PageCacheTestCase):
    def test_an_editor_is_never_served_a_cached_page(self):
        anonymous = self.client.get(INCIDENT)
        self.assertNotContains(anonymous, "Sign out")
        # Published, not yet committed: anonymous readers still get the cached page…
        incident_publish(
            document=document_of(self.incident, headline="Seen by editors first"), incident=self.incident
        )
        self.assertNotContains(self.client.get(INCIDENT), "Seen by editors first")
        # …an editor gets the page as it is now, rendered for them.
        self.client.force_login(self.editor)
        for url in (INCIDENT, BROWSE, "/"):
            with self.subTest(url=url):
                response = self.client.get(url, HTTP_IF_NONE_MATCH=anonymous["ETag"])
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "Seen by editors first")
                self.assertContains(response, "Sign out")
                self.assertIsNotNone(response.context)

    def test_an_editors_page_never_reaches_the_cache(self):
        self.client.force_login(self.editor)
        self.client.get(INCIDENT)
        self.client.logout()
        response = self.client.get(INCIDENT)
        self.assertNotContains(response, "Sign out")
        self.assertNotContains(response, "csrfmiddlewaretoken")


class MessageTests(PageCacheTestCase):
    def with_message(self, text):
        """A flash message waiting in the reader's cookie, as after a withdrawal."""
        storage = CookieStorage(RequestFactory().get("/"))
        self.client.cookies[CookieStorage.cookie_name] = storage._encode([Message(constants.SUCCESS, text)])

    def test_a_flash_message_is_shown_to_its_reader_and_never_kept_for_others(self):
        self.client.get(INCIDENT)  # cached
        self.with_message("Your proposal is withdrawn.")
        response = self.client.get(INCIDENT)
        self.assertContains(response, "Your proposal is withdrawn.")
        self.assertIn("private", response["Cache-Control"])
        self.assertFalse(response.has_header("ETag"))
        del self.client.cookies[CookieStorage.cookie_name]
        caches["default"].clear()
        self.with_message("Only for one reader.")
        self.client.get("/")
        del self.client.cookies[CookieStorage.cookie_name]
        self.assertNotContains(self.client.get("/"), "Only for one reader.")


class HeaderTests(PageCacheTestCase):
    def test_anonymous_pages_carry_validators_and_may_be_kept_by_a_shared_cache(self):
        for url in PUBLIC_PAGES:
            with self.subTest(url=url):
                for _ in ("miss", "hit"):
                    response = self.client.get(url)
                    self.assertTrue(response["ETag"].startswith('W/"'))
                    self.assertTrue(response.has_header("Last-Modified"))
                    self.assertEqual(
                        set(response["Cache-Control"].replace(" ", "").split(",")), {"public", "no-cache"}
                    )
                    self.assertNotIn("Cookie", response.get("Vary", ""))
                    self.assertNotIn("sessionid", response.cookies)
                    self.assertEqual(response["X-Frame-Options"], "DENY")
                    self.assertIn("default-src 'none'", response["Content-Security-Policy"])

    @override_settings(PAGE_CACHE_SHARED_MAX_AGE=60)
    def test_a_shared_cache_may_be_allowed_to_keep_pages_a_while(self):
        response = self.client.get(INCIDENT)
        self.assertEqual(
            set(response["Cache-Control"].replace(" ", "").split(",")), {"public", "max-age=0", "s-maxage=60"}
        )

    def test_signed_in_pages_are_private_fresh_and_vary_on_cookie(self):
        self.client.force_login(self.editor)
        for url in PUBLIC_PAGES:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(
                    set(response["Cache-Control"].replace(" ", "").split(",")), {"private", "no-cache"}
                )
                self.assertFalse(response.has_header("ETag"))
                self.assertFalse(response.has_header("Last-Modified"))
                if url.endswith("/") and not url.startswith("/feeds/"):  # HTML pages say who is signed in
                    self.assertIn("Cookie", response["Vary"])

    def test_forms_with_a_csrf_token_are_not_public(self):
        for url in (f"{INCIDENT}improve/", "/submit/"):
            with self.subTest(url=url):
                response = self.client.get(url, HTTP_ACCEPT_ENCODING="gzip, br")
                self.assertContains(response, "csrfmiddlewaretoken")
                self.assertNotIn("public", response.get("Cache-Control", ""))
                self.assertFalse(response.has_header("Content-Encoding"))
                self.assertIsNotNone(self.client.get(url).context)  # rendered each time


class ConditionalGetTests(PageCacheTestCase):
    def test_if_none_match_answers_304_until_something_is_published(self):
        etag = self.client.get(INCIDENT)["ETag"]
        with self.assertNumQueries(0):
            response = self.client.get(INCIDENT, HTTP_IF_NONE_MATCH=etag)
        self.assertEqual(response.status_code, 304)
        self.assertEqual(response.content, b"")
        self.assertEqual(response["ETag"], etag)
        self.assertIn("public", response["Cache-Control"])
        self.assertEqual(self.client.get(INCIDENT, HTTP_IF_NONE_MATCH=f'"other", {etag}').status_code, 304)
        self.publish_committed(self.incident, headline="Cameras flag a minority to police")
        response = self.client.get(INCIDENT, HTTP_IF_NONE_MATCH=etag)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Cameras flag a minority to police")
        self.assertNotEqual(response["ETag"], etag)

    def test_if_modified_since_answers_304_until_something_is_published(self):
        last_modified = self.client.get(BROWSE)["Last-Modified"]
        self.assertEqual(self.client.get(BROWSE, HTTP_IF_MODIFIED_SINCE=last_modified).status_code, 304)
        earlier = http_date(parse_http_date(last_modified) - 1)
        self.assertEqual(self.client.get(BROWSE, HTTP_IF_MODIFIED_SINCE=earlier).status_code, 200)
        self.publish_committed(self.incident, headline="Cameras flag a minority to police")
        self.assertEqual(self.client.get(BROWSE, HTTP_IF_MODIFIED_SINCE=last_modified).status_code, 200)

    def test_a_mismatched_etag_wins_over_if_modified_since(self):
        last_modified = self.client.get(INCIDENT)["Last-Modified"]
        response = self.client.get(
            INCIDENT, HTTP_IF_NONE_MATCH='W/"old"', HTTP_IF_MODIFIED_SINCE=last_modified
        )
        self.assertEqual(response.status_code, 200)

    def test_a_signed_in_editor_gets_the_page_whatever_validators_the_browser_kept(self):
        anonymous = self.client.get(INCIDENT)
        self.client.force_login(self.editor)
        response = self.client.get(
            INCIDENT,
            HTTP_IF_NONE_MATCH=anonymous["ETag"],
            HTTP_IF_MODIFIED_SINCE=anonymous["Last-Modified"],
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Sign out")


class CompressionTests(PageCacheTestCase):
    def test_public_pages_are_compressed_with_brotli_or_gzip_on_a_miss_and_a_hit(self):
        plain = self.client.get(BROWSE, HTTP_ACCEPT_ENCODING="identity").content
        for encoding, decompress in (("br", brotli.decompress), ("gzip", gzip.decompress)):
            for _ in ("miss", "hit"):
                with self.subTest(encoding=encoding):
                    response = self.client.get(BROWSE, HTTP_ACCEPT_ENCODING=f"{encoding}, deflate")
                    self.assertEqual(response["Content-Encoding"], encoding)
                    self.assertIn("Accept-Encoding", response["Vary"])
                    self.assertEqual(decompress(response.content), plain)
                    self.assertLess(len(response.content), len(plain) / 2)
                    self.assertEqual(response["Content-Length"], str(len(response.content)))

    def test_it_follows_accept_encoding(self):
        cases = {
            "gzip, deflate, br": "br",
            "br;q=0, gzip": "gzip",
            "*": "br",
            "identity": None,
            "": None,
        }
        for header, expected in cases.items():
            with self.subTest(header=header):
                response = self.client.get(INCIDENT, HTTP_ACCEPT_ENCODING=header)
                self.assertEqual(response.get("Content-Encoding"), expected)

    def test_a_response_with_a_csrf_token_is_never_compressed(self):
        # The improve form, the report form, and every page an editor sees (the sign-out form).
        for url in (f"{INCIDENT}improve/", "/submit/", "/accounts/login/"):
            with self.subTest(url=url):
                response = self.client.get(url, HTTP_ACCEPT_ENCODING="gzip, br")
                self.assertContains(response, "csrfmiddlewaretoken")
                self.assertFalse(response.has_header("Content-Encoding"))
        self.client.force_login(self.editor)
        for url in (INCIDENT, "/moderation/"):
            with self.subTest(url=url):
                response = self.client.get(url, HTTP_ACCEPT_ENCODING="gzip, br")
                self.assertContains(response, "csrfmiddlewaretoken")
                self.assertFalse(response.has_header("Content-Encoding"))


class NarrativeTests(TestCase):
    def test_publishing_stores_the_sanitised_narrative_and_the_page_shows_it(self):
        incident = publish(
            "Hostile narrative", narrative="Hi <script>alert(1)</script> **bold** [x](javascript:alert(1))"
        )
        self.assertEqual(incident.narrative_html, render_html(incident.narrative))
        self.assertIn("<strong>bold</strong>", incident.narrative_html)
        self.assertNotIn("<script>", incident.narrative_html)
        self.assertNotIn("javascript:", incident.narrative_html)
        Incident.objects.filter(pk=incident.pk).update(narrative_html="<p>Stored once.</p>")
        with mock.patch("repository.narrative.nh3.clean") as clean:
            response = self.client.get(incident.get_absolute_url())
        clean.assert_not_called()
        self.assertContains(response, "<p>Stored once.</p>", html=True)

    def test_the_migration_fills_it_for_incidents_published_before(self):
        incidents = [publish(f"Narrated {n}", narrative=f"Line *{n}*") for n in range(3)]
        silent = publish("No narrative")
        Incident.objects.update(narrative_html="")
        migration = importlib.import_module("repository.migrations.0011_narrative_html")
        migration.backfill(apps, None)
        for incident in incidents:
            incident.refresh_from_db()
            self.assertEqual(incident.narrative_html, render_html(incident.narrative))
        silent.refresh_from_db()
        self.assertEqual(silent.narrative_html, "")

    def test_a_new_revision_renders_it_again(self):
        incident = publish("Revised", narrative="First")
        incident_publish(document=make_document("Revised", narrative="Second *take*"), incident=incident)
        incident.refresh_from_db()
        self.assertEqual(incident.narrative_html, "<p>Second <em>take</em></p>")
