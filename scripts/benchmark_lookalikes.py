#!/usr/bin/env python
"""How long the look-alike clusters (`repository.lookalikes`) take as a vocabulary grows.

    .venv/bin/python scripts/benchmark_lookalikes.py [FILE] [--sizes 1000 20000 100000]

Reads the organisation names of an AIAAIC sheet export (default: the shipped 2024 export;
the Deployer and Developer columns), then makes vocabularies of each size from them: the real
names, then real names with a number or "Unit" and a number added (as a large database holds
many names sharing words). Prints, for each size, the seconds to find the pairs and group them,
and how many pairs and clusters were found. Needs no database.
"""

import argparse
import csv
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from repository.lookalikes import clusters, variant_pairs  # noqa: E402


def organisation_names(path):
    rows = list(csv.reader(path.open(encoding="utf-8-sig", newline="")))
    header = rows[1]
    columns = [
        i for i, name in enumerate(header) if name.strip() in ("Deployer(s)", "Developer(s)", "Operator(s)")
    ]
    names = {
        " ".join(part.split())
        for row in rows[3:]
        for i in columns
        if i < len(row)
        for part in row[i].split(";")
        if part.strip()
    }
    return sorted(names)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file", nargs="?", default=str(ROOT / "data" / "aiaaic-repository-2024.csv"))
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000, 20_000, 100_000])
    args = parser.parse_args()
    base = organisation_names(Path(args.file))
    print(f"{len(base):,} organisation names in {Path(args.file).name}")
    random.seed(1)
    for size in args.sizes:
        names, n = list(base), 0
        while len(names) < size:
            name = random.choice(base)  # noqa: S311 (made-up names, not secrets)
            names.append(f"{name} {n}" if n % 3 else f"{name} Unit {n}")
            n += 1
        rows = [(i, name, 1) for i, name in enumerate(names[:size])]
        start = time.perf_counter()
        pairs = variant_pairs([name for _pk, name, _n in rows])
        found = clusters("organisation", rows, pairs)
        seconds = time.perf_counter() - start
        print(
            f"{size:>9,} names: {seconds:7.2f} s ({seconds / size * 1e6:,.0f} µs a name), "
            f"{len(pairs):,} pairs, {len(found):,} clusters"
        )


if __name__ == "__main__":
    main()
