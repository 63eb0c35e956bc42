#!/usr/bin/env python
"""Do dated exports imported in any order give one record? Three exports are derived from the
first ROWS rows of an AIAAIC sheet export, dated apart, as real exports drift: the second has
rows reordered, cells blanked (they say nothing), countries edited and headlines rewritten; the
third drops rows, drops an item of some issue lists and changes some periods, in reverse order.

    DATABASE_URL=sqlite:////tmp/orders.sqlite3 .venv/bin/python scripts/import_orders.py [FILE] [--rows 300]

It migrates the database named by DATABASE_URL (use an empty one), then for each of the six
orders imports the three exports (each order rolled back after), imports each again, and
prints the incidents and statements kept, the values resolved by date ("older-value"), the
changes proposed to editors, the ids reported as naming another story and what the imports
run again changed; last, how many incidents differ from the first order's (by their
documents, not their numbers or slugs), and how many beyond the spelling a name is shown in
(the taxonomy's: the most common spelling of the file that first met the name).
"""

import argparse
import csv
import io
import itertools
import json
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from repository.documents import fold  # noqa: E402
from repository.importers.sheet import sheet_import  # noqa: E402
from repository.models import Incident, SourceRecord  # noqa: E402


def derive(path, rows, folder):
    """Write a.csv, b.csv and c.csv (2025-06-15, 2025-10-01, 2026-02-01) into `folder`."""
    lines = list(csv.reader(path.open(encoding="utf-8-sig", newline="")))
    title, header, sub, data = lines[0], lines[1], lines[2], lines[3 : 3 + rows]
    column = {name: index for index, name in enumerate(header) if name}
    chance = random.Random(24)  # noqa: S311 - a fixed draw of edits, no secret

    def write(name, date, body):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([f"AIAAIC Repository, updated {date}", *title[1:]])
        writer.writerows([header, sub, *body])
        (folder / f"{name}.csv").write_text(out.getvalue(), encoding="utf-8")

    write("a", "2025-06-15", data)
    second = [list(row) for row in data]
    for row in second:
        draw = chance.random()
        if draw < 0.1:
            row[column["Sector(s)"]] = ""
        elif draw < 0.2:
            row[column["Country(ies)"]] = "Global"
        elif draw < 0.25:
            row[column["Headline"]] += " (updated)"
    chance.shuffle(second)
    write("b", "2025-10-01", second)
    third = [list(row) for row in data][: max(rows - 5, 1)]
    for row in third:
        draw = chance.random()
        issues = row[column["Issue(s)"]].split(";")
        if draw < 0.15 and len(issues) > 1:
            row[column["Issue(s)"]] = ";".join(issues[:-1])
        elif draw < 0.25:
            row[column["Occurred"]] = "2023"
    third.reverse()
    write("c", "2026-02-01", third)
    return {name: folder / f"{name}.csv" for name in "abc"}


def record(spelling=True):
    """Every incident's document, keyed by its external ids and headline; without `spelling`,
    its names folded (the spelling a name is shown in is the taxonomy's: the most common one
    of the file that first met it)."""
    found = {}
    for incident in Incident.objects.filter(merged_into=None).select_related("current_revision"):
        document = incident.current_revision.document
        key = (
            tuple(sorted((e["scheme"], e["value"]) for e in document["external_ids"])),
            document["headline"],
        )
        if not spelling:
            document = {
                **document,
                "terms": {slug: [fold(name) for name in names] for slug, names in document["terms"].items()},
                "entities": {
                    role: [fold(name) for name in names] for role, names in document["entities"].items()
                },
            }
        found.setdefault(key, []).append(json.dumps(document, sort_keys=True))
    return {key: sorted(value) for key, value in found.items()}


def differing(first, found):
    return sum(1 for key in set(first) | set(found) if first.get(key) != found.get(key))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", nargs="?", default=str(ROOT / "data" / "aiaaic-repository-2024.csv"))
    parser.add_argument("--rows", type=int, default=300)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    records = {}
    with tempfile.TemporaryDirectory() as folder:
        files = derive(Path(options.file), options.rows, Path(folder))
        for order in itertools.permutations("abc"):
            with transaction.atomic():
                counts = dict.fromkeys(("created", "updated", "by_date", "proposals", "doubts"), 0)
                for name in order:
                    result = sheet_import(path=files[name])
                    for key in counts:
                        counts[key] += getattr(result, key)
                records[order] = (record(), record(spelling=False))
                again = [sheet_import(path=files[name]) for name in "abc"]
                print(
                    f"{''.join(order)}: {Incident.objects.filter(merged_into=None).count():,} incidents, "
                    f"{SourceRecord.objects.count():,} statements; {counts['created']:,} created, "
                    f"{counts['updated']:,} updated, {counts['by_date']:,} values resolved by date, "
                    f"{counts['proposals']:,} proposals, {counts['doubts']:,} ids of another story; "
                    f"imported again: {sum(r.created + r.updated for r in again):,} changed",
                    flush=True,
                )
                transaction.set_rollback(True)
    first = records[("a", "b", "c")]
    for order, found in records.items():
        print(
            f"{''.join(order)}: {differing(first[0], found[0]):,} incidents differ from abc's, "
            f"{differing(first[1], found[1]):,} beyond the spelling of a name"
        )


if __name__ == "__main__":
    main()
