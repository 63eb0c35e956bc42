"""Merging two incidents that describe one event (`incident_merge`) and how the site shows it."""

import csv
import json
import shutil
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.utils import timezone

from repository.models import ExternalId, Incident, IncidentEntity, IncidentTerm, Reference, Revision
from repository.services import (
    MergeRefused,
    StaleRevision,
    dataset_snapshot_create,
    incident_merge,
    incident_merge_undo,
    incident_publish,
)
from repository.tests.base import entities, publish, terms


class MergeTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.editor = get_user_model().objects.create_user("edith", "edith@example.org", "pw-1234-long")
        cls.survivor = publish(
            "Amazon Rekognition misidentifies members of Congress",
            slug="rekognition-congress",
            occurred="July 2018",
            narrative="The ACLU ran a test.",
            external_id="AIAAIC0563",
            entities={"deployer": ["ACLU"], "developer": ["Amazon"]},
            terms={"country": ["USA"], "technology": ["Facial recognition"]},
            references={"news": [{"url": "https://news.example.org/aclu", "title": "ACLU test"}]},
        )
        cls.merged = publish(
            "Amazon facial recognition falsely matches 28 members of Congress",
            slug="amazon-28-congress",
            occurred="2018-07",
            summary="28 members of Congress were matched to mugshots.",
            external_ids=[{"scheme": "aiid", "value": "12"}],
            entities={"deployer": ["ACLU"], "developer": ["Amazon"], "system": ["Rekognition"]},
            terms={"country": ["USA"], "issue": ["Accuracy/reliability"]},
            references={
                "news": [
                    {"url": "https://news.example.org/aclu", "title": "ACLU test"},
                    {"url": "https://paper.example.org/28", "title": "28 lawmakers"},
                ],
                "research": [{"url": "https://aclu.example.org/report", "title": "The report"}],
            },
        )

    def merge(self, **kwargs):
        return incident_merge(
            **{"survivor": self.survivor, "merged": self.merged, "editor": self.editor, **kwargs}
        )


