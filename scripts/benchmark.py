#!/usr/bin/env python
"""How the site holds up at 100,000 incidents against the real sheet's 1,670 (2k).

    .venv/bin/python scripts/benchmark.py [--quick] [--keep]

1. Builds two PostgreSQL databases with scripts/benchmark_data.py: `benchmark_2k` (the 2024
   sheet imported) and `benchmark_100k` (its incidents multiplied, 5,000 pending reports);
   --quick makes 2k and 10k, --keep reuses databases already built (migrated again).
2. Runs two gunicorn servers side by side (2 workers each, DEBUG off, the production
   settings but plain HTTP, a Redis cache each), one per database.
3. Times each page (median of --repeat requests, one at a time, the servers in turn) and
   counts its queries (a request through Django's test client, after a first one), then
   prints the ratio 100k / 2k.
4. Measures throughput (requests per second) with locust (installed from PyPI into
   .make/benchmark-venv, pinned in scripts/benchmark-requirements.txt): a static file, the
   Django's liveness answer (/healthz: the middleware, no query, no template; the ceiling of
   any page), the incident page cold (the cache emptied first, each request another incident,
   none asked for twice) and cached (one incident), and the browse page with filters, as ratios
   to the static file.

It prints the machine's cores and load average with the results: on a busy machine compare
ratios, not milliseconds. PostgreSQL is reached as POSTGRES_ADMIN_URL (default
postgres://postgres@127.0.0.1:5432/postgres) to build, and as BENCHMARK_ROLE (airepo) to serve;
the caches are Redis databases --redis-db and the next one (14 and 15) of --redis.
"""

import argparse
import csv
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BENCH_VENV = ROOT / ".make" / "benchmark-venv"
REQUIREMENTS = ROOT / "scripts" / "benchmark-requirements.txt"
LOCUSTFILE = ROOT / "scripts" / "benchmark_locustfile.py"
ROLE = os.environ.get("BENCHMARK_ROLE", "airepo")
HOST = os.environ.get("BENCHMARK_HOST", "127.0.0.1:5432")
ADMIN_URL = os.environ.get("POSTGRES_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
EDITOR = "benchmark-editor"
PREFIX = "benchmark_"


def say(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def label(size):
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def database_url(name):
    return f"postgres://{ROLE}@{HOST}/{name}"


# --- Databases --------------------------------------------------------------------------


def incident_count(name):
    """The database's unmerged incidents, or None when it does not exist or is not built."""
    import psycopg

    try:
        with psycopg.connect(database_url(name), connect_timeout=5) as conn:
            return conn.execute(
                "SELECT count(*) FROM repository_incident WHERE merged_into_id IS NULL"
            ).fetchone()[0]
    except psycopg.Error:
        return None


def build(sizes, keep, sheet):
    names = [f"{PREFIX}{label(size)}" for size in sizes]
    counts = {name: incident_count(name) for name in names}
    if keep and all(counts.values()):
        say("reusing " + ", ".join(f"{name} ({counts[name]:,} incidents)" for name in names))
        try:
            for name in names:
                django_run(name, "manage.py", "migrate", "--noinput", "-v0")
            return names
        except subprocess.CalledProcessError:
            say("they cannot be migrated to this code's schema (see above): building them again")
    say(f"building {', '.join(names)} with scripts/benchmark_data.py (progress below)")
    command = [PYTHON, "scripts/benchmark_data.py", "--prefix", PREFIX, "--sizes", *map(str, sizes)]
    if sheet:
        command += ["--sheet", str(sheet)]
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, "POSTGRES_ADMIN_URL": ADMIN_URL})  # noqa: S603
    return names


# --- Django-side preparation (runs in a subprocess per database) ------------------------


def server_env(name, static_root, redis_url=""):
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-" + secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DATABASE_URL": database_url(name),
        "STATIC_ROOT": str(static_root),
        "CACHE_URL": redis_url,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        # Plain HTTP on the loopback: cookies without the Secure flag, no rate limit.
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SUBMISSION_RATE_LIMIT": "1000000000",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


