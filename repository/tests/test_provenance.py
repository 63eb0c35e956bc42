"""Provenance: where each value of an incident came from, kept with each revision and shown."""

import datetime
import json
from io import StringIO
from pathlib import Path
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import TestCase, override_settings

from repository import citations, documents, provenance, schemas, snapshots
from repository.models import CurationEvent, Incident, Revision, Term
from repository.provenance import Origin
from repository.services import (
    curation_undo,
    incident_merge,
    incident_merge_undo,
    incident_publish,
    incident_revert,
    term_rename,
)

from .base import make_document

FIXTURES = Path(__file__).parent / "fixtures"
AIAAIC_2026 = Origin.of_source("aiaaic", "export", "2026-02")
AIID = Origin.of_source("aiid", "snapshot", "2025-11")
MAY_3 = datetime.date(2026, 5, 3)


def publish(document, origin=AIAAIC_2026, **arguments):
    return incident_publish(document=document, origin=origin, **arguments)


def camera_document(headline="Camera system flags Uyghurs to police", **changes):
    fields = {
        "occurred": "2021-02",
        "narrative": "What happened.",
        "external_id": "AIAAIC0563",
        "terms": {"country": ["China"], "technology": ["Facial recognition"]},
        "entities": {"deployer": ["Police"], "developer": ["Lens Corp"]},
        "references": {"news": [{"url": "https://news.example.org/a", "title": "Story A"}]},
    }
    for key, value in changes.items():
        fields[key] = {**fields[key], **value} if isinstance(fields.get(key), dict) else value
    return make_document(headline, **fields)


def today(on=MAY_3):
    return mock.patch("django.utils.timezone.localdate", return_value=on)


class PublishingComputesProvenanceTests(TestCase):
    def test_a_new_incidents_values_come_from_its_source(self):
        revision = publish(camera_document()).revision
        found = provenance.expand(revision.document)
        source = {"kind": "source", "source": "aiaaic", "form": "export", "as_of": "2026-02"}
        self.assertEqual(revision.document["schema"], 3)
        self.assertEqual(found["headline"], source)
        self.assertEqual(found["terms.country"], {"china": source})
        self.assertEqual(found["references.news"], {"news.example.org/a": source})
        self.assertEqual(found["external_ids"], {"aiaaic:AIAAIC0563": source})
        self.assertNotIn("summary", found)  # an empty field says nothing

    def test_changed_values_take_the_new_origin_unchanged_keep_theirs_removed_drop_out(self):
        incident = publish(camera_document()).incident
        changed = camera_document(headline="Cameras flag Uyghurs", terms={"country": ["China", "Kenya"]})
        changed["references"]["news"] = []
        with today():
            revision = publish(changed, origin=Origin.decision("editor"), incident=incident).revision
        found = provenance.expand(revision.document)
        self.assertEqual(found["headline"], {"kind": "editor", "on": "2026-05-03"})
        self.assertEqual(found["terms.country"]["kenya"], {"kind": "editor", "on": "2026-05-03"})
        self.assertEqual(found["terms.country"]["china"]["source"], "aiaaic")
        self.assertEqual(found["occurred"]["as_of"], "2026-02")
        self.assertNotIn("references.news", found)

    def test_a_newer_export_repeating_a_value_changes_nothing(self):
        incident = publish(camera_document()).incident
        result = publish(
            camera_document(), origin=Origin.of_source("aiaaic", "export", "2026-08"), incident=incident
        )
        self.assertIsNone(result.revision)
        self.assertEqual(incident.revisions.count(), 1)

    def test_an_explicit_origin_per_path_has_the_last_word(self):
        since = {"kind": "source", "source": "aiaaic", "form": "export", "as_of": "2025-06"}
        revision = publish(
            camera_document(), provenance={"headline": since, "terms.country": {"china": since}}
        ).revision
        self.assertEqual(provenance.expand(revision.document)["headline"], since)
        self.assertEqual(provenance.expand(revision.document)["terms.country"]["china"], since)
        self.assertEqual(provenance.expand(revision.document)["occurred"]["as_of"], "2026-02")

    def test_a_revert_brings_values_back_with_their_origin(self):
        incident = publish(camera_document()).incident
        first = incident.current_revision
        publish(
            camera_document(headline="Wrong headline"), origin=Origin.decision("editor"), incident=incident
        )
        editor = get_user_model().objects.create_user("ed", "ed@example.org", "pw-1234-long")
        revision = incident_revert(incident=incident, revision=first, editor=editor).revision
        self.assertEqual(provenance.expand(revision.document)["headline"]["source"], "aiaaic")


