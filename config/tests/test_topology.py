"""Several processes act as one site: nginx in front of two web processes and a worker, on one
PostgreSQL and one Redis, started as in production through deploy/entrypoint.sh (no containers).

Everything listens on 127.0.0.1 and its free ports, with a database and a Redis database of its
own; clients reach nginx from other loopback addresses (127.0.0.2, ...) so that the address
the site sees for them can be told from nginx's. nginx is Debian's (scripts/test installs it),
run without privileges, with its pid file, logs and temporary files in a temporary folder and
deploy/nginx/proxy.conf as the proxy settings. The timings are printed.

    DATABASE_URL=postgres://airepo@127.0.0.1:5432/airepo .venv/bin/python -m pytest -m topology
"""

import contextlib
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import pytest
import redis
from django.conf import settings

from submissions.tests.faults import CSRF_SECRET, collect_static, free_port, production_env

BASE = Path(settings.BASE_DIR)
ENTRYPOINT = BASE / "deploy" / "entrypoint.sh"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
REDIS = os.environ.get("TEST_TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/13")  # a database of its own
DATABASE_URL = os.environ.get("DATABASE_URL", "")
PASSWORD = "a-long-editor-password-for-the-topology"
RATE_LIMIT = 3
FAILURE_LIMIT = 3
FAIL_TIMEOUT = 5  # nginx's fail_timeout, as in deploy/nginx/airepo.conf

pytestmark = [
    pytest.mark.topology,
    pytest.mark.skipif(
        not DATABASE_URL.startswith("postgres"),
        reason="the topology runs on PostgreSQL: it is part of the PostgreSQL run (DATABASE_URL=postgres://...)",
    ),
]


class Response:
    def __init__(self, status, headers, cookies, body, seconds):
        self.status, self.headers, self.cookies, self.body, self.seconds = (
            status,
            headers,
            cookies,
            body,
            seconds,
        )


def request(port, method, path, *, client="127.0.0.2", data=None, cookies=None, headers=None, timeout=30):
    """One HTTP request from the loopback address `client`; a POST carries a valid CSRF pair."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(client, 0))
    headers = {"Host": "127.0.0.1", **(headers or {})}
    cookies = dict(cookies or {})
    body = None
    if method == "POST":
        body = urlencode({**(data or {}), "csrfmiddlewaretoken": CSRF_SECRET}, doseq=True)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        cookies["csrftoken"] = CSRF_SECRET
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    started = time.monotonic()
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read().decode(errors="replace")
    finally:
        connection.close()
    jar = SimpleCookie()
    for line in response.msg.get_all("Set-Cookie") or []:
        jar.load(line)
    return Response(
        response.status,
        {k.lower(): v for k, v in response.getheaders()},
        {name: morsel.value for name, morsel in jar.items()},
        content,
        time.monotonic() - started,
    )


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if condition():
                return
        time.sleep(0.1)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


class Process:
    """A process of the site started through deploy/entrypoint.sh, its output in a log file."""

    def __init__(self, folder, name, env, *args):
        self.name, self.env, self.args = name, env, args
        self.log_path = Path(folder) / f"{name}.log"
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the process
        self.process = subprocess.Popen(  # noqa: S603 - our own entrypoint
            [str(ENTRYPOINT), *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout=40):
        """SIGTERM, as systemd and container engines stop a process; the seconds it took to exit."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout}s of SIGTERM") from None
        return time.monotonic() - started


class Web(Process):
    def __init__(self, folder, name, env):
        self.port = free_port()
        super().__init__(folder, name, {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}, "web")

    def start(self):
        started = time.monotonic()
        super().start()
        wait_for(lambda: request(self.port, "GET", "/healthz", timeout=2).status == 200, 60, f"{self.name}")
        self.started_in = time.monotonic() - started
        return self


