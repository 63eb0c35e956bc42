"""Hardening a user relies on without seeing it: headers, safe defaults, private pages."""

import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase, override_settings

from submissions.tests.base import PASSWORD, SubmissionsTestCase

BASE = Path(settings.BASE_DIR)


def run_python(code, env):
    """Run `code` with the project's settings in a fresh process; (exit code, output)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "SECRET_KEY", "SECURE_"))}
    result = subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-c", code],
        cwd=BASE,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout + result.stderr


PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
    "s.SECURE_HSTS_PRELOAD)"
)


class SafeDefaultsTests(SimpleTestCase):
    def test_debug_is_off_unless_set(self):
        code, out = run_python(PRINT_SETTINGS, {"SECRET_KEY": "x" * 50})
        self.assertEqual(code, 0, out)
        self.assertEqual(out.split(), ["False", "False", "0", "False", "False"])

    def test_without_debug_a_secret_key_is_required(self):
        code, out = run_python(PRINT_SETTINGS, {})
        self.assertNotEqual(code, 0)
        self.assertIn("SECRET_KEY must be set when DEBUG is off", out)

    def test_https_settings_are_read_from_the_environment(self):
        code, out = run_python(
            PRINT_SETTINGS,
            {
                "SECRET_KEY": "x" * 50,
                "SECURE_SSL_REDIRECT": "true",
                "SECURE_HSTS_SECONDS": "31536000",
                "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
                "SECURE_HSTS_PRELOAD": "yes",
            },
        )
        self.assertEqual(code, 0, out)
        self.assertEqual(out.split(), ["False", "True", "31536000", "True", "True"])

    def test_check_deploy_is_clean_with_the_documented_production_settings(self):
        env = {}
        for line in (BASE / "config" / "production.env").read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, value = line.split("=", 1)
                env[key] = value
        # Each key is described where operators look for it: a row of the Configuration table
        # of docs/operating.md, and among the production settings listed under "Running in production".
        operating = (BASE / "docs" / "operating.md").read_text()
        configuration = operating.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
        rows = [line for line in configuration.splitlines() if line.startswith("| `")]
        production = operating.split("\n## Running in production\n", 1)[1].split("\n## ", 1)[0]
        self.assertGreater(len(rows), 40)
        for key in env:
            with self.subTest(key=key):
                self.assertTrue(
                    any(f"`{key}`" in row for row in rows),
                    f"{key} is in config/production.env but not in docs/operating.md's Configuration table",
                )
                self.assertTrue(
                    re.search(rf"`{key}[`=]", production),
                    f"{key} is not among the production settings of docs/operating.md",
                )
        env["SECRET_KEY"] = "a-long-random-production-key-" + "x9Yq" * 10
        code, out = run_python(
            "import sys; from django.core.management import execute_from_command_line; "
            "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
            env,
        )
        self.assertEqual(code, 0, out)
        self.assertEqual(out.strip(), "System check identified no issues (0 silenced).")

    def test_check_deploy_warns_without_hsts_and_a_shared_cache(self):
        _, out = run_python(
            "from django.core.management import execute_from_command_line; "
            "execute_from_command_line(['manage.py', 'check', '--deploy'])",
            {"SECRET_KEY": "a-long-random-production-key-" + "x9Yq" * 10, "ALLOWED_HOSTS": "example.org"},
        )
        for warning in ("security.W004", "security.W008", "submissions.W001"):
            self.assertIn(warning, out)


class HeaderTests(SubmissionsTestCase):
    def pages(self):
        submission = self.propose(headline="Changed")
        public = ["/", "/incidents/", self.incident.get_absolute_url(), "/submit/", "/accounts/login/"]
        return submission, public

    def test_every_page_has_a_strict_content_security_policy(self):
        _, public = self.pages()
        for url in public:
            with self.subTest(url=url):
                policy = self.client.get(url)["Content-Security-Policy"]
                directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
                self.assertEqual(directives["default-src"], "'none'")
                self.assertEqual(directives["script-src"], "'self'")
                self.assertEqual(directives["style-src"], "'self'")
                self.assertEqual(directives["img-src"], "'self'")
                self.assertEqual(directives["frame-ancestors"], "'none'")
                self.assertNotIn("unsafe", policy)

    def test_no_page_has_inline_script_or_style(self):
        submission, public = self.pages()
        urls = [*public, submission.get_status_url(), "/incidents/camera-flags-minority/improve/"]
        self.client.force_login(self.editor)
        urls += ["/moderation/", f"/moderation/{submission.pk}/", f"/moderation/{submission.pk}/edit/"]
        for url in urls:
            with self.subTest(url=url):
                html = self.client.get(url).content.decode()
                # Scripts come from files; a JSON-LD data block is data, never run.
                self.assertNotRegex(html, r"<script(?![^>]*\b(src=|type=\"application/ld\+json\"))")
                self.assertNotIn("<style", html)
                self.assertIsNone(re.search(r"\sstyle=", html))
                self.assertIsNone(re.search(r"\son[a-z]+=", html))

    def test_private_pages_are_never_stored(self):
        submission, _ = self.pages()
        response = self.client.get(submission.get_status_url())
        self.assertEqual(set(response["Cache-Control"].split(", ")), {"private", "no-store"})
        login = set(self.client.get("/accounts/login/")["Cache-Control"].split(", "))
        self.assertLessEqual({"private", "no-store"}, login)  # with Django's own never_cache
        self.client.force_login(self.editor)
        for url in ("/moderation/", f"/moderation/{submission.pk}/", "/moderation/settings/"):
            with self.subTest(url=url):
                self.assertEqual(
                    set(self.client.get(url)["Cache-Control"].split(", ")), {"private", "no-store"}
                )

    @override_settings(
        SECURE_HSTS_SECONDS=31536000,
        SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        SECURE_SSL_REDIRECT=True,
    )
    def test_behind_a_tls_proxy_hsts_is_sent_and_plain_http_is_redirected(self):
        response = self.client.get("/", HTTP_X_FORWARDED_PROTO="https")
        self.assertEqual(response["Strict-Transport-Security"], "max-age=31536000; includeSubDomains")
        response = self.client.get("/incidents/")
        self.assertEqual(response.status_code, 301)
        self.assertEqual(response["Location"], "https://testserver/incidents/")
        self.assertEqual(self.client.get("/readyz").status_code, 200)  # the probes are not redirected

    def test_editor_sessions_end_after_eight_hours(self):
        response = self.client.post("/accounts/login/", {"username": "edith", "password": PASSWORD})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.cookies["sessionid"]["max-age"], 8 * 3600)


class ManagePyDebugTests(SimpleTestCase):
    """manage.py on a developer's machine (no SECRET_KEY) runs as the quick start; with a
    SECRET_KEY, as a deployment does, DEBUG stays off unless set."""

    def debug_of(self, **environ):
        env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
        env.update(environ, DATABASE_URL="sqlite:///:memory:")
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from django.conf import settings; print(settings.DEBUG)",
            ],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]

    def test_without_a_secret_key_commands_run_with_debug_on(self):
        self.assertEqual(self.debug_of(), "True")

    def test_with_a_secret_key_debug_is_off_unless_set(self):
        self.assertEqual(self.debug_of(SECRET_KEY="k" * 60), "False")