class DocumentSchemaThreeTests(TestCase):
    def test_a_schema_2_document_is_read_as_schema_3_without_provenance(self):
        old = {**camera_document(), "schema": 2}
        clean = documents.normalize(old)
        self.assertEqual(clean["schema"], 3)
        self.assertNotIn("provenance", clean)
        self.assertEqual(documents.upgrade(old)["schema"], 3)
        self.assertNotIn("provenance", documents.published(old))

    def test_normalize_keeps_a_valid_map_and_refuses_a_bad_one(self):
        curation = {"kind": "curation", "on": "2026-05-03"}
        stored = {"origins": [curation], "values": {"headline": 0, "terms.country": 0}}
        good = {**camera_document(), "provenance": stored}
        self.assertEqual(documents.normalize(good)["provenance"], stored)
        # The same map spelled out item by item is stored in the canonical form.
        spelled = {"origins": [curation], "values": {"terms.country": {"china": 0}, "headline": 0}}
        self.assertEqual(documents.normalize({**good, "provenance": spelled})["provenance"], stored)
        self.assertEqual(
            provenance.expand(documents.normalize(good)),
            {"headline": curation, "terms.country": {"china": curation}},
        )

        def packed(origin, values=None):
            return {"origins": [origin], "values": values or {"headline": 0}}

        for bad in (
            packed({"kind": "rumour"}),
            packed({"kind": "editor", "on": "yesterday"}),
            packed({"kind": "editor", "by": "Edith"}),  # no room for a name
            packed({"kind": "source"}),  # a source is named
            packed(curation, {"nonsense": 0}),
            packed(curation, {"headline": 1}),  # no such origin
            packed(curation, {"headline": True}),
            packed(curation, {"headline": {"x": 0}}),  # a field has one origin
            packed(curation, {"terms.country": {"china": 3}}),
            {**packed(curation), "rest": 1},
            {**packed(curation), "others": 0},
            {"origins": curation, "values": {"headline": 0}},
            {"origins": [curation]},
            # The first, verbose shape is read, and checked the same way.
            {"headline": {"kind": "editor", "by": "Edith"}},
            {"terms.country": {"kind": "editor"}},  # a list maps items to origins
        ):
            with self.subTest(bad), self.assertRaises(documents.DocumentError):
                documents.normalize({**camera_document(), "provenance": bad})

    def test_the_stored_map_holds_each_origin_once(self):
        incident = publish(camera_document(terms={"country": ["China", "UK"]})).incident
        with today():
            changed = camera_document(headline="Edited", terms={"country": ["China", "UK", "Kenya"]})
            publish(changed, origin=Origin.decision("editor"), incident=incident)
        incident.refresh_from_db()
        document = incident.current_revision.document
        source = {"kind": "source", "source": "aiaaic", "form": "export", "as_of": "2026-02"}
        editor = {"kind": "editor", "on": "2026-05-03"}
        # Numbered by first use in page order (the headline, the editor's, first); the origin
        # of most values is `rest`, and `values` names the others.
        self.assertEqual(
            document["provenance"],
            {
                "origins": [editor, source],
                "values": {"headline": 0, "terms.country": {"kenya": 0}},
                "rest": 1,
            },
        )
        self.assertEqual(json.dumps(document).count('"kind"'), 2)
        expanded = provenance.expand(document)
        self.assertEqual(expanded["headline"], editor)
        self.assertEqual(expanded["occurred"], source)
        self.assertEqual(expanded["terms.technology"], {"facialrecognition": source})
        self.assertEqual(expanded["terms.country"], {"china": source, "uk": source, "kenya": editor})
        self.assertEqual(expanded["external_ids"], {"aiaaic:AIAAIC0563": source})
        self.assertNotIn("summary", expanded)  # an empty field has no origin

    def test_a_first_revision_of_one_origin_is_stored_as_packing_would_store_it(self):
        # Publishing stores a new incident's map directly (provenance.single): the same as
        # computing and packing it value by value.
        for origin in (
            AIAAIC_2026,
            Origin.decision("proposal", on=MAY_3),
            Origin.of_source("aiid", "snapshot"),
        ):
            for document in (camera_document(), documents.normalize(make_document("A headline alone"))):
                with self.subTest(origin=origin, headline=document["headline"]):
                    self.assertEqual(
                        provenance.single(origin),
                        provenance.pack(document, provenance.compute(None, document, origin)),
                    )
        stored = publish(camera_document()).incident.current_revision.document
        self.assertEqual(provenance.expand(stored)["terms.country"], {"china": AIAAIC_2026.as_json()})

    def test_a_list_whose_items_share_an_origin_points_to_it(self):
        document = documents.normalize(camera_document(terms={"country": ["China", "UK"]}))
        editor = {"kind": "editor", "on": "2026-05-03"}
        source = {"kind": "source", "source": "aiid", "form": "snapshot"}
        # Some values recorded before provenance: no `rest`, every origin named.
        expanded = {"headline": source, "terms.country": {"china": editor, "uk": editor}}
        stored = provenance.pack(document, expanded)
        self.assertEqual(stored, {"origins": [source, editor], "values": {"headline": 0, "terms.country": 1}})
        self.assertEqual(provenance.expand({**document, "provenance": stored}), expanded)
        self.assertEqual(
            provenance.section_lines({**document, "provenance": stored})["header"],
            "Recorded before provenance; from the AI Incident Database snapshot.",
        )

    def test_the_stored_map_is_canonical(self):
        document = documents.normalize(camera_document(terms={"country": ["China", "UK"]}))
        editor = {"on": "2026-05-03", "kind": "editor"}
        source = {"kind": "source", "source": "aiid", "form": "snapshot"}
        one = {"terms.country": {"uk": source, "china": editor}, "headline": source, "occurred": editor}
        other = {
            "occurred": dict(editor),
            "headline": dict(source),
            "terms.country": {"china": editor, "uk": source},
        }
        first, second = provenance.pack(document, one), provenance.pack(document, other)
        self.assertEqual(json.dumps(first), json.dumps(second))
        self.assertEqual(first["origins"], [source, {"kind": "editor", "on": "2026-05-03"}])
        self.assertEqual(list(first["values"]), ["headline", "occurred", "terms.country"])
        self.assertEqual(provenance.expand({**document, "provenance": first}), one)
        # Normalizing what it stored changes nothing: a re-import is idempotent.
        stored = {**document, "provenance": first}
        self.assertEqual(json.dumps(documents.normalize(stored)), json.dumps(stored))
        # Every value with an origin: `rest` is the most used, equals go to the first.
        everything = provenance.expand({**document, "provenance": {**first, "rest": 1}})
        packed = provenance.pack(document, everything)
        self.assertEqual(packed["rest"], 1)
        self.assertEqual(provenance.expand({**document, "provenance": packed}), everything)
        self.assertEqual(
            json.dumps(documents.normalize({**document, "provenance": packed})["provenance"]),
            json.dumps(packed),
        )

    def test_the_first_verbose_shape_is_read_and_packed(self):
        source = {"kind": "source", "source": "aiaaic", "form": "export", "as_of": "2026-02"}
        verbose = {"headline": source, "occurred": source, "terms.country": {"china": source}}
        old = {**documents.normalize(camera_document()), "provenance": verbose}
        packed = {"origins": [source], "values": {"headline": 0, "occurred": 0, "terms.country": 0}}
        self.assertEqual(documents.normalize(old)["provenance"], packed)
        self.assertEqual(documents.published(old)["provenance"], packed)
        self.assertEqual(provenance.expand(old), verbose)
        self.assertEqual(provenance.section_lines(old)["header"], "From the AIAAIC export of 2026-02.")
        # Values out of shape beside it are refused as they are without it.
        for terms in ("China", ["China"], {"country": "China"}):
            with self.subTest(terms), self.assertRaises(documents.DocumentError):
                documents.normalize({**old, "terms": terms})

    def test_the_diff_and_the_three_way_merge_ignore_provenance(self):
        base = camera_document()
        with_provenance = {**base, "provenance": {"headline": {"kind": "editor", "on": "2026-05-03"}}}
        self.assertEqual(documents.diff(base, with_provenance), [])
        self.assertEqual(documents.three_way(base, with_provenance, base), [])
        self.assertTrue(documents.same_values(base, with_provenance))

    def test_a_published_v3_document_passes_the_published_schema(self):
        incident = publish(camera_document()).incident
        with today():
            publish(camera_document(headline="Edited"), origin=Origin.decision("editor"), incident=incident)
        incident.refresh_from_db()
        validator = schemas.published_document_validator()
        document = incident.current_revision.document
        self.assertEqual(schemas.first_error(validator, document), "")
        broken = {**document, "provenance": {"headline": {"kind": "editor", "name": "Edith"}}}
        self.assertNotEqual(schemas.first_error(validator, broken), "")

    def test_publishing_over_a_schema_2_revision_that_says_the_same_writes_nothing(self):
        incident = publish(camera_document(), origin=None).incident
        Revision.objects.filter(pk=incident.current_revision_id).update(
            document={**documents.values_of(incident.current_revision.document), "schema": 2}
        )
        incident.refresh_from_db()
        self.assertIsNone(publish(camera_document(), incident=incident).revision)


