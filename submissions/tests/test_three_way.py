"""A real three-way merge: a proposal made against an older revision merges by itself where it
and the newer revision touch different fields or items; only what both changed differently is
a conflict. And one source is one reference, however its address is spelled."""

import importlib

from django.apps import apps
from django.test import SimpleTestCase

from repository import documents
from repository.models import Entity, EntityAlias, Incident, Reference
from repository.services import incident_publish
from repository.tests.base import make_document
from submissions import services
from submissions.models import Submission
from submissions.names import names_identity
from submissions.tests.base import SubmissionsTestCase

LATIMES = "https://www.latimes.com/business/story/robot"
LATIMES_TRACKED = "http://latimes.com/business/story/robot/?utm_source=x"


def news(*urls):
    return [{"url": url} for url in urls]


class MergeTests(SimpleTestCase):
    def setUp(self):
        self.base = documents.normalize(
            make_document(
                "Robot",
                summary="The base summary.",
                references={"news": news("https://a.example.org/1", "https://a.example.org/2")},
                entities={"deployer": ["Acme"], "developer": ["Lens Corp"], "system": []},
            )
        )

    def doc(self, **changes):
        return documents.normalize({**self.base, **changes})

    def rows(self, current, proposed):
        return {row.path: row for row in documents.three_way(self.base, current, proposed)}

    def merged(self, current, proposed, choices=None):
        rows = documents.three_way(self.base, current, proposed)
        return documents.resolve(current, rows, choices or {})

    def test_disjoint_fields_merge_without_a_conflict(self):
        current = self.doc(summary="The editor's summary.")
        proposed = self.doc(headline="A better headline")
        rows = self.rows(current, proposed)
        self.assertFalse(documents.has_conflicts(rows.values()))
        merged = self.merged(current, proposed)
        self.assertEqual(
            (merged["headline"], merged["summary"]), ("A better headline", "The editor's summary.")
        )

    def test_disjoint_items_of_one_list_merge(self):
        current = self.doc(
            references={
                "news": news(
                    "https://a.example.org/1", "https://a.example.org/2", "https://b.example.org/new"
                )
            }
        )
        proposed = self.doc(
            references={"news": news("https://a.example.org/2", "https://c.example.org/mine")}
        )
        row = self.rows(current, proposed)["references.news"]
        self.assertFalse(row.conflict)
        self.assertEqual(row.default, "combined")
        self.assertEqual(
            [r["url"] for r in self.merged(current, proposed)["references"]["news"]],
            ["https://a.example.org/2", "https://b.example.org/new", "https://c.example.org/mine"],
        )

    def test_the_same_change_on_both_sides_is_no_conflict(self):
        current = self.doc(summary="Both wrote this.", references={"news": news("https://a.example.org/1")})
        proposed = self.doc(summary="Both wrote this.", references={"news": news("https://a.example.org/1")})
        rows = self.rows(current, proposed)
        self.assertFalse(documents.has_conflicts(rows.values()))
        self.assertEqual(self.merged(current, proposed)["summary"], "Both wrote this.")

    def test_the_same_source_added_on_both_sides_in_two_spellings_is_one(self):
        current = self.doc(references={"news": [*self.base["references"]["news"], {"url": LATIMES}]})
        proposed = self.doc(
            references={
                "news": [*self.base["references"]["news"], {"url": LATIMES_TRACKED, "title": "Robot"}]
            }
        )
        row = self.rows(current, proposed)["references.news"]
        self.assertFalse(row.conflict)
        added = self.merged(current, proposed)["references"]["news"][2:]
        self.assertEqual([(r["url"], r["title"]) for r in added], [(LATIMES, "Robot")])

    def test_a_text_changed_differently_on_both_sides_is_a_conflict(self):
        rows = self.rows(self.doc(summary="Editor."), self.doc(summary="Contributor."))
        self.assertTrue(rows["summary"].conflict)
        self.assertIsNone(rows["summary"].default)
        with self.assertRaises(documents.DocumentError):
            self.merged(self.doc(summary="Editor."), self.doc(summary="Contributor."))
        chosen = self.merged(
            self.doc(summary="Editor."), self.doc(summary="Contributor."), {"summary": "proposed"}
        )
        self.assertEqual(chosen["summary"], "Contributor.")

    def test_one_item_edited_differently_on_both_sides_is_a_conflict_of_that_item(self):
        first = {"url": "https://a.example.org/1"}
        current = self.doc(
            references={
                "news": [
                    {**first, "title": "Editor's title"},
                    {"url": "https://a.example.org/2"},
                    {"url": "https://b.example.org/x"},
                ]
            }
        )
        proposed = self.doc(
            references={
                "news": [{**first, "title": "Contributor's title"}, {"url": "https://a.example.org/2"}]
            }
        )
        row = self.rows(current, proposed)["references.news"]
        self.assertTrue(row.conflict)
        self.assertEqual([item["title"] for item in row.conflicts], ["Contributor's title"])
        # "Both sides' changes": the incident's addition stays, the proposal's version of the item wins.
        self.assertEqual(
            [(r["url"], r["title"]) for r in row.combined],
            [
                ("https://a.example.org/1", "Contributor's title"),
                ("https://a.example.org/2", ""),
                ("https://b.example.org/x", ""),
            ],
        )

    def test_an_item_removed_on_one_side_and_untouched_on_the_other_is_removed(self):
        current = self.doc(summary="Editor.")
        proposed = self.doc(references={"news": news("https://a.example.org/1")})
        self.assertEqual(
            [r["url"] for r in self.merged(current, proposed)["references"]["news"]],
            ["https://a.example.org/1"],
        )
        # ... and the incident's removal of a reference survives a proposal that did not touch it.
        current = self.doc(references={"news": news("https://a.example.org/2")})
        proposed = self.doc(
            references={
                "news": news("https://a.example.org/1", "https://a.example.org/2", "https://c.example.org/3")
            }
        )
        self.assertEqual(
            [r["url"] for r in self.merged(current, proposed)["references"]["news"]],
            ["https://a.example.org/2", "https://c.example.org/3"],
        )

    def test_an_item_removed_on_one_side_and_edited_on_the_other_is_a_conflict(self):
        current = self.doc(
            references={
                "news": [
                    {"url": "https://a.example.org/1", "title": "Retitled"},
                    {"url": "https://a.example.org/2"},
                ]
            }
        )
        proposed = self.doc(references={"news": news("https://a.example.org/2")})
        row = self.rows(current, proposed)["references.news"]
        self.assertTrue(row.conflict)
        self.assertEqual(
            row.conflicts,
            [{"url": "https://a.example.org/1", "title": "Retitled", "publisher": "", "published": ""}],
        )

    def test_a_document_holds_one_source_once_whatever_its_spelling(self):
        document = documents.normalize(
            make_document(
                "Robot",
                references={
                    "research": [{"url": LATIMES}],
                    "news": [{"url": LATIMES_TRACKED, "title": "Robot"}],
                },
            )
        )
        self.assertEqual(
            document["references"]["research"],
            [{"url": LATIMES, "title": "Robot", "publisher": "", "published": ""}],
        )
        self.assertEqual(document["references"]["news"], [])


