"""The queue that scales: claims that expire, the next item, bulk actions, figures."""

from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlencode

from django.test import override_settings

from submissions import services
from submissions.models import ModerationEvent, Submission
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
            f"/moderation/{self.third.pk}/reject/", {"reason": "out_of_scope", "next": queue}, follow=True
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


class BulkActionTests(SubmissionsTestCase):
    """Select many in the queue, then reject them for one reason or release them."""

    def setUp(self):
        super().setUp()
        self.client.force_login(self.editor)
        self.spam = [self.report_new(headline=f"Cheap watches {n}") for n in range(3)]

    def post(self, ids, **data):
        return self.client.post(
            "/moderation/bulk/", {"ids": [str(pk) for pk in ids], "next": "/moderation/?kind=new", **data}
        )

    def test_the_queue_offers_a_checkbox_per_pending_row(self):
        response = self.client.get("/moderation/")
        for submission in self.spam:
            self.assertContains(response, f'<input type="checkbox" name="ids" value="{submission.pk}"')
        self.assertContains(response, "Reject selected")
        self.assertContains(response, "Release selected")

    def test_reject_selected_with_one_reason_and_note(self):
        with self.captureOnCommitCallbacks(execute=False) as queued:
            response = self.post(
                [s.pk for s in self.spam], action="reject", reason="spam", note="Advertising."
            )
        self.assertRedirects(response, "/moderation/?kind=new", fetch_redirect_response=False)
        for submission in self.spam:
            submission.refresh_from_db()
            self.assertEqual(
                (submission.state, submission.reason, submission.decision_note, submission.decided_by),
                ("rejected", "spam", "Advertising.", self.editor),
            )
            event = submission.events.last()
            self.assertEqual(
                (event.action, event.actor, event.data), ("reject", self.editor, {"reason": "spam"})
            )
            self.assertTrue(submission.notifications.filter(kind="decision").exists())
        self.assertEqual(len(queued), 3)  # one decision email each, after commit
        messages = [str(m) for m in response.wsgi_request._messages]
        self.assertEqual(messages, [f"Rejected {', '.join(f'#{s.pk}' for s in self.spam)}."])

    def test_a_partial_failure_names_the_ones_that_failed_and_why(self):
        decided, claimed, free = self.spam
        services.submission_approve(submission=decided, editor=self.other_editor)
        services.submission_claim(submission=claimed, editor=self.other_editor)
        response = self.post(
            [decided.pk, claimed.pk, free.pk, 999999], action="reject", reason="out_of_scope"
        )
        messages = [str(m) for m in response.wsgi_request._messages]
        self.assertEqual(
            messages,
            [
                f"Rejected #{free.pk}.",
                f"Not rejected: #{decided.pk}: This submission is already approved (by ezra).",
                f"Not rejected: #{claimed.pk}: ezra has claimed this submission.",
                "Not found: #999999.",
            ],
        )
        states = dict(Submission.objects.filter(pk__in=[s.pk for s in self.spam]).values_list("pk", "state"))
        self.assertEqual(states, {decided.pk: "approved", claimed.pk: "pending", free.pk: "rejected"})
        self.assertFalse(claimed.events.filter(action="reject").exists())

    def test_release_selected_releases_ones_own_claims(self):
        mine, theirs, unclaimed = self.spam
        services.submission_claim(submission=mine, editor=self.editor)
        services.submission_claim(submission=theirs, editor=self.other_editor)
        response = self.post([mine.pk, theirs.pk, unclaimed.pk], action="release")
        messages = [str(m) for m in response.wsgi_request._messages]
        self.assertEqual(
            messages,
            [
                f"Released #{mine.pk}.",
                f"Not released: #{theirs.pk}: Only ezra, who claimed it, can release it.",
                f"Not released: #{unclaimed.pk}: This submission is not claimed.",
            ],
        )
        claims = dict(
            Submission.objects.filter(pk__in=[s.pk for s in self.spam]).values_list("pk", "claimed_by")
        )
        self.assertEqual(claims, {mine.pk: None, theirs.pk: self.other_editor.pk, unclaimed.pk: None})
        self.assertEqual(mine.events.last().action, "release")

    def test_a_rejection_needs_a_reason_and_a_selection(self):
        for data, message in (
            ({"ids": [self.spam[0].pk], "action": "reject"}, "Choose a reason for the rejection."),
            ({"action": "reject", "reason": "spam"}, "Select some submissions first."),
            ({"ids": ["1x"], "action": "release"}, "Unknown submission."),
        ):
            with self.subTest(data=data):
                response = self.client.post("/moderation/bulk/", data)
                self.assertRedirects(response, "/moderation/", fetch_redirect_response=False)
                self.assertIn(message, [str(m) for m in response.wsgi_request._messages])
        self.assertFalse(Submission.objects.exclude(state="pending").exists())

    def test_the_cost_is_the_same_for_each_item(self):
        # Around the items: the session, the user, the user's and the group's permissions, the
        # rows selected (5). Each rejection (10): a savepoint; the claim as it was; the
        # conditional update; the row again; the event; the decision email looked up, then
        # written in its own savepoint (3); both savepoints released.
        with self.assertNumQueries(5 + 10):
            self.post([self.spam[0].pk], action="reject", reason="spam")
        with self.assertNumQueries(5 + 2 * 10):
            self.post([self.spam[1].pk, self.spam[2].pk], action="reject", reason="spam")


