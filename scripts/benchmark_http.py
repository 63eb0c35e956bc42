"""Requests per second of public pages against a static file, under gunicorn, with locust.

    DATABASE_URL=postgres://airepo@127.0.0.1:5432/bench100k_copy CACHE_URL=redis://127.0.0.1:6379/4 \\
        .venv/bin/python scripts/benchmark_http.py [--seconds 20] [--users 16] [--workers 2]

It collects the static files into a temporary folder, starts gunicorn (production settings:
DEBUG off, WhiteNoise, the page cache in CACHE_URL's Redis, which it empties first) and runs
`locust --headless` (FastHttpUser, Accept-Encoding "gzip, br" as browsers send) against:

- a static file (the site's stylesheet, served by WhiteNoise from the same gunicorn);
- the incident page, cached (one page, asked again and again);
- the incident page, cold (a different incident each request, never asked before: each is
  rendered and stored);
- the browse page with filters, cached and cold (each request another page of results);
- with --no-cache too, the same pages with the page cache off (every request rendered).

It prints requests per second and each as a share of the static file's (interleaved rounds,
medians), and the gunicorn workers' CPU time per request, which other load on the machine
(the load generator included) changes far less: the static file's CPU time over a page's is
the share of the static file's rate the page gets when the workers are CPU-bound.
"""

import argparse
import csv
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

