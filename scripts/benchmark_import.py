#!/usr/bin/env python
"""Time and peak memory of `import_sheet` on the real sheet and on larger sheets made from it.

    DATABASE_URL=postgres://airepo@127.0.0.1:5432/airepo_bench \\
        .venv/bin/python scripts/benchmark_import.py [--rows 1670 20000 100000]

For each size it empties the database named by DATABASE_URL (point it at a scratch one),
writes a sheet of that many rows made from data/aiaaic-repository-2024.csv (row i is real row
i mod 1,670 with its own id, headline and source link, so every row is a new incident), and
runs `manage.py import_sheet` on it twice in a fresh process each time (DEBUG off and a
broker for follow-up tasks, as in production: BENCHMARK_BROKER_URL, default Redis database 9),
printing seconds,
rows per second and the process's peak memory (RSS). Linear time shows as a steady rate;
flat memory as a peak that does not grow with the rows.

Seconds depend on the machine (the same code has taken 2.2 s and 6.5 s for the real sheet on
two machines of the same kind). `--baseline REV` (any git revision) runs that revision's import
on the same sheets too, alternating with this one --pairs times, from a temporary git worktree
with the same interpreter, and prints this code's seconds as a ratio of the baseline's: a
figure that another machine can compare.
"""

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "data" / "aiaaic-repository-2024.csv"


def write_sheet(path, rows):
    with REAL.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    header, data = table[:3], table[3:]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerows(header)
        for i in range(rows):
            row = list(data[i % len(data)])
            copy = i // len(data)
            if copy:
                row[0] = f"AIAAIC{100_000 + i}"
                row[1] = f"{row[1]} (variant {copy})"
                row[-1] = re.sub(r"/?$", f"-v{copy}", row[-1]) if row[-1] else ""
            writer.writerow(row)


# Runs manage.py in this child process and prints its own peak memory (KiB) when it ends.
PEAK = """
import atexit, resource, runpy, sys
atexit.register(lambda: print("peak-kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))
sys.argv = ["manage.py", *sys.argv[1:]]
runpy.run_path("manage.py", run_name="__main__")
"""


def run(*args, root=ROOT):
    """Run a manage.py command (of the checkout at `root`) in a fresh process: (seconds, peak
    MiB, its last line)."""
    started = time.perf_counter()
    completed = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-c", PEAK, *args], cwd=root, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode:
        sys.exit(completed.stdout + completed.stderr)
    peak = next(
        (int(line.split()[1]) for line in completed.stderr.splitlines() if line.startswith("peak-kib ")), 0
    )
    last = (completed.stdout.strip().splitlines() or [""])[-1]
    return seconds, peak / 1024, last


def empty_database():
    """Drop every table of the scratch database, so that migrate starts it anew."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    else:
        Path(connection.settings_dict["NAME"]).unlink(missing_ok=True)
    connection.close()
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith("redis://"):
        import redis

        redis.Redis.from_url(broker).flushdb()  # the tasks queued by the last run


@contextmanager
def worktree(revision):
    """A temporary checkout of `revision` (git worktree), removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="import-baseline-"))
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", "-q", str(directory), revision], check=True)  # noqa: S603
    try:
        yield directory
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(directory)], check=False)  # noqa: S603


def measure(label, path, rows, root):
    """Import the sheet at `path` twice into the emptied database with the code at `root`:
    {"first": seconds, "second": seconds}."""
    empty_database()
    run("migrate", "--noinput", root=root)
    seconds_of = {}
    for attempt in ("first", "second"):
        seconds, peak, last = run("import_sheet", str(path), "-v", "0", root=root)
        seconds_of[attempt] = seconds
        print(
            f"{label}{rows:>7,} rows, {attempt} run: {seconds:7.1f} s, {rows / seconds:6.0f} rows/s, "
            f"peak memory {peak:5.0f} MiB | {last}",
            flush=True,
        )
    return seconds_of


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1670, 20_000, 100_000])
    parser.add_argument("--baseline", metavar="REV", help="a git revision to compare with, run alternately")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each, with --baseline (default 3)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to a scratch database: it is emptied.")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 40)
    os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCHMARK_BROKER_URL", "redis://127.0.0.1:6379/9")
    print(f"database: {os.environ['DATABASE_URL'].rsplit('@', 1)[-1]}")
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        baseline = stack.enter_context(worktree(args.baseline)) if args.baseline else None
        if baseline:
            print(f"baseline: {args.baseline} (the lines marked 'base'), alternating with this checkout")
        for rows in sorted(args.rows):
            path = Path(directory) / f"sheet-{rows}.csv"
            write_sheet(path, rows)
            if baseline is None:
                measure("", path, rows, ROOT)
                continue
            ours, theirs = [], []
            for _pair in range(max(1, args.pairs)):
                theirs.append(measure("base ", path, rows, baseline))
                ours.append(measure("this ", path, rows, ROOT))
            for attempt in ("first", "second"):
                mine = [times[attempt] for times in ours]
                base = [times[attempt] for times in theirs]
                print(
                    f"{rows:>7,} rows, {attempt} run: {median(mine):.1f} s against {median(base):.1f} s "
                    f"(medians of {len(mine)}): {median(mine) / median(base):.2f} of the baseline's time"
                )


if __name__ == "__main__":
    main()