class ConflictViewTests(SubmissionsTestCase):
    """The incident changed since the proposal: the three-way view keeps every way out."""

    def setUp(self):
        super().setUp()
        from repository.services import incident_publish

        self.submission = self.propose(headline="Proposed headline", occurred="2021-03")
        current = {**self.incident.current_revision.document, "occurred": "2021-04"}
        incident_publish(document=current, incident=self.incident)
        self.client.force_login(self.editor)

    def test_reject_and_edit_are_offered_beside_the_choices(self):
        response = self.client.get(f"/moderation/{self.submission.pk}/")
        self.assertContains(response, f'action="/moderation/{self.submission.pk}/resolve/"')
        self.assertContains(response, f'action="/moderation/{self.submission.pk}/reject/"')
        self.assertContains(response, f'href="/moderation/{self.submission.pk}/edit/"')
        self.assertNotContains(response, "Approve as proposed")
        response = self.client.post(f"/moderation/{self.submission.pk}/reject/", {"reason": "other"})
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.state, "rejected")

    def test_each_fields_choices_are_one_labelled_group(self):
        html = self.client.get(f"/moderation/{self.submission.pk}/").content.decode()
        self.assertInHTML("<legend>Occurred <strong>(conflict: changed by both)</strong></legend>", html)
        # Only the conflict has choices; the headline, changed by the proposal alone, is merged.
        self.assertInHTML('<h3>Headline <span class="helptext">(changed by the proposal)</span></h3>', html)
        self.assertEqual(html.count('<fieldset class="three-way'), 1)
        self.assertNotIn('name="choice_headline"', html)
        fieldset = html[
            html.index("<legend>Occurred") : html.index("</fieldset>", html.index("<legend>Occurred"))
        ]
        self.assertEqual(fieldset.count('name="choice_occurred"'), 3)

    def test_dates_show_as_people_write_them(self):
        response = self.client.get(f"/moderation/{self.submission.pk}/")
        for text in ("February 2021", "April 2021", "March 2021"):
            self.assertContains(response, text)
        self.assertNotContains(response, "2021-03")
        self.assertNotContains(response, "<pre>2021-02</pre>")


class LookalikeTests(SubmissionsTestCase):
    """Pending reports that look like the same incident are marked together in the queue."""

    def test_reports_with_one_source_or_one_headline_are_grouped(self):
        same_page = [
            self.report_new(
                headline=f"Story {n}",
                references={"news": [{"url": url}]},
            )
            for n, url in enumerate(
                [
                    "https://www.news.example.org/story/?utm_source=x",
                    "http://news.example.org/story",
                ]
            )
        ]
        same_headline = [
            self.report_new(headline="Chatbot tells a teenager to hurt himself", references={}),
            self.report_new(headline="Chatbot tells teenager to hurt himself!", references={}),
            self.report_new(headline="Chatbot tells a teenager to hurt himself", references={}),
        ]
        alone = self.report_new(headline="Delivery robot blocks an ambulance", references={})
        self.client.force_login(self.editor)
        response = self.client.get("/moderation/")
        rows = {s.pk: s.lookalikes for s in response.context["page"].object_list}
        first, second = (s.pk for s in same_page)
        self.assertEqual(rows[first], [second])
        self.assertEqual(rows[second], [first])
        a, b, c = (s.pk for s in same_headline)
        self.assertEqual(rows[a], [b, c])
        self.assertEqual(rows[alone.pk], [])
        self.assertContains(response, "3 reports look alike", count=3)
        self.assertContains(response, "2 reports look alike", count=2)

    def test_decided_reports_are_not_grouped(self):
        first = self.report_new(headline="Chatbot tells a teenager to hurt himself", references={})
        self.report_new(headline="Chatbot tells a teenager to hurt himself", references={})
        services.submission_reject(submission=first, editor=self.editor, reason="duplicate")
        self.client.force_login(self.editor)
        self.assertNotContains(self.client.get("/moderation/"), "reports look alike")


