"""An approved proposal's values say so, and public provenance never names a person."""

import datetime
import tempfile
from pathlib import Path
from unittest import mock

from django.core.cache import cache
from django.test import TestCase, override_settings

from repository import provenance, snapshots
from repository.models import Incident
from repository.provenance import Origin
from repository.services import incident_publish
from repository.tests.base import make_document
from submissions import services
from submissions.models import Submission

from .base import PASSWORD

MAY_3 = datetime.date(2026, 5, 3)
NAMES = (
    "Zebulon",
    "Quixote",
    "zebulon.q@example.org",
    "Xanthippe",
    "xanthippe",
    "Vongerichten",
    "xv@example.org",
)


class ApprovedProposalProvenanceTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.editor, _ = services.editor_create(
            username="xanthippe", email="xv@example.org", password=PASSWORD
        )
        cls.editor.first_name, cls.editor.last_name = "Xanthippe", "Vongerichten"
        cls.editor.save()
        cls.incident = incident_publish(
            document=make_document(
                "Camera system flags Uyghurs to police",
                occurred="2021-02",
                external_id="AIAAIC0563",
                terms={"country": ["China"]},
                references={"news": [{"url": "https://news.example.org/a", "title": "Story A"}]},
            ),
            slug="camera-flags",
            origin=Origin.of_source("aiaaic", "export", "2026-02"),
        ).incident
        proposed = {
            **cls.incident.current_revision.document,
            "headline": "Cameras flag uyghurs to police",
            "terms": {"country": ["China", "Kenya"]},
        }
        cls.submission = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=cls.incident,
            proposed=proposed,
            insight="I know more.",
            name="Zebulon Quixote",
            email="zebulon.q@example.org",
            credit=False,
        )
        edited = {**cls.submission.proposed, "headline": "Cameras flag Uyghurs to police"}
        services.submission_edit(submission=cls.submission, editor=cls.editor, proposed=edited)
        with mock.patch("django.utils.timezone.localdate", return_value=MAY_3):
            services.submission_approve(submission=cls.submission, editor=cls.editor)
        cls.incident.refresh_from_db()

    def setUp(self):
        cache.clear()

    def test_the_contributors_values_are_their_proposals_and_the_editors_correction_the_editors(self):
        found = provenance.expand(self.incident.current_revision.document)
        self.assertEqual(found["terms.country"]["kenya"], {"kind": "proposal", "on": "2026-05-03"})
        self.assertEqual(found["headline"], {"kind": "editor", "on": "2026-05-03"})
        self.assertEqual(found["terms.country"]["china"]["source"], "aiaaic")
        self.assertEqual(found["occurred"]["as_of"], "2026-02")

    def test_the_page_says_so_in_words(self):
        response = self.client.get("/incidents/camera-flags/")
        self.assertContains(
            response, "From the AIAAIC export of 2026-02; corrected by an editor on 3 May 2026."
        )
        self.assertContains(
            response,
            "From the AIAAIC export of 2026-02; from a contributor&#x27;s proposal, approved by an editor "
            "on 3 May 2026.",
        )

    def test_no_name_of_a_person_on_the_page_the_history_the_api_or_the_snapshot(self):
        pages = [
            self.client.get("/incidents/camera-flags/").content.decode(),
            self.client.get("/incidents/camera-flags/history/").content.decode(),
            self.client.get("/incidents/camera-flags/v/2/").content.decode(),
            self.client.get("/incidents/camera-flags/document.json").content.decode(),
            self.client.get("/api/v1/incidents/camera-flags/").content.decode(),
            self.client.get("/api/v1/incidents/camera-flags/revisions/").content.decode(),
            self.client.get("/api/v1/changes/").content.decode(),
        ]
        with tempfile.TemporaryDirectory() as directory, override_settings(EXPORT_DIR=directory):
            written, _count = snapshots.write_dataset(stem="incidents-test", title="Test")
            pages += [(Path(directory) / item.file_name).read_text() for item in written]
        self.assertIn('"kind": "proposal"', pages[-1].replace('":"', '": "'))
        for text in pages:
            for name in NAMES:
                with self.subTest(name=name):
                    self.assertNotIn(name.lower(), text.lower())

    def test_only_one_revision_was_published(self):
        self.assertEqual(Incident.objects.get(pk=self.incident.pk).revisions.count(), 2)


class ForgedProvenanceTests(TestCase):
    def test_a_proposal_cannot_claim_an_origin_for_its_values(self):
        editor, _ = services.editor_create(username="editor", email="e@example.org", password=PASSWORD)
        incident = incident_publish(document=make_document("A headline", occurred="2020")).incident
        forged = {"kind": "source", "source": "aiaaic", "form": "export", "as_of": "2026-02"}
        submission = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=incident,
            proposed={
                **incident.current_revision.document,
                "headline": "A better headline",
                "provenance": {"headline": forged},
            },
        )
        with mock.patch("django.utils.timezone.localdate", return_value=MAY_3):
            services.submission_approve(submission=submission, editor=editor)
        incident.refresh_from_db()
        found = provenance.expand(incident.current_revision.document)
        self.assertEqual(found, {"headline": {"kind": "proposal", "on": "2026-05-03"}})
