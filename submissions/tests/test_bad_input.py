"""Input no person types, sent to the site: always a 4xx with a page saying so, never a 5xx."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from submissions.models import ModerationEvent, Submission
from submissions.tests.base import SubmissionsTestCase, form_data

IMPROVE = "/incidents/camera-flags-minority/improve/"


class BadInputTests(SubmissionsTestCase):
    def setUp(self):
        super().setUp()
        self.client = Client(raise_request_exception=False)

    def test_a_nul_in_a_path_or_a_query_is_a_400(self):
        for url in (
            "/submissions/abc%00/",
            "/incidents/x%00/",
            "/incidents/?q=a%00b",
            "/incidents/?country=a%00",
            "/incidents/?a%00=1",
            "/taxonomy/country/china%00/",
        ):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, "could not be read", status_code=400)

    def test_a_nul_in_a_contributors_form_is_a_400_and_nothing_is_stored(self):
        data = {**form_data(self.client.get(IMPROVE).context["form"]), "insight": "a\x00b"}
        response = self.client.post(IMPROVE, data)
        self.assertEqual(response.status_code, 400)
        self.assertFalse(Submission.objects.exists())

    def test_a_form_body_that_is_not_utf8_is_a_400_not_a_crash(self):
        client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        client.get("/submit/")
        token = client.cookies["csrftoken"].value
        response = client.post(
            "/submit/",
            data=f"headline=caf%E9&csrfmiddlewaretoken={token}",
            content_type="application/x-www-form-urlencoded; charset=latin-1",
        )
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Nothing was saved", status_code=400)
        self.assertFalse(Submission.objects.exists())

    def test_a_large_upload_is_a_413_before_it_is_read(self):
        big = SimpleUploadedFile("big.bin", b"x" * (20 * 1024 * 1024))
        response = self.client.post("/submit/", {"headline": "Big", "file": big})
        self.assertEqual(response.status_code, 413)
        self.assertContains(response, "too large", status_code=413)
        self.assertFalse(Submission.objects.exists())

    def test_any_file_is_refused_as_no_form_takes_one(self):
        data = {
            **form_data(self.client.get(IMPROVE).context["form"]),
            "insight": "See the attached file.",
            "file": SimpleUploadedFile("note.txt", b"hello"),
        }
        response = self.client.post(IMPROVE, data)
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "does not accept file uploads", status_code=400)
        self.assertFalse(Submission.objects.exists())

    @override_settings(REQUEST_MAX_BYTES=64 * 1024)
    def test_the_body_cap_is_a_setting(self):
        data = {**form_data(self.client.get(IMPROVE).context["form"]), "insight": "x" * (70 * 1024)}
        self.assertEqual(self.client.post(IMPROVE, data).status_code, 413)
        self.assertFalse(Submission.objects.exists())


class EditorBadInputTests(SubmissionsTestCase):
    def setUp(self):
        super().setUp()
        self.client = Client(raise_request_exception=False)
        self.client.force_login(self.editor)
        self.submission = self.propose(headline="Changed")

    def test_odd_digits_in_numbers_are_not_numbers(self):
        pk = self.submission.pk
        self.assertEqual(self.client.get("/moderation/?incident=²").status_code, 200)
        self.assertEqual(self.client.get("/moderation/?incident=" + "9" * 30).status_code, 200)
        for url, data in (
            (f"/moderation/{pk}/approve/", {"expected_revision": "²"}),
            (f"/moderation/{pk}/approve/", {"expected_revision": "9" * 30}),
            (f"/moderation/{pk}/resolve/", {"expected_revision": "٣"}),
            (f"/moderation/{pk}/merge/", {"target": "²"}),
            ("/moderation/incidents/camera-flags-minority/revert/1/", {"expected_revision": "²"}),
        ):
            with self.subTest(url=url, data=data):
                self.assertEqual(self.client.post(url, data).status_code, 302)

    def test_a_nul_in_a_decision_note_is_a_400_and_changes_nothing(self):
        pk = self.submission.pk
        for url, data in (
            (f"/moderation/{pk}/note/", {"note": "a\x00b"}),
            (f"/moderation/{pk}/reject/", {"reason": "spam", "note": "a\x00b"}),
            (f"/moderation/{pk}/approve/", {"note": "a\x00b"}),
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.post(url, data).status_code, 400)
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.state, Submission.State.PENDING)
        self.assertEqual(
            list(ModerationEvent.objects.values_list("action", flat=True)), [ModerationEvent.Action.SUBMIT]
        )
