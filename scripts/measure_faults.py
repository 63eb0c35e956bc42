"""Measure how the site behaves when PostgreSQL or Redis falter (docs/operating.md, Reliability).

    DATABASE_URL=postgres://airepo@127.0.0.1:5432/airepo .venv/bin/python scripts/measure_faults.py \\
        [--outage 8] [--workers 2] [--rounds 3]

It starts gunicorn as in production (gunicorn.conf.py, DEBUG off) on DATABASE_URL's database
(migrated, with at least one published incident) reached through a TCP proxy, and prints:

- recovery: PostgreSQL cut off for --outage seconds while clients keep asking, then back; how
  long until the first request is served again and until the last one fails (every worker);
- pause: PostgreSQL paused (connections open, nothing answers); how long /healthz, a page from
  the cache and a page that needs the database take (the last should be the 503 page after
  DATABASE_POOL_TIMEOUT);
- Redis hanging (an accepting server that never answers) as cache and broker: how long a report
  takes, first on a fresh process and then the first after each backoff.

Nothing is stopped on the machine: the faults are the proxy's and a fake Redis's.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from submissions.tests.faults import HangingServer, Site, TcpProxy, collect_static  # noqa: E402


def statuses(site, path, seconds, clients=4):
    """(seconds from the start to its answer, status) of requests sent back to back by `clients` threads."""
    results, started = [], time.monotonic()

    def client():
        while time.monotonic() - started < seconds:
            try:
                status = site.request("GET", path, timeout=10)[0]
            except OSError:
                status = 0
            results.append((time.monotonic() - started, status))  # when it was answered
            time.sleep(0.02)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


def measure_recovery(env, static_root, args):
    rows = []
    for _ in range(args.rounds):
        proxy = TcpProxy(int(db["PORT"] or 5432), db["HOST"] or "127.0.0.1")
        try:
            with Site({**env, "DATABASE_URL": proxied(proxy)}, static_root, workers=args.workers) as site:
                statuses(site, "/readyz", 1.0)
                proxy.down()
                statuses(site, "/readyz", args.outage)
                proxy.up()
                after = statuses(site, "/readyz", 5.0)
                first = next((t for t, s in after if s == 200), float("nan"))
                failures = [t for t, s in after if s != 200]
                rows.append((first, failures[-1] if failures else 0.0, len(failures), len(after)))
        finally:
            proxy.close()
    print(f"Recovery after a {args.outage:g} s outage, {args.workers} workers, 4 clients asking /readyz:")
    for first, last, failed, total in rows:
        print(f"  first 200 after {first:.2f} s; last failure at {last:.2f} s ({failed} of {total} failed)")


def measure_pause(env, static_root, args):
    proxy = TcpProxy(int(db["PORT"] or 5432), db["HOST"] or "127.0.0.1")
    try:
        with Site({**env, "DATABASE_URL": proxied(proxy)}, static_root) as site:
            site.request("GET", "/")
            site.request("GET", "/")  # the home page is now in the cache
            proxy.pause()
            held = [
                threading.Thread(target=site.request, args=("GET", "/readyz"), kwargs={"timeout": 120})
                for _ in range(12)
            ]
            for thread in held:  # as many as the pool has connections, and more
                thread.start()
            time.sleep(1.5)
            print("PostgreSQL paused (12 requests already waiting on it):")
            for path in ("/healthz", "/", "/submit/"):
                times, codes = [], set()
                for _ in range(5):
                    status, _, elapsed = site.request("GET", path, timeout=60)
                    times.append(elapsed)
                    codes.add(status)
                print(
                    f"  {path:10} answered {sorted(codes)} in {statistics.median(times):.3f} s (median of 5)"
                )
            proxy.resume()
            started = time.monotonic()
            while site.request("GET", "/submit/")[0] != 200:
                time.sleep(0.02)
            print(f"  resumed: /submit/ served again after {time.monotonic() - started:.2f} s")
            for thread in held:
                thread.join(timeout=30)
    finally:
        proxy.close()


def measure_redis_hang(env, static_root, args):
    with HangingServer() as redis:
        url = f"redis://127.0.0.1:{redis.port}/0"
        env = {**env, "REDIS_URL": url, "CELERY_BROKER_URL": url, "CACHE_BACKOFF_SECONDS": "1"}
        with Site(env, static_root) as site:
            times = []
            for attempt in range(6):
                data = {"headline": f"Measured report {time.time()} {attempt}", "occurred": "2024"}
                times.append(site.request("POST", "/submit/", data)[2])
                time.sleep(1.2)  # the backoff runs out: the next request tries Redis again
    print("Redis hanging (cache and broker), a report:")
    print(
        f"  on a fresh process {times[0]:.3f} s; first after each backoff: "
        + ", ".join(f"{t:.3f}" for t in times[1:])
        + " s"
    )


def proxied(proxy):
    return f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=8.0, help="seconds PostgreSQL is cut off")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    db = connection.settings_dict
    static_root = Path(tempfile.mkdtemp(prefix="airepo-static-"))
    try:
        collect_static(static_root)
        env = {}
        measure_recovery(env, static_root, args)
        measure_pause(env, static_root, args)
        measure_redis_hang(env, static_root, args)
    finally:
        shutil.rmtree(static_root, ignore_errors=True)
