"""The JSON snapshot read back (`import_dataset`), and the JSON Schema of the incident document."""

import contextlib
import csv
import importlib
import json
import shutil
import tempfile
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import SimpleTestCase, TestCase, TransactionTestCase, override_settings
from django.urls import reverse
from jsonschema import Draft202012Validator

from repository import documents, schemas, snapshots
from repository.importers import dataset
from repository.models import (
    Entity,
    EntityAlias,
    ImportBatch,
    Incident,
    IncidentTerm,
    Revision,
    Term,
    TermAlias,
)
from repository.services import incident_merge, incident_publish, term_incident_count
from repository.signals import incidents_imported
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
    incident_merge(survivor=made["shared_a"], merged=made["merged"], editor=None)
    closed = made["closed"]
    second = {**closed.current_revision.document, "summary": "Parents were wrongly flagged as frauds."}
    incident_publish(document=second, incident=closed, summary="An editor's change")
    return made


def wipe_published_record():
    """Empty the published record (the vocabularies stay, as in a new database)."""
    Incident.objects.update(current_revision=None, merged_into=None)
    Revision.objects.all().delete()
    Incident.objects.all().delete()
    Term.objects.update(parent=None, merged_into=None)
    TermAlias.objects.all().delete()
    Term.objects.all().delete()
    EntityAlias.objects.all().delete()
    Entity.objects.all().delete()


def published_state():
    """Everything a mirror must have the same, by slug."""
    state = {}
    for incident in Incident.objects.select_related("current_revision", "merged_into").prefetch_related(
        "external_ids"
    ):
        state[incident.slug] = {
            "number": incident.number,
            "document": incident.current_revision.document,
            "external_ids": [
                (item.scheme, item.value, item.position) for item in incident.external_ids.all()
            ],
            "created_at": incident.created_at,
            "updated_at": incident.updated_at,
            "merged_into": incident.merged_into.slug if incident.merged_into else None,
        }
    return state


