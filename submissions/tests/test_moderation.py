from io import StringIO
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from repository.models import Incident, Revision
from repository.services import incident_publish
from submissions import services
from submissions.models import ModerationEvent, Submission
from submissions.tests.base import PASSWORD, SubmissionsTestCase


class TransitionTests(SubmissionsTestCase):
    def actions(self, submission):
        return list(submission.events.values_list("action", "actor__username", "from_state", "to_state"))

    def test_claim_and_release(self):
        submission = self.propose(headline="Changed")
        services.submission_claim(submission=submission, editor=self.editor)
        submission.refresh_from_db()
        self.assertEqual(submission.claimed_by, self.editor)
        with self.assertRaisesMessage(services.TransitionError, "edith has claimed this submission"):
            services.submission_claim(submission=submission, editor=self.other_editor)
        with self.assertRaisesMessage(services.TransitionError, "Only edith, who claimed it, can release it"):
            services.submission_release(submission=submission, editor=self.other_editor)
        services.submission_release(submission=submission, editor=self.editor)
        submission.refresh_from_db()
        self.assertIsNone(submission.claimed_by)
        with self.assertRaisesMessage(services.TransitionError, "not claimed"):
            services.submission_release(submission=submission, editor=self.editor)
        self.assertEqual(
            [a[:2] for a in self.actions(submission)],
            [("submit", None), ("claim", "edith"), ("release", "edith")],
        )

    def test_claiming_twice_records_one_claim(self):
        submission = self.propose(headline="Changed")
        services.submission_claim(submission=submission, editor=self.editor)
        services.submission_claim(submission=submission, editor=self.editor)
        self.assertEqual(submission.events.filter(action="claim").count(), 1)

    def test_approval_publishes_a_revision_atomically(self):
        submission = self.propose(headline="Camera system flags Uyghurs to police")
        services.submission_approve(submission=submission, editor=self.editor, note="Checked the report.")
        submission.refresh_from_db()
        self.incident.refresh_from_db()
        self.assertEqual(submission.state, Submission.State.APPROVED)
        self.assertEqual(submission.decided_by, self.editor)
        self.assertEqual(submission.revision, self.incident.current_revision)
        self.assertEqual(self.incident.headline, "Camera system flags Uyghurs to police")
        revision = self.incident.current_revision
        self.assertEqual(revision.number, 2)
        self.assertEqual(revision.author, self.editor)
        self.assertEqual(revision.credit, "Rita")
        self.assertIn("Approved proposal", revision.summary)
        self.assertIn("Headline", revision.summary)
        self.assertEqual(self.actions(submission)[-1], ("approve", "edith", "pending", "approved"))

    def test_no_credit_unless_asked(self):
        document = {**self.incident.current_revision.document, "headline": "New"}
        submission = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=self.incident,
            proposed=document,
            name="Rita",
            credit=False,
        )
        services.submission_approve(submission=submission, editor=self.editor)
        self.assertEqual(Incident.objects.get().current_revision.credit, "")

    def test_a_decided_submission_cannot_be_decided_again(self):
        submission = self.propose(headline="Changed")
        services.submission_reject(submission=submission, editor=self.editor, reason=Submission.Reason.SPAM)
        for action in (
            lambda: services.submission_approve(submission=submission, editor=self.other_editor),
            lambda: services.submission_reject(
                submission=submission, editor=self.other_editor, reason=Submission.Reason.OTHER
            ),
            lambda: services.submission_claim(submission=submission, editor=self.other_editor),
            lambda: services.submission_edit(
                submission=submission, editor=self.other_editor, proposed=submission.proposed
            ),
        ):
            with self.assertRaisesMessage(services.TransitionError, "already rejected (by edith)"):
                action()
        self.assertEqual(Revision.objects.count(), 1)

    def test_only_the_claimant_can_decide_a_claimed_submission(self):
        submission = self.propose(headline="Changed")
        services.submission_claim(submission=submission, editor=self.editor)
        with self.assertRaisesMessage(services.TransitionError, "edith has claimed this submission"):
            services.submission_approve(submission=submission, editor=self.other_editor)
        services.submission_approve(submission=submission, editor=self.editor)
        submission.refresh_from_db()
        self.assertIsNone(submission.claimed_by)

    def test_a_rejection_needs_a_known_reason(self):
        submission = self.propose(headline="Changed")
        with self.assertRaises(services.TransitionError):
            services.submission_reject(submission=submission, editor=self.editor, reason="bored")
        services.submission_reject(
            submission=submission, editor=self.editor, reason=Submission.Reason.OUT_OF_SCOPE, note="See #1."
        )
        submission.refresh_from_db()
        self.assertEqual(
            (submission.state, submission.reason, submission.decision_note),
            ("rejected", "out_of_scope", "See #1."),
        )
        self.assertEqual(self.actions(submission)[-1], ("reject", "edith", "pending", "rejected"))

    def test_an_edit_keeps_the_contributors_version(self):
        submission = self.propose(headline="Cameras flag uyghurs")
        original = submission.proposed
        edited = {**original, "headline": "Cameras flag Uyghurs"}
        services.submission_edit(submission=submission, editor=self.editor, proposed=edited)
        submission.refresh_from_db()
        self.assertEqual(submission.proposed["headline"], "Cameras flag Uyghurs")
        event = submission.events.get(action=ModerationEvent.Action.EDIT)
        self.assertEqual(event.data["before"], original)
        self.assertEqual(event.note, "Changed Headline")
        services.submission_approve(submission=submission, editor=self.editor)
        self.assertEqual(Incident.objects.get().headline, "Cameras flag Uyghurs")

    def test_withdrawal_only_while_pending(self):
        submission = self.propose(headline="Changed")
        services.submission_withdraw(submission=submission)
        with self.assertRaises(services.TransitionError):
            services.submission_withdraw(submission=submission)
        with self.assertRaises(services.TransitionError):
            services.submission_approve(submission=submission, editor=self.editor)

    def test_a_new_incident_is_published_as_new(self):
        submission = self.report_new()
        services.submission_approve(submission=submission, editor=self.editor)
        submission.refresh_from_db()
        incident = submission.incident
        self.assertEqual(incident.headline, "Delivery robot blocks an ambulance")
        self.assertEqual(incident.current_revision, submission.revision)
        self.assertEqual(incident.number, 2)
        self.assertTrue(incident.references.filter(url="https://news.example.org/robot").exists())

    def test_a_new_incident_can_be_merged_into_an_existing_one(self):
        submission = self.report_new(
            headline="Camera flags minority",
            terms={"country": ["Kazakhstan"]},
            entities={"deployer": ["Border Police"]},
        )
        services.submission_merge(
            submission=submission, editor=self.editor, target=self.incident, note="Same story."
        )
        submission.refresh_from_db()
        self.incident.refresh_from_db()
        self.assertEqual(submission.state, Submission.State.APPROVED)
        self.assertEqual(submission.incident, self.incident)
        document = self.incident.current_revision.document
        self.assertEqual(document["headline"], "Camera system flags an ethnic minority to police")
        self.assertEqual(document["terms"]["country"], ["China", "Kazakhstan"])
        self.assertEqual(document["entities"]["deployer"], ["Acme Retail", "Border Police"])
        self.assertEqual(
            [r["url"] for r in document["references"]["news"]],
            ["https://news.example.org/a", "https://news.example.org/robot"],
        )
        self.assertEqual(Incident.objects.count(), 1)
        self.assertEqual(self.actions(submission)[-1], ("merge", "edith", "pending", "approved"))

    def test_an_improvement_cannot_be_merged(self):
        with self.assertRaises(services.TransitionError):
            services.submission_merge(
                submission=self.propose(headline="x"), editor=self.editor, target=self.incident
            )

    def test_events_are_never_deleted(self):
        submission = self.propose(headline="Changed")
        with self.assertRaises(Exception):  # noqa: B017 - PROTECT, whichever error the database gives
            submission.delete()