class TriageTests(SubmissionsTestCase):
    """Each row says what the proposal does and for which incident; look-alikes are grouped
    when they are stored; the queue filters by what they do."""

    def setUp(self):
        super().setUp()
        self.client.force_login(self.editor)
        self.document = self.incident.current_revision.document

    def add_source(self, url):
        references = self.document["references"]
        return self.propose(references={**references, "news": [*references["news"], {"url": url}]})

    def test_each_row_says_what_it_does(self):
        source = self.add_source("https://news.example.org/b")
        fields = self.propose(
            summary="Fuller.",
            terms={**self.document["terms"], "technology": ["Facial recognition", "Robotics"]},
        )
        report = self.report_new()
        self.assertEqual((source.effect, source.effect_kind), ("adds 1 source", "sources"))
        self.assertEqual((fields.effect, fields.effect_kind), ("changes Summary and Technology", "fields"))
        self.assertEqual((report.effect, report.effect_kind), ("new incident", "new"))
        response = self.client.get("/moderation/")
        self.assertContains(response, '<td class="effect">Adds 1 source</td>', html=True)
        self.assertContains(response, '<td class="effect">Changes Summary and Technology</td>', html=True)
        self.assertContains(response, f"#{self.incident.number} {self.incident.headline}", count=2)
        only_sources = self.client.get("/moderation/?does=sources").context["page"].object_list
        self.assertEqual([s.pk for s in only_sources], [source.pk])

    def test_one_source_proposed_twice_in_two_spellings_is_flagged_and_grouped(self):
        first = self.add_source("https://www.latimes.com/business/story/robot")
        second = self.add_source("http://latimes.com/business/story/robot/?utm_source=x")
        other = self.add_source("https://news.example.org/other")
        self.assertEqual(first.group_key, "")
        first.refresh_from_db()
        self.assertTrue(first.group_key)
        self.assertEqual(second.group_key, first.group_key)
        self.assertEqual(other.group_key, "")
        self.assertEqual(
            second.sources_flagged,
            [
                {
                    "url": "http://latimes.com/business/story/robot/?utm_source=x",
                    "where": "proposal",
                    "submission": first.pk,
                }
            ],
        )
        status = self.client.get(second.get_status_url())
        self.assertContains(status, "someone else proposed it too")
        rows = {s.pk: s.lookalikes for s in self.client.get("/moderation/").context["page"].object_list}
        self.assertEqual((rows[first.pk], rows[second.pk], rows[other.pk]), ([second.pk], [first.pk], []))

    def test_a_source_the_page_cites_under_another_spelling_is_flagged_and_not_added(self):
        proposal = self.add_source("http://news.example.org/a/?utm_campaign=y")
        self.assertEqual(proposal.sources_flagged[0]["where"], "page")
        self.assertEqual(proposal.proposed["references"]["news"], self.document["references"]["news"])
        self.assertContains(self.client.get(proposal.get_status_url()), "the page cites it already")

    def test_groups_are_kept_when_a_proposal_is_edited(self):
        first = self.add_source("https://news.example.org/same")
        second = self.add_source("https://news.example.org/same/")
        services.submission_edit(
            submission=second, editor=self.editor, proposed={**second.proposed, "summary": "X"}
        )
        second.refresh_from_db()
        first.refresh_from_db()
        self.assertEqual(second.group_key, first.group_key)
        self.assertEqual(second.effect, "changes Summary; adds 1 source")


class QueueBackfillMigrationTests(SubmissionsTestCase):
    def test_it_works_out_effects_and_groups_of_the_proposals_stored_before(self):
        import importlib

        from django.apps import apps

        migration = importlib.import_module("submissions.migrations.0008_queue_effect_and_groups")
        references = self.incident.current_revision.document["references"]
        same = [
            self.propose(references={**references, "news": [*references["news"], {"url": url}]})
            for url in ("https://news.example.org/same", "http://www.news.example.org/same/")
        ]
        reports = [self.report_new(headline="Chatbot tells a teenager to hurt himself") for _ in range(2)]
        Submission.objects.update(effect="", effect_kind="", source_keys=[], group_key="")
        migration.backfill(apps, None)
        rows = {s.pk: s for s in Submission.objects.all()}
        self.assertEqual(rows[same[0].pk].effect, "adds 1 source")
        self.assertEqual(rows[same[0].pk].source_keys, ["news.example.org/same"])
        self.assertTrue(rows[same[0].pk].group_key)
        self.assertEqual(rows[same[0].pk].group_key, rows[same[1].pk].group_key)
        self.assertEqual(rows[reports[0].pk].group_key, rows[reports[1].pk].group_key)
        self.assertNotEqual(rows[reports[0].pk].group_key, rows[same[0].pk].group_key)
        self.assertEqual(rows[reports[1].pk].effect, "new incident")
