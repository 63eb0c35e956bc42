"""Two editors deciding the same submission at the same moment, on two real connections."""

import threading
import time
import unittest
from unittest import mock

from django.db import connection
from django.test import TransactionTestCase

from repository.models import Incident, Revision
from repository.services import incident_publish
from repository.tests.base import make_document
from submissions import services
from submissions.models import ModerationEvent, Submission


@unittest.skipUnless(connection.vendor == "postgresql", "row locks between connections need PostgreSQL")
class DoubleDecisionTests(TransactionTestCase):
    def setUp(self):
        self.alice, _ = services.editor_create(username="alice", email="a@example.org", password=None)
        self.bob, _ = services.editor_create(username="bob", email="b@example.org", password=None)
        incident = incident_publish(
            document=make_document("Robot blocks ambulance", occurred="2024")
        ).incident
        self.submission = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=incident,
            proposed={**incident.current_revision.document, "headline": "Robot blocks an ambulance"},
        )

    def race(self, *actions):
        """Run the actions at once, each in its own thread and connection; their outcomes."""
        barrier = threading.Barrier(len(actions))
        outcomes = [None] * len(actions)

        def run(index, action):
            try:
                barrier.wait()
                action()
                outcomes[index] = "won"
            except services.TransitionError as exc:
                outcomes[index] = str(exc)
            finally:
                connection.close()

        real_publish = services.incident_publish

        def slow_publish(**kwargs):
            time.sleep(0.3)  # hold the decision open so that the other editor arrives meanwhile
            return real_publish(**kwargs)

        with mock.patch.object(services, "incident_publish", slow_publish):
            threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
        return outcomes

    def test_two_approvals_exactly_one_wins(self):
        outcomes = self.race(
            lambda: services.submission_approve(submission=self.submission, editor=self.alice),
            lambda: services.submission_approve(submission=self.submission, editor=self.bob),
        )
        self.assertEqual(outcomes.count("won"), 1, outcomes)
        [loser] = [outcome for outcome in outcomes if outcome != "won"]
        self.assertIn("already approved", loser)
        self.assertEqual(Revision.objects.count(), 2)
        self.assertEqual(ModerationEvent.objects.filter(action="approve").count(), 1)
        self.assertEqual(Incident.objects.get().headline, "Robot blocks an ambulance")

    def test_an_approval_and_a_rejection_exactly_one_wins(self):
        outcomes = self.race(
            lambda: services.submission_approve(submission=self.submission, editor=self.alice),
            lambda: services.submission_reject(
                submission=self.submission, editor=self.bob, reason=Submission.Reason.SPAM
            ),
        )
        self.assertEqual(outcomes.count("won"), 1, outcomes)
        submission = Submission.objects.get()
        decisions = ModerationEvent.objects.filter(action__in=["approve", "reject"])
        self.assertEqual(decisions.count(), 1)
        if submission.state == Submission.State.APPROVED:
            self.assertEqual(Revision.objects.count(), 2)
        else:
            self.assertEqual(submission.state, Submission.State.REJECTED)
            self.assertEqual(Revision.objects.count(), 1)

    def test_two_claims_exactly_one_wins(self):
        outcomes = self.race(
            lambda: services.submission_claim(submission=self.submission, editor=self.alice),
            lambda: services.submission_claim(submission=self.submission, editor=self.bob),
        )
        self.assertEqual(outcomes.count("won"), 1, outcomes)
        self.assertEqual(ModerationEvent.objects.filter(action="claim").count(), 1)


@unittest.skipUnless(connection.vendor == "postgresql", "row locks between connections need PostgreSQL")
class DoubleMergeTests(TransactionTestCase):
    """Two editors merging one incident into two different ones at the same moment."""

    def setUp(self):
        self.alice, _ = services.editor_create(username="alice", email="a@example.org", password=None)
        self.bob, _ = services.editor_create(username="bob", email="b@example.org", password=None)
        self.a, self.b, self.c = (
            incident_publish(document=make_document(headline, occurred="2024")).incident
            for headline in (
                "Robot blocks ambulance",
                "Delivery robot blocks an ambulance",
                "Robot in the way",
            )
        )
        self.ab = Submission.objects.create(
            kind=Submission.Kind.MERGE, incident=self.a, other_incident=self.b, proposed={}
        )
        self.bc = Submission.objects.create(
            kind=Submission.Kind.MERGE, incident=self.b, other_incident=self.c, proposed={}
        )

    def test_exactly_one_merge_of_the_shared_incident_wins(self):
        from repository.services import merging

        barrier = threading.Barrier(2)
        outcomes = [None, None]
        real_publish = merging.incident_publish

        def slow_publish(**kwargs):
            time.sleep(0.3)  # hold the merge open so that the other editor arrives meanwhile
            return real_publish(**kwargs)

        def run(index, submission, editor, survivor):
            try:
                barrier.wait()
                services.submission_merge_incidents(submission=submission, editor=editor, survivor=survivor)
                outcomes[index] = "won"
            except services.TransitionError as exc:
                outcomes[index] = str(exc)
            finally:
                connection.close()

        with mock.patch.object(merging, "incident_publish", slow_publish):
            threads = [
                threading.Thread(target=run, args=(0, self.ab, self.alice, self.a)),
                threading.Thread(target=run, args=(1, self.bc, self.bob, self.c)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
        self.assertEqual(outcomes.count("won"), 1, outcomes)
        [loser] = [outcome for outcome in outcomes if outcome != "won"]
        self.assertIn(f"#{self.b.number} was already merged into incident", loser)
        merged = Incident.objects.get(pk=self.b.pk)
        self.assertIn(merged.merged_into_id, (self.a.pk, self.c.pk))
        self.assertEqual(merged.revisions.count(), 2)
        self.assertEqual(ModerationEvent.objects.filter(action="merge").count(), 1)
        self.assertEqual(Submission.objects.filter(state="pending").count(), 1)
