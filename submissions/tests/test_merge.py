"""Duplicate proposals (find_duplicates) and merging two incidents from the moderation queue."""

from io import StringIO
from pathlib import Path
from unittest import mock

from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from repository.importers.pages import page_import, read_pages
from repository.models import ExternalId, Incident, Reference
from repository.services import incident_merge, incident_publish
from repository.tests.base import publish
from submissions import services, tasks
from submissions.duplicates import pairs
from submissions.models import ModerationEvent, Submission
from submissions.tests.base import SubmissionsTestCase

PAGES = Path(__file__).resolve().parent.parent.parent / "repository" / "tests" / "fixtures" / "pages"


def merge_proposals():
    """{(number, number): {rules}} of every merge proposal, lower number first."""
    found = {}
    for submission in Submission.objects.filter(kind=Submission.Kind.MERGE).select_related(
        "incident", "other_incident"
    ):
        pair = tuple(sorted((submission.incident.number, submission.other_incident.number)))
        found[pair] = {reason["rule"] for reason in submission.reasons}
    return found


def numbers(*incidents):
    return tuple(sorted(incident.number for incident in incidents))


class DuplicatesTestCase(SubmissionsTestCase):
    """The camera incident (Acme Retail, Lens Corp, February 2021, news.example.org/a), one
    incident per rule that pairs with it, and incidents that must not pair with anything."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.same_source = publish(
            "Store camera system reports minority shoppers to police",
            occurred="2021",
            references={"news": [{"url": "http://www.news.example.org/a/?utm_source=feed", "title": "A"}]},
        )
        cls.same_headline = publish(
            "Camera system flags ethnic minority to the police",
            occurred="2021-03",
            external_ids=[{"scheme": "aiid", "value": "77"}],
            references={"news": [{"url": "https://other.example.org/b", "title": "B"}]},
        )
        cls.same_organisation = publish(
            "Lens Corp camera system flags ethnic minority",
            occurred="2021-11",
            entities={"developer": ["Lens Corp"]},
        )
        # One organisation, similar headlines, but five years apart.
        cls.years_apart = publish(
            "Lens Corp camera flags ethnic minority in Beijing",
            occurred="2016",
            entities={"developer": ["Lens Corp"]},
        )
        # One organisation and year, another story.
        cls.same_company = publish(
            "Lens Corp fined for tax evasion", occurred="2021", entities={"developer": ["Lens Corp"]}
        )
        for headline in (
            "Chatbot invents a court case",
            "Deepfake video of a mayor spreads",
            "Insurer's pricing algorithm overcharges renters",
        ):
            publish(headline, occurred="2023")

    def expected(self):
        return {
            numbers(self.incident, self.same_source): {"headline", "period", "source"},
            numbers(self.incident, self.same_headline): {"lookalike", "headline", "near"},
            numbers(self.incident, self.same_organisation): {"headline", "near", "organisation"},
        }


class FindDuplicatesTests(DuplicatesTestCase):
    def test_each_rule_proposes_its_pair_and_nothing_else_is_proposed(self):
        result = pairs.duplicates_find()
        self.assertEqual(merge_proposals(), self.expected())
        self.assertEqual((result.proposed, result.known), (3, 0))
        submission = Submission.objects.get(incident=self.incident, other_incident=self.same_source)
        self.assertEqual(submission.state, Submission.State.PENDING)
        self.assertIn(
            "Both cite the same source: news.example.org/a (+0.30)", [r["text"] for r in submission.reasons]
        )
        event = submission.events.get()
        self.assertEqual((event.action, event.actor), (ModerationEvent.Action.SUBMIT, None))

    def test_the_organisation_reason_names_it(self):
        pairs.duplicates_find()
        submission = Submission.objects.get(other_incident=self.same_organisation)
        self.assertIn(
            "Both name Lens Corp as deployer or developer (+0.12)", [r["text"] for r in submission.reasons]
        )

    def test_a_system_entry_is_not_the_incident_about_it(self):
        incident = publish("Voice clone scams a bank manager", type="incident", occurred="2020")
        publish("Voice clone scams a bank manager", type="system")
        issue = publish("Voice clone scams a bank manager", type="issue", occurred="2020")
        pairs.duplicates_find()
        self.assertEqual(set(merge_proposals()) - set(self.expected()), {numbers(incident, issue)})

    def test_a_pair_is_proposed_once_ever_and_a_dismissed_one_never_again(self):
        pairs.duplicates_find()
        dismissed = Submission.objects.get(other_incident=self.same_headline)
        services.submission_reject(
            submission=dismissed, editor=self.editor, reason=Submission.Reason.NOT_DUPLICATE
        )
        result = pairs.duplicates_find()
        self.assertEqual((result.proposed, result.known), (0, 3))
        self.assertEqual(Submission.objects.filter(kind=Submission.Kind.MERGE).count(), 3)
        dismissed.refresh_from_db()
        self.assertEqual(dismissed.state, Submission.State.REJECTED)

    def test_the_database_refuses_a_pair_twice_in_either_order(self):
        pairs.duplicates_find()
        with self.assertRaises(IntegrityError), transaction.atomic():
            Submission.objects.create(
                kind=Submission.Kind.MERGE,
                incident=self.same_headline,
                other_incident=self.incident,
                proposed={},
            )

    def test_a_pair_dismissed_before_a_merge_stays_dismissed_after_it(self):
        pairs.duplicates_find()
        services.submission_reject(
            submission=Submission.objects.get(other_incident=self.same_source),
            editor=self.editor,
            reason=Submission.Reason.NOT_DUPLICATE,
        )
        # The camera incident absorbs its twin; the dismissed pair now reads (twin's survivor, same_source).
        incident_merge(survivor=self.same_headline, merged=self.incident, editor=self.editor)
        result = pairs.duplicates_find()
        self.assertEqual(result.proposed, 0)

    def test_incremental_mode_compares_only_the_incidents_given(self):
        result = pairs.duplicates_find(incident_ids=[self.same_organisation.pk])
        self.assertEqual(
            merge_proposals(),
            {numbers(self.incident, self.same_organisation): {"headline", "near", "organisation"}},
        )
        self.assertEqual(result.incidents, 1)
        result = pairs.duplicates_find(incident_ids=[self.incident.pk, self.same_headline.pk])
        self.assertEqual(merge_proposals(), self.expected())
        self.assertEqual((result.proposed, result.known), (2, 1))

    def test_merged_incidents_are_not_compared(self):
        incident_merge(survivor=self.incident, merged=self.same_headline, editor=self.editor)
        pairs.duplicates_find()
        self.assertNotIn(numbers(self.incident, self.same_headline), merge_proposals())
        self.assertIn(numbers(self.incident, self.same_source), merge_proposals())

    def test_an_address_many_incidents_cite_is_not_one_event(self):
        shared = {"news": [{"url": "https://wire.example.org/roundup"}]}
        headlines = [
            "Warehouse robot injures a worker",
            "Drone misreads a farmer's field",
            "Exam proctoring flags a blind student",
            "Translation app garbles asylum interview",
            "Rental screening rejects a veteran",
            "Voice assistant orders dollhouses",
        ]
        for headline in headlines[: pairs.MAX_URL_SHARE + 1]:
            publish(headline, references=shared)
        result = pairs.duplicates_find()
        self.assertEqual(merge_proposals(), self.expected())
        self.assertEqual(result.common_sources, 1)

    def test_unrelated_rows_sharing_a_link_are_reported_not_proposed(self):
        publish("Hospital robot drops a patient", source_url="https://www.aiaaic.org/entry/robot-drop")
        publish("Parliament bans emotion recognition", source_url="https://aiaaic.org/entry/robot-drop/")
        result = pairs.duplicates_find()
        self.assertEqual(merge_proposals(), self.expected())
        self.assertEqual(len(result.unrelated_sources), 1)


class FindDuplicatesCommandTests(DuplicatesTestCase):
    def test_it_shows_progress_and_ends_with_counts(self):
        out = StringIO()
        call_command("find_duplicates", stdout=out)
        self.assertIn("compared 8 of 8 groups of look-alikes", out.getvalue())
        self.assertIn("9 incident(s) compared:", out.getvalue())
        self.assertIn("3 proposed, 0 already known.", out.getvalue())
        out = StringIO()
        call_command("find_duplicates", "--incident", str(self.incident.number), stdout=out)
        self.assertIn(
            "1 incident(s) compared: 4 pair(s) examined, 0 proposed, 3 already known.", out.getvalue()
        )

    def test_bad_input_is_a_clear_error(self):
        with self.assertRaisesMessage(CommandError, "No incident has the number 9999."):
            call_command("find_duplicates", "--incident", "9999", stdout=StringIO())
        incident_merge(survivor=self.incident, merged=self.same_headline, editor=self.editor)
        with self.assertRaisesMessage(
            CommandError, f"#{self.same_headline.number} (into #{self.incident.number})"
        ):
            call_command("find_duplicates", "--incident", str(self.same_headline.number), stdout=StringIO())


class AfterImportTests(DuplicatesTestCase):
    def test_an_import_queues_the_search_for_its_incidents_once_committed(self):
        with mock.patch.object(tasks.duplicates_find, "apply_async") as queued:
            with self.captureOnCommitCallbacks(execute=False) as callbacks:
                results = page_import(
                    pages=read_pages([PAGES / "welfare-fraud-algorithm-flags-single-parents.txt"])
                )
            queued.assert_not_called()  # not before the commit
            self.assertTrue(callbacks)
            with self.captureOnCommitCallbacks(execute=True):  # the commit: the signal, then its queueing
                for callback in callbacks:
                    callback()
        new = results[0][1].incident
        queued.assert_called_once_with(args=([new.pk],))

    def test_the_sheet_import_queues_it_too(self):
        from repository.importers.sheet import sheet_import

        data = (PAGES.parent / "sheet-2024.csv").read_bytes()
        with (
            mock.patch.object(tasks.duplicates_find, "apply_async") as queued,
            self.captureOnCommitCallbacks(execute=True),
        ):
            result = sheet_import(data=data)
        (args,) = queued.call_args.kwargs["args"]
        self.assertEqual(len(args), result.created)
        self.assertEqual(
            set(args),
            set(Incident.objects.filter(external_ids__scheme="aiaaic").values_list("pk", flat=True)),
        )

    def test_the_task_runs_the_incremental_search(self):
        with self.captureOnCommitCallbacks(execute=True):
            from repository.signals import incidents_imported

            incidents_imported.send(sender=Incident, incident_ids=[self.same_source.pk], source="aiaaic")
        self.assertEqual(
            merge_proposals(), {numbers(self.incident, self.same_source): {"headline", "period", "source"}}
        )

    def test_the_task_may_run_twice(self):
        # Its look-alike, the camera incident, is searched with it (one group).
        self.assertEqual(tasks.duplicates_find([self.same_headline.pk]), 3)
        self.assertEqual(tasks.duplicates_find([self.same_headline.pk]), 0)
        self.assertEqual(len(merge_proposals()), 3)


class MergeProposalPageTests(DuplicatesTestCase):
    def setUp(self):
        super().setUp()
        pairs.duplicates_find()
        self.proposal = Submission.objects.get(incident=self.incident, other_incident=self.same_headline)
        self.client.force_login(self.editor)

    def test_the_queue_lists_merge_proposals_with_both_incidents(self):
        # session; user; user permissions; group permissions; counts by state; page count; page;
        # the header count (merge pairs have no look-alike group)
        with self.assertNumQueries(8):
            response = self.client.get("/moderation/?kind=merge")
        self.assertContains(response, 'Merge pair<br><span class="score">score', count=3)
        self.assertEqual(len(response.context["page"].object_list), 3)
        self.assertContains(
            response, f"#{self.same_headline.number} Camera system flags ethnic minority to the police"
        )

    def test_the_review_page_shows_both_incidents_side_by_side_and_why(self):
        # session; user; user permissions; group permissions; the proposal, both incidents and
        # their revisions; its events; vocabularies; improvements waiting on the two; the header count
        with self.assertNumQueries(9):
            response = self.client.get(f"/moderation/{self.proposal.pk}/")
        sides = response.context["sides"]
        self.assertEqual([side["incident"] for side in sides], [self.incident, self.same_headline])
        self.assertContains(response, f"Score: <strong>{self.proposal.score:.2f}</strong> of 1")
        self.assertContains(response, "Headlines 93% alike (words 91%, word order aside 97%, characters 93%)")
        self.assertContains(response, "Their periods are within a year (2021 and 2021) (+0.04)")
        self.assertContains(response, "Acme Retail")
        self.assertContains(response, "https://other.example.org/b")
        self.assertContains(response, "AI Incident Database 77")
        self.assertContains(response, "Merge the two incidents")
        self.assertContains(response, "Dismiss: never propose this pair again")
        self.assertContains(response, "the duplicate finder")
        self.assertNotContains(response, "Approve as proposed")
        gains = {change.path for change in response.context["gains"]}
        self.assertEqual(gains, {"external_ids", "references.news"})

    def test_the_editor_merges_keeping_the_older_incident(self):
        response = self.client.post(
            f"/moderation/{self.proposal.pk}/merge-incidents/",
            {
                "survivor": self.incident.pk,
                f"expected_revision_{self.incident.pk}": self.incident.current_revision_id,
                f"expected_revision_{self.same_headline.pk}": self.same_headline.current_revision_id,
                "note": "Same story",
                "confirmed": "yes",
            },
            follow=True,
        )
        self.assertContains(response, "Merged: the incident you kept carries both now")
        self.proposal.refresh_from_db()
        self.assertEqual(self.proposal.state, Submission.State.APPROVED)
        self.assertEqual(self.proposal.revision.incident, self.incident)
        self.assertEqual(Incident.objects.get(pk=self.same_headline.pk).merged_into, self.incident)
        event = self.proposal.events.get(action=ModerationEvent.Action.MERGE)
        self.assertEqual(event.data["survivor"], self.incident.number)
        self.assertEqual(event.note, "Same story")
        review = self.client.get(f"/moderation/{self.proposal.pk}/")
        self.assertContains(review, f"of #{self.incident.number}, the incident kept")

    def test_the_editor_may_keep_the_newer_one(self):
        self.client.post(
            f"/moderation/{self.proposal.pk}/merge-incidents/",
            {"survivor": self.same_headline.pk, "confirmed": "yes"},
        )
        self.assertEqual(Incident.objects.get(pk=self.incident.pk).merged_into, self.same_headline)
        self.assertRedirects(
            self.client.get("/incidents/camera-flags-minority/"),
            self.same_headline.get_absolute_url(),
            status_code=301,
        )

    def test_a_survivor_outside_the_pair_is_refused(self):
        response = self.client.post(
            f"/moderation/{self.proposal.pk}/merge-incidents/", {"survivor": self.same_source.pk}, follow=True
        )
        self.assertContains(response, "Choose which of the two incidents survives.")
        self.proposal.refresh_from_db()
        self.assertEqual(self.proposal.state, Submission.State.PENDING)
        self.assertIsNone(self.proposal.decided_at)

    def test_a_change_while_reviewing_merges_nothing(self):
        seen = self.same_headline.current_revision_id
        incident_publish(
            document={**self.same_headline.current_revision.document, "released": "2020"},
            incident=self.same_headline,
        )
        response = self.client.post(
            f"/moderation/{self.proposal.pk}/merge-incidents/",
            {
                "survivor": self.incident.pk,
                f"expected_revision_{self.same_headline.pk}": seen,
                "confirmed": "yes",
            },
            follow=True,
        )
        self.assertContains(response, "changed while you were reviewing")
        self.assertIsNone(Incident.objects.get(pk=self.same_headline.pk).merged_into_id)
        self.proposal.refresh_from_db()
        self.assertEqual(self.proposal.state, Submission.State.PENDING)

    def test_an_incident_merged_elsewhere_since_is_said_and_refused(self):
        incident_merge(survivor=self.same_source, merged=self.same_headline, editor=self.editor)
        response = self.client.get(f"/moderation/{self.proposal.pk}/")
        self.assertContains(response, "has been merged into")
        response = self.client.post(
            f"/moderation/{self.proposal.pk}/merge-incidents/",
            {"survivor": self.incident.pk, "confirmed": "yes"},
            follow=True,
        )
        self.assertContains(response, "was already merged into incident")

    def test_dismissing_is_a_rejection_for_good(self):
        response = self.client.post(
            f"/moderation/{self.proposal.pk}/reject/", {"reason": "not_duplicate", "note": "Two events"}
        )
        self.assertEqual(response.status_code, 302)
        self.proposal.refresh_from_db()
        self.assertEqual((self.proposal.state, self.proposal.reason), ("rejected", "not_duplicate"))
        self.assertIsNone(Incident.objects.get(pk=self.same_headline.pk).merged_into_id)

    def test_approving_or_editing_a_merge_proposal_is_refused(self):
        response = self.client.post(f"/moderation/{self.proposal.pk}/approve/", follow=True)
        self.assertContains(response, "Choose which of the two incidents survives")
        response = self.client.get(f"/moderation/{self.proposal.pk}/edit/", follow=True)
        self.assertContains(response, "Only a pending proposal of a document can be edited.")
        with self.assertRaises(services.TransitionError):
            services.submission_edit(submission=self.proposal, editor=self.editor, proposed={})
        self.proposal.refresh_from_db()
        self.assertEqual(self.proposal.state, Submission.State.PENDING)

    def test_the_incident_page_counts_merge_proposals_for_editors(self):
        response = self.client.get(self.same_headline.get_absolute_url())
        self.assertContains(response, "1 proposal waits on this incident")


class PendingImprovementMeetsMergeTests(SubmissionsTestCase):
    """An improvement waiting on either incident of a merge is not lost."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.twin = publish(
            "Police alerted by camera maker's software",
            slug="police-alerted",
            occurred="2021",
            entities={"deployer": ["Acme Retail"]},
            terms={"country": ["China"], "sector": ["Retail"]},
            references={"news": [{"url": "https://twin.example.org/c", "title": "Twin story"}]},
        )

    def improve(self, incident, **changes):
        document = incident.current_revision.document
        return services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=incident,
            proposed={**document, **changes},
            insight="A new source.",
        )

    def new_source(self, document):
        return {
            **document["references"],
            "news": [*document["references"]["news"], {"url": "https://new.example.org/d", "title": "New"}],
        }

    def test_a_proposal_on_the_merged_incident_is_applied_to_the_survivor(self):
        twin_document = self.twin.current_revision.document
        pending = self.improve(self.twin, references=self.new_source(twin_document), released="2020")
        incident_merge(survivor=self.incident, merged=self.twin, editor=self.editor)
        survivor = Incident.objects.get(pk=self.incident.pk)
        self.client.force_login(self.editor)
        response = self.client.get(f"/moderation/{pending.pk}/")
        self.assertContains(response, "This incident was merged into another")
        self.assertContains(response, f"#{survivor.number} Camera system flags an ethnic minority to police")
        rows = {row.path: row for row in response.context["merge_rows"]}
        # The survivor's headline is not the proposal's business; the new source joins its references.
        self.assertEqual(rows["headline"].default, "current")
        self.assertEqual(rows["references.news"].default, "combined")
        self.assertEqual(rows["released"].default, "proposed")
        self.assertEqual(response.context["current_revision"], survivor.current_revision_id)
        with self.assertRaises(services.ConflictError):  # "approve as proposed" would aim at the merged one
            services.submission_approve(submission=pending, editor=self.editor)

        response = self.client.post(
            f"/moderation/{pending.pk}/resolve/",
            {"expected_revision": survivor.current_revision_id},
            follow=True,
        )
        self.assertContains(response, "Approved with your choices and published.")
        survivor.refresh_from_db()
        self.assertEqual(survivor.headline, "Camera system flags an ethnic minority to police")
        self.assertEqual(survivor.released, "2020")
        self.assertEqual(
            list(Reference.objects.filter(incident=survivor, category="news").values_list("url", flat=True)),
            ["https://news.example.org/a", "https://twin.example.org/c", "https://new.example.org/d"],
        )
        pending.refresh_from_db()
        self.assertEqual((pending.state, pending.incident), (Submission.State.APPROVED, survivor))
        self.assertEqual(pending.revision, survivor.current_revision)

    def test_a_proposal_on_the_merged_incident_can_be_rejected(self):
        pending = self.improve(self.twin, released="2020")
        incident_merge(survivor=self.incident, merged=self.twin, editor=self.editor)
        services.submission_reject(submission=pending, editor=self.editor, reason=Submission.Reason.OTHER)
        self.assertEqual(Incident.objects.get(pk=self.incident.pk).released, "")

    def test_a_proposal_on_the_survivor_merges_with_what_the_merge_added(self):
        document = self.incident.current_revision.document
        pending = self.improve(self.incident, references=self.new_source(document))
        incident_merge(survivor=self.incident, merged=self.twin, editor=self.editor)
        survivor = Incident.objects.get(pk=self.incident.pk)
        self.client.force_login(self.editor)
        response = self.client.get(f"/moderation/{pending.pk}/")
        self.assertContains(
            response, "The incident changed after this proposal was made: merged, no conflict"
        )
        self.assertContains(response, "Approve as proposed")
        rows = {row.path: row for row in response.context["merge_rows"]}
        self.assertFalse(rows["references.news"].conflict)  # different sources on each side
        self.assertEqual(rows["references.news"].default, "combined")
        self.client.post(
            f"/moderation/{pending.pk}/approve/", {"expected_revision": survivor.current_revision_id}
        )
        pending.refresh_from_db()
        self.assertEqual(pending.state, Submission.State.APPROVED)
        self.assertEqual(
            set(Reference.objects.filter(incident=survivor).values_list("url", flat=True)),
            {"https://news.example.org/a", "https://twin.example.org/c", "https://new.example.org/d"},
        )
        # The merged incident's terms, which the proposal never saw, survive its approval.
        survivor.refresh_from_db()
        self.assertEqual(survivor.current_revision.document["terms"]["sector"], ["Retail"])
        self.assertEqual(pending.revision, survivor.current_revision)