class Nginx:
    """Debian's nginx, without privileges, on a free port of 127.0.0.1, in front of `webs`."""

    def __init__(self, folder, webs):
        self.folder = Path(folder) / "nginx"
        self.folder.mkdir()
        for name in ("logs", "temp"):
            (self.folder / name).mkdir()
        shutil.copy(BASE / "deploy" / "nginx" / "proxy.conf", self.folder / "proxy.conf")
        self.port = free_port()
        servers = "".join(
            f"    server 127.0.0.1:{web.port} max_fails=1 fail_timeout={FAIL_TIMEOUT}s;\n" for web in webs
        )
        temp = self.folder / "temp"
        (self.folder / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {self.folder}/nginx.pid;\n"
            f"error_log {self.folder}/logs/error.log warn;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            f"  access_log {self.folder}/logs/access.log;\n"
            f"  client_body_temp_path {temp}/body;\n  proxy_temp_path {temp}/proxy;\n"
            f"  fastcgi_temp_path {temp}/fastcgi;\n  uwsgi_temp_path {temp}/uwsgi;\n  scgi_temp_path {temp}/scgi;\n"
            f"  upstream airepo {{\n{servers}  }}\n"
            f"  server {{\n    listen 127.0.0.1:{self.port};\n    server_name 127.0.0.1;\n"
            f"    location / {{\n      include {self.folder}/proxy.conf;\n    }}\n  }}\n"
            "}\n"
        )
        self.user = None
        if os.geteuid() == 0:  # never nginx with privileges: as nobody, its files its own
            account = pwd.getpwnam("nobody")
            self.user = (account.pw_uid, account.pw_gid)
            os.chmod(folder, 0o755)  # noqa: S103 - so that nobody reaches its own folder inside
            for path in [self.folder, *self.folder.rglob("*")]:
                os.chown(path, *self.user)

    def start(self):
        started = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603 - nginx on our own configuration
            [
                NGINX,
                "-p",
                str(self.folder),
                "-c",
                str(self.folder / "nginx.conf"),
                "-e",
                str(self.folder / "logs/error.log"),
            ],
            user=self.user[0] if self.user else None,
            group=self.user[1] if self.user else None,
            extra_groups=[] if self.user else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: request(self.port, "GET", "/healthz", timeout=2).status == 200, 30, "nginx")
        self.started_in = time.monotonic() - started
        return self

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Topology:
    def __init__(self):
        self.timings = []
        self.folder = tempfile.mkdtemp(prefix="airepo-topology-")
        self.processes = []
        self.nginx = None

    def timed(self, what, seconds):
        self.timings.append((what, seconds))
        return seconds

    def setup(self):
        if not Path(NGINX).exists():
            raise AssertionError(
                f"nginx is needed at {NGINX} for the topology test (scripts/test installs it)."
            )
        started = time.monotonic()
        admin = psycopg.conninfo.conninfo_to_dict(DATABASE_URL.replace("postgres://", "postgresql://", 1))
        self.database = f"airepo_topology_{os.getpid()}"
        self.admin = psycopg.connect(**{**admin, "dbname": "postgres"}, autocommit=True)
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.database}"')
        self.admin.execute(f'CREATE DATABASE "{self.database}"')
        user, host, port = (
            admin.get("user", "airepo"),
            admin.get("host", "127.0.0.1"),
            admin.get("port", 5432),
        )
        password = f":{admin['password']}" if admin.get("password") else ""
        self.database_url = f"postgres://{user}{password}@{host}:{port}/{self.database}"
        self.redis = redis.Redis.from_url(REDIS)
        self.redis.flushdb()
        self.mail = Path(self.folder) / "mail"
        self.mail.mkdir()
        static_root = Path(self.folder) / "static"
        collect_static(static_root)
        self.env = {
            **os.environ,
            **production_env(static_root),
            "PYTHON": sys.executable,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS,
            "ALLOWED_HOSTS": "127.0.0.1",
            "TRUSTED_PROXY_NETWORKS": "127.0.0.1/32",  # nginx's address, and only it
            "SUBMISSION_RATE_LIMIT": str(RATE_LIMIT),
            "AXES_FAILURE_LIMIT": str(FAILURE_LIMIT),
            "WEB_CONCURRENCY": "2",
            "WORKER_CONCURRENCY": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.mail),
            "DJANGO_EDITOR_PASSWORD": PASSWORD,
            "PAGE_CACHE": "true",
            "LOG_LEVEL": "INFO",  # the worker says when it is ready
        }
        self.timed("database created, static files collected", time.monotonic() - started)
        for what, args in (
            ("migrate (entrypoint.sh migrate)", ["migrate", "--verbosity", "0"]),
            ("demo data loaded", ["manage", "load_demo"]),
            ("editor created", ["manage", "createeditor", "edith", "--email", "edith@example.org"]),
        ):
            started = time.monotonic()
            subprocess.run([str(ENTRYPOINT), *args], env=self.env, check=True, capture_output=True)  # noqa: S603
            self.timed(what, time.monotonic() - started)

        self.web1 = Web(self.folder, "web1", self.env)
        self.web2 = Web(self.folder, "web2", self.env)
        self.worker = Process(
            self.folder,
            "worker",
            self.env,
            "worker",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        )
        self.processes = [self.web1, self.web2, self.worker]
        for web in (self.web1, self.web2):
            web.start()
            self.timed(f"{web.name} started (gunicorn, 2 workers) and answering", web.started_in)
        started = time.monotonic()
        self.worker.start()
        wait_for(lambda: "ready." in self.worker.log(), 60, "the worker")
        self.timed("worker started (celery) and ready", time.monotonic() - started)
        self.nginx = Nginx(self.folder, [self.web1, self.web2]).start()
        self.timed("nginx started (not root) and answering", self.nginx.started_in)
        self.slug = self.query("SELECT slug FROM repository_incident ORDER BY id LIMIT 1")[0][0]

    def query(self, sql, *args):
        with psycopg.connect(self.database_url.replace("postgres://", "postgresql://", 1)) as connection:
            return connection.execute(sql, args).fetchall()

    def teardown(self):
        if self.nginx is not None:
            self.nginx.stop()
        for process in self.processes:
            with contextlib.suppress(AssertionError):
                process.stop()
        with contextlib.suppress(Exception):
            self.redis.flushdb()
        if hasattr(self, "admin"):
            self.admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self.admin.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def sign_in(self, port, client, password=PASSWORD):
        return request(
            port, "POST", "/accounts/login/", client=client, data={"username": "edith", "password": password}
        )


