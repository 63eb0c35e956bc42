#!/usr/bin/env python
"""Make the duplicate finder's labelled set from the AIAAIC sheet, and measure the finder on it.

    .venv/bin/python scripts/make_duplicate_labels.py [--sheet PATH] [--measure]
        [--fixture submissions/tests/fixtures/duplicate_labels.json]

The set (seeded, so the same sheet gives the same set):
- **true pairs**: for RECORDS_WRITTEN sheet rows of one incident or issue, a record written
  the way another database words it (the AI Incident Database's titles: Title Case,
  other words for the same thing — "kills" as "Killed", "self-driving" as "Autonomous" —,
  a word or two dropped, the organisation put first, a year one off in one case of five,
  organisations left out in one case of seven); the pair (row, record) is one event. Plus the
  sheet's own duplicates found by hand among the pairs the finder proposed before (SAME).
- **false pairs**: each written record with a row of the same organisation and the nearest
  year (another event of the same company: the hardest kind); pairs of rows of one
  organisation and year; a system's or dataset's row with a row of one incident of the same
  system (the rule below); and the pairs the finder proposed on this sheet before the score
  (FINDER_BEFORE), checked by hand.

The rule for a whole system and one incident of it: a record about a system or a dataset as
a whole (type System or Data) is the same as another record only if that one is about the
same system or dataset as a whole; a record of one incident, issue or harm involving it is
related, never a duplicate. The finder applies the same rule (submissions/duplicates/pairs.py).

Rows are split in two halves by their id (odd and even number); a pair belongs to the half
of its sheet rows (a pair across halves is left out). The tuning half was used to choose the
finder's weights and thresholds; the test half is written to the fixture, with its records,
and `--measure` prints precision, recall and the top-3 rate of both halves with 95% Wilson
intervals.
"""

import argparse
import csv
import json
import os
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
SHEETS = [
    ROOT.parent / "shared" / "data" / "aiaaic-repository-2024.csv",
    ROOT / "data" / "aiaaic-repository-2024.csv",
]
FIXTURE = ROOT / "submissions" / "tests" / "fixtures" / "duplicate_labels.json"
RECORDS_WRITTEN = 280
SEED = 28

# The pairs the finder proposed on this sheet before the score, checked by hand: True when
# the two rows are one event (or one system as a whole).
FINDER_BEFORE = {
    ("AIAAIC1650", "AIAAIC0087"): True,  # Facebook Tag Suggestions, twice
    ("AIAAIC1496", "AIAAIC1477"): False,  # Sony warns AI companies / Reddit warns AI companies
    ("AIAAIC1381", "AIAAIC1156"): False,  # Worldcoin in Spain / in Kenya
    ("AIAAIC1378", "AIAAIC1377"): False,  # Miami boys / Beverly Hills students
    ("AIAAIC1092", "AIAAIC0466"): True,  # Facial / Face Depixelizer turns Barack Obama white
    ("AIAAIC0988", "AIAAIC0987"): False,  # Tesla and a Yamaha / a Kawasaki motorcycle
    ("AIAAIC0980", "AIAAIC0355"): False,  # GPT-4 / GPT-3
    ("AIAAIC0868", "AIAAIC0867"): False,  # Coupang / Naver fined
    ("AIAAIC0776", "AIAAIC0767"): False,  # Amazon India / Amazon US
    ("AIAAIC0762", "AIAAIC0314"): False,  # LAION-400M / LAION-5B
    ("AIAAIC0664", "AIAAIC0226"): False,  # TikTok / Google hate speech detection
    ("AIAAIC0586", "AIAAIC0497"): False,  # Tesla Model S / Model X crash
    ("AIAAIC0497", "AIAAIC0270"): False,  # Tesla Model X / Model 3 crash
    ("AIAAIC0483", "AIAAIC0320"): True,  # Clearview AI live facial recognition
    ("AIAAIC0413", "AIAAIC0356"): True,  # Alibaba Uyghur facial recognition
    ("AIAAIC0117", "AIAAIC0062"): False,  # Knightscope K5 drowns / hits child
    ("AIAAIC0099", "AIAAIC0093"): True,  # Apple Face ID twins / brothers (2017)
    ("AIAAIC0057", "AIAAIC0056"): True,  # LAPD predictive policing
}

