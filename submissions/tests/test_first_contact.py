"""First contact: the quick start's demo editor, and emails that read as written."""

import io
from unittest import mock

from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import override_settings

from submissions import services
from submissions.management.commands import demo_editor
from submissions.models import Submission
from submissions.tests.base import SubmissionsTestCase

HEADLINE = "Dahua's 'Smart Police' <alerts> & more"


def run_demo_editor():
    out = io.StringIO()
    call_command("demo_editor", stdout=out)
    return out.getvalue()


class DemoEditorTests(SubmissionsTestCase):
    def test_it_creates_nothing_on_a_database_other_than_the_quick_starts(self):
        with override_settings(DEBUG=True):
            output = run_demo_editor()
        self.assertIn("not a quick start's database", output)
        self.assertFalse(get_user_model().objects.filter(username="demo-editor").exists())

    def test_it_creates_nothing_with_debug_off_even_on_the_quick_start_file(self):
        with (
            override_settings(DEBUG=False),
            mock.patch.object(demo_editor, "quick_start_database", return_value=True),
        ):
            output = run_demo_editor()
        self.assertIn("No demo editor", output)
        self.assertFalse(get_user_model().objects.filter(username="demo-editor").exists())

    def test_on_the_quick_start_it_creates_an_editor_and_prints_its_password_once(self):
        patch = mock.patch.object(demo_editor, "quick_start_database", return_value=True)
        with override_settings(DEBUG=True, SITE_URL="http://127.0.0.1:8080"), patch:
            first = run_demo_editor()
            second = run_demo_editor()
        self.assertIn("http://127.0.0.1:8080/accounts/login/", first)
        password = first.split("the password ", 1)[1].split(" ", 1)[0]
        editor = get_user_model().objects.get(username="demo-editor")
        self.assertTrue(editor.check_password(password))
        self.assertTrue(editor.has_perm("submissions.moderate"))
        # The second run says how to sign in, shows no password and changes none.
        self.assertIn("demo-editor", second)
        self.assertNotIn(password, second)
        editor.refresh_from_db()
        self.assertTrue(editor.check_password(password))

    def test_the_quick_start_database_is_only_the_sqlite_file_next_to_manage_py(self):
        self.assertFalse(demo_editor.quick_start_database())  # the test database is never it

    def test_the_quick_start_databases_are_make_runs_and_make_real_datas(self):
        from django.conf import settings
        from django.db import connection

        for file, expected in (
            ("db.sqlite3", True),
            ("db-real.sqlite3", True),
            ("other.sqlite3", False),
        ):
            with (
                self.subTest(file=file),
                mock.patch.object(connection, "vendor", "sqlite"),
                mock.patch.dict(connection.settings_dict, {"NAME": str(settings.BASE_DIR / file)}),
            ):
                self.assertIs(demo_editor.quick_start_database(), expected)


class EmailTextTests(SubmissionsTestCase):
    def test_subjects_and_plain_text_are_not_html_escaped_but_the_html_part_is(self):
        with self.captureOnCommitCallbacks(execute=True):
            submission = self.propose(headline=HEADLINE)
        received = mail.outbox[0]
        self.assertIn(HEADLINE, received.subject)
        self.assertIn(HEADLINE, received.body)
        self.assertNotIn("&#x27;", received.subject + received.body)
        html = received.alternatives[0][0]
        self.assertIn("Dahua&#x27;s &#x27;Smart Police&#x27; &lt;alerts&gt; &amp; more", html)
        mail.outbox.clear()
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_reject(
                submission=submission,
                editor=self.editor,
                reason=Submission.Reason.OTHER,
                note="Rita's <b>note</b>",
            )
        decision = mail.outbox[0]
        self.assertIn("Rita's <b>note</b>", decision.body)
        self.assertIn("Rita&#x27;s &lt;b&gt;note&lt;/b&gt;", decision.alternatives[0][0])

    @override_settings(SITE_URL="http://127.0.0.1:8080")
    def test_links_use_site_url(self):
        with self.captureOnCommitCallbacks(execute=True):
            submission = self.propose(headline="Changed")
        self.assertIn(f"http://127.0.0.1:8080/moderation/{submission.pk}/", mail.outbox[0].body)
