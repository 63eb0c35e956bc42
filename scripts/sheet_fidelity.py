#!/usr/bin/env python
"""How faithfully an AIAAIC sheet export lands in the repository: every non-blank cell of the
file compared with the incident documents an import made from it.

    DATABASE_URL=sqlite:////tmp/fidelity.sqlite3 .venv/bin/python scripts/sheet_fidelity.py [FILE]

It migrates the database named by DATABASE_URL (use an empty one), imports FILE (default: the
shipped 2024 export), then reads the file again on its own, independently of the importer,
and counts each non-blank cell as:

- kept: every value is in the document as written (a placeholder such as "Multiple" or
  "Unclear/unknown" under the document's placeholders for its role or vocabulary);
- folded: every value is there, some under another spelling of the same name (kept as an alias);
- changed: a value is there but different (not a spelling);
- dropped: a value is missing.

It also prints how many spellings are kept as aliases and how many merge candidates the
import report lists. Changed and dropped cells are printed, at most 20 of each.
"""

import csv
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.models import F  # noqa: E402

from repository import documents  # noqa: E402
from repository.importers.sheet import sheet_import  # noqa: E402
from repository.models import EntityAlias, Incident, TermAlias  # noqa: E402
from repository.periods import parse_period  # noqa: E402


def cell_values(text, separators=";"):
    for separator in separators[1:]:
        text = text.replace(separator, separators[0])
    return [" ".join(part.split()) for part in text.split(separators[0]) if part.strip()]


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "aiaaic-repository-2024.csv"
    call_command("migrate", verbosity=0)
    result = sheet_import(data=path.read_bytes())
    rows = list(csv.reader(path.open(encoding="utf-8-sig", newline="")))
    header, sub = rows[1], rows[2]
    group, titles = "", []
    for index, name in enumerate(header):
        group = name or group
        titles.append(f"{group} / {sub[index]}" if sub[index] else name)
    by_id = {}
    for incident in Incident.objects.select_related("current_revision").prefetch_related("external_ids"):
        for item in incident.external_ids.all():
            by_id.setdefault(item.value, incident.current_revision.document)
    outcome, examples = Counter(), {"changed": [], "dropped": []}
    placeholders = Counter()  # (column, value as written) -> cells keeping it as a placeholder
    roles = {"Deployer(s)": "deployer", "Developer(s)": "developer", "System name(s)": "system"}
    vocabularies = {
        "Country(ies)": "country",
        "Sector(s)": "sector",
        "Technology(ies)": "technology",
        "Purpose(s)": "purpose",
        "Media trigger(s)": "news-trigger",
        "Issue(s)": "issue",
        "Transparency": "transparency",
        "External harms / Individual": "harm-individual",
        "External harms / Societal": "harm-societal",
        "External harms / Environmental": "harm-environmental",
        "Internal harms / Strategic/reputational": "harm-strategic",
        "Internal harms / Operational": "harm-operational",
        "Internal harms / Financial": "harm-financial",
        "Internal harms / Legal/regulatory": "harm-legal",
    }
    for line, row in enumerate(rows[3:], start=4):
        document = by_id.get(documents.aiaaic_id(row[0]))
        for index, cell in enumerate(row[1:], start=1):
            if not cell.strip():
                continue
            title = titles[index]
            if document is None:
                verdict = "dropped"
            elif title in roles or title in vocabularies:
                if title in roles:
                    stored = document["entities"][roles[title]]
                    placeholder = document["placeholders"].get(roles[title], "")
                else:
                    stored = document["terms"].get(vocabularies[title], [])
                    placeholder = document["placeholders"].get(vocabularies[title], "")
                separators = ";," if title == "Country(ies)" else ";"
                verdicts = []
                for value in cell_values(cell, separators):
                    if value in cell_values(placeholder):
                        verdicts.append("kept")
                        placeholders[(title, value)] += 1
                    elif value in stored:
                        verdicts.append("kept")
                    elif documents.fold(value) in {documents.fold(name) for name in stored}:
                        verdicts.append("folded")
                    else:
                        verdicts.append("dropped")
                verdict = max(verdicts, key=["kept", "folded", "changed", "dropped"].index)
            elif title == "Headline":
                verdict = "kept" if " ".join(cell.split()) == document["headline"] else "changed"
            elif title == "Type":
                verdict = "kept" if cell.strip().lower() == document["type"] else "changed"
            elif title in ("Occurred", "Released"):
                stored = document[title.lower()]
                parts = cell_values(cell)
                try:
                    isos = [parse_period(part).iso() for part in parts]
                except ValueError:
                    isos = None
                if isos == cell_values(stored):
                    verdict = "kept"
                elif stored:
                    verdict = "changed"  # e.g. "2021-22" read as a range is a reading, check it
                else:
                    verdict = "dropped"
            elif title == "Description/links":
                verdict = "kept" if cell.strip() == document["source_url"] else "changed"
            else:
                verdict = "kept" if cell.strip() in document["extra"].values() else "dropped"
            outcome[verdict] += 1
            if verdict in examples and len(examples[verdict]) < 20:
                examples[verdict].append(f"row {line}, {title}: {cell!r}")
    total = sum(outcome.values())
    print(f"{path.name}: {len(rows) - 3:,} rows, {total:,} non-blank cells")
    for verdict in ("kept", "folded", "changed", "dropped"):
        print(f"  {verdict:8} {outcome[verdict]:7,}")
    print(
        f"  aliases kept (spellings beyond the names): "
        f"{TermAlias.objects.exclude(name=F('term__name')).count():,} of terms, "
        f"{EntityAlias.objects.exclude(name=F('entity__name')).count():,} of entities"
    )
    print(
        f"  placeholders kept as written (never a term or an entity): {sum(placeholders.values()):,} "
        f"values in {len({title for title, _value in placeholders})} columns"
    )
    for (title, value), count in sorted(placeholders.items(), key=lambda item: (-item[1], item[0])):
        print(f"    {title}: {value!r} ×{count:,}")
    print(
        f"  merge candidates listed (look-alike clusters): {len(result.report.of_kind('merge-candidate')):,}"
    )
    print(
        f"  import warnings: {len(result.report.warnings):,}; ambiguous readings: {len(result.report.of_kind('ambiguous')):,}"
    )
    for verdict, lines in examples.items():
        for text in lines:
            print(f"  {verdict}: {text}")


if __name__ == "__main__":
    main()
