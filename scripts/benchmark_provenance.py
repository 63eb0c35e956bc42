#!/usr/bin/env python
"""What keeping provenance costs: time of `provenance.compute` against a whole sheet import,
and the size it adds to the stored documents.

    DATABASE_URL=postgres://airepo@127.0.0.1:5432/airepo_bench \\
        .venv/bin/python scripts/benchmark_provenance.py [sheet.csv]

Empties the database named by DATABASE_URL (point it at a scratch one), imports the sheet
(default: data/aiaaic-repository-2024.csv) and prints: the import's seconds; the seconds
`compute` takes for every incident's first revision (all values new) and for a revision that
changes one field (most values kept), both as a share of the import, each with packing the
map into its stored form; and the bytes the provenance maps add to the documents (JSON, as
stored), beside what they would add with an origin written out per value and item, and
after the change of one field.
"""

import json
import os
import sys
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.core.management import call_command  # noqa: E402

from repository import documents, provenance  # noqa: E402
from repository.importers.sheet import sheet_import  # noqa: E402
from repository.models import Incident  # noqa: E402
from repository.provenance import Origin  # noqa: E402


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "aiaaic-repository-2024.csv"
    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    sheet_import(data=path.read_bytes())
    imported = time.perf_counter() - started
    stored = [
        incident.current_revision.document
        for incident in Incident.objects.select_related("current_revision").order_by("number")
    ]
    values = [documents.values_of(document) for document in stored]
    origin, editor = Origin.of_source("aiaaic", "export", "2024-11"), Origin.decision("editor")

    started = time.perf_counter()
    for document in values:
        provenance.pack(document, provenance.compute(None, document, origin))
    first = time.perf_counter() - started

    started = time.perf_counter()
    edits = []
    for before, document in zip(stored, values, strict=True):
        edited = {**document, "headline": document["headline"] + " (edited)"}
        edits.append((edited, provenance.pack(edited, provenance.compute(before, edited, editor))))
    later = time.perf_counter() - started
    edited_with = sum(len(json.dumps({**edited, "provenance": found})) for edited, found in edits)
    edited_without = sum(len(json.dumps(edited)) for edited, _found in edits)

    with_map = sum(len(json.dumps(document)) for document in stored)
    without = sum(len(json.dumps(document)) for document in values)
    # The same maps with an origin written out per value and item (schema 3's first shape).
    verbose = sum(
        len(json.dumps({**document, "provenance": provenance.expand(document)})) for document in stored
    )
    count = len(stored)
    print(f"incidents: {count:,}")
    print(f"sheet import: {imported:.2f} s")
    print(f"compute and pack, first revisions: {first:.3f} s ({first / imported:.1%} of the import)")
    print(f"compute and pack, one field changed: {later:.3f} s ({later / imported:.1%} of the import)")
    print(
        f"stored documents: {with_map / count:,.0f} bytes each with provenance, "
        f"{without / count:,.0f} without (x{with_map / without:.2f}); "
        f"an origin per value would make {verbose / count:,.0f} (x{verbose / without:.2f})"
    )
    print(
        f"after an editor's change: {edited_with / count:,.0f} bytes each with provenance "
        f"(x{edited_with / edited_without:.2f})"
    )


if __name__ == "__main__":
    main()