class StaleBaseTests(SubmissionsTestCase):
    """The incident changed after the proposal was made: nothing is overwritten silently."""

    def setUp(self):
        super().setUp()
        self.submission = self.propose(headline="Proposed headline", summary="Proposed summary")
        current = {
            **self.incident.current_revision.document,
            "summary": "An editor's summary",
            "occurred": "2021-03",
        }
        incident_publish(document=current, incident=self.incident)
        self.incident.refresh_from_db()

    def test_approving_as_proposed_is_refused(self):
        with self.assertRaises(services.ConflictError):
            services.submission_approve(submission=self.submission, editor=self.editor)
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.state, Submission.State.PENDING)
        self.assertIsNone(self.submission.decided_at)
        self.assertEqual(Incident.objects.get().summary, "An editor's summary")

    def test_the_review_page_shows_base_current_and_proposed(self):
        self.client.force_login(self.editor)
        response = self.client.get(f"/moderation/{self.submission.pk}/")
        self.assertContains(response, "The incident changed after this proposal was made")
        rows = {row.path: row for row in response.context["merge_rows"]}
        self.assertEqual(set(rows), {"headline", "summary", "occurred"})
        self.assertTrue(rows["summary"].conflict)
        self.assertEqual(
            (rows["summary"].base, rows["summary"].current, rows["summary"].proposed),
            ("A camera maker's software alerted police.", "An editor's summary", "Proposed summary"),
        )
        self.assertEqual(rows["headline"].default, "proposed")
        self.assertEqual(rows["occurred"].default, "current")

    def test_the_editor_chooses_per_field(self):
        self.client.force_login(self.editor)
        response = self.client.post(
            f"/moderation/{self.submission.pk}/resolve/",
            {
                "expected_revision": self.incident.current_revision_id,
                "choice_summary": "current",
                "choice_headline": "proposed",
            },
        )
        self.assertRedirects(response, "/moderation/", fetch_redirect_response=False)  # nothing else waits
        incident = Incident.objects.get()
        self.assertEqual(incident.headline, "Proposed headline")
        self.assertEqual(incident.summary, "An editor's summary")
        self.assertEqual(incident.occurred, "2021-03")
        self.assertEqual(incident.current_revision.number, 3)

    def test_a_conflict_left_unchosen_publishes_nothing(self):
        self.client.force_login(self.editor)
        response = self.client.post(
            f"/moderation/{self.submission.pk}/resolve/",
            {"expected_revision": self.incident.current_revision_id},
            follow=True,
        )
        self.assertContains(response, "Choose which version to keep")
        self.assertEqual(Incident.objects.get().current_revision.number, 2)
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.state, Submission.State.PENDING)

    def test_a_change_while_choosing_sends_the_editor_back(self):
        self.client.force_login(self.editor)
        seen = self.incident.current_revision_id
        incident_publish(
            document={**self.incident.current_revision.document, "released": "2019"}, incident=self.incident
        )
        response = self.client.post(
            f"/moderation/{self.submission.pk}/resolve/",
            {"expected_revision": seen, "choice_summary": "proposed"},
            follow=True,
        )
        self.assertContains(response, "changed while you were choosing")
        self.assertEqual(Incident.objects.get().summary, "An editor's summary")

    def test_the_resolve_service_applies_the_choices_it_recognises(self):
        services.submission_resolve(
            submission=self.submission,
            editor=self.editor,
            choices={"summary": "proposed", "headline": "current", "occurred": "sideways"},
            expected_revision=self.incident.current_revision_id,
            note="Chosen",
        )
        incident = Incident.objects.get()
        self.assertEqual(
            (incident.headline, incident.summary, incident.occurred),
            ("Camera system flags an ethnic minority to police", "Proposed summary", "2021-03"),
        )
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.state, Submission.State.APPROVED)

    def test_the_resolve_service_refuses_a_revision_it_was_not_given(self):
        with self.assertRaises(services.ConflictError):
            services.submission_resolve(
                submission=self.submission,
                editor=self.editor,
                choices={"summary": "proposed"},
                expected_revision=self.submission.base_revision_id,
                note="",
            )
        self.assertEqual(Incident.objects.get().summary, "An editor's summary")


