#!/usr/bin/env python
"""Every importer against the sheet, per incident, in one run: the AIID import and the JSON
restore should each take at most 1.5 times the sheet's time per row.

    DATABASE_URL=postgres://airepo@127.0.0.1:5432/airepo_bench \\
        .venv/bin/python scripts/benchmark_importers.py [--aiid 2000 20000] [--rounds 3]

Each round, in the database named by DATABASE_URL (a scratch one: it is emptied before each
import), in a fresh process each time, with DEBUG off and a broker for follow-up tasks as in
production (scripts/benchmark_import.py's settings):

1. `import_sheet` of the 2024 sheet (data/aiaaic-repository-2024.csv), and of a sheet of the
   largest AIID size made from it (benchmark_import.write_sheet), each into an empty database;
2. `export_dataset`, then `import_dataset` of the 2024 sheet's JSON snapshot into an empty
   database (the restore);
3. `import_aiid` of a made-up AIID snapshot of each size (scripts/make_aiid_sample.py).

It prints each command's seconds and milliseconds per incident, and each importer's time per
incident as a ratio of the sheet's time per row at the nearest size, the median over the
rounds. Ratios, not seconds, are what compare across machines and loads; the process's
start-up (about a second) is in every figure alike.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("benchmark_import", ROOT / "scripts" / "benchmark_import.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)

REAL_ROWS = 1670


def timed(label, count, *args):
    """Empty the database, migrate, run one manage.py command: seconds per item."""
    bench.empty_database()
    bench.run("migrate", "--noinput")
    seconds, peak, last = bench.run(*args)
    print(
        f"  {label:<28} {count:>7,} items {seconds:7.1f} s {1000 * seconds / count:6.1f} ms each, "
        f"peak {peak:4.0f} MiB | {last[:70]}",
        flush=True,
    )
    return seconds / count


def snapshot_of_real_sheet(directory):
    """The JSON snapshot of the 2024 sheet imported into an empty database."""
    bench.empty_database()
    bench.run("migrate", "--noinput")
    bench.run("import_sheet", str(bench.REAL), "-v", "0")
    exports = Path(directory) / "exports"
    os.environ["EXPORT_DIR"] = str(exports)
    bench.run("export_dataset", "-v", "0")
    return next(exports.glob("*.json"))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--aiid", type=int, nargs="+", default=[2000, 20_000], help="AIID sizes")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to a scratch database: it is emptied.")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 40)
    os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCHMARK_BROKER_URL", "redis://127.0.0.1:6379/9")
    print(f"database: {os.environ['DATABASE_URL'].rsplit('@', 1)[-1]}; load {os.getloadavg()[0]:.1f}")
    big = max(args.aiid)
    with tempfile.TemporaryDirectory() as directory:
        sheet = Path(directory) / f"sheet-{big}.csv"
        bench.write_sheet(sheet, big)
        snapshot = snapshot_of_real_sheet(directory)
        samples = {}
        for size in args.aiid:
            samples[size] = Path(directory) / f"aiid-{size}"
            subprocess.run(  # noqa: S603 (our own interpreter and script)
                [
                    sys.executable,
                    ROOT / "scripts" / "make_aiid_sample.py",
                    samples[size],
                    "--incidents",
                    str(size),
                ],
                check=True,
                capture_output=True,
            )
        ratios = defaultdict(list)
        for round_ in range(1, args.rounds + 1):
            print(f"round {round_}:")
            sheet_small = timed("sheet (2024)", REAL_ROWS, "import_sheet", str(bench.REAL), "-v", "0")
            sheet_big = timed(f"sheet ({big:,} rows)", big, "import_sheet", str(sheet), "-v", "0")
            restore = timed("JSON restore (2024)", REAL_ROWS, "import_dataset", str(snapshot), "-v", "0")
            ratios["JSON restore (2024) / sheet (2024)"].append(restore / sheet_small)
            for size, folder in samples.items():
                aiid = timed(f"AIID ({size:,})", size, "import_aiid", str(folder), "-v", "0")
                base = sheet_small if abs(size - REAL_ROWS) < abs(size - big) else sheet_big
                against = "2024" if base is sheet_small else f"{big:,} rows"
                ratios[f"AIID ({size:,}) / sheet ({against})"].append(aiid / base)
        print(f"per incident, as a ratio of the sheet's time per row (median of {args.rounds}; aim: <= 1.5):")
        for label, values in ratios.items():
            shown = ", ".join(f"{value:.2f}" for value in values)
            print(f"  {label:<38} {median(values):.2f}  ({shown})")


if __name__ == "__main__":
    main()