@pytest.fixture(scope="module")
def site():
    topology = Topology()
    try:
        topology.setup()
        yield topology
    finally:
        topology.teardown()


def say(capsys, site, what, seconds):
    site.timed(what, seconds)
    with capsys.disabled():
        print(f"\ntopology: {what}: {seconds:.2f}s", end="")


def test_every_process_started_through_the_entrypoint(site, capsys):
    with capsys.disabled():
        print()
        for what, seconds in site.timings:
            print(f"topology: {what}: {seconds:.2f}s")
    for web in (site.web1, site.web2):
        assert request(web.port, "GET", "/readyz").status == 200
        # The container's health check: the entrypoint's probe of the local web process.
        probe = subprocess.run(  # noqa: S603 - our own entrypoint
            [str(ENTRYPOINT), "probe", "/readyz"], env=web.env, capture_output=True, text=True, timeout=30
        )
        assert probe.returncode == 0, probe.stderr
    ready = request(site.nginx.port, "GET", "/readyz")
    assert ready.status == 200
    assert json.loads(ready.body) == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "down": [],
    }
    nginx_user = Path(f"/proc/{site.nginx.process.pid}/status").read_text()
    assert re.search(r"^Uid:\s+[1-9]", nginx_user, re.MULTILINE), "nginx runs without privileges"