LOCUSTFILE = """
import itertools, os
from locust import FastHttpUser, constant, task

PATHS = open(os.environ["BENCH_PATHS"]).read().split()
NEXT = itertools.cycle(PATHS)
HEADERS = {"Accept-Encoding": "gzip, br"}


class Reader(FastHttpUser):
    wait_time = constant(0)

    @task
    def page(self):
        with self.client.get(next(NEXT), headers=HEADERS, name="page", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sample(count):
    """Slugs of `count` random unmerged incidents."""
    import django

    os.environ.setdefault("DEBUG", "true")  # only to read the database here
    django.setup()
    from django.db import connection

    from repository.models import Incident

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM repository_incident")
        (top,) = cursor.fetchone()
    ids = random.sample(range(1, top + 1), min(top, count * 2))
    slugs = list(Incident.objects.unmerged().filter(pk__in=ids).values_list("slug", flat=True)[:count])

    return slugs


def locust(url, paths, seconds, users, workdir, label):
    paths_file = workdir / f"{label}.paths"
    paths_file.write_text("\n".join(paths))
    locustfile = workdir / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    prefix = workdir / label
    subprocess.run(  # noqa: S603 - our own command line
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            "--headless",
            "--only-summary",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            url,
            "--csv",
            str(prefix),
            "--loglevel",
            "WARNING",
        ],
        env={**os.environ, "BENCH_PATHS": str(paths_file)},
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv") as file:
        row = next(row for row in csv.DictReader(file) if row["Name"] == "Aggregated")
    return (
        float(row["Requests/s"]),
        int(row["Failure Count"]),
        float(row["50%"]) if row["50%"] not in ("", "N/A") else 0.0,
        float(row["Average Content Size"] or 0),
        int(row["Request Count"]),
    )


class Server:
    def __init__(self, env, workers):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="airepo-bench-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "300",  # the first, uncached, renders of slow pages
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310 - our server
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not start; see {self.log.name}")

    def cpu(self):
        """CPU seconds used so far by the gunicorn workers (whatever else runs on the machine)."""
        import psutil

        total = 0.0
        for worker in psutil.Process(self.process.pid).children():
            times = worker.cpu_times()
            total += times.user + times.system
        return total

    def drain(self):
        """Wait until requests queued by the last run are served (slow pages outlive locust)."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            started = time.monotonic()
            self.get("/healthz")
            if time.monotonic() - started < 0.2:
                return
            time.sleep(0.5)

    def get(self, path):
        request = urllib.request.Request(self.url + path, headers={"Accept-Encoding": "gzip, br"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our server
            return response.read()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20, help="per measurement")
    parser.add_argument("--users", type=int, default=16, help="concurrent locust users")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--browse",
        default="/incidents/?type=incident&occurred_from=2020",
        help="the browse page with filters",
    )
    parser.add_argument("--rounds", type=int, default=3, help="each measured this many times, interleaved")
    parser.add_argument("--no-cache", action="store_true", help="also measure with the page cache off")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    cache_url = os.environ.get("CACHE_URL", "")
    if not database_url.startswith("postgres") or not cache_url.startswith("redis"):
        raise SystemExit("Set DATABASE_URL (PostgreSQL) and CACHE_URL (a Redis database to empty).")

    per_round = 6000
    slugs = sample(1 + per_round * args.rounds)
    browse = args.browse
    static_root = Path(tempfile.mkdtemp(prefix="airepo-bench-static-"))
    workdir = Path(tempfile.mkdtemp(prefix="airepo-bench-"))
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-" + "k3y-" * 12,
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(static_root),
        "CACHE_URL": cache_url,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    manifest = (static_root / "staticfiles.json").read_text()
    stylesheet = "/static/" + json.loads(manifest)["paths"]["css/site.css"]
    incident = f"/incidents/{slugs[0]}/"
    print(f"static file: {stylesheet}\nincident page: {incident}\nbrowse page: {browse}")
    print(f"gunicorn, {args.workers} workers; locust, {args.users} users, {args.seconds} s each\n")

    import redis

    try:
        modes = [("cache", "true")] + ([("no cache", "false")] if args.no_cache else [])
        for mode, flag in modes:
            redis.Redis.from_url(cache_url).flushdb()
            server = Server({**env, "PAGE_CACHE": flag}, args.workers)
            rates, ratios, costs = {}, {}, {}
            try:
                for path in (incident, browse, "/"):  # warm: the cached measurements are hits
                    started = time.monotonic()
                    server.get(path)
                    print(f"  first GET {path}: {time.monotonic() - started:.2f} s", flush=True)
                for round_ in range(args.rounds):
                    # Cold: pages never asked before, a fresh share of them each round.
                    share = slugs[1 + round_ * per_round : 1 + (round_ + 1) * per_round]
                    first = 2 + round_ * 5000
                    runs = [
                        ("static file", [stylesheet]),
                        ("incident page, cached", [incident]),
                        ("incident page, cold", [f"/incidents/{slug}/" for slug in share]),
                        ("browse with filters, cached", [browse]),
                        (
                            "browse with filters, cold",
                            [f"{browse}&page={n}" for n in range(first, first + 5000)],
                        ),
                    ]
                    if mode == "no cache":  # every request is rendered: "cached" means nothing
                        runs = [
                            (label.replace(", cached", ""), paths)
                            for label, paths in runs
                            if "cold" not in label
                        ]
                    for label, paths in runs:
                        name = f"{label.replace(' ', '_').replace(',', '')}_{round_}"
                        server.drain()
                        cpu = server.cpu()
                        rps, failures, median, size, count = locust(
                            server.url, paths, args.seconds, args.users, workdir, name
                        )
                        per_request = 1000 * (server.cpu() - cpu) / max(count, 1)
                        rates.setdefault(label, []).append(rps)
                        ratios.setdefault(label, []).append(rps / max(rates["static file"][-1], 1e-9))
                        costs.setdefault(label, []).append(per_request)
                        print(
                            f"  round {round_ + 1} {label:30} {rps:7.0f} req/s  median {median:.0f} ms  "
                            f"{size / 1024:.1f} KiB  workers' CPU {per_request:.2f} ms/request  failures {failures}",
                            flush=True,
                        )
            finally:
                server.stop()
            print(f"\nPage cache {'on' if flag == 'true' else 'off'}: medians of {args.rounds} rounds")
            static_cost = statistics.median(costs["static file"])
            for label, values in rates.items():
                cost = statistics.median(costs[label])
                print(
                    f"  {label:30} {statistics.median(values):7.0f} req/s  "
                    f"{100 * statistics.median(ratios[label]):5.1f}% of the static file's; "
                    f"workers' CPU {cost:.2f} ms/request ({100 * static_cost / cost:5.1f}% of the static "
                    "file's rate when CPU-bound)"
                )
            print()
    finally:
        shutil.rmtree(static_root, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
        redis.Redis.from_url(cache_url).flushdb()


if __name__ == "__main__":
    main()