class IncidentMergeTests(MergeTestCase):
    def test_the_survivor_gets_the_union_of_both_incidents(self):
        result = self.merge()
        survivor = Incident.objects.get(pk=self.survivor.pk)
        document = survivor.current_revision.document
        self.assertEqual(survivor.headline, "Amazon Rekognition misidentifies members of Congress")
        self.assertEqual(document["narrative"], "The ACLU ran a test.")
        # The survivor's blank summary is filled from the merged incident.
        self.assertEqual(document["summary"], "28 members of Congress were matched to mugshots.")
        self.assertEqual(
            [ref["url"] for ref in document["references"]["news"]],
            ["https://news.example.org/aclu", "https://paper.example.org/28"],
        )
        self.assertEqual(Reference.objects.filter(incident=survivor).count(), 3)
        self.assertEqual(terms(survivor, "issue"), ["Accuracy/reliability"])
        self.assertEqual(terms(survivor, "country"), ["USA"])
        self.assertEqual(entities(survivor, "system"), ["Rekognition"])
        self.assertEqual(
            list(survivor.external_ids.values_list("scheme", "value")),
            [("aiaaic", "AIAAIC0563"), ("aiid", "12")],
        )
        self.assertEqual(result.survivor_revision, survivor.current_revision)

    def test_the_merged_incident_points_at_the_survivor_and_counts_nowhere(self):
        self.merge()
        merged = Incident.objects.get(pk=self.merged.pk)
        self.assertEqual(merged.merged_into_id, self.survivor.pk)
        self.assertEqual((merged.number, merged.slug), (self.merged.number, "amazon-28-congress"))
        for rows in (IncidentTerm, IncidentEntity, Reference, ExternalId):
            with self.subTest(rows=rows.__name__):
                self.assertFalse(rows.objects.filter(incident=merged).exists())
        self.assertEqual(list(Incident.objects.unmerged()), [Incident.objects.get(pk=self.survivor.pk)])

    def test_both_histories_say_so_and_keep_every_revision(self):
        self.merge(note="Same ACLU test")
        survivor_history = list(Revision.objects.filter(incident=self.survivor).order_by("number"))
        merged_history = list(Revision.objects.filter(incident=self.merged).order_by("number"))
        self.assertEqual(len(survivor_history), 2)
        self.assertEqual(len(merged_history), 2)
        self.assertTrue(
            survivor_history[-1].summary.startswith(
                f"Merged incident #{self.merged.number} (Amazon facial recognition falsely matches 28 "
                "members of Congress) into this one, “Same ACLU test”: Changed"
            ),
            survivor_history[-1].summary,
        )
        self.assertEqual(
            merged_history[-1].summary, f"Merged into incident #{self.survivor.number}, “Same ACLU test”"
        )
        self.assertEqual(merged_history[-1].document, survivor_history[-1].document)
        self.assertEqual(merged_history[0].document["headline"], self.merged.headline)  # its own past stays
        self.assertEqual({r.author for r in (survivor_history[-1], merged_history[-1])}, {self.editor})
        self.assertEqual(Incident.objects.get(pk=self.merged.pk).current_revision, merged_history[-1])

    def test_a_merge_that_adds_nothing_still_writes_both_revisions(self):
        twin = publish("A copy with nothing new", references={})
        incident_merge(survivor=self.survivor, merged=twin, editor=self.editor)
        latest = Incident.objects.get(pk=self.survivor.pk).current_revision
        self.assertEqual(latest.number, 2)
        self.assertTrue(latest.summary.endswith("into this one: No changes"), latest.summary)

    def test_earlier_merges_into_the_merged_incident_move_to_the_survivor(self):
        older = publish("Congress members matched to mugshots", slug="mugshots")
        incident_merge(survivor=self.merged, merged=older, editor=self.editor)
        self.merge()
        self.assertEqual(Incident.objects.get(pk=older.pk).merged_into_id, self.survivor.pk)
        response = self.client.get("/incidents/mugshots/")
        self.assertRedirects(response, "/incidents/rekognition-congress/", status_code=301)

    def test_the_survivor_keeps_the_link_health_of_references_it_gains(self):
        checked = timezone.now()
        Reference.objects.filter(incident=self.merged, url="https://paper.example.org/28").update(
            checked_at=checked, status_code=404, check_error=""
        )
        self.merge()
        gained = Reference.objects.get(incident=self.survivor, url="https://paper.example.org/28")
        self.assertEqual((gained.checked_at, gained.status_code), (checked, 404))

    def test_it_refuses_what_cannot_be_merged(self):
        with self.assertRaisesMessage(MergeRefused, "cannot be merged into itself"):
            incident_merge(survivor=self.survivor, merged=self.survivor, editor=self.editor)
        third = publish("A third incident", slug="third")
        self.merge()
        with self.assertRaisesMessage(
            MergeRefused, f"#{self.merged.number} was already merged into incident #{self.survivor.number}"
        ):
            incident_merge(survivor=third, merged=self.merged, editor=self.editor)
        with self.assertRaisesMessage(
            MergeRefused,
            f"#{self.merged.number} was merged into incident #{self.survivor.number}: merge into that one",
        ):
            incident_merge(survivor=self.merged, merged=third, editor=self.editor)
        self.assertIsNone(Incident.objects.get(pk=third.pk).merged_into_id)
        self.assertEqual(Incident.objects.get(pk=third.pk).revisions.count(), 1)

    def test_a_stale_expected_revision_changes_nothing(self):
        seen = {
            self.survivor.pk: self.survivor.current_revision_id,
            self.merged.pk: self.merged.current_revision_id,
        }
        incident_publish(
            document={**self.merged.current_revision.document, "released": "2018"}, incident=self.merged
        )
        with self.assertRaises(StaleRevision):
            self.merge(expected_revisions=seen)
        self.assertIsNone(Incident.objects.get(pk=self.merged.pk).merged_into_id)
        self.assertEqual(Incident.objects.get(pk=self.survivor.pk).revisions.count(), 1)
        self.assertEqual(Reference.objects.filter(incident=self.merged).count(), 3)

    def test_a_merged_incident_takes_no_more_changes(self):
        from repository.services import IncidentMerged

        self.merge()
        with self.assertRaises(IncidentMerged):
            incident_publish(document=self.merged.current_revision.document, incident=self.merged)