# Other words for the same thing, as another database may choose them.
SYNONYMS = {
    "kills": "Killed",
    "kill": "Killed",
    "killing": "Killed",
    "self-driving": "Autonomous",
    "driverless": "Autonomous",
    "car": "Vehicle",
    "accused": "Allegedly",
    "sued": "Faces Lawsuit",
    "lawsuit": "Suit",
    "fined": "Penalized",
    "bans": "Banned",
    "chatbot": "Chat Bot",
    "algorithm": "Algorithmic System",
    "wrongly": "Mistakenly",
    "arrested": "Detained",
    "arrests": "Detained",
    "police": "Law Enforcement",
    "deepfake": "AI-Generated",
    "deepfakes": "AI-Generated Videos",
    "fake": "Fabricated",
    "students": "Pupils",
    "children": "Kids",
    "racist": "Racially Biased",
    "bias": "Discrimination",
    "biased": "Discriminatory",
    "privacy": "Data Protection",
    "robot": "Robotic System",
    "crash": "Collision",
    "crashes": "Collided",
    "us": "United States",
    "uk": "United Kingdom",
    "women": "Female",
    "workers": "Employees",
    "users": "Customers",
    "study": "Research",
    "finds": "Found",
    "reveals": "Showed",
    "generates": "Produced",
    "creates": "Made",
    "leaks": "Exposed",
    "exposes": "Revealed",
    "over": "Due to",
    "misidentifies": "Misidentified",
    "facial": "Face",
    "fails": "Failed",
    "criticised": "Criticized",
    "slammed": "Criticized",
    "ai": "Artificial Intelligence",
    "surveillance": "Monitoring",
    "tool": "Software",
    "system": "Platform",
    "app": "Application",
    "investigated": "Probed",
    "investigation": "Probe",
}
FILLERS = ["Incident", "Controversy", "Concerns", "Reported", "Allegations", "Harms", "Failure"]
SMALL = {"a", "an", "the", "of", "in", "on", "for", "to", "and", "by", "at", "with", "over", "from"}


def read_sheet(path):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = rows[1]
    column = {name: header.index(name) for name in header if name}
    records = []
    for row in rows[3:]:
        if not row or not row[0].startswith("AIAAIC"):
            continue
        occurred = row[column["Occurred"]]
        year = re.search(r"\d{4}", occurred)
        organisations = sorted(
            {
                name.strip()
                for cell in (row[column["Deployer(s)"]], row[column["Developer(s)"]])
                for name in cell.split(";")
                if name.strip() and name.strip().casefold() not in {"unknown", "unclear/unknown", "multiple"}
            }
        )
        records.append(
            {
                "id": row[0].strip(),
                "headline": row[column["Headline"]].strip(),
                "type": row[column["Type"]].strip().casefold(),
                "year": int(year.group()) if year else None,
                "organisations": [name.casefold() for name in organisations],
                "systems": [s.strip() for s in row[column["System name(s)"]].split(";") if s.strip()],
            }
        )
    return records


def title(word):
    return word if any(ch.isupper() for ch in word[1:]) or word.isupper() else word[:1].upper() + word[1:]


def rewrite(record, rng):
    """A record of the same event as another database would word it."""
    words = record["headline"].replace("'", "").split()
    out = []
    for word in words:
        bare = word.strip(",.:;").casefold()
        if bare in SYNONYMS and rng.random() < 0.75:
            out.extend(SYNONYMS[bare].split())
        elif bare in SMALL and rng.random() < 0.3:
            continue
        else:
            out.append(word.strip(",.:;"))
    droppable = [i for i, word in enumerate(out) if word.islower() and len(out) > 4]
    for i in sorted(rng.sample(droppable, min(len(droppable), rng.choice([0, 1, 2, 3]))), reverse=True):
        del out[i]
    if rng.random() < 0.3:
        # A short title: the names, and a few words of what happened, in other words.
        names = [word for word in out if word[:1].isupper() and word.casefold() not in SMALL]
        rest = [word for word in out if word not in names]
        out = names[:3] + rng.sample(rest, min(len(rest), 2)) + [rng.choice(FILLERS)]
    organisations = record["organisations"]
    headline = " ".join(title(word) for word in out)
    if organisations and rng.random() < 0.3:
        lead = organisations[0]
        if lead.casefold() not in headline.casefold():
            headline = f"{lead.title()}'s {headline}"
    year = record["year"]
    if year and rng.random() < 0.2:
        year += rng.choice([-1, 1])
    roll = rng.random()
    if roll < 0.15:
        organisations = []
    elif roll < 0.3 and len(organisations) > 1:
        organisations = organisations[:1]
    return {
        "id": "AIID-" + record["id"],
        "headline": headline,
        "type": "incident",
        "year": year,
        "organisations": list(organisations),
        "source": record["id"],
    }


