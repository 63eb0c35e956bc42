"""Credit and follow-up: the contributor's email says what became of what they sent and links
to the published incident; the editor who asked for changes hears of the revision, at once or
in the digest they chose."""

from django.core import mail

from repository.models import Incident
from submissions import notifications, services, tasks
from submissions.models import EditorProfile, Submission
from submissions.tests.base import SubmissionsTestCase, form_data

SITE = "http://127.0.0.1:8000"


class DecisionEmailTests(SubmissionsTestCase):
    def decision_to(self, address):
        [message] = [m for m in mail.outbox if m.to == [address]]
        [(html, _)] = message.alternatives
        return message, html

    def test_a_published_improvement_links_to_its_incident(self):
        submission = self.propose(headline="Changed")
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_approve(submission=submission, editor=self.editor)
        message, html = self.decision_to("rita@example.org")
        self.assertIn("Your proposal was published", message.subject)
        self.assertIn("published your changes on the incident", message.body)
        url = f"{SITE}/incidents/camera-flags-minority/"
        self.assertIn(url, message.body)
        self.assertIn(f'href="{url}"', html)
        self.assertIn("credited by name", message.body)  # Rita asked for credit

    def test_a_report_published_as_new_says_so_and_links_to_the_new_incident(self):
        submission = self.report_new()
        with self.captureOnCommitCallbacks(execute=True):
            approved = services.submission_approve(submission=submission, editor=self.editor)
        message, html = self.decision_to(submission.email)
        self.assertIn("published as a new incident", message.subject)
        self.assertNotEqual(approved.incident, self.incident)
        self.assertIn(SITE + approved.incident.get_absolute_url(), message.body)
        self.assertIn("Delivery robot blocks an ambulance", html)

    def test_a_report_an_editor_merges_says_it_joined_the_existing_incident(self):
        submission = self.report_new()
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_merge(submission=submission, editor=self.editor, target=self.incident)
        message, _ = self.decision_to(submission.email)
        self.assertIn("added to an existing incident", message.subject)
        self.assertIn("added to that incident", message.body)
        self.assertIn(f"{SITE}/incidents/camera-flags-minority/", message.body)
        self.assertNotIn("was published", message.subject)
        self.assertEqual(Incident.objects.count(), 1)

    def test_a_report_sent_as_more_on_a_found_incident_says_it_joined_it(self):
        data = {
            "step": "send",
            "headline": "Camera flags ethnic minority for police",
            "occurred": "2021",
            "narrative": "Cameras alerted police.",
            "sources": "https://other.example.org/story",
            "email": "ines@example.org",
            "duplicate_of": str(self.incident.pk),
        }
        self.client.post("/submit/", data)
        submission = Submission.objects.get(email="ines@example.org")
        self.assertEqual(submission.kind, Submission.Kind.IMPROVEMENT)
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_approve(submission=submission, editor=self.editor)
        message, _ = self.decision_to("ines@example.org")
        self.assertIn("Your report was added to an existing incident", message.subject)
        self.assertIn(f"{SITE}/incidents/camera-flags-minority/", message.body)

    def test_a_rejection_links_to_no_incident(self):
        submission = self.propose(headline="Changed")
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_reject(
                submission=submission, editor=self.editor, reason=Submission.Reason.SPAM
            )
        message, _ = self.decision_to("rita@example.org")
        self.assertIn("was not accepted", message.subject)
        self.assertNotIn("/incidents/", message.body)