STATIC_ROOT = Path(tempfile.gettempdir()) / "airepo-benchmark-static"


def django_run(name, *args, capture=False, extra_env=None):
    env = {**server_env(name, STATIC_ROOT), **(extra_env or {})}
    result = subprocess.run(  # noqa: S603
        [PYTHON, *args], cwd=ROOT, env=env, check=True, text=True, capture_output=capture
    )
    return result.stdout


def prepare(args):
    """In a database's own process: the editor, the pages to measure and their query counts."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count
    from django.templatetags.static import static
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from repository.models import Entity, Incident, Term
    from submissions import services
    from submissions.models import Submission

    setup_test_environment()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"},
    }
    chosen = json.loads(args.chosen) if args.chosen else {}
    users = get_user_model().objects
    editor = users.filter(username=EDITOR).first()
    if editor is None:
        editor, _ = services.editor_create(
            username=EDITOR, email="benchmark@example.org", password=args.password
        )
    else:
        editor.set_password(args.password)
        editor.save(update_fields=["password"])

    def top(queryset):
        return queryset.annotate(n=Count("incident_terms")).order_by("-n").first()

    if not chosen:  # chosen on the smaller database, whose rows the larger one copies
        country = top(Term.objects.filter(vocabulary__slug="country"))
        sector = top(Term.objects.filter(vocabulary__slug="sector"))
        technology = top(Term.objects.filter(vocabulary__slug="technology"))
        entity = Entity.objects.annotate(n=Count("incident_entities")).order_by("-n").first()
        incidents = Incident.objects.unmerged().order_by("number").values_list("slug", flat=True)
        incident = incidents[len(incidents) // 2]
        report = (
            Submission.objects.filter(kind=Submission.Kind.NEW_INCIDENT, state=Submission.State.PENDING)
            .order_by("pk")
            .first()
        )
        facets = f"country={country.slug}&sector={sector.slug}&technology={technology.slug}"
        chosen = {
            "facets": facets,
            "country": country.slug,
            "entity": entity.slug,
            "incident": incident,
            "report_headline": report.proposed["headline"] if report else "",
        }
    report = (
        Submission.objects.filter(
            kind=Submission.Kind.NEW_INCIDENT,
            state=Submission.State.PENDING,
            proposed__headline=chosen["report_headline"],
        )
        .order_by("pk")
        .first()
    )
    if report is None:  # a report of the chosen incident, as a contributor would send it
        document = Incident.objects.get(slug=chosen["incident"]).current_revision.document
        report = services.submission_create(
            kind=Submission.Kind.NEW_INCIDENT,
            proposed={**document, "headline": "Reported: " + document["headline"]},
            email="",
        )
        chosen["report_headline"] = report.proposed["headline"]
    proposed = report.proposed
    sources = [proposed.get("source_url") or ""] + [
        ref["url"] for refs in proposed["references"].values() for ref in refs
    ]
    submit = {
        "step": "check",
        "headline": proposed["headline"],
        "occurred": proposed["occurred"] or "2021",
        "narrative": proposed["narrative"] or proposed["summary"] or proposed["headline"],
        "deployer": "; ".join(proposed["entities"]["deployer"]),
        "developer": "; ".join(proposed["entities"]["developer"]),
        "sources": "\n".join(url for url in sources if url)[:2000] or "https://example.org/a-report",
    }
    pages = [
        ("home", "/", "GET", False),
        ("browse", "/incidents/", "GET", False),
        ("browse, 3 facets", f"/incidents/?{chosen['facets']}", "GET", False),
        ("search", "/incidents/?q=police", "GET", False),
        ("search, a synonym", "/incidents/?q=Uighur", "GET", False),
        ("search, misspelt", "/incidents/?q=facial+recogntion", "GET", False),
        ("search + 3 facets", f"/incidents/?q=police&{chosen['facets']}", "GET", False),
        ("term page (country)", f"/taxonomy/country/{chosen['country']}/", "GET", False),
        ("entity page", f"/entities/{chosen['entity']}/", "GET", False),
        ("incident page", f"/incidents/{chosen['incident']}/", "GET", False),
        ("review, new report", f"/moderation/{report.pk}/", "GET", True),
        ("/submit/ duplicate check", "/submit/", "POST", False),
        ("stats", "/stats/", "GET", False),
        ("API list", "/api/v1/incidents/", "GET", False),
        ("API detail", f"/api/v1/incidents/{chosen['incident']}/", "GET", False),
    ]
    client, editor_client = Client(), Client()
    editor_client.force_login(editor)
    measured = []
    for title, path, method, as_editor in pages:
        browser = editor_client if as_editor else client

        def fetch(browser=browser, path=path, method=method):
            return browser.post(path, submit) if method == "POST" else browser.get(path)

        fetch()  # the first request fills what a running site has cached
        with CaptureQueriesContext(connection) as queries:
            response = fetch()
        measured.append(
            {"title": title, "path": path, "method": method, "editor": as_editor,
             "status": response.status_code, "queries": len(queries)}
        )  # fmt: skip
    slugs = list(Incident.objects.unmerged().order_by("?").values_list("slug", flat=True)[:5000])
    print(
        json.dumps(
            {
                "chosen": chosen,
                "pages": measured,
                "submit": submit,
                "static": static("css/site.css"),
                "slugs": slugs,
                "incidents": Incident.objects.unmerged().count(),
                "pending": Submission.objects.filter(state=Submission.State.PENDING).count(),
            }
        )
    )


# --- Servers ----------------------------------------------------------------------------


class Server:
    def __init__(self, name, port, redis_url):
        self.name, self.port, self.redis_url = name, port, redis_url
        self.cookies = {}
        self.process = None

    def start(self):
        env = server_env(self.name, STATIC_ROOT, self.redis_url)
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "config.wsgi:application",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        for _ in range(300):
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn for {self.name} stopped (exit {self.process.returncode})")
            time.sleep(0.2)
        raise SystemExit(f"gunicorn for {self.name} did not answer on port {self.port}")

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)

    def request(self, method, path, body=None, editor=False):
        """(status, body, milliseconds) of one request, on a new connection as gunicorn's sync
        workers close each one."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Host": "127.0.0.1"}
        cookies = {k: v for k, v in self.cookies.items() if editor or k != "sessionid"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if body is not None:
            body = urllib.parse.urlencode({**body, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        connection.close()
        return response.status, content, elapsed

    def sign_in(self, password):
        self.request("GET", "/accounts/login/")
        status, _, _ = self.request("POST", "/accounts/login/", {"username": EDITOR, "password": password})
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"could not sign in as {EDITOR} on {self.name} (status {status})")


def flush_cache(redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()


# --- Measurements -----------------------------------------------------------------------


def time_pages(servers, preparations, repeat):
    rows = []
    small, large = preparations
    for index, page in enumerate(small["pages"]):
        other = large["pages"][index]
        if page["status"] == 404 and page["title"] in ("stats", "API list", "API detail"):
            rows.append({**page, "skipped": True})
            continue
        times = {0: [], 1: []}
        statuses = {}
        for round_ in range(repeat + 2):
            for side, (server, prepared) in enumerate(zip(servers, preparations, strict=True)):
                item = prepared["pages"][index]
                body = prepared["submit"] if item["method"] == "POST" else None
                status, _, ms = server.request(item["method"], item["path"], body, editor=item["editor"])
                statuses[side] = status
                if round_ >= 2:  # two to warm up
                    times[side].append(ms)
        rows.append(
            {
                **page,
                "skipped": False,
                "ms": [statistics.median(times[0]), statistics.median(times[1])],
                "statuses": [statuses[0], statuses[1]],
                "queries": [page["queries"], other["queries"]],
            }
        )
        say(f"  {page['title']}: {rows[-1]['ms'][0]:.0f} ms / {rows[-1]['ms'][1]:.0f} ms")
    return rows


def ensure_locust():
    locust = BENCH_VENV / "bin" / "locust"
    if not locust.exists():
        say(f"installing locust into {BENCH_VENV.relative_to(ROOT)} ({REQUIREMENTS.relative_to(ROOT)})")
        subprocess.run([PYTHON, "-m", "venv", str(BENCH_VENV)], check=True)  # noqa: S603
        installed = subprocess.run(  # noqa: S603
            [
                str(BENCH_VENV / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        if installed.returncode:
            shutil.rmtree(BENCH_VENV, ignore_errors=True)
            raise SystemExit(f"could not install locust:\n{installed.stdout}{installed.stderr}")
    return locust


def throughput(locust, server, paths, seconds, users, workdir, once=False):
    """Requests per second locust gets from `server` cycling through `paths` (with `once`,
    asking for each path once at most), failures and requests made. Locust's rate counts the
    time until the last request, so a list that runs out early is not diluted."""
    pathfile = workdir / f"paths-{server.port}.txt"
    pathfile.write_text("\n".join(paths))
    prefix = workdir / f"locust-{server.port}"
    subprocess.run(  # noqa: S603
        [
            str(locust),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "-H",
            f"http://127.0.0.1:{server.port}",
            "--csv",
            str(prefix),
            "--loglevel",
            "ERROR",
            # Requests still running at the end are waited for and counted.
            "--stop-timeout",
            "120",
        ],
        check=False,
        env={**os.environ, "BENCHMARK_PATHS": str(pathfile), "BENCHMARK_ONCE": "1" if once else ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"]), int(row["Failure Count"]), int(row["Request Count"])
    return 0.0, 0, 0


def measure_throughput(servers, preparations, seconds, users):
    locust = ensure_locust()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        for server, prepared in zip(servers, preparations, strict=True):
            incident = f"/incidents/{prepared['chosen']['incident']}/"
            browse = f"/incidents/?{prepared['chosen']['facets']}"
            cases = [
                ("static file", [prepared["static"]]),
                # The ceiling of any response Django makes, for reading the lines below it: the
                # whole middleware, no query, no template.
                ("Django, no query (/healthz)", ["/healthz"]),
                ("incident page, cold cache", [f"/incidents/{slug}/" for slug in prepared["slugs"]]),
                ("incident page, cached", [incident]),
                ("browse with filters", [browse]),
            ]
            for title, paths in cases:
                if "cold" in title:
                    flush_cache(server.redis_url)
                else:
                    server.request("GET", paths[0])  # warm
                # Cold means each page rendered: never the same page twice, even where the
                # repository has fewer incidents than the time allows requests.
                once = "cold" in title
                rps, failures, count = throughput(locust, server, paths, seconds, users, workdir, once)
                results[(server.name, title)] = (rps, failures, count)
                ran_out = ", every page once: the list ran out" if once and count >= len(paths) else ""
                say(
                    f"  {server.name} {title}: {rps:.1f} requests/s "
                    f"({count} requests, {failures} failed{ran_out})"
                )
    return results


# --- Report -----------------------------------------------------------------------------


def environment():
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load} (1, 5, 15 min)"


def report(names, preparations, rows, rates, settings):
    small, large = names
    print()
    print("Environment:", environment())
    print(
        f"Python {sys.version.split()[0]}; gunicorn 2 sync workers per server, DEBUG off, Redis cache; "
        f"{settings['repeat']} timed requests per page, medians"
    )
    for name, prepared in zip(names, preparations, strict=True):
        print(f"  {name}: {prepared['incidents']:,} incidents, {prepared['pending']:,} pending submissions")
    print()
    head = f"{'page':<28} {label_of(small):>8} {label_of(large):>9} {'ratio':>6}  {'queries':>9}  status"
    print(head)
    print("-" * len(head))
    for row in rows:
        if row["skipped"]:
            print(f"{row['title']:<28} {'(no such URL: skipped)':>26}")
            continue
        a, b = row["ms"]
        queries = f"{row['queries'][0]}/{row['queries'][1]}"
        statuses = "/".join(str(s) for s in row["statuses"])
        print(f"{row['title']:<28} {a:>6.0f}ms {b:>7.0f}ms {b / a:>6.2f}  {queries:>9}  {statuses}")
    if rates:
        print()
        head = f"{'throughput (requests/s)':<28} {label_of(small):>8} {label_of(large):>9} {'ratio':>6}  vs static file"
        print(head)
        print("-" * len(head))
        titles = list(dict.fromkeys(title for _, title in rates))
        for title in titles:
            a, failed_a, _ = rates[(small, title)]
            b, failed_b, _ = rates[(large, title)]
            static_a, static_b = rates[(small, "static file")][0], rates[(large, "static file")][0]
            failed = f"  ({failed_a}/{failed_b} failed)" if failed_a or failed_b else ""
            print(
                f"{title:<28} {a:>8.1f} {b:>9.1f} {b / a if a else 0:>6.2f}  "
                f"{a / static_a if static_a else 0:.3f} / {b / static_b if static_b else 0:.3f}{failed}"
            )
        print(f"(locust, {settings['users']} users, {settings['seconds']} s per line and server)")
    print("Environment at the end:", environment())


def label_of(name):
    return name.removeprefix(PREFIX)


def main():
    global PREFIX  # one run, one set of databases
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2k and 10k, fewer requests, shorter load runs")
    parser.add_argument("--keep", action="store_true", help="reuse the databases built by an earlier run")
    parser.add_argument("--sheet", type=Path, help="the AIAAIC sheet (default: as scripts/benchmark_data.py)")
    parser.add_argument("--repeat", type=int, help="timed requests per page and server (default 15, quick 5)")
    parser.add_argument("--seconds", type=int, help="seconds per throughput run (default 15, quick 5)")
    parser.add_argument("--users", type=int, default=8, help="concurrent locust users")
    parser.add_argument("--no-throughput", action="store_true", help="only time the pages")
    parser.add_argument("--port", type=int, default=8771, help="the 2k server's port (the other: the next)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server for the two caches")
    parser.add_argument(
        "--redis-db", type=int, default=14, help="the 2k server's cache database (other: next)"
    )
    parser.add_argument(
        "--prefix", default=PREFIX, help=f"the databases' names before their size (default {PREFIX})"
    )
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--chosen", help=argparse.SUPPRESS)
    parser.add_argument("--password", help=argparse.SUPPRESS)
    args = parser.parse_args()
    PREFIX = args.prefix
    if args.prepare:
        return prepare(args)

    sizes = [2000, 10_000] if args.quick else [2000, 100_000]
    settings = {
        "repeat": args.repeat or (5 if args.quick else 15),
        "seconds": args.seconds or (5 if args.quick else 15),
        "users": args.users,
    }
    say("environment: " + environment())
    names = build(sizes, args.keep, args.sheet)

    say("collecting static files")
    shutil.rmtree(STATIC_ROOT, ignore_errors=True)
    django_run(names[0], "manage.py", "collectstatic", "--noinput", "-v0")

    password = secrets.token_urlsafe(16)
    preparations, chosen = [], ""
    for name in names:
        say(f"{name}: editor, pages and query counts")
        output = django_run(
            name,
            "scripts/benchmark.py",
            "--prepare",
            # As --name=value: a value starting with "-" (a random password can) is not an option.
            f"--password={password}",
            f"--chosen={chosen}",
            capture=True,
        )
        prepared = json.loads(output.strip().splitlines()[-1])
        chosen = json.dumps(prepared["chosen"])
        preparations.append(prepared)

    servers = [
        Server(name, args.port + i, f"{args.redis}/{args.redis_db + i}") for i, name in enumerate(names)
    ]
    try:
        for server in servers:
            flush_cache(server.redis_url)
            server.start()
            server.sign_in(password)
        say(f"servers up on ports {args.port} and {args.port + 1}; timing pages")
        rows = time_pages(servers, preparations, settings["repeat"])
        rates = {}
        if not args.no_throughput:
            say("throughput")
            rates = measure_throughput(servers, preparations, settings["seconds"], settings["users"])
    finally:
        for server in servers:
            server.stop()
    report(names, preparations, rows, rates, settings)


if __name__ == "__main__":
    main()