class ExportDirMixin:
    def setUp(self):
        super().setUp()
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        self.directory = Path(directory)
        settings = override_settings(EXPORT_DIR=self.directory / "exports")
        settings.enable()
        self.addCleanup(settings.disable)
        self.signals = []

        def receiver(sender, incident_ids, source, **kwargs):
            self.signals.append((source, sorted(incident_ids)))

        incidents_imported.connect(receiver)
        self.addCleanup(incidents_imported.disconnect, receiver)

    def write_snapshot(self, stem="incidents-test"):
        written, _count = snapshots.write_dataset(stem=stem, title="Test")
        name = next(file.file_name for file in written if file.format == "json")
        return self.directory / "exports" / name

    def items(self, path):
        return [
            json.loads(line.rstrip(",\n")) for line in path.read_text(encoding="utf-8").splitlines()[1:-1]
        ]

    def write_items(self, items, name="items.json", lines=None):
        """A file in write_dataset's layout: '[', one item (or given raw line) per line, ']'."""
        rows = lines if lines is not None else [json.dumps(item, ensure_ascii=False) for item in items]
        path = self.directory / name
        path.write_text("[\n" + ",\n".join(rows) + "\n]\n", encoding="utf-8")
        return path

    def restore(self, path, *options):
        out = StringIO()
        with self.captureOnCommitCallbacks(execute=True):
            call_command("import_dataset", str(path), *options, stdout=out)
        return out.getvalue()


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
            schemas.item_validator(),  # the restore's: compiled, explained by jsonschema
        ]

    def assert_valid(self, document):
        self.assertEqual(schemas.first_error(self.validators[0], document), "")
        for validator in self.validators[1:]:
            self.assertEqual(
                schemas.first_error(validator, {"slug": "x", "number": 1, "document": document}), ""
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
            "placeholder of no role or vocabulary": {"placeholders": {"Operator!": "Unclear"}},
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
            "schema 4": {"schema": 4},
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
        self.assertContains(response, "import_dataset")


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
        self.assertEqual(item["document"], documents.published(incident.current_revision.document))

    def test_a_merged_incident_redirects_to_its_survivors_document(self):
        response = self.client.get(f"/incidents/{self.made['merged'].slug}/document.json")
        self.assertRedirects(
            response,
            f"/incidents/{self.made['shared_a'].slug}/document.json",
            status_code=301,
        )


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


class RoundTripTests(ExportDirMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.made = publish_varied_set()

    def test_a_snapshot_restores_an_empty_database_exactly(self):
        before = published_state()
        path = self.write_snapshot()
        wipe_published_record()

        out = self.restore(path)

        self.assertIn(f"{len(before)} created, 0 updated, 0 unchanged, 0 left out, 0 warnings", out)
        after = published_state()
        self.assertEqual(set(after), set(before))
        for slug, state in before.items():
            with self.subTest(slug):
                self.assertEqual(after[slug], state)
        merged = Incident.objects.get(slug=self.made["merged"].slug)
        for revision in Revision.objects.exclude(incident__in=[merged, merged.merged_into]):
            self.assertEqual(revision.summary, f"Restored from a dataset snapshot ({path.name}): Created")
        # The merged incident was merged as an editor merges (repository.services.merging).
        self.assertEqual(
            [revision.summary.split(" (")[0] for revision in merged.revisions.order_by("number")],
            [
                "Restored from a dataset snapshot",
                f"Merged into incident #{merged.merged_into.number}, “Restored from a dataset snapshot",
            ],
        )
        self.assertEqual(self.signals, [("dataset", sorted(Incident.objects.values_list("pk", flat=True)))])

    def test_a_dry_run_prints_what_the_restore_would_change_and_changes_nothing(self):
        path = self.write_snapshot()
        survivors = {item["merged_into"] for item in self.items(path)}
        items = [
            item for item in self.items(path) if not item["merged_into"] and item["slug"] not in survivors
        ]
        changed = Incident.objects.select_related("current_revision").get(slug=items[0]["slug"])
        document = {**changed.current_revision.document, "summary": "Changed here since the snapshot."}
        incident_publish(document=document, incident=changed)
        gone = Incident.objects.filter(slug__in=[item["slug"] for item in items[1:3]])
        gone.update(current_revision=None)
        Revision.objects.filter(incident__in=gone).delete()
        gone.delete()
        before, revisions, batches = published_state(), Revision.objects.count(), ImportBatch.objects.count()

        out = self.restore(path, "--dry-run", "-v", "2")

        self.assertIn("Dry run: nothing was changed. The restore would give:", out)
        self.assertIn("2 created, 1 updated", out)
        self.assertIn(f"updated #{items[0]['number']} {items[0]['slug']}:", out)
        for item in items[1:3]:
            self.assertIn(f"created #{item['number']} {item['slug']}: Created", out)
        self.assertEqual(published_state(), before)
        self.assertEqual((Revision.objects.count(), ImportBatch.objects.count()), (revisions, batches))
        self.assertEqual(self.signals, [])
        self.assertIn("2 created, 1 updated", self.restore(path))  # and the restore itself agrees

    def test_a_restored_merged_incident_equals_one_merged_by_an_editor(self):
        wipe_published_record()
        kept = publish("Face scanner misreads a shopper", external_id="AIAAIC0700")
        gone = publish(
            "Face scanner misreads shopper (second report)",
            external_id="AIAAIC0701",
            terms={"country": ["Germany"], "technology": ["Facial recognition"]},
            references={"news": [{"url": "https://news.example.org/face"}]},
        )
        incident_merge(survivor=kept, merged=gone, editor=None)

        def merged_rows():
            merged = Incident.objects.get(slug=gone.slug)
            return {
                "merged into": merged.merged_into.slug,
                "terms": IncidentTerm.objects.filter(incident=merged).count(),
                "external ids": merged.external_ids.count(),
                "references": merged.references.count(),
                "germany counts": term_incident_count(
                    Term.objects.get(vocabulary__slug="country", name="Germany")
                ),
            }

        by_editor, before = merged_rows(), published_state()
        self.assertEqual(
            by_editor,
            {"merged into": kept.slug, "terms": 0, "external ids": 0, "references": 0, "germany counts": 1},
        )
        path = self.write_snapshot()
        wipe_published_record()
        self.restore(path)
        self.assertEqual(merged_rows(), by_editor)
        after = published_state()
        for slug in before:
            before[slug].pop("updated_at"), after[slug].pop("updated_at")
        self.assertEqual(after, before)

    def test_a_restore_keeps_its_numbers_when_free_and_says_which_were_not(self):
        path = self.write_snapshot()
        items = self.items(path)
        wipe_published_record()
        squatter = publish("An incident published here before the restore")
        squatter.number = items[1]["number"]
        squatter.save(update_fields=["number"])
        out = self.restore(path)
        self.assertIn(f"number {items[1]['number']} is incident {squatter.slug} here", out)
        for item in items[2:]:
            self.assertEqual(Incident.objects.get(slug=item["slug"]).number, item["number"])
        moved = Incident.objects.get(slug=items[1]["slug"])
        self.assertGreater(moved.number, max(item["number"] for item in items))

    def test_the_restored_rows_are_those_of_the_documents(self):
        path = self.write_snapshot()
        wipe_published_record()
        self.restore(path)
        for incident in Incident.objects.select_related("current_revision"):
            document = incident.current_revision.document
            with self.subTest(incident.slug):
                rows = documents.document_from_incident(incident)
                if incident.merged_into_id:  # as after an editor's merge: its rows are the survivor's
                    self.assertEqual(rows["external_ids"], [])
                    self.assertEqual(rows["terms"], {})
                    continue
                self.assertEqual(
                    {**rows, "placeholders": document["placeholders"], "extra": document["extra"]}, document
                )
        # The two systems called Safe City stay two entities, as the deployers tell apart.
        self.assertEqual(Entity.objects.filter(name="Safe City", kind="system").count(), 2)
        self.assertTrue(Term.objects.filter(name="Govt - police", parent__name="Govt").exists())
        self.assertEqual(
            list(
                Incident.objects.filter(external_ids__value="AIAAIC0901")
                .order_by("number")
                .values_list("slug", flat=True)
            ),
            [self.made["shared_a"].slug, self.made["shared_b"].slug],
        )

    def test_importing_a_snapshot_of_the_same_database_changes_nothing(self):
        path = self.write_snapshot()
        before = published_state()
        revisions = Revision.objects.count()

        out = self.restore(path)

        self.assertIn("0 created, 0 updated, 7 unchanged, 0 left out, 0 warnings", out)
        self.assertEqual(Revision.objects.count(), revisions)
        self.assertEqual(published_state(), before)
        self.assertEqual(self.signals, [])

    def test_a_second_import_of_a_restored_snapshot_is_a_no_op(self):
        path = self.write_snapshot()
        wipe_published_record()
        self.restore(path)
        before, revisions = published_state(), Revision.objects.count()
        out = self.restore(path)
        self.assertIn("0 created, 0 updated, 7 unchanged", out)
        self.assertEqual((published_state(), Revision.objects.count()), (before, revisions))

    def test_a_changed_item_updates_its_incident_with_one_new_revision(self):
        items = self.items(self.write_snapshot())
        minimal = self.made["minimal"]
        for item in items:
            if item["slug"] == minimal.slug:
                item["document"]["headline"] = "A headline, corrected"
                item["document"]["terms"]["country"] = ["Ireland"]
        path = self.write_items(items, name="changed.json")

        out = self.restore(path)

        self.assertIn("0 created, 1 updated, 6 unchanged", out)
        revisions = list(minimal.revisions.order_by("number"))
        self.assertEqual(len(revisions), 2)
        self.assertEqual(
            revisions[1].summary, "Restored from a dataset snapshot (changed.json): Changed Headline, Country"
        )
        self.assertEqual(revisions[1].document["headline"], "A headline, corrected")
        self.assertEqual(self.signals, [("dataset", [minimal.pk])])

    def test_a_slug_and_a_number_taken_by_another_story_get_new_ones_with_warnings(self):
        before = published_state()
        path = self.write_snapshot()
        wipe_published_record()
        first = publish("Someone else's first story", slug="first-story")  # number 1, as munich-shoppers
        other = publish("A different story here", slug="munich-shoppers")  # number 2, as shared_a
        self.assertEqual(
            (first.number, other.number),
            (before["munich-shoppers"]["number"], before[self.made["shared_a"].slug]["number"]),
        )

        out = self.restore(path, "--report", str(self.directory / "report.csv"))

        self.assertIn("7 created, 0 updated, 0 unchanged, 0 left out, 3 warnings", out)
        for incident in (first, other):
            self.assertEqual(incident.revisions.count(), 1)
        self.assertEqual(Incident.objects.get(pk=other.pk).headline, "A different story here")
        moved = Incident.objects.select_related("current_revision").get(slug="munich-shoppers-2")
        self.assertEqual(moved.current_revision.document, before["munich-shoppers"]["document"])
        renumbered = Incident.objects.get(slug=self.made["shared_a"].slug)
        self.assertEqual(sorted([moved.number, renumbered.number]), [8, 9])  # above the file's numbers
        with open(self.directory / "report.csv", encoding="utf-8") as handle:
            findings = [
                (row["kind"], row["row"], row["message"])
                for row in csv.DictReader(handle)
                if row["warning"] == "yes"
            ]
        self.assertEqual(
            sorted(findings),
            [
                (
                    "number-taken",
                    "2",
                    f"number 1 is incident first-story here; this incident is number {moved.number}.",
                ),
                (
                    "number-taken",
                    "3",
                    f"number 2 is incident munich-shoppers here; this incident is number {renumbered.number}.",
                ),
                (
                    "slug-taken",
                    "2",
                    "the slug names a different story here; this incident is munich-shoppers-2.",
                ),
            ],
        )

    def test_the_same_story_under_another_number_is_updated_and_keeps_its_number(self):
        items = self.items(self.write_snapshot())
        wipe_published_record()
        publish("Placeholder", slug="placeholder")  # takes number 1
        publish("Placeholder two", slug="placeholder-two")  # and 2
        local = publish(
            "Exam software flags tics as cheating", slug=self.made["shared_a"].slug, external_id="AIAAIC0901"
        )
        item = next(item for item in items if item["slug"] == local.slug)
        self.assertNotEqual(item["number"], local.number)

        out = self.restore(self.write_items([item]))

        self.assertIn("0 created, 1 updated, 0 unchanged, 0 left out, 1 warnings", out)
        self.assertIn(f"this incident is number {local.number} here and {item['number']} in the file", out)
        local.refresh_from_db()
        self.assertEqual(local.current_revision.document, item["document"])

    def test_a_merge_in_the_file_is_not_undone_or_changed_silently(self):
        items = self.items(self.write_snapshot())
        merged = self.made["merged"]
        Incident.objects.filter(pk=merged.pk).update(merged_into=self.made["shared_b"])
        out = self.restore(self.write_items(items))
        self.assertIn(
            f"merged into {self.made['shared_b'].slug} here, into {self.made['shared_a'].slug} in the file",
            out,
        )
        self.assertEqual(Incident.objects.get(pk=merged.pk).merged_into_id, self.made["shared_b"].pk)


# Bad input --------------------------------------------------------------------------------


class BadInputTests(ExportDirMixin, TestCase):
    def item(self, headline, slug, number, **fields):
        document = documents.normalize(make_document(headline, **fields))
        return {"slug": slug, "number": number, "document": document}

    def test_a_file_that_is_not_json_is_a_clear_error(self):
        for name, text in (("not-json.json", "slug,number\nx,1\n"), ("empty.json", "")):
            path = self.directory / name
            path.write_text(text)
            with self.subTest(name), self.assertRaisesMessage(CommandError, "The file is not JSON"):
                self.restore(path)

    def test_json_that_is_not_an_array_is_a_clear_error(self):
        path = self.directory / "object.json"
        path.write_text(json.dumps(self.item("One", "one", 1)))
        with self.assertRaisesMessage(CommandError, "not an array of incidents: it holds an object"):
            self.restore(path)

    def test_a_missing_file_is_a_clear_error(self):
        with self.assertRaisesMessage(CommandError, "No such file"):
            self.restore(self.directory / "nowhere.json")

    def test_a_cut_short_file_is_refused_and_nothing_written(self):
        path = self.write_items([self.item("One", "one", 1), self.item("Two", "two", 2)])
        path.write_text(path.read_text()[:-10])  # cut inside the last item
        with self.assertRaisesMessage(CommandError, "The file is not JSON"):
            self.restore(path)
        self.assertFalse(Incident.objects.exists())

    def lines_with_problems(self):
        old = self.item("Schema four", "schema-four", 5)
        old["document"]["schema"] = 4
        return [
            json.dumps(self.item("Good one", "good-one", 1)),  # line 2
            json.dumps({**self.item("Bad number", "bad-number", 2), "number": "two"}),  # line 3
            '{"slug": "broken", "number": 3, "document": {',  # line 4
            json.dumps(self.item("Good two", "good-two", 4, terms={"country": ["UK"]})),  # line 5
            json.dumps(old),  # line 6
            json.dumps(
                {
                    **self.item("Unknown vocabulary", "unknown-vocabulary", 6),
                    "document": {
                        **self.item("Unknown vocabulary", "unknown-vocabulary", 6)["document"],
                        "terms": {"mood": ["Sad"]},
                    },
                }
            ),  # line 7
            json.dumps(self.item("Good one again", "good-one", 7)),  # line 8
        ]

    def test_bad_items_are_reported_by_line_and_the_others_imported(self):
        path = self.write_items([], lines=self.lines_with_problems())
        out = self.restore(path)
        self.assertIn(
            "7 items (one per line): 2 created, 0 updated, 0 unchanged, 5 left out, 5 warnings", out
        )
        self.assertEqual(sorted(Incident.objects.values_list("slug", flat=True)), ["good-one", "good-two"])
        self.assertIn("line 3 (bad-number): number: 'two' is not of type 'integer'; left out.", out)
        self.assertIn("line 4: not a JSON item (Expecting property name enclosed in double quotes", out)
        self.assertIn(
            "line 6 (schema-four): the document is of schema 4; this site reads 3 (and 1 and 2)", out
        )
        self.assertIn(
            "line 7 (unknown-vocabulary): terms.mood: There is no vocabulary 'mood'; left out.", out
        )
        self.assertIn("line 8 (good-one): the slug is also on line 2; this item left out.", out)
        self.assertEqual(Incident.objects.get(slug="good-one").headline, "Good one")

    def test_strict_imports_nothing_when_anything_is_left_out(self):
        path = self.write_items([], lines=self.lines_with_problems())
        with self.assertRaisesMessage(CommandError, "5 warning(s) with --strict; nothing was imported."):
            self.restore(path, "--strict")
        self.assertFalse(Incident.objects.exists())
        self.assertEqual(self.signals, [])

    def test_a_pretty_printed_file_is_read_whole_with_the_line_of_each_item(self):
        items = [self.item("First", "first", 1), {**self.item("Second", "second", 2), "number": -2}]
        path = self.directory / "pretty.json"
        path.write_text(json.dumps(items, indent=2))
        second_line = path.read_text().splitlines().index("  {", 2) + 1
        out = self.restore(path, "--report", str(self.directory / "report.csv"))
        self.assertIn("2 items (read whole): 1 created, 0 updated, 0 unchanged, 1 left out", out)
        with open(self.directory / "report.csv", encoding="utf-8") as handle:
            (finding,) = csv.DictReader(handle)
        self.assertEqual((finding["kind"], finding["row"]), ("invalid-item", str(second_line)))

    def test_a_file_with_the_closing_bracket_after_the_last_item_is_read_line_by_line(self):
        path = self.directory / "compact.json"
        lines = [json.dumps(self.item(name, name.lower(), n)) for n, name in enumerate(["One", "Two"], 1)]
        path.write_text("[\n" + ",\n".join(lines) + "]\n")
        out = self.restore(path)
        self.assertIn(
            "2 items (one per line): 2 created, 0 updated, 0 unchanged, 0 left out, 0 warnings", out
        )

    def test_a_schema_1_document_is_read_as_schema_2(self):
        item = {
            "slug": "old",
            "number": 9,
            "document": {"schema": 1, "headline": "Old", "external_id": "AIAAIC0042"},
        }
        out = self.restore(self.write_items([item]))
        self.assertIn("1 created", out)
        self.assertIn("Documents of schema 1 read as schema 2: 1", out)
        incident = Incident.objects.get(slug="old")
        self.assertEqual((incident.number, incident.aiaaic_id), (9, "AIAAIC0042"))

    def test_a_document_not_in_canonical_form_is_normalized_with_a_warning(self):
        item = self.item("Canonical", "canonical", 1)
        item["document"]["entities"]["deployer"] = ["Open AI", "OpenAI"]
        out = self.restore(self.write_items([item]))
        self.assertIn("line 2 (canonical): Changed Deployer (as the site normalizes them).", out)
        self.assertEqual(
            Incident.objects.get(slug="canonical").current_revision.document["entities"]["deployer"],
            ["Open AI"],
        )


# The real data ----------------------------------------------------------------------------

# Shipped with the project, so that this test needs nothing from outside the repository.
REAL_SHEET = Path(settings.BASE_DIR) / "data" / "aiaaic-repository-2024.csv"


@pytest.mark.slow
class RealSheetRoundTripTests(ExportDirMixin, TestCase):
    def test_the_whole_2024_sheet_comes_back_from_its_json_snapshot_field_by_field(self):
        self.assertTrue(REAL_SHEET.is_file(), f"{REAL_SHEET} is part of the project and must be there")
        # Rolling back to a savepoint leaves the database as new, with its vocabularies only
        # (and, unlike deleting rows in this transaction, keeps SQLite fast afterwards).
        empty = transaction.savepoint()
        call_command("import_sheet", str(REAL_SHEET), stdout=StringIO())
        before = published_state()
        self.assertEqual(len(before), 1670)
        path = self.write_snapshot()
        transaction.savepoint_rollback(empty)
        self.assertFalse(Incident.objects.exists() or Term.objects.exists() or Entity.objects.exists())

        out = self.restore(path)

        self.assertIn(
            "1,670 items (one per line): 1,670 created, 0 updated, 0 unchanged, 0 left out, 0 warnings", out
        )
        after = published_state()
        self.assertEqual(set(after), set(before))
        differences = []
        for slug, state in before.items():
            for key, value in state.items():
                if key == "document":
                    for field, text in value.items():
                        if after[slug]["document"].get(field) != text:
                            differences.append(f"{slug} document.{field}")
                elif after[slug][key] != value:
                    differences.append(f"{slug} {key}")
        self.assertEqual(differences, [])

        again = self.restore(path)
        self.assertIn("0 created, 0 updated, 1,670 unchanged, 0 left out, 0 warnings", again)
        self.assertEqual(Revision.objects.count(), 1670)


class Killed(BaseException):
    """The process ends here (nothing catches it, as nothing catches a SIGKILL)."""


class StoppedRestoreTests(ExportDirMixin, TransactionTestCase):
    """Each chunk of a restore commits on its own: a restore killed half-way keeps what it
    committed, and running it again finishes it, equal to one clean restore."""

    def setUp(self):
        super().setUp()
        # The vocabularies come with the migrations; a TransactionTestCase empties the tables.
        migration = importlib.import_module("repository.migrations.0002_vocabularies_and_search_index")
        migration.create_vocabularies(apps, None)

    def test_a_restore_killed_after_some_chunks_then_run_again_ends_as_one_clean_restore(self):
        made = publish_varied_set()
        for n in range(9):
            publish(f"Chatbot gives wrong advice to tenant {n}", occurred=f"{2015 + n}")
        path = self.write_snapshot()
        wipe_published_record()

        class Clean(Exception):
            pass

        with mock.patch.object(dataset, "CHUNK", 4):
            with self.assertRaises(Clean), transaction.atomic():
                dataset.dataset_import(path=path)
                clean = published_state()
                raise Clean  # undone: the database is empty again
            self.assertFalse(Incident.objects.exists())
            self.assertEqual(len(clean), 16)

            real_chunk, calls = dataset._Restore.chunk, []

            def killed_at_the_third_chunk(restore, pairs):
                calls.append(1)
                if len(calls) == 3:
                    raise Killed
                return real_chunk(restore, pairs)

            with (
                mock.patch.object(dataset._Restore, "chunk", killed_at_the_third_chunk),
                self.assertRaises(Killed),
            ):
                dataset.dataset_import(path=path)
            self.assertEqual(Incident.objects.count(), 2 * 4)  # two chunks committed
            stopped = ImportBatch.objects.get()
            self.assertIsNone(stopped.finished_at)

            result = dataset.dataset_import(path=path)
        self.assertEqual(result.created, 16 - 8)
        self.assertEqual(result.updated + result.unchanged, 8)  # updated: the merge, left to the end
        self.assertIn(
            f"import {stopped.pk} ", " ".join(str(f) for f in result.report.notes if f.kind == "run-again")
        )
        stopped.refresh_from_db()
        self.assertIsNotNone(stopped.finished_at)
        self.assertEqual(published_state(), clean)
        self.assertEqual(
            Incident.objects.get(slug=made["merged"].slug).merged_into.slug, made["shared_a"].slug
        )
