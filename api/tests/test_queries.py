"""Query counts of every API endpoint, feed and sitemap, pinned, the same at two sizes."""

from django.contrib.auth import get_user_model
from django.test import TestCase
from django.urls import reverse

from api.tests.data import build
from repository.models import Incident
from repository.services import incident_merge

# (url, queries, what they are)
ENDPOINTS = [
    ("/api/v1/", 0, "nothing: links only"),
    ("/api/v1/incidents/", 2, "vocabularies (the filter's facets); a page of incidents with documents"),
    (
        "/api/v1/incidents/?country=uk&sector=govt&deployer=acme-police&q=case&sort=newest&page_size=5",
        8,
        "vocabularies; the search words' other spellings (terms', entities', search synonyms); the "
        "chosen terms' and entity's ids; a page of incidents; whether the search words are known "
        "(they are: no 'did you mean')",
    ),
    ("/api/v1/incidents/case-0/", 1, "the incident with its current revision"),
    ("/api/v1/incidents/case-0/revisions/", 2, "the incident; a page of its revisions"),
    ("/api/v1/incidents/case-0/revisions/1/", 1, "the revision"),
    ("/api/v1/vocabularies/", 1, "the vocabularies"),
    ("/api/v1/vocabularies/country/", 1, "the vocabulary"),
    ("/api/v1/vocabularies/country/terms/", 2, "the vocabulary; a page of terms with counts"),
    ("/api/v1/vocabularies/sector/terms/govt-police/", 2, "the term with parent and count; its aliases"),
    ("/api/v1/entities/", 1, "a page of entities"),
    ("/api/v1/entities/acme-police/", 3, "the entity; its aliases; its incidents per role"),
    ("/api/v1/changes/?page_size=20", 1, "a page of revisions with their incidents"),
    ("/api/v1/schema/", 1, "the vocabularies (one parameter each)"),
    ("/api/", 1, "the vocabularies (one parameter each)"),
    ("/feeds/new/", 1, "the latest incidents"),
    ("/feeds/updated/", 1, "the latest changed incidents with their revisions"),
    (
        "/feeds/incidents/?country=uk&deployer=acme-police",
        4,
        "vocabularies; term names; entity names; incidents",
    ),
    ("/sitemap.xml", 4, "the latest incident change; the number of incidents, terms and entities"),
    ("/sitemap-incidents.xml", 2, "the number of incidents; a page of them"),
    ("/sitemap-terms.xml", 2, "the number of terms; a page of them"),
    ("/sitemap-entities.xml", 2, "the number of entities; a page of them"),
    ("/robots.txt", 0, "nothing"),
]


class QueryCountMixin:
    SIZE = 0

    @classmethod
    def setUpTestData(cls):
        incidents = build(cls.SIZE)
        editor = get_user_model().objects.create_user("counter", "counter@example.org")
        incident_merge(survivor=incidents[0], merged=incidents[-1], editor=editor)

    def test_every_endpoint_feed_and_sitemap_runs_a_fixed_number_of_queries(self):
        self.assertGreaterEqual(Incident.objects.count(), self.SIZE)
        for url, queries, _what in ENDPOINTS:
            with self.subTest(url=url), self.assertNumQueries(queries):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200, response.content[:300])

    def test_lists_are_full_pages(self):
        """The larger size fills each page, so that the counts above cover full pages."""
        body = self.client.get(reverse("api:incidents") + "?page_size=5").json()
        self.assertEqual(len(body["results"]), min(5, self.SIZE - 1))


class SmallQueryCountTests(QueryCountMixin, TestCase):
    SIZE = 4


class LargerQueryCountTests(QueryCountMixin, TestCase):
    SIZE = 40