class MergeConfirmationAndUndoTests(DuplicatesTestCase):
    """Merging a pair is confirmed on a page saying what moves and what stays; the merge is
    undone from the proposal, both incidents as they were, unless either changed since."""

    def setUp(self):
        super().setUp()
        pairs.duplicates_find()
        self.proposal = Submission.objects.get(incident=self.incident, other_incident=self.same_headline)
        self.url = f"/moderation/{self.proposal.pk}/merge-incidents/"
        self.client.force_login(self.editor)
        # A proposal waiting on the incident to be merged away.
        self.waiting = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=self.same_headline,
            proposed={**self.same_headline.current_revision.document, "released": "2021"},
            insight="I know more.",
            email="rita@example.org",
        )

    def merge(self, survivor=None):
        return self.client.post(self.url, {"survivor": (survivor or self.incident).pk, "confirmed": "yes"})

    def test_the_confirmation_says_what_moves_and_what_stays_and_merges_nothing(self):
        response = self.client.post(self.url, {"survivor": self.incident.pk, "note": "Same story"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, f"Merge #{self.same_headline.number} into #{self.incident.number}")
        self.assertContains(response, "the default: it is the older of the two")
        self.assertEqual(
            {change.path for change in response.context["moves"]}, {"external_ids", "references.news"}
        )
        self.assertContains(response, "aiid 77")
        self.assertEqual(response.context["pending"], [self.waiting])
        self.assertContains(response, f"#{self.waiting.pk} Improvement")
        self.assertContains(response, "keeps its number, address and history")
        self.assertContains(response, 'name="confirmed" value="yes"')
        self.assertContains(response, 'name="note" value="Same story"')
        self.assertIsNone(Incident.objects.get(pk=self.same_headline.pk).merged_into_id)
        self.proposal.refresh_from_db()
        self.assertEqual(self.proposal.state, Submission.State.PENDING)
        response = self.client.post(self.url, {"survivor": self.same_headline.pk})
        self.assertContains(response, f"your choice; the default is the older #{self.incident.number}")

    def test_undo_brings_the_merged_incident_back_with_its_links_history_and_proposals(self):
        # An incident merged into the one merged away earlier follows it, there and back.
        earlier = publish("Earlier duplicate", occurred="2021")
        incident_merge(survivor=self.same_headline, merged=earlier, editor=self.editor)
        self.proposal.refresh_from_db()
        before = {
            i.pk: Incident.objects.get(pk=i.pk).current_revision.document
            for i in (self.incident, self.same_headline)
        }
        self.merge()
        self.assertEqual(Incident.objects.get(pk=earlier.pk).merged_into, self.incident)
        self.assertFalse(ExternalId.objects.filter(incident=self.same_headline).exists())
        review = self.client.get(f"/moderation/{self.proposal.pk}/")
        self.assertContains(review, "Undo this merge…")
        undo = f"/moderation/{self.proposal.pk}/merge-incidents/undo/"
        response = self.client.get(undo)
        self.assertContains(response, "Confirm the undo")
        self.assertEqual(response.context["pending"], [self.waiting])
        self.assertEqual(Incident.objects.get(pk=self.same_headline.pk).merged_into, self.incident)
        response = self.client.post(undo, {"confirmed": "yes", "note": "Two events"}, follow=True)
        self.assertContains(response, "Merge undone")
        survivor, merged = (Incident.objects.get(pk=i.pk) for i in (self.incident, self.same_headline))
        self.assertIsNone(merged.merged_into_id)
        self.assertEqual(Incident.objects.get(pk=earlier.pk).merged_into, merged)
        self.assertEqual(survivor.current_revision.document, before[survivor.pk])
        self.assertEqual(merged.current_revision.document, before[merged.pk])
        # Its links are its own again, and no longer the survivor's.
        self.assertEqual(
            list(ExternalId.objects.filter(incident=merged).values_list("value", flat=True)), ["77"]
        )
        self.assertFalse(ExternalId.objects.filter(incident=survivor).exists())
        self.assertEqual(
            list(Reference.objects.filter(incident=merged).values_list("url", flat=True)),
            ["https://other.example.org/b"],
        )
        self.assertFalse(
            Reference.objects.filter(incident=survivor, url="https://other.example.org/b").exists()
        )
        # Its own history, and a revision saying so in each.
        summaries = list(merged.revisions.order_by("number").values_list("summary", flat=True))
        self.assertEqual(summaries[-2], f"Merged into incident #{survivor.number}")
        self.assertTrue(
            summaries[-1].startswith(f"Merge into incident #{survivor.number} undone, “Two events”")
        )
        self.assertIn(f"Undid the merge of incident #{merged.number}", survivor.current_revision.summary)
        self.assertEqual(self.client.get(merged.get_absolute_url()).status_code, 200)
        # The proposal waiting on it is reviewed against it again; the pair is pending again.
        review = self.client.get(f"/moderation/{self.waiting.pk}/")
        self.assertNotContains(review, "has been merged into")
        self.proposal.refresh_from_db()
        self.assertEqual((self.proposal.state, self.proposal.revision), (Submission.State.PENDING, None))
        self.assertTrue(self.proposal.events.filter(action=ModerationEvent.Action.UNMERGE).exists())
        # And the pair may be merged again.
        self.merge()
        self.assertEqual(Incident.objects.get(pk=merged.pk).merged_into, survivor)

    def assert_undo_refused(self, message):
        response = self.client.post(
            f"/moderation/{self.proposal.pk}/merge-incidents/undo/", {"confirmed": "yes"}, follow=True
        )
        self.assertContains(response, message)
        self.proposal.refresh_from_db()
        self.assertEqual(self.proposal.state, Submission.State.APPROVED)
        self.assertFalse(self.proposal.events.filter(action=ModerationEvent.Action.UNMERGE).exists())

    def test_undo_is_refused_when_the_survivor_changed_since(self):
        self.merge()
        survivor = Incident.objects.get(pk=self.incident.pk)
        incident_publish(
            document={**survivor.current_revision.document, "released": "2020"}, incident=survivor
        )
        self.assert_undo_refused(f"Incident #{survivor.number} changed since the merge: it cannot be undone.")
        self.assertEqual(Incident.objects.get(pk=self.same_headline.pk).merged_into, survivor)
        self.assertEqual(Incident.objects.get(pk=survivor.pk).current_revision.document["released"], "2020")

    def test_undo_is_refused_when_the_survivor_was_merged_away_since(self):
        self.merge()
        incident_merge(survivor=self.same_source, merged=self.incident, editor=self.editor)
        self.assert_undo_refused(f"Incident #{self.same_headline.number} is no longer merged into")
        self.assertEqual(Incident.objects.get(pk=self.same_headline.pk).merged_into, self.same_source)

    def test_undo_of_a_pair_never_merged_says_so(self):
        response = self.client.get(f"/moderation/{self.proposal.pk}/merge-incidents/undo/")
        self.assertContains(response, "This proposal has no merge to undo.")
        response = self.client.post(
            f"/moderation/{self.proposal.pk}/merge-incidents/undo/", {"confirmed": "yes"}, follow=True
        )
        self.assertContains(response, "Only a merge this proposal made can be undone here.")


class PairDismissalReasonTests(DuplicatesTestCase):
    """A machine-proposed pair is dismissed with reasons of its own, for good, and counted."""

    def setUp(self):
        super().setUp()
        pairs.duplicates_find()
        self.client.force_login(self.editor)
        self.pairs = {
            submission.other_incident_id: submission
            for submission in Submission.objects.filter(kind=Submission.Kind.MERGE)
        }

    def test_the_pair_page_offers_only_the_pair_reasons(self):
        pair = self.pairs[self.same_headline.pk]
        response = self.client.get(f"/moderation/{pair.pk}/")
        self.assertEqual(
            [label for _value, label in response.context["reject_form"].fields["reason"].choices],
            ["Not the same event", "Related but distinct", "Same event, keep apart"],
        )
        self.assertNotContains(response, "Spam")
        # And a report's page does not offer them.
        report = self.report_new()
        response = self.client.get(f"/moderation/{report.pk}/")
        offered = {value for value, _label in response.context["reject_form"].fields["reason"].choices}
        self.assertIn("spam", offered)
        self.assertFalse(offered & set(Submission.PAIR_REASONS))

    def test_each_pair_reason_dismisses_for_good_and_is_counted(self):
        for reason, pair in zip(Submission.PAIR_REASONS, self.pairs.values(), strict=True):
            response = self.client.post(f"/moderation/{pair.pk}/reject/", {"reason": reason}, follow=True)
            self.assertContains(response, "Dismissed: this pair will not be proposed again.")
            pair.refresh_from_db()
            self.assertEqual((pair.state, pair.reason), (Submission.State.REJECTED, reason))
        result = pairs.duplicates_find()
        self.assertEqual((result.proposed, result.known), (0, 3))
        by_reason = dict(self.client.get("/moderation/stats/").context["figures"]["by_reason"])
        self.assertEqual(
            {label: n for label, n in by_reason.items() if label.startswith("Pair dismissed")},
            {
                "Pair dismissed: Not the same event": 1,
                "Pair dismissed: Related but distinct": 1,
                "Pair dismissed: Same event, keep apart": 1,
            },
        )

    def test_submission_reasons_are_refused_for_a_pair_and_pair_reasons_for_a_report(self):
        pair = self.pairs[self.same_headline.pk]
        response = self.client.post(f"/moderation/{pair.pk}/reject/", {"reason": "spam"}, follow=True)
        self.assertContains(response, "Select a valid choice")
        with self.assertRaisesMessage(services.TransitionError, "Dismiss a merge pair with one of its own"):
            services.submission_reject(
                submission=pair, editor=self.editor, reason=Submission.Reason.DUPLICATE
            )
        report = self.report_new()
        with self.assertRaisesMessage(
            services.TransitionError, "That reason is for dismissing a merge pair."
        ):
            services.submission_reject(
                submission=report, editor=self.editor, reason=Submission.Reason.RELATED
            )
        pair.refresh_from_db()
        report.refresh_from_db()
        self.assertEqual((pair.state, report.state), (Submission.State.PENDING, Submission.State.PENDING))
