"""The JSON snapshot read back (`import_dataset`), and the JSON Schema of the incident document."""

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

from django.test import SimpleTestCase, TestCase, override_settings
from django.urls import reverse
from jsonschema import Draft202012Validator

from repository import documents, schemas, snapshots
from repository.models import (
    Incident,
)
from repository.services import incident_publish
from repository.tests.base import make_document, publish

REFERENCES = {
    "system": [{"url": "https://eyespy.example.com/product", "title": "EyeSpy", "publisher": "EyeSpy"}],
    "legal": [
        {
            "url": "https://court.example.de/urteil/2023-17",
            "title": "Urteil vom 9. Februar 2023",
            "publisher": "Landgericht München",
            "published": "9 February 2023",
        }
    ],
    "research": [{"url": "https://lab.example.org/report.pdf", "published": "2022"}],
    "investigations": [{"url": "https://dpa.example.de/audit", "title": "Audit", "published": "2023-03"}],
    "news": [
        {"url": "https://news.example.org/a?id=1", "title": "Shoppers flagged", "publisher": "Tagesblatt"},
        "https://news.example.org/b",
    ],
}


def publish_varied_set():
    """Incidents using every part of the document; returns them by a short name."""
    made = {}
    made["full"] = publish(
        "Facial recognition flags shoppers in München – «Überwachung» 監視",
        slug="munich-shoppers",
        type="incident",
        occurred="2023-",
        released="2021; 2022",
        summary="Cameras in a shopping centre.\nA second line — with “quotes”.",
        narrative="## Der Vertrag\n\nThe first paragraph 🚨.\n\nThe second paragraph.",
        source_url="https://www.aiaaic.org/aiaaic-repository/munich-shoppers",
        external_ids=[
            {"scheme": "aiaaic", "value": "AIAAIC0563"},
            {"scheme": "aiid", "value": "12"},
            {"scheme": "oecd", "value": "2024-01-15-5f3a"},
        ],
        terms={
            "country": ["Germany", "Türkiye"],
            "sector": ["Govt - police", "Retail"],
            "technology": ["Facial recognition"],
            "issue": ["Privacy", "Bias/discrimination - race, ethnicity"],
            "harm-individual": ["Dignity loss"],
            "harm-legal": ["Fine"],
            "consequence": ["Fine"],
        },
        entities={
            "deployer": ["Société Générale"],
            "developer": ["Unclear/unknown"],
            "system": ["EyeSpy"],
            "harmed": ["Shoppers", "深圳市民"],
        },
        placeholders={"harmed": "Multiple"},
        extra={"Consequence": "Fined €2m", "Response (taxonomy)": "Apology"},
        references=REFERENCES,
    )
    made["shared_a"] = publish(
        "Exam software flags tics as cheating", external_id="AIAAIC0901", occurred="12 May 2020"
    )
    made["shared_b"] = publish(
        "Exam software fails darker-skinned students", external_id="AIAAIC0901", occurred="February 2021"
    )
    made["closed"] = publish(
        "Benefits algorithm wrongly accuses parents",
        type="issue",
        occurred="2019-2024",
        entities={"deployer": ["Dutch Tax Authority"], "system": ["Safe City"]},
    )
    made["other_system"] = publish(
        "Safe City cameras misread number plates",
        occurred="March 2020 - June 2021",
        entities={"deployer": ["Northtown Council"], "system": ["Safe City"]},
    )
    made["minimal"] = publish("A headline and nothing else")
    made["merged"] = publish("Exam software flags tics (duplicate report)", occurred="2020")
    Incident.objects.filter(pk=made["merged"].pk).update(merged_into=made["shared_a"])
    closed = made["closed"]
    second = {**closed.current_revision.document, "summary": "Parents were wrongly flagged as frauds."}
    incident_publish(document=second, incident=closed, summary="An editor's change")
    return made


class ExportDirMixin:
    def setUp(self):
        super().setUp()
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        self.directory = Path(directory)
        settings = override_settings(EXPORT_DIR=self.directory / "exports")
        settings.enable()
        self.addCleanup(settings.disable)

    def write_snapshot(self, stem="incidents-test"):
        written, _count = snapshots.write_dataset(stem=stem, title="Test")
        name = next(file.file_name for file in written if file.format == "json")
        return self.directory / "exports" / name

    def items(self, path):
        return [
            json.loads(line.rstrip(",\n")) for line in path.read_text(encoding="utf-8").splitlines()[1:-1]
        ]


# The schemas ------------------------------------------------------------------------------