def half(record_id):
    return "test" if int(re.sub(r"\D", "", record_id) or 0) % 2 else "tune"


def make(sheet):
    rng = random.Random(SEED)  # noqa: S311 (a labelled set, not a secret)
    rows = read_sheet(sheet)
    by_id = {row["id"]: row for row in rows}
    events = [row for row in rows if row["type"] in {"incident", "issue"} and row["year"]]
    written = [rewrite(row, rng) for row in rng.sample(events, RECORDS_WRITTEN)]
    pairs = [(record["id"], record["source"], True, "written by another database") for record in written]
    pairs += [(a, b, label, "proposed before, checked by hand") for (a, b), label in FINDER_BEFORE.items()]
    same = [[a, b] for (a, b), label in FINDER_BEFORE.items() if label]
    by_organisation = defaultdict(list)
    for row in rows:
        for organisation in row["organisations"]:
            by_organisation[organisation].append(row)
    known = {frozenset((a, b)) for a, b, _label, _how in pairs}
    for record in written:
        source = by_id[record["source"]]
        others = [
            row
            for organisation in source["organisations"]
            for row in by_organisation[organisation]
            if row["id"] != source["id"] and row["type"] in {"incident", "issue"}
        ]
        if others:
            other = min(others, key=lambda row: (abs((row["year"] or 0) - (source["year"] or 0)), row["id"]))
            if frozenset((record["id"], other["id"])) not in known:
                pairs.append((record["id"], other["id"], False, "same organisation, another event"))
                known.add(frozenset((record["id"], other["id"])))
    same_company = []
    for _organisation, group in sorted(by_organisation.items()):
        group = sorted(group, key=lambda row: row["id"])
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if a["year"] and a["year"] == b["year"] and a["type"] == b["type"] != "system":
                    key = frozenset((a["id"], b["id"]))
                    if key not in known:
                        same_company.append(
                            (a["id"], b["id"], False, "same organisation and year, another event")
                        )
                        known.add(key)
    pairs += rng.sample(same_company, min(len(same_company), 200))
    systems = [row for row in rows if row["type"] in {"system", "data"}]
    whole = []
    for system in systems:
        names = {name.casefold() for name in system["systems"]} | {system["headline"].casefold()}
        for row in events:
            if {name.casefold() for name in row["systems"]} & names:
                key = frozenset((system["id"], row["id"]))
                if key not in known:
                    whole.append((system["id"], row["id"], False, "a whole system and one incident of it"))
                    known.add(key)
                break
    pairs += whole[:40]
    for row in rows:
        row.pop("systems")
    return rows, written, pairs, same


def split(rows, written, pairs, same, which):
    records = [row for row in rows if half(row["id"]) == which]
    records += [record for record in written if half(record["source"]) == which]
    ids = {record["id"] for record in records}
    return {
        "records": records,
        "pairs": [list(pair) for pair in pairs if pair[0] in ids and pair[1] in ids],
        "same": [pair for pair in same if pair[0] in ids and pair[1] in ids],
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sheet", type=Path, default=next((p for p in SHEETS if p.exists()), SHEETS[-1]))
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--measure", action="store_true", help="print the finder's figures on both halves")
    args = parser.parse_args()
    rows, written, pairs, same = make(args.sheet)
    halves = {which: split(rows, written, pairs, same, which) for which in ("tune", "test")}
    for which, labelled in halves.items():
        labels = [label for _a, _b, label, _how in labelled["pairs"]]
        print(
            f"{which} half: {len(labelled['records'])} records, {len(labels)} labelled pairs "
            f"({sum(labels)} true, {len(labels) - sum(labels)} false)"
        )
    args.fixture.parent.mkdir(parents=True, exist_ok=True)
    with args.fixture.open("w", encoding="utf-8") as handle:
        json.dump(halves["test"], handle, ensure_ascii=False, separators=(",", ":"))
        handle.write("\n")
    print(f"wrote the test half to {args.fixture}")
    if args.measure:
        import django

        django.setup()
        from submissions.duplicates.measure import measure

        for which, labelled in halves.items():
            print(f"{which} half:")
            for line in measure(labelled).lines():
                print("  " + line)


if __name__ == "__main__":
    main()
