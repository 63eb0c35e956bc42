"""The deploy files (deploy/), checked as far as they can be without a container engine: the
entrypoint's subcommands, the image's shape, the compose file's processes and probes, the
systemd units, nginx's configuration (`nginx -t`), gunicorn's settings and secrets from files.
scripts/lint_deploy runs the linters (hadolint, the compose schema, shellcheck, systemd)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.test import SimpleTestCase

BASE = Path(settings.BASE_DIR)
DEPLOY = BASE / "deploy"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
SECRET_NAMES = (
    "SECRET_KEY",
    "DATABASE_URL",
    "CACHE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_HOST_PASSWORD",
)


def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def command_of(service):
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else command


class EntrypointTests(SimpleTestCase):
    def run_entrypoint(self, *args, env=None):
        return subprocess.run(  # noqa: S603 - our own script
            [str(ENTRYPOINT), *args],
            env={**os.environ, "PYTHON": sys.executable, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_it_has_a_subcommand_for_each_process(self):
        text = ENTRYPOINT.read_text()
        labels = set(re.findall(r"^  ([a-z]+)\)$", text, re.MULTILINE))
        self.assertLessEqual({"web", "worker", "beat", "migrate"}, labels)
        self.assertTrue(os.access(ENTRYPOINT, os.X_OK), "deploy/entrypoint.sh must be executable")

    def test_an_unknown_subcommand_is_refused_with_the_usage(self):
        result = self.run_entrypoint("serve")
        self.assertEqual(result.returncode, 64)
        self.assertIn("web | worker | beat | migrate", result.stderr)

    def test_manage_runs_a_management_command_from_any_directory(self):
        result = subprocess.run(  # noqa: S603 - our own script
            [str(ENTRYPOINT), "manage", "check"],
            cwd=tempfile.gettempdir(),
            env={**os.environ, "PYTHON": sys.executable, "DATABASE_URL": "sqlite:///:memory:"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("System check identified no issues", result.stdout)


class ImageTests(SimpleTestCase):
    def setUp(self):
        self.dockerfile = (DEPLOY / "Dockerfile").read_text()
        self.instructions = [
            line.strip() for line in re.sub(r"\\\n", " ", self.dockerfile).splitlines() if line.strip()
        ]

    def test_it_builds_in_stages_from_a_pinned_python_3_11(self):
        self.assertRegex(self.dockerfile, r"ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+\n")
        stages = [line for line in self.instructions if line.startswith("FROM ")]
        self.assertEqual(len(stages), 2)
        self.assertTrue(all(line.startswith("FROM ${PYTHON_IMAGE}") for line in stages))

    def test_it_collects_static_files_at_build_and_runs_as_a_user_without_privileges(self):
        final = self.instructions[
            max(i for i, line in enumerate(self.instructions) if line.startswith("FROM ")) :
        ]
        self.assertTrue(any("collectstatic" in line for line in self.instructions))
        [user] = [line.split()[1] for line in final if line.startswith("USER ")]
        self.assertNotIn(user.split(":")[0], {"0", "root"})
        self.assertIn('ENTRYPOINT ["/app/deploy/entrypoint.sh"]', final)

    def test_no_secret_is_baked_in(self):
        for line in self.instructions:
            if line.startswith(("ENV ", "ARG ", "LABEL ")):
                self.assertNotRegex(line, r"(?i)secret|password|token", line)
            if "SECRET_KEY=" in line:  # collectstatic's placeholder: the only one, and said to be one
                self.assertIn("SECRET_KEY=collectstatic-placeholder-not-used-at-run-time", line)
        ignored = (BASE / ".dockerignore").read_text().split()
        for pattern in (".env", "*.env", "deploy/secrets", "deploy/tls", "*.key", ".git", ".venv"):
            self.assertIn(pattern, ignored)


class ComposeTests(SimpleTestCase):
    def setUp(self):
        self.services = compose()["services"]

    def by_command(self, name):
        return {key: s for key, s in self.services.items() if command_of(s)[:1] == [name]}

    def test_nginx_is_in_front_of_two_web_processes_a_worker_and_exactly_one_beat(self):
        self.assertEqual(sorted(self.by_command("web")), ["web1", "web2"])
        self.assertEqual(len(self.by_command("worker")), 1)
        [beat] = self.by_command("beat").values()
        self.assertEqual(beat.get("deploy", {}).get("replicas", 1), 1)
        self.assertNotIn("scale", beat)
        self.assertEqual(command_of(self.services["migrate"]), ["migrate"])
        built = {name for name, service in self.services.items() if "build" in service}
        self.assertEqual(built, {"migrate"}, "one image, built once, run by every process of the site")
        self.assertEqual(
            {
                s["image"]
                for s in self.services.values()
                if command_of(s)[:1] in (["web"], ["worker"], ["beat"])
            },
            {self.services["migrate"]["image"]},
        )
        self.assertEqual(self.services["migrate"]["restart"], "no")
        for name in ("web1", "web2", "worker", "beat"):
            self.assertEqual(
                self.services[name]["depends_on"]["migrate"], {"condition": "service_completed_successfully"}
            )
        conf = (DEPLOY / "nginx" / "compose.conf").read_text()
        self.assertIn("server web1:8000", conf)
        self.assertIn("server web2:8000", conf)

    def test_the_web_processes_and_nginx_have_health_checks(self):
        for name in ("web1", "web2"):
            self.assertEqual(
                self.services[name]["healthcheck"]["test"],
                ["CMD", "/app/deploy/entrypoint.sh", "probe", "/readyz"],
            )
        self.assertIn("http://127.0.0.1/healthz", self.services["nginx"]["healthcheck"]["test"])
        for name in ("db", "redis"):
            self.assertIn("healthcheck", self.services[name])
        self.assertEqual(self.services["nginx"]["depends_on"]["web1"], {"condition": "service_healthy"})

    def test_secrets_come_from_files_and_the_proxy_alone_is_trusted(self):
        for name, service in self.services.items():
            for key, value in (service.get("environment") or {}).items():
                with self.subTest(service=name, variable=key):
                    self.assertNotIn(key, (*SECRET_NAMES[:2], "EMAIL_HOST_PASSWORD", "POSTGRES_PASSWORD"))
                    self.assertNotRegex(str(value), r"://[^/@\s]*:[^/@\s]*@", "a password in a URL")
        web = self.services["web1"]["environment"]
        self.assertEqual(web["SECRET_KEY_FILE"], "/run/secrets/secret_key")
        self.assertEqual(web["DATABASE_URL_FILE"], "/run/secrets/database_url")
        nginx_address = self.services["nginx"]["networks"]["site"]["ipv4_address"]
        self.assertEqual(web["TRUSTED_PROXY_NETWORKS"], f"{nginx_address}/32")
        for secret in compose()["secrets"].values():
            self.assertTrue(secret["file"].startswith("./secrets/"))


class SystemdTests(SimpleTestCase):
    def units(self):
        return {path.name: path.read_text() for path in (DEPLOY / "systemd").iterdir()}

    def test_each_process_runs_through_the_entrypoint_as_the_sites_user(self):
        units = self.units()
        for unit, command in (
            ("airepo-web@.service", "web"),
            ("airepo-worker.service", "worker"),
            ("airepo-beat.service", "beat"),
            ("airepo-migrate.service", "migrate"),
        ):
            with self.subTest(unit=unit):
                text = units[unit]
                self.assertIn(f"ExecStart=/srv/airepo/app/deploy/entrypoint.sh {command}\n", text)
                self.assertIn("User=airepo\n", text)
                self.assertIn("LoadCredential=secret_key:", text)
                self.assertIn("Environment=SECRET_KEY_FILE=%d/secret_key\n", text)
                for name in SECRET_NAMES:
                    self.assertNotIn(f"Environment={name}=", text)
        self.assertIn("Type=oneshot", units["airepo-migrate.service"])
        self.assertIn("Environment=GUNICORN_BIND=127.0.0.1:%i", units["airepo-web@.service"])

    def test_the_units_pass_systemds_own_check(self):
        """`systemd-analyze verify` on the units, their paths pointed at this checkout."""
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            pytest.skip("systemd-analyze is not installed (scripts/lint_deploy says so too)")
        with tempfile.TemporaryDirectory() as folder:
            for name, text in self.units().items():
                text = text.replace("/srv/airepo/app", str(BASE)).replace(
                    "/srv/airepo/venv/bin/python", sys.executable
                )
                (Path(folder) / name).write_text(text)
            result = subprocess.run(  # noqa: S603 - a system tool on our own files
                [
                    analyze,
                    "verify",
                    "--man=no",
                    *(
                        f"./{name}"
                        for name in (
                            "airepo-web@8001.service",
                            "airepo-worker.service",
                            "airepo-beat.service",
                            "airepo-migrate.service",
                            "airepo.target",
                        )
                    ),
                ],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=60,
            )
        self.assertEqual((result.returncode, result.stdout + result.stderr), (0, ""))


def nginx_prefix(folder, site="airepo.conf"):
    """deploy/nginx/ copied under `folder` with its paths there and a throwaway certificate; the
    main configuration file that includes `site`."""
    folder = Path(folder)
    conf = folder / "airepo"
    (conf / "tls").mkdir(parents=True)
    (folder / "logs").mkdir()
    for path in (DEPLOY / "nginx").glob("*.conf"):
        (conf / path.name).write_text(path.read_text().replace("/etc/nginx/airepo/", f"{conf}/"))
    subprocess.run(  # noqa: S603 - openssl on a throwaway key
        [
            shutil.which("openssl") or "/usr/bin/openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            "1",
            "-keyout",
            str(conf / "tls" / "privkey.pem"),
            "-out",
            str(conf / "tls" / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )
    main = folder / "nginx.conf"
    main.write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/logs/error.log;\nevents {{}}\n"
        f"http {{\n  include /etc/nginx/mime.types;\n  access_log off;\n  include {conf}/{site};\n}}\n"
    )
    return main


@pytest.mark.topology
class NginxConfigurationTests(SimpleTestCase):
    def test_the_virtual_machines_site_passes_nginx_t(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.assertTrue(Path(nginx).exists(), "nginx is needed (scripts/test installs Debian's nginx)")
        with tempfile.TemporaryDirectory() as folder:
            main = nginx_prefix(folder)
            result = subprocess.run(  # noqa: S603 - nginx on our own files
                [nginx, "-t", "-p", folder, "-c", str(main), "-e", f"{folder}/logs/error.log"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("test is successful", result.stderr)

    def test_the_proxy_replaces_the_clients_forwarded_for_and_outwaits_gunicorn(self):
        proxy = (DEPLOY / "nginx" / "proxy.conf").read_text()
        self.assertIn("proxy_set_header X-Forwarded-For $remote_addr;", proxy)
        self.assertNotIn("$proxy_add_x_forwarded_for", proxy)
        [read_timeout] = re.findall(r"^proxy_read_timeout (\d+)s;", proxy, re.MULTILINE)
        result = subprocess.run(  # gunicorn prints the settings it would use
            [sys.executable, "-m", "gunicorn", "--print-config", "config.wsgi"],
            cwd=BASE,
            capture_output=True,
            text=True,
            timeout=60,
        )
        printed = dict(re.findall(r"^(\w+)\s+= (.*)$", result.stdout, re.MULTILINE))
        self.assertLess(int(printed["timeout"]), int(read_timeout))
        self.assertEqual(printed["control_socket_disable"], "True")


class SecretFileTests(SimpleTestCase):
    def settings_of(self, env):
        clean = {
            k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "SECRET_KEY", "DATABASE_URL"))
        }
        result = subprocess.run(  # our own settings in a fresh process
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from django.conf import settings as s; "
                "print(s.SECRET_KEY); print(s.DATABASES['default']['NAME'])",
            ],
            cwd=BASE,
            env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.returncode, result.stdout, result.stderr

    def test_a_secret_is_read_from_the_file_its_FILE_variable_names(self):
        with tempfile.TemporaryDirectory() as folder:
            key, url = Path(folder) / "secret_key", Path(folder) / "database_url"
            key.write_text("a-long-random-key-from-a-file-" + "q7Zx" * 8 + "\n")
            url.write_text("postgres://airepo:s3cret@db.internal:5432/airepo_from_file\n")
            code, out, err = self.settings_of({"SECRET_KEY_FILE": str(key), "DATABASE_URL_FILE": str(url)})
        self.assertEqual(code, 0, err)
        self.assertEqual(out.split(), ["a-long-random-key-from-a-file-" + "q7Zx" * 8, "airepo_from_file"])

    def test_both_the_value_and_a_file_or_an_unreadable_file_stop_start_up(self):
        code, _, err = self.settings_of({"SECRET_KEY": "x" * 50, "SECRET_KEY_FILE": "/nonexistent"})
        self.assertNotEqual(code, 0)
        self.assertIn("Set SECRET_KEY or SECRET_KEY_FILE, not both.", err)
        code, _, err = self.settings_of({"SECRET_KEY_FILE": "/nonexistent/secret_key"})
        self.assertNotEqual(code, 0)
        self.assertIn("SECRET_KEY_FILE could not be read", err)
