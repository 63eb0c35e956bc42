"""The queue that scales: claims that expire, the next item, bulk actions, figures."""

from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlencode

from django.test import override_settings

from submissions import services
from submissions.models import ModerationEvent
from submissions.tests.base import SubmissionsTestCase

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def clock(at):
    """Move the clock every service, model field and page reads to `at`."""
    return mock.patch("django.utils.timezone.now", return_value=at)


class ClaimExpiryTests(SubmissionsTestCase):
    def claimed(self):
        with clock(T0 - timedelta(minutes=5)):
            submission = self.propose(headline="Changed")
        with clock(T0):
            services.submission_claim(submission=submission, editor=self.editor)
        return submission

    def test_a_claim_blocks_others_until_it_expires(self):
        submission = self.claimed()
        with clock(T0 + timedelta(minutes=59)):
            with self.assertRaisesMessage(services.TransitionError, "edith has claimed this submission"):
                services.submission_claim(submission=submission, editor=self.other_editor)
            with self.assertRaisesMessage(services.TransitionError, "edith has claimed this submission"):
                services.submission_reject(submission=submission, editor=self.other_editor, reason="spam")
        with clock(T0 + timedelta(minutes=61)):
            services.submission_claim(submission=submission, editor=self.other_editor)
        submission.refresh_from_db()
        self.assertEqual(
            (submission.claimed_by, submission.claimed_at), (self.other_editor, T0 + timedelta(minutes=61))
        )
        takeover = submission.events.filter(action=ModerationEvent.Action.CLAIM).last()
        self.assertEqual(takeover.actor, self.other_editor)
        self.assertEqual(takeover.note, "Took over edith's expired claim.")
        self.assertEqual(takeover.data["took_over_from"], "edith")

    @override_settings(CLAIM_EXPIRES_MINUTES=5)
    def test_the_expiry_is_a_setting(self):
        submission = self.claimed()
        with clock(T0 + timedelta(minutes=6)):
            services.submission_claim(submission=submission, editor=self.other_editor)
        submission.refresh_from_db()
        self.assertEqual(submission.claimed_by, self.other_editor)

    def test_deciding_over_an_expired_claim_records_the_takeover(self):
        submission = self.claimed()
        with clock(T0 + timedelta(hours=2)):
            services.submission_reject(submission=submission, editor=self.other_editor, reason="spam")
        submission.refresh_from_db()
        self.assertEqual(
            (submission.state, submission.decided_by, submission.claimed_by),
            ("rejected", self.other_editor, None),
        )
        self.assertEqual(
            list(submission.events.values_list("action", "actor__username", "note")),
            [
                ("submit", None, ""),
                ("claim", "edith", ""),
                ("claim", "ezra", "Took over edith's expired claim."),
                ("reject", "ezra", ""),
            ],
        )

    def test_an_expired_claim_is_released_for_others_not_by_them(self):
        submission = self.claimed()
        with clock(T0 + timedelta(hours=2)):
            with self.assertRaisesMessage(services.TransitionError, "not claimed: edith's claim expired"):
                services.submission_release(submission=submission, editor=self.other_editor)
            services.submission_claim(submission=submission, editor=self.editor)  # its editor claims again
        submission.refresh_from_db()
        self.assertEqual(submission.claimed_at, T0 + timedelta(hours=2))
        self.assertEqual(submission.events.filter(action="claim").exclude(note="").count(), 0)

    def test_the_queue_shows_when_each_claim_expires(self):
        submission = self.claimed()
        with clock(T0):
            unclaimed = self.propose(headline="Another")
        self.client.force_login(self.other_editor)
        with clock(T0 + timedelta(minutes=10)):
            response = self.client.get("/moderation/")
            self.assertContains(
                response, 'edith, <span class="claim-expires">until 2 Mar 10:00</span>', html=False
            )
            others = self.client.get("/moderation/?claimed=others")
            self.assertEqual([s.pk for s in others.context["page"].object_list], [submission.pk])
            free = self.client.get("/moderation/?claimed=unclaimed")
            self.assertEqual([s.pk for s in free.context["page"].object_list], [unclaimed.pk])
            review = self.client.get(f"/moderation/{submission.pk}/")
            self.assertContains(review, "the claim expires at 2 March 10:00")
            self.assertNotContains(review, "Reject because")
        with clock(T0 + timedelta(minutes=70)):
            response = self.client.get("/moderation/")
            self.assertContains(
                response, 'edith, <span class="claim-expired">expired 2 Mar 10:00</span>', html=False
            )
            free = self.client.get("/moderation/?claimed=unclaimed")
            self.assertEqual([s.pk for s in free.context["page"].object_list], [submission.pk, unclaimed.pk])
            self.assertFalse(self.client.get("/moderation/?claimed=others").context["page"].object_list)
            review = self.client.get(f"/moderation/{submission.pk}/")
            self.assertContains(review, "edith's claim expired at 2 March 10:00: you may take it over.")
            self.assertContains(review, "Take it over")
            self.assertContains(review, "Reject because")