def test_a_publish_through_one_process_changes_the_page_the_other_serves_at_once(site, capsys):
    page = f"/incidents/{site.slug}/"
    source = f"https://example.org/topology-{os.getpid()}"
    before = request(site.web2.port, "GET", page)
    assert before.status == 200 and source not in before.body
    assert request(site.web2.port, "GET", page).status == 200
    assert site.redis.keys("*page:*"), "web2 kept the page in the shared cache"

    # A contributor proposes a source through nginx; an editor approves it on web1.
    sent = request(
        site.nginx.port,
        "POST",
        f"/incidents/{site.slug}/improve/",
        client="127.0.0.3",
        data={"form": "source", "source-url": source, "source-category": "news", "source-note": "Topology."},
    )
    assert sent.status == 302, sent.body[:500]
    signed_in = site.sign_in(site.web1.port, "127.0.0.1")
    assert signed_in.status == 302
    [(pk,)] = site.query("SELECT id FROM submissions_submission ORDER BY id DESC LIMIT 1")
    started = time.monotonic()
    approved = request(
        site.web1.port,
        "POST",
        f"/moderation/{pk}/approve/",
        cookies={"sessionid": signed_in.cookies["sessionid"]},
    )
    assert approved.status == 302
    after = request(site.web2.port, "GET", page)
    say(capsys, site, "publish on web1, then the page from web2 shows it", time.monotonic() - started)
    assert after.status == 200
    assert source in after.body, "web2 served the page from before the publish"
    assert source in request(site.nginx.port, "GET", page).body

    # The worker sent the editors' notification of the proposal.
    wait_for(lambda: any("Topology." in p.read_text() for p in site.mail.iterdir()), 30, "the worker's email")


def test_the_rate_limit_is_shared_by_both_processes(site):
    # As nginx would send them: from nginx's address, for the client 127.0.0.4.
    statuses = [
        request(
            web.port, "POST", "/submit/", client="127.0.0.1", headers={"X-Forwarded-For": "127.0.0.4"}
        ).status
        for web in (site.web1, site.web2, site.web1, site.web2)
    ]
    assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT  # the form again, with its errors
    assert statuses[RATE_LIMIT] == 429, statuses
    # Through nginx: the same client is limited whichever process answers, another is not.
    assert request(site.nginx.port, "POST", "/submit/", client="127.0.0.4").status == 429
    assert request(site.nginx.port, "POST", "/submit/", client="127.0.0.5").status == 200


def test_the_sign_in_lockout_is_shared_by_both_processes(site):
    # Wrong passwords from one client, to each process in turn: the limit-th pauses signing in.
    statuses = [
        site.sign_in(web.port, "127.0.0.1", password="wrong").status
        for web in (site.web1, site.web2, site.web1)[:FAILURE_LIMIT]
    ]
    assert statuses == [200] * (FAILURE_LIMIT - 1) + [429]
    # The right password now, on the other process and through nginx: still paused.
    for port in (site.web2.port, site.nginx.port):
        locked = site.sign_in(port, "127.0.0.1")
        assert locked.status == 429
        assert "Too many failed sign-ins" in locked.body
        assert "sessionid" not in locked.cookies
    # Another client signs in.
    assert site.sign_in(site.nginx.port, "127.0.0.6").status == 302


def test_a_session_made_on_one_process_works_on_the_other(site):
    signed_in = site.sign_in(site.nginx.port, "127.0.0.7")
    assert signed_in.status == 302
    session = {"sessionid": signed_in.cookies["sessionid"]}
    for web in (site.web1, site.web2):
        queue = request(web.port, "GET", "/moderation/", cookies=session)
        assert queue.status == 200
        assert "Sign out" in queue.body
        assert request(web.port, "GET", "/moderation/").status == 302  # no session: to the sign-in page