class ModerationPageTests(SubmissionsTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.editor)

    def test_the_queue_lists_pending_oldest_first_with_counts(self):
        first = self.propose(headline="First")
        second = self.report_new()
        decided = self.propose(headline="Third")
        services.submission_reject(submission=decided, editor=self.editor, reason=Submission.Reason.SPAM)
        response = self.client.get("/moderation/")
        self.assertEqual(list(response.context["page"].object_list), [first, second])
        self.assertEqual(
            response.context["counts"],
            [
                ("pending", "Pending review", 2),
                ("needs_changes", "Changes asked", 0),
                ("approved", "Approved", 0),
                ("rejected", "Rejected", 1),
                ("withdrawn", "Withdrawn", 0),
                ("expired", "Expired (changes asked, none came)", 0),
            ],
        )

    def test_the_queue_filters(self):
        mine = self.propose(headline="Mine")
        services.submission_claim(submission=mine, editor=self.editor)
        theirs = self.propose(headline="Theirs")
        services.submission_claim(submission=theirs, editor=self.other_editor)
        free = self.report_new()
        cases = {
            "?claimed=mine": [mine],
            "?claimed=unclaimed": [free],
            "?claimed=others": [theirs],
            "?kind=new": [free],
            "?kind=improvement": [mine, theirs],
            f"?incident={self.incident.number}": [mine, theirs],
            "?incident=camera-flags-minority": [mine, theirs],
            "?state=rejected": [],
        }
        for query, expected in cases.items():
            with self.subTest(query=query):
                self.assertEqual(
                    list(self.client.get("/moderation/" + query).context["page"].object_list), expected
                )
        page = self.client.get("/moderation/")
        self.assertContains(page, "ezra")  # another editor's claim is shown
        self.assertContains(page, "Claimed by")
        self.assertNotContains(page, "invalid name")

    def test_the_queue_costs_the_same_whatever_its_length(self):
        for n in range(3):
            self.propose(headline=f"Change {n}")
        # session; user; user permissions; group permissions; counts by state; page count; page;
        # the header count (no row has look-alikes: no query for them)
        with self.assertNumQueries(8):
            self.client.get("/moderation/")
        for n in range(20):
            self.propose(headline=f"More {n}")
            self.report_new(headline=f"Report {n}")
            self.report_new(headline=f"Chatbot tells teenager {n} to hurt himself")
        # ... and one for the look-alikes of the page's rows (their stored group keys)
        with self.assertNumQueries(9):
            response = self.client.get("/moderation/")
        self.assertContains(response, "reports look alike")

    def test_the_review_page_of_an_improvement(self):
        submission = self.propose(
            headline="Camera system flags Uyghurs to police",
            terms={
                "country": ["China", "Kazakhstan"],
                "technology": ["Facial recognition"],
                "issue": ["Privacy"],
            },
            references={
                **self.incident.current_revision.document["references"],
                "research": [
                    {
                        "url": "https://research.example.org/r",
                        "title": "A study",
                        "publisher": "",
                        "published": "",
                    }
                ],
            },
        )
        # session; user; user permissions; group permissions; the submission and its relations;
        # its events; vocabularies; the names it adds that no alias knows (terms; no entity is
        # added); fetched metadata of the added references; the header count
        with self.assertNumQueries(10):
            response = self.client.get(f"/moderation/{submission.pk}/")
        changes = {change.path: change for change in response.context["changes"]}
        self.assertEqual(set(changes), {"headline", "terms.country", "references.research"})
        self.assertEqual(changes["terms.country"].added, ["Kazakhstan"])
        self.assertEqual(response.context["new"]["terms"], [("Country", "Kazakhstan")])
        self.assertContains(response, "I know more.")
        self.assertContains(response, "A study")
        self.assertContains(response, "rita@example.org")  # editors may write to the contributor

    def test_the_review_page_of_a_new_incident_lists_possible_duplicates(self):
        submission = self.report_new(headline="Camera flags minority for police")
        response = self.client.get(f"/moderation/{submission.pk}/")
        self.assertEqual([c.incident for c in response.context["candidates"]], [self.incident])
        self.assertContains(response, "Publish as a new incident")
        self.assertContains(response, "Merge into an existing incident")

    def test_decisions_from_the_review_page(self):
        submission = self.propose(headline="Changed by the page")
        response = self.client.post(f"/moderation/{submission.pk}/claim/", follow=True)
        self.assertContains(response, "You claimed this")
        response = self.client.post(
            f"/moderation/{submission.pk}/approve/",
            {"expected_revision": self.incident.current_revision_id},
            follow=True,
        )
        self.assertContains(response, "Approved and published.")
        self.assertEqual(Incident.objects.get().headline, "Changed by the page")
        response = self.client.post(f"/moderation/{submission.pk}/reject/", {"reason": "spam"}, follow=True)
        self.assertContains(response, "already approved")

    def test_reject_and_merge_and_note_from_the_review_page(self):
        rejected = self.propose(headline="Nope")
        self.client.post(f"/moderation/{rejected.pk}/reject/", {"reason": "out_of_scope", "note": "Not AI."})
        rejected.refresh_from_db()
        self.assertEqual(rejected.reason, "out_of_scope")
        report = self.report_new()
        response = self.client.post(
            f"/moderation/{report.pk}/merge/", {"target": str(self.incident.number)}, follow=True
        )
        # RoboDeliver is new to the taxonomy: merging would create it, so the editor confirms it.
        self.assertContains(response, "Approving would create “RoboDeliver”")
        response = self.client.post(
            f"/moderation/{report.pk}/merge/",
            {"target": str(self.incident.number), "confirm_new": "organisation:robodeliver"},
            follow=True,
        )
        self.assertContains(response, "Merged into")
        response = self.client.post(f"/moderation/{report.pk}/note/", {"note": "Checked twice."}, follow=True)
        self.assertContains(response, "Checked twice.")
        response = self.client.post(
            f"/moderation/{report.pk}/merge/", {"target": "no-such-incident"}, follow=True
        )
        self.assertContains(response, "No incident has the number or address")

    def test_the_editor_edits_the_proposal_then_approves(self):
        submission = self.propose(headline="Typo in headlne")
        form = self.client.get(f"/moderation/{submission.pk}/edit/").context["form"]
        from submissions.tests.base import form_data

        data = {**form_data(form), "headline": "Typo in headline fixed", "edit_note": "Fixed the typo."}
        response = self.client.post(f"/moderation/{submission.pk}/edit/", data, follow=True)
        self.assertContains(response, "Proposal updated")
        submission.refresh_from_db()
        self.assertEqual(submission.proposed["headline"], "Typo in headline fixed")
        self.assertEqual(submission.events.get(action="edit").note, "Fixed the typo.")

    def test_editors_see_the_pending_count_and_proposals_on_the_incident(self):
        self.propose(headline="Waiting")
        response = self.client.get(self.incident.get_absolute_url())
        self.assertContains(response, "1 proposal waits on this incident")
        self.assertContains(response, '<span class="badge" title="Submissions waiting">1</span>', html=False)
        self.client.logout()
        response = self.client.get(self.incident.get_absolute_url())
        self.assertNotContains(response, "waits on this incident")
        self.assertNotContains(response, "Submissions waiting")


