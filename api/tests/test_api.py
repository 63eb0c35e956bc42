import json
import re
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.urls import reverse
from openapi_spec_validator import validate

from api.pagination import MAX_OFFSET, encode_cursor
from api.tests.data import build
from repository import documents, schemas
from repository.importers.dataset import dataset_import
from repository.models import (
    CurationEvent,
    Entity,
    EntityAlias,
    Incident,
    IncidentEntity,
    IncidentTerm,
    Revision,
    Term,
    TermAlias,
)
from repository.services import incident_merge, incident_publish
from repository.tests.base import make_document
from submissions.models import Submission
from submissions.services import submission_create

ERROR_KEYS = {"status", "code", "message"}


def read_all(client, url, key="results"):
    """Every item of a cursor-paginated list, following `next`."""
    items, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        items += body[key]
        url = body["next"]
        pages += 1
        assert pages < 200
    return items, pages


@override_settings(INCIDENTS_PER_PAGE=500)
class BrowseAgreementTests(TestCase):
    """The API's list and the browse page read one query string the same way."""

    QUERIES = [
        "",
        "country=uk",
        "country=usa&country=uk",
        "sector=govt",  # a parent: its children's incidents too
        "sector=govt-police&technology=facial-recognition",
        "type=incident",
        "occurred_from=2021",
        "occurred_to=2020&sort=oldest",
        "occurred_from=2019&occurred_to=2022&sort=newest",
        "sort=oldest",
        "deployer=acme-police",
        "developer=lens-corp&country=china",
        "q=camera",
        "q=camera&sort=relevance",
        "q=camera&sort=oldest&country=usa",
    ]

    @classmethod
    def setUpTestData(cls):
        build(24)

    def browse(self, query):
        response = self.client.get(f"{reverse('repository:incident_list')}?{query}")
        self.assertEqual(response.status_code, 200)
        return [incident.slug for incident in response.context["page"].object_list]

    def test_every_query_gives_the_same_incidents_in_the_same_order(self):
        for query in self.QUERIES:
            with self.subTest(query=query):
                expected = self.browse(query)
                self.assertTrue(expected, "a query that matches nothing proves little")
                # Pages of two: every cursor boundary falls on ties and NULL periods.
                items, pages = read_all(self.client, f"{reverse('api:incidents')}?{query}&page_size=2")
                self.assertEqual([item["slug"] for item in items], expected)
                self.assertEqual(pages, (len(expected) + 1) // 2)

    def test_a_cursor_survives_publishing_between_pages(self):
        first = self.client.get(f"{reverse('api:incidents')}?sort=newest&page_size=5").json()
        build(1, start=100)  # newest of all: before the cursor, so not on the next page
        second = self.client.get(first["next"]).json()
        slugs = [item["slug"] for item in first["results"] + second["results"]]
        self.assertEqual(slugs, self.browse("sort=newest")[1:11])

    def test_a_cursor_out_of_the_databases_range_is_refused(self):
        api = reverse("api:incidents")
        too_large = [2**63, 2**64 + 5, 10**30]
        for offset in too_large:
            with self.subTest(offset=offset):
                token = encode_cursor("relevance", offset=offset)
                response = self.client.get(f"{api}?q=camera&sort=relevance&cursor={token}")
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["error"]["code"], "invalid_cursor")
        for number in [*too_large, -(2**63) - 1]:
            with self.subTest(number=number):
                token = encode_cursor("oldest", values=["2020-01-01", number])
                response = self.client.get(f"{api}?sort=oldest&cursor={token}")
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["error"]["code"], "invalid_cursor")
        # The largest offset still in range answers an empty last page, not an error.
        token = encode_cursor("relevance", offset=MAX_OFFSET)
        response = self.client.get(f"{api}?q=camera&sort=relevance&cursor={token}")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["results"], [])

    def test_a_cursor_belongs_to_its_sort(self):
        cursor = self.client.get(f"{reverse('api:incidents')}?sort=newest&page_size=5").json()["next"]
        token = re.search(r"cursor=([^&]+)", cursor).group(1)
        response = self.client.get(f"{reverse('api:incidents')}?sort=oldest&cursor={token}")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "invalid_cursor")


class DocumentTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incidents = build(6)
        editor = get_user_model().objects.create_user("editor-x", "editor-x@example.org")
        incident_merge(survivor=cls.incidents[0], merged=cls.incidents[1], editor=editor)
        incident = Incident.objects.get(pk=cls.incidents[2].pk)
        document = make_document("A corrected headline", external_id="AIAAIC0003")
        incident_publish(document=document, incident=incident, summary="Corrected", credit="Jo")

    def test_every_incident_the_api_serves_follows_the_published_json_schema(self):
        validator = schemas.published_item_validator()
        items, _ = read_all(self.client, f"{reverse('api:incidents')}?page_size=4")
        self.assertEqual(len(items), 5)  # the merged one is left out
        for item in items:
            self.assertEqual(list(validator.iter_errors(item)), [])
            detail = self.client.get(reverse("api:incident", args=[item["slug"]])).json()
            self.assertEqual(list(validator.iter_errors(detail)), [])
            self.assertEqual(detail["$schema"], schemas.item_schema_url())
            self.assertEqual({k: v for k, v in detail.items() if k != "$schema"}, item)
        for entry in self.client.get(reverse("api:changes")).json()["entries"]:
            self.assertEqual(list(validator.iter_errors(entry["item"])), [])

    def test_the_detail_is_the_current_document_with_ids_and_revision(self):
        incident = Incident.objects.select_related("current_revision").get(pk=self.incidents[2].pk)
        body = self.client.get(reverse("api:incident", args=[incident.slug])).json()
        self.assertEqual(body["revision"], 2)
        self.assertEqual(body["number"], incident.number)
        self.assertEqual(body["document"], documents.published(incident.current_revision.document))
        self.assertEqual(body["document"]["external_ids"], [{"scheme": "aiaaic", "value": "AIAAIC0003"}])
        self.assertEqual(body["document"]["headline"], "A corrected headline")

    def test_a_merged_incident_redirects_to_its_survivor(self):
        response = self.client.get(reverse("api:incident", args=[self.incidents[1].slug]))
        self.assertEqual(response.status_code, 301)
        self.assertEqual(response["Location"], reverse("api:incident", args=[self.incidents[0].slug]))

    def test_revisions_newest_first_with_summary_and_credit(self):
        slug = self.incidents[2].slug
        items, pages = read_all(self.client, f"{reverse('api:revisions', args=[slug])}?page_size=1")
        self.assertEqual(pages, 2)
        self.assertEqual([item["number"] for item in items], [2, 1])
        self.assertEqual((items[0]["summary"][:9], items[0]["credit"]), ("Corrected", "Jo"))
        one = self.client.get(reverse("api:revision", args=[slug, 1])).json()
        self.assertEqual(one, items[1])
        self.assertEqual(self.client.get(reverse("api:revision", args=[slug, 9])).status_code, 404)

    def test_a_merged_incident_keeps_its_history(self):
        items, _ = read_all(self.client, reverse("api:revisions", args=[self.incidents[1].slug]))
        self.assertEqual(items[0]["number"], 2)
        self.assertIn("Merged into incident", items[0]["summary"])


class TaxonomyAndEntityTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        build(6)

    def test_vocabularies_and_their_terms(self):
        vocabularies = self.client.get(reverse("api:vocabularies")).json()["results"]
        country = next(v for v in vocabularies if v["slug"] == "country")
        self.assertEqual(country["terms"], "http://testserver" + reverse("api:terms", args=["country"]))
        terms, _ = read_all(self.client, country["terms"] + "?page_size=1")
        self.assertEqual(
            [(t["slug"], t["incident_count"]) for t in terms], [("china", 2), ("uk", 3), ("usa", 2)]
        )
        sector = self.client.get(reverse("api:term", args=["sector", "govt-police"])).json()
        self.assertEqual((sector["name"], sector["parent"]), ("Govt - police", "govt"))
        self.assertEqual(sector["url"], "http://testserver/taxonomy/sector/govt-police/")
        self.assertEqual(self.client.get(reverse("api:vocabulary", args=["nope"])).status_code, 404)

    def test_entities_by_slug_and_kind_with_roles(self):
        entities, _ = read_all(self.client, reverse("api:entities") + "?page_size=2&kind=organisation")
        self.assertEqual(
            [e["slug"] for e in entities], ["acme-police", "globex-bank", "initech-transit", "lens-corp"]
        )
        lens = self.client.get(reverse("api:entity", args=["lens-corp"])).json()
        self.assertEqual(lens["roles"], {"developer": 3})
        bad = self.client.get(reverse("api:entities") + "?kind=people")
        self.assertEqual(bad.status_code, 400)
        self.assertEqual(set(bad.json()["error"]["fields"]), {"kind"})


class OpenApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        build(2)

    def test_the_openapi_document_validates_and_describes_every_endpoint(self):
        response = self.client.get(reverse("api:schema"))
        self.assertEqual(response.status_code, 200)
        spec = response.json()
        validate(spec)
        self.assertEqual(spec["openapi"], "3.1.0")
        for path in [
            "/api/v1/incidents/",
            "/api/v1/incidents/{slug}/",
            "/api/v1/incidents/{slug}/revisions/",
            "/api/v1/vocabularies/{vocabulary}/terms/",
            "/api/v1/entities/",
            "/api/v1/changes/",
        ]:
            self.assertIn("get", spec["paths"][path])
            self.assertNotIn("post", spec["paths"][path])
        listing = spec["paths"]["/api/v1/incidents/"]["get"]
        names = {parameter["name"] for parameter in listing["parameters"]}
        self.assertLessEqual({"q", "type", "occurred_from", "sort", "cursor", "country", "deployer"}, names)
        self.assertEqual(set(listing["responses"]), {"200", "400", "405", "429"})
        item = spec["components"]["schemas"]["IncidentItem"]
        self.assertEqual(item["externalDocs"]["url"], schemas.schema_url(schemas.DOCUMENT))
        self.assertIn(schemas.item_schema_url(), item["description"])

    def test_the_docs_page_is_server_rendered_and_needs_no_inline_script_or_style(self):
        response = self.client.get(reverse("api:docs"))
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertIn("<code>GET /api/v1/changes/</code>", html)
        self.assertIn(schemas.item_schema_url(), html)
        self.assertNotIn("<script", html)
        self.assertNotIn("<style", html)
        self.assertNotIn(" style=", html)
        self.assertIn("script-src 'self'", response["Content-Security-Policy"])


class ConditionalTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incident = build(2)[0]

    def test_a_current_copy_gets_304_and_a_changed_one_200(self):
        url = reverse("api:incident", args=[self.incident.slug])
        first = self.client.get(url)
        etag, modified = first["ETag"], first["Last-Modified"]
        again = self.client.get(url, HTTP_IF_NONE_MATCH=etag)
        self.assertEqual(again.status_code, 304)
        self.assertEqual(again.content, b"")
        self.assertEqual(self.client.get(url, HTTP_IF_MODIFIED_SINCE=modified).status_code, 304)
        self.assertEqual(self.client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code, 200)
        incident = Incident.objects.get(pk=self.incident.pk)
        incident_publish(document=make_document("Changed headline"), incident=incident)
        changed = self.client.get(url, HTTP_IF_NONE_MATCH=etag)
        self.assertEqual(changed.status_code, 200)
        self.assertNotEqual(changed["ETag"], etag)

    def test_head_answers_the_headers_of_get(self):
        url = reverse("api:incident", args=[self.incident.slug])
        get, head = self.client.get(url), self.client.head(url)
        self.assertEqual(head.status_code, 200)
        self.assertEqual((head["ETag"], head["Last-Modified"]), (get["ETag"], get["Last-Modified"]))
        self.assertEqual(head.content, b"")

    def test_lists_and_the_change_feed_answer_304_too(self):
        for url in [
            reverse("api:incidents") + "?country=usa",
            reverse("api:changes"),
            reverse("api:vocabularies"),
        ]:
            with self.subTest(url=url):
                etag = self.client.get(url)["ETag"]
                self.assertEqual(self.client.get(url, HTTP_IF_NONE_MATCH=etag).status_code, 304)