def test_the_client_address_is_nginxs_and_a_forged_one_is_ignored(site):
    forged = "203.0.113.9"
    wrong = request(
        site.nginx.port,
        "POST",
        "/accounts/login/",
        client="127.0.0.8",
        data={"username": "ghost", "password": "wrong"},
        headers={"X-Forwarded-For": forged},
    )
    assert wrong.status == 200
    addresses = [
        row[0]
        for row in site.query("SELECT host(ip_address) FROM axes_accessattempt WHERE username = 'ghost'")
    ]
    assert addresses == ["127.0.0.8"]
    # Straight to a web process from an address that is not nginx's, the header is ignored too.
    request(
        site.web1.port,
        "POST",
        "/accounts/login/",
        client="127.0.0.9",
        data={"username": "ghost2", "password": "wrong"},
        headers={"X-Forwarded-For": forged},
    )
    addresses = [
        row[0]
        for row in site.query("SELECT host(ip_address) FROM axes_accessattempt WHERE username = 'ghost2'")
    ]
    assert addresses == ["127.0.0.9"]


class Load:
    """A few clients asking nginx for pages until stopped (at most `limit` seconds): every status."""

    PATHS = ("/", "/incidents/", "/healthz", "/incidents/?type=incident")

    def __init__(self, site, clients=4, limit=120):
        self.site, self.limit = site, limit
        self.statuses = Counter()
        self.errors = []
        self.running = True
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def _run(self, n):
        deadline = time.monotonic() + self.limit
        i = 0
        while self.running and time.monotonic() < deadline:
            path = self.PATHS[(n + i) % len(self.PATHS)]
            if path == "/incidents/?type=incident":
                path += f"&page={i % 3 + 1}"
            i += 1
            try:
                self.statuses[
                    request(self.site.nginx.port, "GET", path, client=f"127.0.1.{n + 1}").status
                ] += 1
            except OSError as exc:
                self.errors.append(repr(exc))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=60)

    def server_errors(self):
        return sum(count for status, count in self.statuses.items() if status >= 500)


def test_stopping_a_web_process_gracefully_loses_no_request_in_flight(site, capsys):
    # A request web1 has begun to read when SIGTERM arrives: the rest of it comes after.
    held = socket.create_connection(("127.0.0.1", site.web1.port), timeout=30)
    held.sendall(b"GET /incidents/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    time.sleep(0.3)
    with Load(site) as load:
        time.sleep(1.0)
        site.web1.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        held.sendall(b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := held.recv(65536):
            answer += chunk
        held.close()
        started = time.monotonic()
        site.web1.process.wait(timeout=40)
        say(capsys, site, "web1 exited after SIGTERM", time.monotonic() - started)
        time.sleep(1.0)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    with capsys.disabled():
        print(
            f"\ntopology: while web1 stopped, through nginx: {dict(load.statuses)}, errors {load.errors}",
            end="",
        )
    assert load.errors == []
    assert set(load.statuses) == {200}, load.statuses
    started = time.monotonic()
    site.web1.start()
    say(capsys, site, "web1 started again", time.monotonic() - started)


def test_a_rolling_restart_of_both_answers_no_server_error(site, capsys):
    started = time.monotonic()
    with Load(site) as load:
        for web in (site.web1, site.web2):
            stopped_in = web.stop()
            web.start()
            say(
                capsys,
                site,
                f"rolling restart: {web.name} stopped in {stopped_in:.2f}s, started again",
                web.started_in,
            )
            time.sleep(FAIL_TIMEOUT + 0.5)  # nginx tries it again after fail_timeout (docs/deploying.md)
    say(capsys, site, "rolling restart of both, under load", time.monotonic() - started)
    with capsys.disabled():
        total = sum(load.statuses.values())
        print(
            f"\ntopology: rolling restart: {total} requests through nginx: {dict(load.statuses)}, "
            f"errors {load.errors}"
        )
    assert load.errors == []
    assert load.server_errors() == 0, load.statuses
    assert sum(load.statuses.values()) > 20