class RevisionNoticeTests(SubmissionsTestCase):
    def ask_and_revise(self, editor=None):
        submission = self.propose(headline="Changed")
        services.submission_ask_changes(
            submission=submission, editor=editor or self.editor, note="Add a source, please."
        )
        mail.outbox.clear()
        url = submission.get_status_url()
        data = {
            **form_data(self.client.get(url).context["form"]),
            "action": "resubmit",
            "ref_url_1": "https://news.example.org/more",
        }
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(url, data)
        submission.refresh_from_db()
        self.assertEqual(submission.state, Submission.State.PENDING)
        return submission

    def test_the_editor_who_asked_hears_of_the_revision_at_once(self):
        submission = self.ask_and_revise()
        [message] = mail.outbox
        self.assertEqual(message.to, ["edith@example.org"])  # not Ezra, who did not ask
        self.assertIn(f"Revised as you asked: #{submission.pk}", message.subject)
        self.assertIn(f"{SITE}/moderation/{submission.pk}/", message.body)

    def test_an_editor_who_chose_the_digest_finds_the_revision_in_it(self):
        EditorProfile.objects.create(user=self.editor, notify=EditorProfile.Notify.DIGEST)
        submission = self.ask_and_revise()
        self.assertEqual(mail.outbox, [])  # nothing at once
        with self.captureOnCommitCallbacks(execute=True):
            tasks.send_digests.delay()
        [message] = mail.outbox
        self.assertEqual(message.to, ["edith@example.org"])
        self.assertIn("Revised since yesterday, after you asked for changes", message.body)
        self.assertIn(f"{SITE}/moderation/{submission.pk}/", message.body)

    def test_the_digest_lists_only_what_that_editor_asked_to_change(self):
        EditorProfile.objects.create(user=self.editor, notify=EditorProfile.Notify.DIGEST)
        EditorProfile.objects.create(user=self.other_editor, notify=EditorProfile.Notify.DIGEST)
        self.ask_and_revise(editor=self.other_editor)
        notifications.digests_create()
        bodies = {n.recipient: n.body_text for n in notifications.Notification.objects.filter(kind="digest")}
        self.assertIn("after you asked for changes", bodies["ezra@example.org"])
        self.assertNotIn("after you asked for changes", bodies["edith@example.org"])

    def test_an_editor_who_chose_no_emails_gets_none(self):
        EditorProfile.objects.create(user=self.editor, notify=EditorProfile.Notify.NONE)
        self.ask_and_revise()
        self.assertEqual(mail.outbox, [])


class RejectReasonTests(SubmissionsTestCase):
    def offered(self, submission):
        self.client.force_login(self.editor)
        form = self.client.get(f"/moderation/{submission.pk}/").context["reject_form"]
        return [value for value, _ in form.fields["reason"].choices if value], "duplicate_of" in form.fields

    def test_a_report_is_rejected_for_what_fits_a_report(self):
        reasons, names_duplicate = self.offered(self.report_new())
        self.assertEqual(reasons, ["duplicate", "out_of_scope", "insufficient_sources", "spam", "other"])
        self.assertTrue(names_duplicate)

    def test_a_source_is_rejected_for_what_fits_a_source(self):
        self.client.post(
            "/incidents/camera-flags-minority/improve/",
            {"form": "source", "source-url": "https://blog.example.org/post", "source-category": "news"},
        )
        submission = Submission.objects.get()
        reasons, names_duplicate = self.offered(submission)
        self.assertEqual(reasons, ["already_cited", "does_not_support", "unreliable_source", "spam", "other"])
        self.assertFalse(names_duplicate)
        with self.assertRaisesMessage(services.TransitionError, "not a reason for this kind of proposal"):
            services.submission_reject(
                submission=submission, editor=self.editor, reason=Submission.Reason.OUT_OF_SCOPE
            )
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_reject(
                submission=submission, editor=self.editor, reason=Submission.Reason.UNRELIABLE_SOURCE
            )
        submission.refresh_from_db()
        self.assertEqual(submission.reason, "unreliable_source")

    def test_the_review_page_refuses_a_reason_that_does_not_fit_and_says_why(self):
        submission = self.report_new()
        self.client.force_login(self.editor)
        response = self.client.post(
            f"/moderation/{submission.pk}/reject/", {"reason": "already_cited"}, follow=True
        )
        self.assertContains(response, "is not a reason for this kind of proposal")
        submission.refresh_from_db()
        self.assertEqual(submission.state, Submission.State.PENDING)

    def test_a_bulk_rejection_refuses_those_the_reason_does_not_fit(self):
        report = self.report_new()
        change = self.propose(headline="Changed")
        result = services.submissions_reject(
            submissions=[report, change], editor=self.editor, reason=Submission.Reason.DUPLICATE
        )
        self.assertEqual([s.pk for s in result.done], [report.pk])
        self.assertEqual([s.pk for s, _ in result.failed], [change.pk])