class HistoryTests(SubmissionsTestCase):
    def test_history_lists_revisions_newest_first_with_diff_and_credit(self):
        services.submission_approve(submission=self.propose(headline="Second headline"), editor=self.editor)
        response = self.client.get("/incidents/camera-flags-minority/history/")
        revisions = list(response.context["page"].object_list)
        self.assertEqual([r.number for r in revisions], [2, 1])
        self.assertEqual([c.path for c in revisions[0].changes], ["headline"])
        self.assertContains(response, "Contributed by Rita")
        self.assertNotContains(response, "rita@example.org")
        self.assertContains(response, 'id="revision-2"')

    def test_the_history_page_costs_the_same_whatever_its_length(self):
        # incident; count; page; the revision before the page; vocabularies
        with self.assertNumQueries(5):
            self.client.get("/incidents/camera-flags-minority/history/")
        document = self.incident.current_revision.document
        for n in range(15):
            incident_publish(
                document={**document, "summary": f"Version {n}"}, incident=Incident.objects.get()
            )
        with self.assertNumQueries(5):
            response = self.client.get("/incidents/camera-flags-minority/history/")
        self.assertEqual(len(response.context["page"].object_list), 10)

    def test_an_editor_reverts_to_an_earlier_revision(self):
        services.submission_approve(submission=self.propose(headline="Vandalised"), editor=self.editor)
        self.client.force_login(self.editor)
        history = self.client.get("/incidents/camera-flags-minority/history/")
        self.assertContains(history, "Revert to revision 1")
        incident = Incident.objects.get()
        response = self.client.post(
            "/moderation/incidents/camera-flags-minority/revert/1/",
            {"expected_revision": incident.current_revision_id},
            follow=True,
        )
        self.assertContains(response, "Reverted to revision 1 as revision 3")
        incident.refresh_from_db()
        self.assertEqual(incident.headline, "Camera system flags an ethnic minority to police")
        self.assertEqual(incident.current_revision.summary, "Reverted to revision 1: Changed Headline")
        self.assertEqual(incident.revisions.count(), 3)

    def test_the_public_sees_no_revert_button(self):
        services.submission_approve(submission=self.propose(headline="Second"), editor=self.editor)
        self.assertNotContains(
            self.client.get("/incidents/camera-flags-minority/history/"), "Revert to revision"
        )