class ImportersGiveTheirSourceTests(TestCase):
    def test_the_sheet_import_credits_the_aiaaic_export(self):
        call_command("import_sheet", str(FIXTURES / "sheet-2024.csv"), stdout=StringIO())
        document = Incident.objects.order_by("number").first().current_revision.document
        self.assertEqual(provenance.expand(document)["headline"]["kind"], "source")
        self.assertEqual(provenance.expand(document)["headline"]["source"], "aiaaic")
        self.assertEqual(provenance.expand(document)["headline"]["form"], "export")
        self.assertTrue(
            all(origin["source"] == "aiaaic" for _path, origin in provenance.origins_by_path(document))
        )

    def test_a_restore_keeps_the_provenance_its_file_carries(self):
        incident = publish(camera_document()).incident
        with today():
            publish(camera_document(headline="Edited"), origin=Origin.decision("editor"), incident=incident)
        incident.refresh_from_db()
        item = snapshots.dataset_item(slug="restored", number=99, document=incident.current_revision.document)
        path = Path(self.enterContext(_temporary_directory())) / "restore.json"
        path.write_text(json.dumps([item]))
        call_command("import_dataset", str(path), stdout=StringIO())
        restored = Incident.objects.get(number=99).current_revision.document
        self.assertEqual(restored["provenance"], incident.current_revision.document["provenance"])

    def test_a_restore_reads_a_schema_2_file_its_values_recorded_before_provenance(self):
        document = {**documents.normalize(camera_document()), "schema": 2}
        item = {"slug": "old-file", "number": 7, "document": document}
        path = Path(self.enterContext(_temporary_directory())) / "old.json"
        path.write_text(json.dumps([item]))
        output = StringIO()
        call_command("import_dataset", str(path), stdout=output)
        self.assertIn("1 created", output.getvalue(), output.getvalue())
        restored = Incident.objects.get(slug="old-file").current_revision.document
        self.assertEqual(restored["schema"], 3)
        self.assertNotIn("provenance", restored)
        self.assertEqual(restored["terms"]["country"], ["China"])


