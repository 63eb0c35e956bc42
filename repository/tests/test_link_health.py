import socket
from datetime import timedelta
from unittest import mock

from django.test import TestCase, override_settings
from django.utils import timezone

from repository import fetching, tasks
from repository.models import Reference
from repository.services import reference_check, references_check_due
from repository.tests.base import publish
from repository.tests.webserver import LocalWebMixin, html, redirect_to

LINK_STATE = ("status_code", "final_url", "check_error")


def head_refused(request):
    if request.command == "HEAD":
        return 405, {"Allow": "GET"}, b""
    return html(request)


def head_dropped(request):
    if request.command == "HEAD":
        return None, {}, b""
    return html(request)


class LinkCheckTests(LocalWebMixin, TestCase):
    routes = {
        "/ok": html,
        "/head-refused": head_refused,
        "/head-dropped": head_dropped,
        "/moved": redirect_to("/ok", 301),
        "/to-private": redirect_to("http://10.0.0.1/"),
    }

    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(
            "Robot blocks ambulance",
            references={
                "news": [
                    {"url": cls.web.url("/ok")},
                    {"url": cls.web.url("/head-refused")},
                    {"url": cls.web.url("/head-dropped")},
                    {"url": cls.web.url("/moved")},
                    {"url": cls.web.url("/gone")},
                    {"url": cls.web.url("/to-private")},
                ]
            },
        )

    def reference(self, path):
        return Reference.objects.get(url=self.web.url(path))

    def test_a_working_link_records_its_status_and_when(self):
        before = timezone.now()
        reference_check(reference=self.reference("/ok"))
        reference = self.reference("/ok")
        self.assertEqual(reference.status_code, 200)
        self.assertEqual(reference.final_url, self.web.url("/ok"))
        self.assertEqual(reference.check_error, "")
        self.assertGreaterEqual(reference.checked_at, before)
        self.assertEqual(self.requested(), [("HEAD", "/ok")])

    def test_it_asks_with_get_when_head_is_refused(self):
        reference_check(reference=self.reference("/head-refused"))
        self.assertEqual(self.reference("/head-refused").status_code, 200)
        self.assertEqual(self.requested(), [("HEAD", "/head-refused"), ("GET", "/head-refused")])

    def test_it_asks_with_get_when_head_drops_the_connection(self):
        reference_check(reference=self.reference("/head-dropped"))
        self.assertEqual(self.reference("/head-dropped").status_code, 200)
        self.assertEqual(self.requested()[-1], ("GET", "/head-dropped"))

    def test_a_redirect_records_the_final_url(self):
        reference_check(reference=self.reference("/moved"))
        reference = self.reference("/moved")
        self.assertEqual((reference.status_code, reference.final_url), (200, self.web.url("/ok")))

    def test_a_dead_link_records_its_status(self):
        reference_check(reference=self.reference("/gone"))
        self.assertEqual(self.reference("/gone").status_code, 404)
        self.assertEqual(self.requested(), [("HEAD", "/gone"), ("GET", "/gone")])

    def test_a_refused_address_is_recorded_as_an_error_not_retried(self):
        reference_check(reference=self.reference("/to-private"), final_attempt=False)
        reference = self.reference("/to-private")
        self.assertIsNone(reference.status_code)
        self.assertIn("not a public address", reference.check_error)
        self.assertIsNotNone(reference.checked_at)

    def test_a_network_error_is_raised_for_a_retry_and_recorded_on_the_last_try(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        reference = Reference.objects.create(incident=self.incident, category="news", url=closed)
        with self.assertRaises(fetching.FetchNetworkError):
            reference_check(reference=reference, final_attempt=False)
        reference.refresh_from_db()
        self.assertIsNone(reference.checked_at)
        reference_check(reference=reference, final_attempt=True)
        reference.refresh_from_db()
        self.assertIn("Could not connect", reference.check_error)
        self.assertIsNotNone(reference.checked_at)

    def test_a_recently_checked_link_is_left_alone_unless_forced(self):
        reference = self.reference("/ok")
        reference_check(reference=reference)
        reference_check(reference=self.reference("/ok"))
        self.assertEqual(len(self.requested()), 1)
        reference_check(reference=self.reference("/ok"), force=True)
        self.assertEqual(len(self.requested()), 2)

    def test_the_task_checks_the_fresh_row_and_running_it_twice_changes_nothing(self):
        reference = self.reference("/head-refused")
        tasks.reference_check.delay(reference.pk)
        first = Reference.objects.values(*LINK_STATE, "checked_at").get(pk=reference.pk)
        tasks.reference_check.delay(reference.pk)
        second = Reference.objects.values(*LINK_STATE, "checked_at").get(pk=reference.pk)
        self.assertEqual(first, second)
        self.assertEqual(first["status_code"], 200)
        self.assertEqual(len(self.requested()), 2)  # HEAD and GET, once

    def test_the_task_ignores_a_reference_removed_since_it_was_queued(self):
        tasks.reference_check.delay(987654)
        self.assertEqual(self.requested(), [])

    def test_the_task_retries_network_errors_with_backoff(self):
        self.assertIn(fetching.FetchNetworkError, tasks.reference_check.autoretry_for)
        self.assertTrue(tasks.reference_check.retry_backoff)
        self.assertGreater(tasks.reference_check.max_retries, 0)


@override_settings(LINK_CHECK_INTERVAL_DAYS=30, LINK_CHECK_BATCH_SIZE=3)
class DueReferencesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        urls = [f"https://news.example.org/{n}" for n in range(6)]
        incident = publish("Chatbot invents citations", references={"news": [{"url": url} for url in urls]})
        refs = list(Reference.objects.filter(incident=incident).order_by("id"))
        now = timezone.now()
        cls.never = [refs[0], refs[3]]
        checked = {1: now - timedelta(days=40), 2: now - timedelta(days=90), 4: now - timedelta(days=1)}
        checked[5] = now - timedelta(days=31)
        for index, when in checked.items():
            Reference.objects.filter(pk=refs[index].pk).update(checked_at=when)
        cls.refs = refs

    def test_never_checked_come_first_then_the_oldest_checks_in_a_bounded_batch(self):
        with (
            mock.patch.object(tasks.reference_check, "apply_async") as apply_async,
            self.captureOnCommitCallbacks(execute=True) as callbacks,
            self.assertNumQueries(2),  # the never checked, then the oldest checked
        ):
            queued = references_check_due()
        expected = [self.refs[0].pk, self.refs[3].pk, self.refs[2].pk]
        self.assertEqual(queued, expected)
        self.assertEqual(len(callbacks), 1)  # one batch for the broker
        self.assertEqual([call.kwargs["args"][0] for call in apply_async.call_args_list], expected)

    def test_a_batch_of_only_never_checked_references_needs_one_query(self):
        with mock.patch.object(tasks.reference_check, "apply_async"), self.assertNumQueries(1):
            queued = references_check_due(limit=2)
        self.assertEqual(queued, [self.refs[0].pk, self.refs[3].pk])

    def test_recently_checked_references_are_not_due(self):
        with mock.patch.object(tasks.reference_check, "apply_async"):
            queued = references_check_due(limit=100)
        self.assertEqual(
            queued, [self.refs[0].pk, self.refs[3].pk, self.refs[2].pk, self.refs[1].pk, self.refs[5].pk]
        )

    def test_nothing_is_queued_before_the_transaction_commits(self):
        with (
            mock.patch.object(tasks.reference_check, "apply_async") as apply_async,
            self.captureOnCommitCallbacks(execute=False),
        ):
            references_check_due()
        apply_async.assert_not_called()

    def test_the_periodic_task_queues_one_batch(self):
        with (
            mock.patch.object(tasks.reference_check, "apply_async") as apply_async,
            self.captureOnCommitCallbacks(execute=True),
        ):
            tasks.references_check_due.delay()
        self.assertEqual(apply_async.call_count, 3)