class EditorAccountTests(SubmissionsTestCase):
    def test_createeditor_makes_an_editor_who_can_sign_in(self):
        with mock.patch.dict("os.environ", {"DJANGO_EDITOR_PASSWORD": "another-long-password-9"}):
            out = StringIO()
            call_command("createeditor", "nadia", email="nadia@example.org", stdout=out)
        self.assertIn("Created editor nadia", out.getvalue())
        nadia = get_user_model().objects.get(username="nadia")
        self.assertTrue(nadia.has_perm("submissions.moderate"))
        self.assertTrue(nadia.groups.filter(name="Editors").exists())
        response = self.client.post(
            "/accounts/login/", {"username": "nadia", "password": "another-long-password-9"}, follow=True
        )
        self.assertContains(response, "Moderation queue")

    def test_createeditor_refuses_a_weak_password(self):
        with (
            mock.patch.dict("os.environ", {"DJANGO_EDITOR_PASSWORD": "123"}),
            self.assertRaises(CommandError),
        ):
            call_command("createeditor", "weak", email="weak@example.org", stdout=StringIO())
        self.assertFalse(get_user_model().objects.filter(username="weak").exists())

    @override_settings(AXES_FAILURE_LIMIT=3)
    def test_repeated_wrong_passwords_lock_the_account_out(self):
        for _ in range(3):
            self.client.post("/accounts/login/", {"username": "edith", "password": "wrong"})
        response = self.client.post("/accounts/login/", {"username": "edith", "password": PASSWORD})
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "Too many failed sign-ins", status_code=429)