def _temporary_directory():
    import tempfile

    return tempfile.TemporaryDirectory()


class CurationAndMergeTests(TestCase):
    def setUp(self):
        self.editor = get_user_model().objects.create_user("ed", "ed@example.org", "pw-1234-long")

    def test_a_renamed_term_is_curations_and_the_rest_keeps_its_source(self):
        incident = publish(camera_document()).incident
        term = Term.objects.get(vocabulary__slug="technology", name="Facial recognition")
        with today():
            term_rename(term=term, name="Face recognition", editor=self.editor)
        incident.refresh_from_db()
        found = provenance.expand(incident.current_revision.document)
        self.assertEqual(
            found["terms.technology"], {"facerecognition": {"kind": "curation", "on": "2026-05-03"}}
        )
        self.assertEqual(found["terms.country"]["china"]["source"], "aiaaic")
        # Undone: the old name comes back with the origin it had.
        event = CurationEvent.objects.latest("pk")
        curation_undo(event=event, editor=self.editor)
        incident.refresh_from_db()
        found = provenance.expand(incident.current_revision.document)
        self.assertEqual(found["terms.technology"]["facialrecognition"]["source"], "aiaaic")

    def test_what_a_merge_moves_keeps_its_provenance(self):
        survivor = publish(camera_document()).incident
        merged = publish(
            make_document(
                "Uyghur alerts from cameras",
                summary="AIID's account.",
                external_ids=[{"scheme": "aiid", "value": "12"}],
                terms={"country": ["China", "Uzbekistan"]},
                references={"news": [{"url": "https://news.example.org/b", "title": "Story B"}]},
            ),
            origin=AIID,
        ).incident
        result = incident_merge(survivor=survivor, merged=merged, editor=self.editor)
        found = provenance.expand(result.survivor_revision.document)
        self.assertEqual(found["headline"]["source"], "aiaaic")
        self.assertEqual(found["summary"]["source"], "aiid")  # a blank the merged one filled
        self.assertEqual(found["terms.country"]["china"]["source"], "aiaaic")
        self.assertEqual(found["terms.country"]["uzbekistan"]["source"], "aiid")
        self.assertEqual(found["references.news"]["news.example.org/b"]["source"], "aiid")
        self.assertEqual(found["external_ids"]["aiid:12"]["source"], "aiid")
        # Undone, each incident has its own values back with their own origins.
        survivor_back, merged_back = incident_merge_undo(
            survivor_revision=result.survivor_revision,
            merged_revision=result.merged_revision,
            editor=self.editor,
        )
        self.assertEqual(
            survivor_back.document["provenance"], survivor.current_revision.document["provenance"]
        )
        self.maxDiff = None
        self.assertEqual(merged_back.document["provenance"], merged.current_revision.document["provenance"])
        # Both databases are credited by the merged version.
        citation = citations.citation_for(incident=result.survivor, revision=result.survivor_revision)
        self.assertEqual(citation.authors[1:], ["AIAAIC", "AI Incident Database"])


class ReadersSeeProvenanceTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(camera_document(), slug="camera-flags").incident
        with today():
            publish(
                camera_document(headline="Cameras flag Uyghurs to police"),
                origin=Origin.decision("editor"),
                incident=cls.incident,
            )

    def test_the_page_says_where_each_section_came_from(self):
        response = self.client.get("/incidents/camera-flags/")
        self.assertContains(
            response,
            '<p class="provenance">From the AIAAIC export of 2026-02; corrected by an editor on 3 May 2026.</p>',
            html=True,
        )
        self.assertContains(
            response, '<p class="provenance">From the AIAAIC export of 2026-02.</p>', html=True
        )

    def test_values_recorded_before_provenance_say_so(self):
        old = incident_publish(document=make_document("An old one", occurred="2019"), slug="old-one")
        Revision.objects.filter(pk=old.revision.pk).update(
            document={**documents.values_of(old.revision.document), "schema": 2}
        )
        response = self.client.get("/incidents/old-one/")
        self.assertContains(response, "Recorded before provenance.")

    def test_the_history_and_each_version_say_it_too(self):
        history = self.client.get("/incidents/camera-flags/history/")
        self.assertContains(history, "Set by an editor on 3 May 2026.")
        self.assertContains(history, "From the AIAAIC export of 2026-02.")
        version = self.client.get("/incidents/camera-flags/v/1/")
        self.assertContains(
            version, '<p class="provenance">From the AIAAIC export of 2026-02.</p>', html=True
        )

    def test_the_json_document_and_the_api_carry_the_map(self):
        document = self.client.get("/incidents/camera-flags/document.json").json()["document"]
        self.assertEqual(document["schema"], 3)
        stored = document["provenance"]
        self.assertEqual(
            stored["origins"][stored["values"]["headline"]], {"kind": "editor", "on": "2026-05-03"}
        )
        api = self.client.get("/api/v1/incidents/camera-flags/").json()
        self.assertEqual(provenance.expand(api["document"])["occurred"]["as_of"], "2026-02")
        self.assertEqual(api["document"]["provenance"], stored)
        revisions = self.client.get("/api/v1/incidents/camera-flags/revisions/").json()
        first = next(item for item in revisions["results"] if item["number"] == 1)
        self.assertEqual(provenance.expand(first["document"])["headline"]["source"], "aiaaic")


