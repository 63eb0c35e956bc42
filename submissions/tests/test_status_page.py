"""The contributor's status page: a private link to copy, what was proposed, and after a
rejection as a duplicate, the incident it duplicates."""

from django.db import IntegrityError, transaction

from repository.tests.base import publish
from submissions import services
from submissions.models import ModerationEvent, Submission
from submissions.tests.base import SubmissionsTestCase
from submissions.tests.html import Page


class StatusPageTests(SubmissionsTestCase):
    def test_the_private_link_is_selectable_and_a_script_copies_it(self):
        submission = self.propose(headline="Changed")
        page = Page(self.client.get(submission.get_status_url() + "?sent=1").content.decode())
        [(_, link)] = page.find(id="private-link")
        self.assertEqual(link["value"], f"http://testserver/submissions/{submission.token}/")
        self.assertIn("readonly", link)
        [(_, button)] = page.find(**{"data-copy-target": "private-link"})
        self.assertIn("hidden", button)  # shown by the script; without it, the box alone
        self.assertEqual(len(page.find(src="/static/js/copy-link.js")), 1)
        self.assertEqual(page.dangling_describedby(), [])

    def test_it_shows_what_was_proposed_against_its_base(self):
        submission = self.propose(headline="Camera system flags Uyghurs to police", summary="")
        response = self.client.get(submission.get_status_url())
        self.assertContains(response, "What you proposed")
        self.assertContains(response, "<th>Published (base)</th>", html=True)
        self.assertContains(response, "Camera system flags an ethnic minority to police")  # base
        self.assertContains(response, "Camera system flags Uyghurs to police")  # proposed
        self.assertContains(response, "I know more.")  # the insight

    def test_a_new_report_shows_its_fields(self):
        submission = self.report_new()
        self.assertContains(self.client.get(submission.get_status_url()), "The robot stopped in the road.")

    def test_it_takes_a_fixed_number_of_queries(self):
        submission = self.propose(headline="Changed")
        url = submission.get_status_url()
        # 1 the submission with its incident, revisions and duplicate; 2 the vocabularies' labels.
        with self.assertNumQueries(2):
            self.client.get(url)


class DuplicateRejectionTests(SubmissionsTestCase):
    def test_an_editor_rejects_as_a_duplicate_of_an_incident_and_the_status_page_links_to_it(self):
        other = publish("The same story told again", slug="same-story")
        submission = self.report_new()
        self.client.force_login(self.editor)
        response = self.client.post(
            f"/moderation/{submission.pk}/reject/",
            {"reason": "duplicate", "duplicate_of": f"https://site.example/incidents/{other.slug}/"},
        )
        self.assertRedirects(response, "/moderation/")  # nothing else waits: back to the queue
        submission.refresh_from_db()
        self.assertEqual((submission.state, submission.duplicate_of), (Submission.State.REJECTED, other))
        event = submission.events.get(action=ModerationEvent.Action.REJECT)
        self.assertEqual(event.data, {"reason": "duplicate", "duplicate_of": other.number})
        self.client.logout()
        page = self.client.get(submission.get_status_url())
        self.assertContains(
            page, f'<a href="/incidents/{other.slug}/">The same story told again</a>', html=True
        )

    def test_naming_an_incident_for_another_reason_is_refused(self):
        submission = self.report_new()
        self.client.force_login(self.editor)
        response = self.client.post(
            f"/moderation/{submission.pk}/reject/",
            {"reason": "spam", "duplicate_of": str(self.incident.number)},
            follow=True,
        )
        self.assertContains(response, "Name an incident only when rejecting as a duplicate.")
        submission.refresh_from_db()
        self.assertEqual(submission.state, Submission.State.PENDING)

    def test_an_unknown_incident_is_refused(self):
        submission = self.report_new()
        self.client.force_login(self.editor)
        response = self.client.post(
            f"/moderation/{submission.pk}/reject/",
            {"reason": "duplicate", "duplicate_of": "99999"},
            follow=True,
        )
        self.assertContains(response, "No incident has the number or address")
        submission.refresh_from_db()
        self.assertEqual(submission.state, Submission.State.PENDING)

    def test_the_service_refuses_a_duplicate_for_another_reason(self):
        submission = self.report_new()
        with self.assertRaises(services.TransitionError):
            services.submission_reject(
                submission=submission, editor=self.editor, reason="spam", duplicate_of=self.incident
            )

    def test_the_database_keeps_duplicate_of_to_duplicate_rejections(self):
        submission = self.report_new()
        with self.assertRaises(IntegrityError), transaction.atomic():
            Submission.objects.filter(pk=submission.pk).update(duplicate_of=self.incident)