class NextItemTests(SubmissionsTestCase):
    """After any decision the editor lands on the next pending item of the queue's filter."""

    def setUp(self):
        super().setUp()
        self.client.force_login(self.editor)
        self.first = self.propose(headline="First")
        self.report = self.report_new(headline="A report")
        self.second = self.propose(headline="Second")
        self.third = self.propose(headline="Third")

    def review_url(self, submission, queue="/moderation/?kind=improvement"):
        return f"/moderation/{submission.pk}/?{urlencode({'next': queue})}"

    def test_the_queue_links_carry_its_filter_to_the_review_page(self):
        response = self.client.get("/moderation/?kind=improvement&page=1")
        self.assertContains(response, f'href="{self.review_url(self.first)}"')
        review = self.client.get(self.review_url(self.first))
        self.assertContains(review, '<input type="hidden" name="next" value="/moderation/?kind=improvement">')

    def test_decisions_go_on_in_queue_order_within_the_filter(self):
        queue = "/moderation/?kind=improvement"
        response = self.client.post(f"/moderation/{self.first.pk}/reject/", {"reason": "spam", "next": queue})
        self.assertRedirects(response, self.review_url(self.second), fetch_redirect_response=False)
        response = self.client.post(f"/moderation/{self.second.pk}/approve/", {"next": queue})
        self.assertRedirects(response, self.review_url(self.third), fetch_redirect_response=False)
        response = self.client.post(
            f"/moderation/{self.third.pk}/reject/", {"reason": "duplicate", "next": queue}, follow=True
        )
        self.assertRedirects(response, queue)  # the report waits, but not in this filter
        self.assertContains(response, "Nothing else waits in this view of the queue.")

    def test_a_release_goes_on_to_the_next_and_wraps_around(self):
        services.submission_claim(submission=self.third, editor=self.editor)
        response = self.client.post(f"/moderation/{self.third.pk}/release/", {"next": "/moderation/"})
        self.assertRedirects(
            response, self.review_url(self.first, "/moderation/"), fetch_redirect_response=False
        )

    def test_items_another_editor_holds_are_skipped(self):
        services.submission_claim(submission=self.second, editor=self.other_editor)
        response = self.client.post(
            f"/moderation/{self.first.pk}/reject/",
            {"reason": "spam", "next": "/moderation/?kind=improvement"},
        )
        self.assertRedirects(response, self.review_url(self.third), fetch_redirect_response=False)

    def test_without_a_filter_the_whole_pending_queue_is_next(self):
        response = self.client.post(f"/moderation/{self.first.pk}/reject/", {"reason": "spam"})
        self.assertRedirects(
            response, self.review_url(self.report, "/moderation/"), fetch_redirect_response=False
        )

    def test_next_only_ever_leads_to_the_queue(self):
        for hostile in (
            "https://evil.example.org/moderation/",
            "//evil.example.org/moderation/",
            "/accounts/logout/",
            "/moderation/1/",
            "/\\evil.example.org/moderation/",
            "javascript:alert(1)",
        ):
            with self.subTest(next=hostile):
                submission = self.propose(headline=f"Try {hostile}")
                response = self.client.post(
                    f"/moderation/{submission.pk}/reject/", {"reason": "spam", "next": hostile}
                )
                self.assertEqual(response.status_code, 302)
                self.assertTrue(response["Location"].startswith("/moderation/"), response["Location"])
                self.assertIn("next=%2Fmoderation%2F&", response["Location"] + "&")

    def test_a_failed_decision_stays_on_the_review_page_with_the_filter(self):
        services.submission_claim(submission=self.first, editor=self.other_editor)
        queue = "/moderation/?kind=improvement"
        response = self.client.post(f"/moderation/{self.first.pk}/reject/", {"reason": "spam", "next": queue})
        self.assertRedirects(response, self.review_url(self.first), fetch_redirect_response=False)