def walk_properties(schema, path=""):
    """(path, subschema) of every named property in a schema, however deep."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}{name}", sub
        yield from walk_properties(sub, f"{path}{name}.")
    for name, sub in schema.get("$defs", {}).items():
        yield from walk_properties(sub, f"$defs.{name}.")


class SchemaTests(SimpleTestCase):
    def test_both_schemas_are_valid_draft_2020_12_schemas(self):
        for name in schemas.NAMES:
            with self.subTest(name):
                schema = schemas.schema(name)
                Draft202012Validator.check_schema(schema)
                self.assertEqual(schema["$schema"], "https://json-schema.org/draft/2020-12/schema")

    @override_settings(SITE_URL="https://incidents.example.org")
    def test_the_id_is_the_address_on_the_site(self):
        self.assertEqual(
            schemas.schema(schemas.DOCUMENT)["$id"],
            "https://incidents.example.org/export/incident-document.schema.json",
        )

    def test_the_schema_knows_what_the_code_knows(self):
        schema = schemas.schema(schemas.DOCUMENT)
        properties = schema["properties"]
        self.assertEqual(properties["schema"]["const"], documents.SCHEMA_VERSION)
        self.assertEqual(properties["type"]["enum"], ["", *documents.TYPES])
        self.assertEqual(sorted(schema["required"]), sorted(documents.empty_document()))
        self.assertEqual(properties["entities"]["required"], documents.ROLES)
        self.assertEqual(list(properties["placeholders"]["properties"]), documents.ROLES)
        self.assertEqual(properties["references"]["required"], documents.CATEGORIES)
        scheme = schema["$defs"]["external-id"]["properties"]["scheme"]["pattern"]
        self.assertEqual(scheme, documents.SCHEME_PATTERN.pattern)

    def test_every_field_is_described(self):
        schema = schemas.schema(schemas.DOCUMENT)
        for path, sub in walk_properties(schema):
            with self.subTest(path):
                self.assertTrue(sub.get("description") or ("$ref" in sub and path.startswith("$defs")))
        for name, sub in schema["properties"].items():
            with self.subTest(name):
                self.assertTrue(sub.get("description"))
        item = schemas.schema(schemas.SNAPSHOT)["$defs"]["item"]
        for name, sub in item["properties"].items():
            with self.subTest(name):
                self.assertTrue(sub.get("description"))


class SchemaAgreesWithNormalizeTests(SimpleTestCase):
    """The schema accepts what `documents.normalize` produces, and refuses what it would not."""

    MESSY = [
        make_document("  Two   spaces and a tab\there  "),
        make_document(
            "Variants",
            entities={"deployer": ["Open AI", "OpenAI ", "Unclear/unknown"], "developer": ["Multiple"]},
            terms={"country": ["UK", "uk"], "sector": []},
            extra={"  Odd   column ": "  value  ", "Blank": "  "},
        ),
        make_document(
            "Dates",
            occurred="March 2020 - June 2021",
            references={
                "news": ["https://example.org/a", {"url": "HTTPS://EXAMPLE.ORG/b", "published": "9 Feb 2021"}]
            },
        ),
        make_document(
            "Ids", external_ids=[{"scheme": "AIAAIC", "value": "aiaaic 563"}, {"scheme": "x", "value": "1"}]
        ),
        {"schema": 1, "headline": "An old document", "external_id": "AIAAIC0042", "occurred": "2023-"},
        make_document("H" * 300, narrative="N\r\n" * 1000, summary="  S  "),
    ]

    def setUp(self):
        self.validators = [
            schemas.published_document_validator(),
            Draft202012Validator(schemas._inlined_item()),
        ]

    def assert_valid(self, document):
        self.assertEqual(schemas.first_error(self.validators[0], document), "")
        self.assertEqual(
            schemas.first_error(self.validators[1], {"slug": "x", "number": 1, "document": document}), ""
        )

    def test_every_normalized_document_is_valid(self):
        for raw in self.MESSY:
            with self.subTest(raw["headline"]):
                self.assert_valid(documents.normalize(raw))

    def test_it_refuses_what_normalize_never_produces(self):
        good = documents.normalize(self.MESSY[2])
        bad = {
            "unknown type": {"type": "accident"},
            "occurred in words": {"occurred": "February 2021"},
            "thirteenth month": {"occurred": "2021-13"},
            "year out of range": {"occurred": "1850"},
            "blank headline": {"headline": ""},
            "untrimmed headline": {"headline": " Padded"},
            "two-line headline": {"headline": "One\nTwo"},
            "upper-case scheme": {"external_ids": [{"scheme": "AIAAIC", "value": "AIAAIC0001"}]},
            "id without value": {"external_ids": [{"scheme": "aiid"}]},
            "id twice": {"external_ids": [{"scheme": "aiid", "value": "1"}] * 2},
            "unknown key": {"operator": ["Acme"]},
            "a role missing": {"entities": {"deployer": [], "developer": [], "system": []}},
            "unknown role": {"entities": {**good["entities"], "operator": ["Acme"]}},
            "unknown placeholder role": {"placeholders": {"operator": "Unclear"}},
            "empty vocabulary": {"terms": {"country": []}},
            "vocabulary not a slug": {"terms": {"Country!": ["UK"]}},
            "name twice": {"terms": {"country": ["UK", "UK"]}},
            "reference without url": {
                "references": {**good["references"], "news": [{"title": "No address"}]}
            },
            "ftp reference": {
                "references": {
                    **good["references"],
                    "news": [{"url": "ftp://example.org/x", "title": "", "publisher": "", "published": ""}],
                }
            },
            "date in words": {
                "references": {
                    **good["references"],
                    "news": [
                        {
                            "url": "https://example.org/x",
                            "title": "",
                            "publisher": "",
                            "published": "09/02/2021",
                        }
                    ],
                }
            },
            "a section missing": {"references": {"news": []}},
            "schema 3": {"schema": 3},
            "no schema": None,
        }
        for reason, change in bad.items():
            document = (
                {k: v for k, v in good.items() if k != "schema"} if change is None else {**good, **change}
            )
            with self.subTest(reason):
                for validator in self.validators:
                    instance = (
                        document
                        if validator is self.validators[0]
                        else {"slug": "x", "number": 1, "document": document}
                    )
                    self.assertNotEqual(schemas.first_error(validator, instance), "")
                with contextlib.suppress(documents.DocumentError):
                    self.assertNotEqual(documents.normalize(document, vocabularies={"country"}), document)

    def test_an_item_needs_a_slug_and_a_positive_number(self):
        document = documents.normalize(self.MESSY[0])
        for item in (
            {"number": 1, "document": document},
            {"slug": "has space", "number": 1, "document": document},
            {"slug": "x", "number": 0, "document": document},
            {"slug": "x", "number": "1", "document": document},
            {"slug": "x", "number": 1},
            {"slug": "x", "number": 1, "document": document, "unknown": True},
        ):
            with self.subTest(item=sorted(item)):
                self.assertNotEqual(schemas.first_error(schemas.published_item_validator(), item), "")
                self.assertNotEqual(schemas.first_error(schemas.item_validator(), item), "")


class SchemaPageTests(TestCase):
    @override_settings(SITE_URL="https://incidents.example.org")
    def test_each_schema_is_served_as_schema_json_with_its_address(self):
        for name in schemas.NAMES:
            url = f"/export/{name}.schema.json"
            with self.subTest(name), self.assertNumQueries(0):
                response = self.client.get(url)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response["Content-Type"], "application/schema+json")
            schema = json.loads(response.content)
            Draft202012Validator.check_schema(schema)
            self.assertEqual(schema["$id"], f"https://incidents.example.org{url}")

    def test_an_unknown_schema_is_not_found(self):
        self.assertEqual(self.client.get("/export/settings.schema.json").status_code, 404)

    def test_the_export_page_links_both_schemas(self):
        with self.assertNumQueries(1):  # the snapshots
            response = self.client.get(reverse("repository:export"))
        self.assertContains(response, 'href="/export/incident-document.schema.json"')
        self.assertContains(response, 'href="/export/incident-snapshot.schema.json"')


class DocumentJsonTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.made = publish_varied_set()

    def test_it_is_an_item_of_the_snapshot_with_its_schema(self):
        incident = Incident.objects.get(pk=self.made["closed"].pk)
        with self.assertNumQueries(1):  # the incident with its current revision and survivor
            response = self.client.get(f"/incidents/{incident.slug}/document.json")
        item = response.json()
        self.assertEqual(item["$schema"], schemas.item_schema_url())
        self.assertEqual(schemas.first_error(schemas.published_item_validator(), item), "")
        self.assertEqual(
            {key: item[key] for key in ("slug", "number", "revision", "merged_into")},
            {"slug": incident.slug, "number": incident.number, "revision": 2, "merged_into": None},
        )
        self.assertEqual(item["created_at"], incident.created_at.isoformat())
        self.assertEqual(item["document"], incident.current_revision.document)

    def test_a_merged_incident_names_its_survivor(self):
        response = self.client.get(f"/incidents/{self.made['merged'].slug}/document.json")
        self.assertEqual(response.json()["merged_into"], self.made["shared_a"].slug)


# The JSON snapshot ------------------------------------------------------------------------


class SnapshotItemTests(ExportDirMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.made = publish_varied_set()

    def test_every_item_of_a_snapshot_validates_against_the_published_schema(self):
        items = self.items(self.write_snapshot())
        self.assertEqual(len(items), Incident.objects.count())
        validator = schemas.published_item_validator()
        for item in items:
            with self.subTest(item["slug"]):
                self.assertEqual(schemas.first_error(validator, item), "")
        full = next(item for item in items if item["slug"] == "munich-shoppers")["document"]
        self.assertEqual(full["placeholders"], {"developer": "Unclear/unknown", "harmed": "Multiple"})
        self.assertTrue(all(full["references"][category] for category in documents.CATEGORIES))
        self.assertEqual(full["occurred"], "2023/..")

    def test_an_item_carries_the_revision_times_and_merge(self):
        by_slug = {item["slug"]: item for item in self.items(self.write_snapshot())}
        for incident in Incident.objects.select_related("current_revision", "merged_into"):
            with self.subTest(incident.slug):
                item = by_slug[incident.slug]
                self.assertEqual(item["revision"], incident.current_revision.number)
                self.assertEqual(item["created_at"], incident.created_at.isoformat())
                self.assertEqual(item["updated_at"], incident.updated_at.isoformat())
                self.assertEqual(
                    item["merged_into"], incident.merged_into.slug if incident.merged_into else None
                )
        self.assertEqual(by_slug[self.made["closed"].slug]["revision"], 2)