@override_settings(SITE_URL="https://incidents.example.org", SITE_NAME="AI Incident Repository")
class CitationsFromProvenanceTests(TestCase):
    def cite(self, incident):
        incident.refresh_from_db()
        return citations.citation_for(incident=incident, revision=incident.current_revision)

    def test_values_from_the_aiid_credit_it_even_without_its_id(self):
        incident = publish(make_document("From the AIID", occurred="2020"), origin=AIID).incident
        citation = self.cite(incident)
        document = incident.current_revision.document
        self.assertEqual(citation.authors, ["AI Incident Repository", "AI Incident Database"])
        self.assertIn("AI Incident Database", citations.as_text(citation))
        self.assertIn("{AI Incident Database}", citations.as_bibtex(citation))
        self.assertIn("AU  - AI Incident Database", citations.as_ris(citation))
        self.assertIn({"literal": "AI Incident Database"}, citations.csl_item(citation)["author"])
        self.assertIn(("citation_author", "AI Incident Database"), citations.meta_tags(citation, document))
        authors = citations.json_ld(citation, document)["author"]
        self.assertIn("AI Incident Database", [author["name"] for author in authors])
        self.assertIn("terms-of-use", citation.credits_note)

    def test_values_from_aiaaic_credit_it_with_its_licence(self):
        incident = publish(make_document("From AIAAIC", occurred="2020")).incident
        citation = self.cite(incident)
        self.assertEqual(citation.authors[1:], ["AIAAIC"])
        self.assertIn("CC BY-SA 4.0", citations.as_text(citation))

    def test_an_incident_recorded_before_provenance_is_credited_from_its_ids(self):
        incident = incident_publish(document=make_document("Old", external_id="AIAAIC0001")).incident
        self.assertEqual(self.cite(incident).authors[1:], ["AIAAIC"])

    def test_a_contributors_incident_credits_no_database(self):
        incident = publish(make_document("Reported here"), origin=Origin.decision("proposal")).incident
        self.assertEqual(self.cite(incident).authors, ["AI Incident Repository"])
