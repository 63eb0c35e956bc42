"""Figures on the queue: for editors with names, for everyone without."""

from datetime import UTC, datetime, timedelta
from unittest import mock

from django.core.cache import cache

from submissions import services
from submissions.models import Submission
from submissions.tests.base import SubmissionsTestCase

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


class QueueFiguresTests(SubmissionsTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()

        def report(headline, sent, decided=None, **decision):
            submission = services.submission_create(
                kind=Submission.Kind.NEW_INCIDENT,
                proposed={**cls.incident.current_revision.document, "headline": headline},
            )
            Submission.objects.filter(pk=submission.pk).update(created_at=sent)
            if decided is not None:
                Submission.objects.filter(pk=submission.pk).update(decided_at=decided, **decision)
            return submission

        # Waiting: 2 under a day, 1 of 3 days, 1 of 10 days, 1 of 40 days.
        for hours in (2, 20, 72, 240, 960):
            report(f"Waiting {hours}", NOW - timedelta(hours=hours))
        rejected = {"state": "rejected", "decided_by": cls.editor}
        # This week (from Monday 2 March): 3 decisions, after 2, 4 and 30 hours.
        report("A", NOW - timedelta(hours=26), NOW - timedelta(hours=24), **rejected, reason="spam")
        report("B", NOW - timedelta(hours=28), NOW - timedelta(hours=24), **rejected, reason="spam")
        report(
            "C",
            NOW - timedelta(hours=54),
            NOW - timedelta(hours=24),
            state="rejected",
            decided_by=cls.other_editor,
            reason="duplicate",
        )
        # The week before: 1 decision after 10 hours.
        report(
            "D", NOW - timedelta(days=8, hours=10), NOW - timedelta(days=8), **rejected, reason="out_of_scope"
        )
        # Long ago: outside the 12 weeks.
        report("E", NOW - timedelta(weeks=20, hours=1), NOW - timedelta(weeks=20), **rejected, reason="spam")

    def setUp(self):
        super().setUp()
        self.clock = mock.patch("django.utils.timezone.now", return_value=NOW)
        self.clock.start()
        self.addCleanup(self.clock.stop)

    def test_editors_see_every_figure(self):
        self.client.force_login(self.editor)
        response = self.client.get("/moderation/stats/")
        figures = response.context["figures"]
        self.assertEqual(
            figures["backlog"],
            [("Under a day", 2), ("1 to 7 days", 1), ("7 to 30 days", 1), ("Over 30 days", 1)],
        )
        self.assertEqual(figures["pending"], 5)
        self.assertEqual(
            figures["by_reason"],
            [
                ("Rejected: Spam", 2),
                ("Rejected: Duplicate of an existing incident", 1),
                ("Rejected: Out of scope", 1),
            ],
        )
        self.assertEqual(figures["by_editor"], [("edith", 0, 3), ("ezra", 0, 1)])
        self.assertEqual(figures["decided"], 4)
        self.assertEqual(figures["median_hours"], 7.0)  # of 2, 4, 10 and 30 hours
        weeks = [(w.start.isoformat(), w.rejected, w.median_hours) for w in figures["weeks"]]
        self.assertEqual(weeks, [("2026-03-02", 3, 4.0), ("2026-02-23", 1, 10.0)])
        self.assertContains(response, '<th scope="row">ezra</th>', html=False)

    def test_the_public_sees_the_same_counts_without_names(self):
        cache.clear()
        response = self.client.get("/transparency/")
        self.assertEqual(response.status_code, 200)
        figures = response.context["figures"]
        self.assertNotIn("by_editor", figures)
        self.assertEqual(figures["pending"], 5)
        self.assertEqual(figures["decided"], 4)
        html = response.content.decode()
        for private in ("edith", "ezra", "@example.org"):
            self.assertNotIn(private, html)
        self.assertIn("Rejected: Spam", html)
        self.assertIn('href="/transparency/"', self.client.get("/").content.decode())  # the footer

    def test_the_figures_cost_the_same_whatever_the_volume(self):
        self.client.force_login(self.editor)
        # session; user; user permissions; group permissions; backlog by age (one aggregate);
        # decisions by reason; per week; times to decision; changes asked per week; by editor;
        # the header's pending count
        with self.assertNumQueries(11):
            self.client.get("/moderation/stats/")
        for n in range(10):
            submission = services.submission_create(
                kind=Submission.Kind.NEW_INCIDENT,
                proposed={**self.incident.current_revision.document, "headline": f"More {n}"},
            )
            if n % 2:
                services.submission_reject(submission=submission, editor=self.other_editor, reason="spam")
        with self.assertNumQueries(11):
            self.client.get("/moderation/stats/")
        self.client.logout()
        with self.assertNumQueries(5):  # the five figures' queries, no session
            self.client.get("/transparency/")