class AliasIdentityTests(SubmissionsTestCase):
    def test_one_organisation_added_on_both_sides_under_two_names_is_one_item(self):
        dahua = Entity.objects.create(name="Zhejiang Dahua Technology", slug="dahua")
        for name in ("Zhejiang Dahua Technology", "Dahua"):
            EntityAlias.objects.create(entity=dahua, name=name, key=documents.fold(name))
        base = self.incident.current_revision.document

        def developers(*names):
            return documents.normalize(
                {**base, "entities": {**base["entities"], "developer": ["Lens Corp", *names]}}
            )

        current, proposed = developers("Zhejiang Dahua Technology"), developers("Dahua")
        plain = {row.path: row for row in documents.three_way(base, current, proposed)}
        self.assertEqual(
            plain["entities.developer"].combined, ["Lens Corp", "Zhejiang Dahua Technology", "Dahua"]
        )
        identity = names_identity(base, current, proposed)
        rows = {row.path: row for row in documents.three_way(base, current, proposed, identity=identity)}
        self.assertFalse(rows["entities.developer"].conflict)
        self.assertEqual(
            documents.resolve(current, rows.values(), {})["entities"]["developer"],
            ["Lens Corp", "Zhejiang Dahua Technology"],
        )


class ApprovalMergesTests(SubmissionsTestCase):
    def publish(self, **changes):
        incident = Incident.objects.get(pk=self.incident.pk)
        incident_publish(document={**incident.current_revision.document, **changes}, incident=incident)

    def test_two_proposals_on_different_fields_are_both_approved_as_proposed(self):
        first = self.propose(summary="A fuller summary.")
        second = self.propose(released="2019")
        services.submission_approve(submission=first, editor=self.editor)
        services.submission_approve(submission=second, editor=self.editor)
        incident = Incident.objects.get()
        self.assertEqual((incident.summary, incident.released), ("A fuller summary.", "2019"))
        self.assertEqual(incident.current_revision.number, 3)

    def test_a_replay_of_ten_proposals_to_one_incident_needs_no_conflict_review(self):
        base = self.incident.current_revision.document
        proposals = [self.propose(summary="A fuller summary."), self.propose(released="2019")]
        for n in range(8):
            proposals.append(
                self.propose(
                    references={
                        **base["references"],
                        "news": [*base["references"]["news"], {"url": f"https://news.example.org/more-{n}"}],
                    }
                )
            )
        conflicts = 0
        for proposal in proposals:
            self.client.force_login(self.editor)
            response = self.client.get(proposal.get_absolute_url())
            conflicts += bool(response.context.get("conflicts"))
            services.submission_approve(
                submission=proposal,
                editor=self.editor,
                expected_revision=response.context["current_revision"],
            )
        self.assertEqual(conflicts, 0)
        incident = Incident.objects.get()
        self.assertEqual(Reference.objects.filter(incident=incident).count(), 9)
        self.assertEqual((incident.summary, incident.released), ("A fuller summary.", "2019"))

    def test_a_real_conflict_still_asks_the_editor(self):
        proposal = self.propose(summary="The contributor's summary.")
        self.publish(summary="The editor's summary.")
        with self.assertRaisesMessage(services.ConflictError, "both changed Summary"):
            services.submission_approve(submission=proposal, editor=self.editor)
        self.assertEqual(Submission.objects.get().state, Submission.State.PENDING)

    def test_the_same_source_in_two_spellings_is_published_once(self):
        base = self.incident.current_revision.document
        first = self.propose(
            references={**base["references"], "news": [*base["references"]["news"], {"url": LATIMES}]}
        )
        second = self.propose(
            references={**base["references"], "news": [*base["references"]["news"], {"url": LATIMES_TRACKED}]}
        )
        services.submission_approve(submission=first, editor=self.editor)
        services.submission_approve(submission=second, editor=self.editor)
        self.assertEqual(
            list(Reference.objects.filter(incident=self.incident).values_list("url", flat=True)),
            ["https://news.example.org/a", LATIMES],
        )