class CorsTests(TestCase):
    def test_any_origin_may_read_the_api(self):
        response = self.client.get(reverse("api:vocabularies"), HTTP_ORIGIN="https://elsewhere.example")
        self.assertEqual(response["Access-Control-Allow-Origin"], "*")
        self.assertIn("ETag", response["Access-Control-Expose-Headers"])
        self.assertNotIn("Access-Control-Allow-Credentials", response)

    def test_a_preflight_allows_reads_only(self):
        response = self.client.options(
            reverse("api:incidents"),
            HTTP_ORIGIN="https://elsewhere.example",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Access-Control-Allow-Methods"], "GET, HEAD, OPTIONS")
        self.assertIn("if-none-match", response["Access-Control-Allow-Headers"])

    def test_the_rest_of_the_site_is_not_opened(self):
        for url in [reverse("repository:incident_list"), reverse("feeds:new"), "/submit/"]:
            response = self.client.get(url, HTTP_ORIGIN="https://elsewhere.example")
            self.assertNotIn("Access-Control-Allow-Origin", response)


class ThrottleTests(TestCase):
    def test_an_address_over_the_limit_gets_429_with_retry_after(self):
        url = reverse("api:vocabularies")
        with self.settings(API_RATE_LIMIT=2, API_RATE_PERIOD=60):
            for _ in range(2):
                self.assertEqual(self.client.get(url, REMOTE_ADDR="203.0.113.5").status_code, 200)
            refused = self.client.get(url, REMOTE_ADDR="203.0.113.5")
            self.assertEqual(refused.status_code, 429)
            wait = int(refused["Retry-After"])
            self.assertTrue(1 <= wait <= 60)
            self.assertEqual(
                refused.json(),
                {
                    "error": {
                        "status": 429,
                        "code": "throttled",
                        "message": refused.json()["error"]["message"],
                        "retry_after": wait,
                    }
                },
            )
            # Another address has its own count; a forged X-Forwarded-For changes nothing.
            self.assertEqual(self.client.get(url, REMOTE_ADDR="203.0.113.6").status_code, 200)
            forged = self.client.get(url, REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.1")
            self.assertEqual(forged.status_code, 429)

    def test_behind_a_trusted_proxy_each_client_is_counted(self):
        url = reverse("api:vocabularies")
        with self.settings(API_RATE_LIMIT=1, API_RATE_PERIOD=60, TRUSTED_PROXY_NETWORKS=["10.0.0.0/8"]):
            proxy = {"REMOTE_ADDR": "10.1.2.3"}
            self.assertEqual(
                self.client.get(url, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code, 200
            )
            self.assertEqual(
                self.client.get(url, HTTP_X_FORWARDED_FOR="198.51.100.8", **proxy).status_code, 200
            )
            self.assertEqual(
                self.client.get(url, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code, 429
            )


class ErrorBodyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        build(2)

    def assertError(self, response, status, code, fields=None):
        self.assertEqual(response.status_code, status)
        self.assertEqual(response["Content-Type"], "application/json")
        error = response.json()["error"]
        expected = ERROR_KEYS | ({"fields"} if fields else set())
        self.assertEqual(set(error), expected)
        self.assertEqual((error["status"], error["code"]), (status, code))
        if fields:
            self.assertEqual(set(error["fields"]), set(fields))
        return error

    def test_400_names_each_refused_parameter(self):
        api = reverse("api:incidents")
        self.assertError(
            self.client.get(f"{api}?type=war&occurred_from=3000"), 400, "invalid", ["type", "occurred_from"]
        )
        self.assertError(self.client.get(f"{api}?country=Not%20a%20slug"), 400, "invalid", ["country"])
        self.assertError(self.client.get(f"{api}?page_size=1000"), 400, "invalid", ["page_size"])
        self.assertError(self.client.get(f"{api}?cursor=garbage"), 400, "invalid_cursor", ["cursor"])
        self.assertError(
            self.client.get(reverse("api:changes") + "?since=yesterday"), 400, "invalid", ["since"]
        )

    def test_404_for_what_is_not_there_even_outside_the_routes(self):
        self.assertError(self.client.get(reverse("api:incident", args=["no-such-case"])), 404, "not_found")
        self.assertError(self.client.get("/api/v1/no-such-thing/"), 404, "not_found")
        self.assertError(self.client.get("/api/v2/incidents/"), 404, "not_found")
        # An address short of its slash is redirected, as on the rest of the site.
        self.assertEqual(
            self.client.get("/api/v1/incidents?type=issue")["Location"], "/api/v1/incidents/?type=issue"
        )

    def test_405_for_every_method_that_writes(self):
        url = reverse("api:incidents")
        for method in ("post", "put", "patch", "delete"):
            with self.subTest(method=method):
                error = self.assertError(getattr(self.client, method)(url), 405, "method_not_allowed")
                self.assertIn("GET", error["message"])


class ChangeFeedTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.a, cls.b, cls.c = build(3)
        editor = get_user_model().objects.create_user("editor-y", "editor-y@example.org")
        incident_publish(
            document=make_document("Case A, corrected", external_id="AIAAIC0001"),
            incident=Incident.objects.get(pk=cls.a.pk),
            summary="Corrected the headline",
            author=editor,
        )
        cls.merge = incident_merge(survivor=cls.c, merged=cls.b, editor=editor, note="the same event")

    def entries(self, since="", page_size=2):
        url = f"{reverse('api:changes')}?page_size={page_size}" + (f"&since={since}" if since else "")
        entries = []
        while True:
            body = self.client.get(url).json()
            entries += body["entries"]
            if not body["more"]:
                return entries, body["next"]
            url = body["next"]

    def test_it_lists_every_revision_and_merge_in_order(self):
        entries, next_url = self.entries()
        seen = [(e["item"]["slug"], e["item"]["revision"], e["kind"]) for e in entries]
        self.assertEqual(
            seen,
            [
                ("case-0", 1, "revision"),
                ("case-1", 1, "revision"),
                ("case-2", 1, "revision"),
                ("case-0", 2, "revision"),
                ("case-2", 2, "revision"),  # the survivor takes the union
                ("case-1", 2, "merge"),
            ],
        )
        tombstone = entries[-1]["item"]
        self.assertEqual(tombstone["merged_into"], "case-2")
        self.assertTrue(all(e["item"]["merged_into"] is None for e in entries[:-1]))
        # Where the feed ends, `next` waits for what comes: nothing yet, then the new entry.
        body = self.client.get(next_url).json()
        self.assertEqual((body["entries"], body["more"], body["next"]), ([], False, next_url))
        build(1, start=50)
        self.assertEqual(
            [e["item"]["slug"] for e in self.client.get(next_url).json()["entries"]], ["case-50"]
        )

    def test_since_a_time_starts_there(self):
        entries, _ = self.entries()
        fourth = entries[3]["at"]
        later, _ = self.entries(since=fourth.replace("+", "%2B"))
        self.assertEqual(later, entries[3:])
        self.assertEqual(self.entries(since="2000-01-01")[0], entries)

    def test_it_replays_into_an_empty_database_to_the_same_documents(self):
        entries, _ = self.entries(page_size=4)
        before, _ = read_all(self.client, reverse("api:incidents"))
        _empty_the_record()
        self.assertEqual(self.client.get(reverse("api:incidents")).json()["results"], [])
        with tempfile.TemporaryDirectory() as directory:
            for position, entry in enumerate(entries):
                path = Path(directory) / f"entry-{position}.json"
                path.write_text(json.dumps([entry["item"]]), encoding="utf-8")
                result = dataset_import(path=path, strict=False)
                self.assertEqual(result.left_out, 0, result.report.findings)
        after, _ = read_all(self.client, reverse("api:incidents"))
        keep = ("slug", "number", "document", "created_at")
        self.assertEqual([{k: i[k] for k in keep} for i in after], [{k: i[k] for k in keep} for i in before])
        merged = Incident.objects.select_related("merged_into").get(slug="case-1")
        self.assertEqual(merged.merged_into.slug, "case-2")


def _empty_the_record():
    """Delete every published row (tests only): the empty database a mirror starts from."""
    Incident.objects.update(current_revision=None, merged_into=None)
    CurationEvent.objects.all().delete()
    Submission.objects.all().delete()
    Revision.objects.all().delete()
    IncidentTerm.objects.all().delete()
    IncidentEntity.objects.all().delete()
    Incident.objects.all().delete()
    TermAlias.objects.all().delete()
    Term.objects.update(parent=None, merged_into=None)
    Term.objects.all().delete()
    EntityAlias.objects.all().delete()
    Entity.objects.update(merged_into=None)
    Entity.objects.all().delete()


class PrivateDataTests(TestCase):
    """Nothing a contributor or an editor keeps private reaches a reader's machine."""

    SECRETS = [
        "contributor-secret@example.org",
        "A private insight only editors read",
        "Pending proposal headline nobody approved",
        "editor-z@example.org",
        "editor-z",
        "Hidden Contributor Name",
    ]

    @classmethod
    def setUpTestData(cls):
        incidents = build(3)
        editor = get_user_model().objects.create_user("editor-z", "editor-z@example.org")
        incident_publish(
            document=make_document("Case zero, corrected", external_id="AIAAIC0001"),
            incident=Incident.objects.get(pk=incidents[0].pk),
            author=editor,
            summary="Corrected",
        )
        submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=Incident.objects.get(pk=incidents[1].pk),
            proposed=make_document("Pending proposal headline nobody approved"),
            insight="A private insight only editors read",
            name="Hidden Contributor Name",
            email="contributor-secret@example.org",
        )
        submission_create(
            kind=Submission.Kind.NEW_INCIDENT,
            proposed=make_document("Pending proposal headline nobody approved"),
            email="contributor-secret@example.org",
        )

    def test_no_endpoint_feed_or_sitemap_shows_private_data(self):
        slug = Incident.objects.order_by("number").first().slug
        urls = [
            reverse("api:root"),
            reverse("api:incidents"),
            reverse("api:incidents") + "?q=pending",
            reverse("api:incident", args=[slug]),
            reverse("api:revisions", args=[slug]),
            reverse("api:changes"),
            reverse("api:vocabularies"),
            reverse("api:entities"),
            reverse("api:schema"),
            reverse("api:docs"),
            reverse("feeds:new"),
            reverse("feeds:updated"),
            reverse("feeds:incidents"),
            "/sitemap-incidents.xml",
            "/sitemap-entities.xml",
        ]
        for url in urls:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                text = response.content.decode()
                for secret in self.SECRETS:
                    self.assertNotIn(secret, text)
                self.assertNotIn('"author"', text)
