import re
import xml.etree.ElementTree as ET

import feedparser
from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.urls import reverse

from api.tests.data import build
from repository.models import Incident
from repository.services import incident_merge, incident_publish
from repository.tests.base import make_document

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class AtomMixin:
    def atom(self, url):
        """The feed, checked as Atom: well-formed, and every element Atom requires present."""
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("application/atom+xml"))
        parsed = feedparser.parse(response.content)
        self.assertFalse(parsed.bozo, parsed.get("bozo_exception"))
        self.assertEqual(parsed.version, "atom10")
        root = ET.fromstring(response.content)  # noqa: S314 (the site's own output)
        self.assertEqual(root.tag, f"{ATOM}feed")
        for name in ("id", "title", "updated"):
            self.assertTrue(root.findtext(f"{ATOM}{name}"), name)
        self.assertIsNotNone(root.find(f"{ATOM}link[@rel='self']"))
        for entry in root.findall(f"{ATOM}entry"):
            for name in ("id", "title", "updated"):
                self.assertTrue(entry.findtext(f"{ATOM}{name}"), name)
            self.assertTrue(entry.find(f"{ATOM}link").get("href").startswith("http://testserver/incidents/"))
        return parsed


class FeedTests(AtomMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incidents = build(8)
        editor = get_user_model().objects.create_user("feeder", "feeder@example.org")
        incident_merge(survivor=cls.incidents[0], merged=cls.incidents[7], editor=editor)
        incident_publish(
            document=make_document("<script>alert(1)</script> & a corrected headline"),
            incident=Incident.objects.get(pk=cls.incidents[3].pk),
            summary="Corrected the headline",
        )

    def test_new_incidents_newest_first_without_merged_ones(self):
        parsed = self.atom(reverse("feeds:new"))
        slugs = [entry.link.rstrip("/").rsplit("/", 1)[1] for entry in parsed.entries]
        self.assertEqual(slugs, [f"case-{n}" for n in (6, 5, 4, 3, 2, 1, 0)])

    def test_updated_incidents_have_one_entry_per_revision_and_text_stays_text(self):
        parsed = self.atom(reverse("feeds:updated"))
        first = parsed.entries[0]
        self.assertEqual(first.title, "<script>alert(1)</script> & a corrected headline (revision 2)")
        self.assertTrue(first.id.endswith("/incidents/case-3/history/#r2"))
        self.assertIn("Corrected the headline", first.summary)
        raw = self.client.get(reverse("feeds:updated")).content.decode()
        self.assertNotIn("<script>", raw)

    def test_a_browse_url_has_a_feed_of_the_same_incidents(self):
        query = "country=uk&sector=govt"
        browse = self.client.get(f"{reverse('repository:incident_list')}?{query}&sort=newest")
        expected = [incident.slug for incident in browse.context["page"].object_list]
        self.assertTrue(expected)
        parsed = self.atom(f"{reverse('feeds:incidents')}?{query}&page=2&sort=oldest")
        slugs = [entry.link.rstrip("/").rsplit("/", 1)[1] for entry in parsed.entries]
        self.assertEqual(slugs, expected)
        self.assertEqual(parsed.feed.title, "AI Incident Repository: incidents (Country: UK, Sector: Govt)")
        self.assertTrue(parsed.feed.id.endswith(f"/feeds/incidents/?{query}"))

    def test_the_browse_page_and_home_link_their_feeds(self):
        home = self.client.get(reverse("repository:home")).content.decode()
        self.assertIn(
            '<link rel="alternate" type="application/atom+xml" title="New incidents (Atom)" href="/feeds/new/">',
            home,
        )
        self.assertIn('href="/feeds/updated/" type="application/atom+xml">updates</a>', home)
        browse = self.client.get(f"{reverse('repository:incident_list')}?country=uk&page=1&sort=oldest")
        html = browse.content.decode()
        self.assertIn(
            '<link rel="alternate" type="application/atom+xml" title="These incidents (Atom)" '
            'href="/feeds/incidents/?country=uk">',
            html,
        )
        self.assertIn('<a href="/feeds/incidents/?country=uk" type="application/atom+xml">Subscribe', html)
        self.assertIn(
            '<a href="/api/v1/incidents/?country=uk&amp;sort=oldest" type="application/json">', html
        )


class SitemapTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incidents = build(5)
        editor = get_user_model().objects.create_user("mapper", "mapper@example.org")
        incident_merge(survivor=cls.incidents[0], merged=cls.incidents[4], editor=editor)

    def locations(self, url):
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        root = ET.fromstring(response.content)  # noqa: S314 (the site's own output)
        return [element.text for element in root.iter(f"{SITEMAP}loc")]

    def test_the_index_names_each_section_and_its_pages(self):
        with self.settings(SITEMAP_LIMIT=3):
            index = self.locations("/sitemap.xml")
            self.assertIn("http://testserver/sitemap-incidents.xml", index)
            self.assertIn("http://testserver/sitemap-incidents.xml?p=2", index)
            self.assertNotIn("http://testserver/sitemap-incidents.xml?p=3", index)
            pages = self.locations("/sitemap-incidents.xml") + self.locations("/sitemap-incidents.xml?p=2")
        self.assertEqual(pages, [f"http://testserver/incidents/case-{n}/" for n in range(4)])
        self.assertEqual(self.client.get("/sitemap-incidents.xml?p=9").status_code, 404)

    def test_terms_and_entities_are_listed(self):
        terms = self.locations("/sitemap-terms.xml")
        self.assertIn("http://testserver/taxonomy/sector/govt-police/", terms)
        self.assertIn("http://testserver/taxonomy/country/uk/", terms)
        entities = self.locations("/sitemap-entities.xml")
        self.assertIn("http://testserver/entities/acme-police/", entities)
        for url in terms + entities:
            path = re.sub(r"^http://testserver", "", url)
            self.assertEqual(self.client.get(path).status_code, 200, path)

    @override_settings(ALLOWED_HOSTS=["repository.example"])
    def test_robots_allows_pages_disallows_noise_and_names_the_sitemap(self):
        response = self.client.get("/robots.txt", HTTP_HOST="repository.example", secure=True)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/plain; charset=utf-8")
        lines = response.content.decode().splitlines()
        self.assertEqual(lines[0], "User-agent: *")
        for path in ("/moderation/", "/accounts/", "/admin/", "/api/", "/incidents/*/improve/"):
            self.assertIn(f"Disallow: {path}", lines)
        self.assertNotIn("Disallow: /incidents/", lines)
        self.assertNotIn("Disallow: /", lines)
        self.assertIn("Sitemap: https://repository.example/sitemap.xml", lines)
