"""An editor sends a proposal back with a note; the contributor revises it; it returns."""

from datetime import timedelta

from django.conf import settings
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from submissions import services, tasks
from submissions.models import ModerationEvent, Notification, Submission
from submissions.tests.base import SubmissionsTestCase, form_data


class NeedsChangesTests(SubmissionsTestCase):
    def setUp(self):
        super().setUp()
        self.submission = self.propose(headline="Cameras flag uyghurs", summary="Short.")

    def ask(self, note="Please add a source for the police alerts."):
        return services.submission_ask_changes(submission=self.submission, editor=self.editor, note=note)

    def test_the_editor_sends_it_back_with_a_note(self):
        self.client.force_login(self.editor)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                f"/moderation/{self.submission.pk}/ask-changes/",
                {"note": "Please add a source for the police alerts.", "next": "/moderation/"},
                follow=True,
            )
        self.assertContains(response, "Sent back to the contributor for changes.")
        self.assertContains(response, "Nothing else waits in this view of the queue.")
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.state, Submission.State.NEEDS_CHANGES)
        self.assertEqual(self.submission.decision_note, "Please add a source for the police alerts.")
        self.assertIsNotNone(self.submission.changes_asked_at)
        event = self.submission.events.last()
        self.assertEqual(
            (event.action, event.actor, event.from_state, event.to_state, event.note),
            (
                "ask_changes",
                self.editor,
                "pending",
                "needs_changes",
                "Please add a source for the police alerts.",
            ),
        )
        # The contributor left an address: one email, through the outbox.
        notification = Notification.objects.get(kind=Notification.Kind.CHANGES)
        self.assertEqual(notification.recipient, "rita@example.org")
        sent = [m for m in mail.outbox if m.to == ["rita@example.org"]]
        self.assertEqual(len(sent), 1)
        self.assertIn("asks for changes", sent[0].subject)
        self.assertIn("Please add a source for the police alerts.", sent[0].body)
        self.assertIn(settings.SITE_URL + self.submission.get_status_url(), sent[0].body)
        # It leaves the pending queue; editors find it under its own state.
        queue = self.client.get("/moderation/")
        self.assertNotIn(self.submission, queue.context["page"].object_list)
        sent_back = self.client.get("/moderation/?state=needs_changes")
        self.assertEqual(list(sent_back.context["page"].object_list), [self.submission])

    def test_no_email_without_an_address_and_no_request_without_a_note(self):
        report = self.report_new()
        report.email = ""
        report.save(update_fields=["email"])
        with self.assertRaisesMessage(services.TransitionError, "Say what should change"):
            services.submission_ask_changes(submission=report, editor=self.editor, note="  ")
        services.submission_ask_changes(submission=report, editor=self.editor, note="Which city?")
        self.assertFalse(Notification.objects.filter(kind=Notification.Kind.CHANGES).exists())

    def test_only_a_pending_unheld_proposal_is_sent_back(self):
        services.submission_claim(submission=self.submission, editor=self.other_editor)
        with self.assertRaisesMessage(services.TransitionError, "ezra has claimed this submission"):
            self.ask()
        services.submission_release(submission=self.submission, editor=self.other_editor)
        self.ask()
        with self.assertRaisesMessage(services.TransitionError, "sent back to its contributor for changes"):
            services.submission_approve(submission=self.submission, editor=self.editor)
        with self.assertRaisesMessage(services.TransitionError, "sent back to its contributor for changes"):
            self.ask()

    def test_the_status_page_shows_the_note_and_a_revision_form(self):
        self.ask()
        response = self.client.get(self.submission.get_status_url())
        self.assertContains(response, "An editor asks for changes")
        self.assertContains(response, "Please add a source for the police alerts.")
        self.assertContains(response, 'value="resubmit"')
        self.assertContains(response, 'value="Cameras flag uyghurs"')  # the proposal, to revise
        self.assertNotContains(response, "edith")  # no editor's name

    def revise(self, **changes):
        page = self.client.get(self.submission.get_status_url())
        data = {**form_data(page.context["form"]), "action": "resubmit", **changes}
        return self.client.post(self.submission.get_status_url(), data, follow=True)

    def test_the_contributor_revises_and_it_returns_to_the_queue(self):
        self.ask()
        token = self.submission.token
        response = self.revise(
            headline="Cameras flag Uyghurs",
            ref_url_1="https://news.example.org/alerts",
            ref_title_1="Police alerts",
            insight="Added the source.",
        )
        self.assertContains(response, "your revision is with the editors again")
        self.submission.refresh_from_db()
        self.assertEqual((self.submission.state, self.submission.token), ("pending", token))
        self.assertEqual(self.submission.proposed["headline"], "Cameras flag Uyghurs")
        self.assertEqual(self.submission.insight, "Added the source.")
        self.assertEqual(self.submission.decision_note, "")
        version = self.submission.versions.get()
        self.assertEqual((version.number, version.proposed["headline"]), (1, "Cameras flag uyghurs"))
        self.assertEqual(version.insight, "I know more.")
        event = self.submission.events.last()
        self.assertEqual(
            (event.action, event.actor, event.from_state, event.to_state, event.data),
            ("resubmit", None, "needs_changes", "pending", {"version": 2}),
        )
        # The editor sees what changed between the two versions, then approves.
        self.client.force_login(self.editor)
        review = self.client.get(f"/moderation/{self.submission.pk}/")
        changes = {change.path: change for change in review.context["version_changes"]}
        self.assertEqual(set(changes), {"headline", "references.news"})
        self.assertEqual(
            (changes["headline"].old, changes["headline"].new),
            ("Cameras flag uyghurs", "Cameras flag Uyghurs"),
        )
        self.assertContains(review, "Revised: version 2")
        self.assertEqual(list(self.client.get("/moderation/").context["page"].object_list), [self.submission])
        services.submission_approve(submission=self.submission, editor=self.editor)
        self.incident.refresh_from_db()
        self.assertEqual(self.incident.headline, "Cameras flag Uyghurs")

    def test_add_another_on_the_revision_sends_nothing(self):
        self.ask()
        for button in ({"more_values": "terms_country"}, {"more_rows": "1", "reference_rows": "1"}):
            with self.subTest(button=button):
                response = self.revise(headline="Cameras flag Uyghurs", **button)
                self.assertNotContains(response, "your revision is with the editors again")
                self.assertContains(response, 'value="Cameras flag Uyghurs"')  # as typed
                self.submission.refresh_from_db()
                self.assertEqual(self.submission.state, "needs_changes")
        self.assertEqual(response.context["form"].reference_rows, 2)

    def test_a_second_request_and_revision_keep_every_version(self):
        self.ask()
        self.revise(headline="Second try")
        self.ask("The headline should name the city.")
        self.revise(headline="Third try in Urumqi")
        self.assertEqual(
            list(self.submission.versions.values_list("number", "proposed__headline")),
            [(1, "Cameras flag uyghurs"), (2, "Second try")],
        )
        self.assertEqual(Notification.objects.filter(kind=Notification.Kind.CHANGES).count(), 2)

    def test_a_pending_proposal_cannot_be_revised(self):
        response = self.client.post(
            self.submission.get_status_url(), {"action": "resubmit", "headline": "Sneaky"}, follow=True
        )
        self.assertContains(response, "It can no longer be revised.")
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.proposed["headline"], "Cameras flag uyghurs")
        with self.assertRaisesMessage(
            services.TransitionError, "It can no longer be revised: it is pending review"
        ):
            services.submission_resubmit(submission=self.submission, proposed=self.submission.proposed)

    def test_it_expires_when_no_revision_comes(self):
        self.ask()
        asked = Submission.objects.get().changes_asked_at
        self.assertEqual(services.submissions_expire_changes(now=asked + timedelta(days=29)), 0)
        with override_settings(NEEDS_CHANGES_EXPIRE_DAYS=10):
            self.assertEqual(services.submissions_expire_changes(now=asked + timedelta(days=11)), 1)
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.state, Submission.State.EXPIRED)
        event = self.submission.events.last()
        self.assertEqual(
            (event.action, event.actor, event.from_state, event.to_state),
            (ModerationEvent.Action.EXPIRE, None, "needs_changes", "expired"),
        )
        self.assertEqual(services.submissions_expire_changes(now=asked + timedelta(days=40)), 0)  # once
        response = self.client.get(self.submission.get_status_url())
        self.assertContains(response, "none came in time, so it expired")
        self.assertNotContains(response, 'value="resubmit"')

    def test_the_periodic_task_expires_what_is_due(self):
        self.ask()
        Submission.objects.update(changes_asked_at=timezone.now() - timedelta(days=31))
        self.assertEqual(tasks.expire_needs_changes(), 1)
        self.assertEqual(Submission.objects.get().state, Submission.State.EXPIRED)
        schedule = settings.CELERY_BEAT_SCHEDULE["needs-changes-expiry"]
        self.assertEqual(schedule["task"], "submissions.tasks.expire_needs_changes")
