import contextlib
import socket
import time
from datetime import timedelta
from unittest import mock

from django.core import mail
from django.test import override_settings
from django.utils import timezone

from repository.models import Reference, SourceMetadata
from submissions import notifications, services, tasks
from submissions.models import EditorProfile, Notification, Submission
from submissions.tests.base import SubmissionsTestCase


@contextlib.contextmanager
def broker_at(url):
    """Publish to this broker instead of running tasks in-process, for a while."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager, app.conf.broker_url = False, url
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved


class OutboxTests(SubmissionsTestCase):
    def test_a_submission_writes_a_notification_for_each_editor_in_its_transaction(self):
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            submission = self.propose(headline="Changed")
        rows = Notification.objects.filter(kind=Notification.Kind.RECEIVED).order_by("recipient")
        self.assertEqual([row.recipient for row in rows], ["edith@example.org", "ezra@example.org"])
        self.assertTrue(all(row.submission == submission and row.sent_at is None for row in rows))
        self.assertEqual(mail.outbox, [])  # nothing goes out before the commit
        self.assertGreaterEqual(len(callbacks), 1)

    def test_after_commit_the_task_sends_each_once_in_text_and_html(self):
        with self.captureOnCommitCallbacks(execute=True):
            submission = self.propose(headline="Changed")
        self.assertEqual(len(mail.outbox), 2)
        message = mail.outbox[0]
        self.assertIn(f"#{submission.pk}", message.subject)
        self.assertIn("[AI Incident Repository]", message.subject)
        self.assertIn(f"http://127.0.0.1:8000/moderation/{submission.pk}/", message.body)
        self.assertEqual(message.alternatives[0][1], "text/html")
        self.assertIn("Review it", message.alternatives[0][0])
        self.assertTrue(all(row.sent_at for row in Notification.objects.all()))

    def test_sending_twice_emails_once(self):
        with self.captureOnCommitCallbacks(execute=False):
            self.propose(headline="Changed")
        notification = Notification.objects.first()
        self.assertTrue(tasks.send_notification.delay(notification.pk).result)
        self.assertFalse(tasks.send_notification.delay(notification.pk).result)
        self.assertEqual(notifications.notifications_requeue(now=timezone.now() + timedelta(hours=1)), 1)
        self.assertEqual(len(mail.outbox), 2)  # this one, and the other editor's by the re-queue
        notification.refresh_from_db()
        self.assertEqual(notification.attempts, 1)

    def test_editors_who_chose_the_digest_or_nothing_get_no_email_per_submission(self):
        EditorProfile.objects.create(user=self.editor, notify=EditorProfile.Notify.DIGEST)
        EditorProfile.objects.create(user=self.other_editor, notify=EditorProfile.Notify.NONE)
        with self.captureOnCommitCallbacks(execute=True):
            self.propose(headline="Changed")
        self.assertEqual(mail.outbox, [])

    def test_the_daily_digest_goes_once_a_day_to_those_who_chose_it(self):
        EditorProfile.objects.create(user=self.editor, notify=EditorProfile.Notify.DIGEST)
        self.assertEqual(notifications.digests_create(), [])  # nothing waits: no email
        with self.captureOnCommitCallbacks(execute=False):
            self.propose(headline="Waiting one")
            self.report_new()
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            tasks.send_digests.delay()
            tasks.send_digests.delay()
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, ["edith@example.org"])
        self.assertIn("2 submissions waiting", mail.outbox[0].subject)
        self.assertIn("Delivery robot blocks an ambulance", mail.outbox[0].body)

    def test_the_contributor_hears_of_the_decision_with_the_status_link(self):
        submission = self.propose(headline="Changed")
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_reject(
                submission=submission,
                editor=self.editor,
                reason=Submission.Reason.OUT_OF_SCOPE,
                note="See the other.",
            )
        [message] = [m for m in mail.outbox if m.to == ["rita@example.org"]]
        self.assertIn("was not accepted", message.subject)
        self.assertIn("Out of scope", message.body)
        self.assertIn("See the other.", message.body)
        self.assertIn(f"http://127.0.0.1:8000/submissions/{submission.token}/", message.body)

    def test_an_approval_is_announced_too_and_no_email_means_no_notification(self):
        approved = self.propose(headline="Changed")
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_approve(submission=approved, editor=self.editor)
        self.assertTrue(any("was published" in m.subject for m in mail.outbox))
        anonymous = self.report_new()
        anonymous.email = ""
        anonymous.save(update_fields=["email"])
        services.submission_approve(submission=anonymous, editor=self.editor)
        self.assertFalse(Notification.objects.filter(kind="decision", submission=anonymous).exists())

    def test_a_failed_send_is_recorded_and_raised_for_the_retry(self):
        with self.captureOnCommitCallbacks(execute=False):
            self.propose(headline="Changed")
        notification = Notification.objects.first()
        with (
            mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("SMTP down")),
            self.assertRaises(OSError),
        ):
            notifications.notification_send(notification_id=notification.pk)
        notification.refresh_from_db()
        self.assertIsNone(notification.sent_at)
        self.assertEqual((notification.attempts, notification.last_error), (1, "OSError: SMTP down"))
        self.assertTrue(notifications.notification_send(notification_id=notification.pk))

    @override_settings(NOTIFICATION_REQUEUE_AFTER=300)
    def test_the_requeue_takes_only_what_is_unsent_and_old_enough(self):
        with self.captureOnCommitCallbacks(execute=False):
            self.propose(headline="Changed")
        now = timezone.now()
        with mock.patch.object(
            notifications, "enqueue_many", side_effect=lambda task, calls: len(calls)
        ) as enqueue:
            self.assertEqual(notifications.notifications_requeue(now=now), 0)  # just written
            self.assertEqual(notifications.notifications_requeue(now=now + timedelta(minutes=6)), 2)
        self.assertEqual(len(enqueue.call_args.args[1]), 2)

    def test_a_broker_that_is_down_does_not_fail_the_submission(self):
        from config.celery import broker_backoff_reset

        self.addCleanup(broker_backoff_reset)
        with (
            broker_at("redis://127.0.0.1:1/0"),
            self.captureOnCommitCallbacks(execute=True),
        ):
            started = time.monotonic()
            submission = self.propose(headline="Changed")
            elapsed = time.monotonic() - started
        self.assertLess(elapsed, 2)
        self.assertEqual(submission.state, Submission.State.PENDING)
        self.assertEqual(Notification.objects.filter(sent_at__isnull=True, queued_at__isnull=True).count(), 2)
        self.assertEqual(mail.outbox, [])

    def test_a_broker_that_accepts_but_never_answers_does_not_hold_the_submission(self):
        from config.celery import broker_backoff_reset

        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel accepts connections; nobody ever answers
        self.addCleanup(silent.close)
        self.addCleanup(broker_backoff_reset)
        services.editor_create(username="third", email="third@example.org", password=None)
        document = self.incident.current_revision.document
        references = {**document["references"], "research": [{"url": "https://research.example.org/r"}]}
        broker = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        with (
            broker_at(broker),
            self.captureOnCommitCallbacks(execute=True),
        ):
            started = time.monotonic()
            self.propose(headline="Changed", references=references)
            elapsed = time.monotonic() - started
        self.assertLess(elapsed, 2)
        self.assertEqual(Notification.objects.filter(queued_at__isnull=True).count(), 3)


class RetentionTests(SubmissionsTestCase):
    @override_settings(SUBMISSION_EMAIL_RETENTION_DAYS=30)
    def test_emails_are_scrubbed_after_retention_and_the_trail_stays(self):
        decided = self.propose(headline="Decided long ago")
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_reject(submission=decided, editor=self.editor, reason=Submission.Reason.SPAM)
        recent = self.propose(headline="Decided today")
        services.submission_reject(submission=recent, editor=self.editor, reason=Submission.Reason.SPAM)
        pending = self.propose(headline="Still pending")
        Submission.objects.filter(pk=decided.pk).update(decided_at=timezone.now() - timedelta(days=31))
        self.assertEqual(tasks.scrub_personal_data.delay().result, 1)
        decided.refresh_from_db()
        self.assertEqual(decided.email, "")
        self.assertIsNotNone(decided.email_scrubbed_at)
        self.assertEqual(decided.events.count(), 2)  # submitted, rejected: kept
        self.assertEqual(decided.name, "Rita")
        self.assertFalse(
            Notification.objects.filter(submission=decided, kind="decision").exclude(recipient="").exists()
        )
        for other in (recent, pending):
            other.refresh_from_db()
            self.assertEqual(other.email, "rita@example.org")
        self.assertEqual(notifications.personal_data_scrub(), 0)  # running again changes nothing


class SourceMetadataTests(SubmissionsTestCase):
    def test_web_addresses_a_proposal_adds_are_looked_up_after_commit(self):
        document = self.incident.current_revision.document
        references = {**document["references"], "research": [{"url": "https://research.example.org/new"}]}
        from repository import tasks as repository_tasks

        with (
            mock.patch.object(repository_tasks.source_metadata_fetch, "apply_async") as fetch,
            self.captureOnCommitCallbacks(execute=True),
        ):
            self.propose(references=references)
        row = SourceMetadata.objects.get()
        self.assertEqual(
            row.url, "https://research.example.org/new"
        )  # the one already cited is not looked up
        self.assertEqual(fetch.call_args.kwargs["args"], (row.pk,))

    def test_the_review_page_shows_what_was_fetched_and_fills_it_in(self):
        document = self.incident.current_revision.document
        references = {**document["references"], "research": [{"url": "https://research.example.org/new"}]}
        submission = self.propose(references=references)
        SourceMetadata.objects.filter(url="https://research.example.org/new").update(
            status="fetched", title="The new study", publisher="Research Lab", published="2024-05"
        )
        self.client.force_login(self.editor)
        response = self.client.get(f"/moderation/{submission.pk}/")
        self.assertContains(response, "The new study")
        self.assertContains(response, "Research Lab")
        response = self.client.post(f"/moderation/{submission.pk}/fill-metadata/", follow=True)
        self.assertContains(response, "Filled in what was fetched.")
        submission.refresh_from_db()
        [reference] = submission.proposed["references"]["research"]
        self.assertEqual(
            (reference["title"], reference["publisher"], reference["published"]),
            ("The new study", "Research Lab", "2024-05"),
        )
        self.assertTrue(submission.events.filter(action="edit").exists())


class EditorPagesTests(SubmissionsTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.editor)

    def test_an_editor_chooses_how_to_hear_of_submissions(self):
        response = self.client.get("/moderation/settings/")
        self.assertContains(response, "A daily digest of the queue")
        self.client.post("/moderation/settings/", {"notify": "digest"})
        self.assertEqual(EditorProfile.objects.get(user=self.editor).notify, "digest")

    def test_looking_at_the_settings_writes_nothing(self):
        response = self.client.get("/moderation/settings/")
        self.assertContains(response, "An email for every submission")
        self.assertFalse(EditorProfile.objects.filter(user=self.editor).exists())

    def test_broken_links_are_listed_for_editors_and_marked_on_the_incident_page(self):
        Reference.objects.update(
            checked_at=timezone.now(), status_code=404, final_url="https://news.example.org/a"
        )
        response = self.client.get("/moderation/links/")
        self.assertContains(response, "HTTP 404")
        self.assertContains(response, "Paper reports the alerts")
        self.assertContains(self.client.get(self.incident.get_absolute_url()), "broken link (HTTP 404)")
        self.client.logout()
        self.assertNotContains(self.client.get(self.incident.get_absolute_url()), "broken link")

    def test_a_healthy_link_is_not_listed(self):
        Reference.objects.update(checked_at=timezone.now(), status_code=200)
        self.assertContains(self.client.get("/moderation/links/"), "No broken links")

    def test_the_broken_links_page_costs_the_same_whatever_its_length(self):
        # session; user; user permissions; group permissions; count; page; header count
        Reference.objects.update(checked_at=timezone.now(), status_code=500)
        with self.assertNumQueries(7):
            self.client.get("/moderation/links/")
        from repository.tests.base import publish

        for n in range(5):
            publish(f"Another {n}", references={"news": [{"url": f"https://x.example.org/{n}"}]})
        Reference.objects.update(checked_at=timezone.now(), status_code=500)
        with self.assertNumQueries(7):
            self.client.get("/moderation/links/")