class MergedIncidentPageTests(MergeTestCase):
    def setUp(self):
        super().setUp()
        self.merge()

    def test_its_page_and_document_redirect_permanently_to_the_survivor(self):
        self.assertRedirects(
            self.client.get("/incidents/amazon-28-congress/"),
            "/incidents/rekognition-congress/",
            status_code=301,
        )
        self.assertRedirects(
            self.client.get("/incidents/amazon-28-congress/document.json"),
            "/incidents/rekognition-congress/document.json",
            status_code=301,
        )
        self.assertRedirects(
            self.client.get("/incidents/amazon-28-congress/improve/"),
            "/incidents/rekognition-congress/improve/",
        )

    def test_its_history_still_shows_and_says_where_it_went(self):
        response = self.client.get("/incidents/amazon-28-congress/history/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "was merged into")
        self.assertContains(response, 'href="/incidents/rekognition-congress/"')
        self.assertContains(response, f"Merged into incident #{self.survivor.number}")
        survivor_history = self.client.get("/incidents/rekognition-congress/history/")
        self.assertContains(survivor_history, f"Merged incident #{self.merged.number}")
        self.assertNotContains(survivor_history, "was merged into")

    def test_its_external_ids_lead_to_the_survivor(self):
        self.assertRedirects(
            self.client.get("/id/aiid/12"), "/incidents/rekognition-congress/", fetch_redirect_response=False
        )
        ExternalId.objects.create(incident=self.merged, scheme="aiid", value="12")  # a stray row
        self.assertRedirects(
            self.client.get("/id/aiid/12"), "/incidents/rekognition-congress/", fetch_redirect_response=False
        )

    def test_it_is_gone_from_every_list(self):
        pages = {
            "/": "latest",
            "/incidents/": "page",
            "/incidents/?q=Congress": "page",
            "/incidents/?developer=amazon": "page",
            "/taxonomy/country/usa/": "page",
            "/entities/amazon/": "page",
        }
        for url, key in pages.items():
            with self.subTest(url=url):
                response = self.client.get(url)
                listed = response.context[key]
                listed = listed.object_list if hasattr(listed, "object_list") else listed
                self.assertEqual([incident.pk for incident in listed], [self.survivor.pk])
        self.assertEqual(self.client.get("/").context["counts"]["incidents"], 1)
        facets = {facet.name: facet for facet in self.client.get("/incidents/").context["facets"]}
        self.assertEqual([(v.name, v.count) for v in facets["developer"].values], [("Amazon", 1)])


class MergedIncidentSnapshotTests(MergeTestCase):
    def test_the_csv_leaves_the_merged_incident_out_and_the_json_keeps_its_redirect(self):
        directory = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, directory, True)
        self.merge()
        with (
            override_settings(EXPORT_DIR=directory, EXPORT_KEEP=3),
            self.captureOnCommitCallbacks(execute=True),
        ):
            rows, _removed = dataset_snapshot_create()
        by_format = {row.format: row for row in rows}
        items = json.loads((directory / by_format["json"].file_name).read_text())
        self.assertEqual(
            [(item["slug"], item["merged_into"]) for item in items],
            [("rekognition-congress", None), ("amazon-28-congress", "rekognition-congress")],
        )
        table = list(csv.reader((directory / by_format["csv"].file_name).open(encoding="utf-8")))
        self.assertEqual([row[1] for row in table[3:]], [self.survivor.headline])
        self.assertEqual(by_format["json"].incident_count, 1)


class MergeUndoTests(MergeTestCase):
    """`incident_merge_undo`: both incidents as they were before the merge, with their links."""

    def undo(self, result, **kwargs):
        return incident_merge_undo(
            survivor_revision=result.survivor_revision,
            merged_revision=result.merged_revision,
            repointed=result.repointed,
            editor=self.editor,
            **kwargs,
        )

    def test_both_incidents_come_back_with_their_terms_entities_references_and_ids(self):
        before = {
            i.pk: (terms(i, "country"), terms(i, "issue"), entities(i, "system"))
            for i in (self.survivor, self.merged)
        }
        result = self.merge()
        survivor_back, merged_back = self.undo(result, note="Two events")
        self.assertEqual((survivor_back.number, merged_back.number), (3, 3))
        for incident in (self.survivor, self.merged):
            incident = Incident.objects.get(pk=incident.pk)
            self.assertIsNone(incident.merged_into_id)
            self.assertEqual(
                (terms(incident, "country"), terms(incident, "issue"), entities(incident, "system")),
                before[incident.pk],
            )
        self.assertEqual(
            list(ExternalId.objects.filter(incident=self.merged).values_list("value", flat=True)), ["12"]
        )
        self.assertEqual(
            sorted(Reference.objects.filter(incident=self.survivor).values_list("url", flat=True)),
            ["https://news.example.org/aclu"],
        )
        self.assertEqual(Reference.objects.filter(incident=self.merged).count(), 3)

    def test_a_merged_incident_that_held_all_of_the_survivor_is_refused(self):
        # The union of the two is exactly the merged incident's own document: publishing it
        # back would write nothing, and its links would stay gone.
        kept = publish("Camera flags a shopper", occurred="2021")
        fuller = publish(
            "Camera flags a shopper",
            occurred="2021",
            references={"news": [{"url": "https://news.example.org/shopper", "title": "Shopper"}]},
        )
        result = incident_merge(survivor=kept, merged=fuller, editor=self.editor)
        with self.assertRaisesMessage(MergeRefused, "its merge cannot be undone here"):
            self.undo(result)
        self.assertEqual(Incident.objects.get(pk=fuller.pk).merged_into_id, kept.pk)

    def test_a_change_to_either_incident_since_refuses_the_undo(self):
        result = self.merge()
        survivor = Incident.objects.get(pk=self.survivor.pk)
        incident_publish(
            document={**survivor.current_revision.document, "released": "2019"}, incident=survivor
        )
        with self.assertRaisesMessage(MergeRefused, f"Incident #{survivor.number} changed since the merge"):
            self.undo(result)
        self.assertEqual(Incident.objects.get(pk=self.merged.pk).merged_into_id, survivor.pk)