class OneSourceOnceMigrationTests(SubmissionsTestCase):
    def test_it_mends_an_incident_and_a_proposal_holding_one_source_twice(self):
        migration = importlib.import_module("repository.migrations.0017_references_one_source_once")
        proposals = importlib.import_module("submissions.migrations.0007_proposals_one_source_once")
        revision = self.incident.current_revision
        twice = [{"url": LATIMES, "title": ""}, {"url": LATIMES_TRACKED, "title": "Robot"}]
        Reference.objects.create(incident=self.incident, category="news", url=LATIMES, position=1)
        Reference.objects.create(
            incident=self.incident, category="news", url=LATIMES_TRACKED, title="Robot", position=2
        )
        document = {**revision.document, "references": {**revision.document["references"], "news": twice}}
        type(revision).objects.filter(pk=revision.pk).update(document=document)
        proposal = self.propose(headline="Changed")
        Submission.objects.filter(pk=proposal.pk).update(proposed=document)

        migration.mend(apps, None)
        proposals.mend(apps, None)

        self.assertEqual(
            list(Reference.objects.filter(incident=self.incident).values_list("url", "title")),
            [("https://news.example.org/a", "Paper reports the alerts"), (LATIMES, "Robot")],
        )
        revision.refresh_from_db()
        self.assertEqual(
            [(r["url"], r["title"]) for r in revision.document["references"]["news"]], [(LATIMES, "Robot")]
        )
        proposal.refresh_from_db()
        self.assertEqual([r["url"] for r in proposal.proposed["references"]["news"]], [LATIMES])
        migration.mend(apps, None)  # a second run changes nothing
        self.assertEqual(Reference.objects.filter(incident=self.incident).count(), 2)
