"""Write a made-up snapshot shaped like the AI Incident Database's CSV export, for timing
`import_aiid` at scale:

    .venv/bin/python scripts/make_aiid_sample.py /tmp/aiid-2000 --incidents 2000
    DATABASE_URL=… .venv/bin/python manage.py import_aiid /tmp/aiid-2000

The directory gets incidents.csv (AIID's columns, JSON lists of report numbers and entity
slugs, some `unknown-…` slugs, an extra column), entities.csv, reports.csv (about three
reports per incident, with an article text column) and duplicates.csv (about 2% of the
incidents, some in chains). The same arguments always write the same files.
"""

import argparse
import csv
import json
import random
from pathlib import Path

WORDS = [
    "facial",
    "recognition",
    "chatbot",
    "hiring",
    "algorithm",
    "credit",
    "score",
    "autonomous",
    "vehicle",
    "welfare",
    "fraud",
    "deepfake",
    "voice",
    "clone",
    "translation",
    "moderation",
    "recommendation",
    "grading",
    "exam",
    "proctoring",
    "police",
    "predictive",
    "risk",
    "model",
    "medical",
    "triage",
    "insurance",
    "pricing",
    "drone",
    "surveillance",
    "school",
    "camera",
]
NAME_PARTS = [
    "North",
    "South",
    "Global",
    "United",
    "Metro",
    "City",
    "National",
    "Digital",
    "Open",
    "Smart",
    "Bright",
    "Civic",
    "Atlas",
    "Nova",
    "Vertex",
    "Harbor",
    "River",
    "Summit",
    "Pioneer",
    "Beacon",
    "Sterling",
    "Quantum",
    "Orbit",
]
SUFFIXES = ("Labs", "Systems", "Inc", "Group", "Police", "Council", "Bank", "Health", "AI", "Media")
HARMED = ("residents", "students", "drivers", "patients", "job-applicants", "children", "workers")
DOMAINS = ("news.example", "daily.example", "tech.example", "courts.example", "wire.example")


def slugify(name):
    return "-".join(name.lower().split())


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", help="where to write the snapshot (created if missing)")
    parser.add_argument("--incidents", type=int, default=2000, help="how many incidents (default 2000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 - made-up data, the same for the same seed
    folder = Path(args.directory)
    folder.mkdir(parents=True, exist_ok=True)

    organisations = sorted(
        {
            f"{rng.choice(NAME_PARTS)} {rng.choice(NAME_PARTS)} {rng.choice(SUFFIXES)}"
            for _ in range(args.incidents // 3)
        }
    )
    slugs = {slugify(name): name for name in organisations}
    org_slugs = list(slugs)
    for harmed in HARMED:
        slugs[harmed] = harmed.replace("-", " ").capitalize()
    slugs["unknown-deployer"] = "Unknown deployer"

    with (folder / "entities.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["_id", "entity_id", "name"])
        for number, (slug, name) in enumerate(sorted(slugs.items()), start=1):
            writer.writerow([f"e{number:06d}", slug, name])

    report_number = 0
    with (
        (folder / "incidents.csv").open("w", newline="", encoding="utf-8") as incidents,
        (folder / "reports.csv").open("w", newline="", encoding="utf-8") as reports,
    ):
        incident_writer, report_writer = csv.writer(incidents), csv.writer(reports)
        incident_writer.writerow(
            [
                "_id",
                "incident_id",
                "date",
                "reports",
                "Alleged deployer of AI system",
                "Alleged developer of AI system",
                "Alleged harmed or nearly harmed parties",
                "description",
                "title",
                "editor_notes",
            ]
        )
        report_writer.writerow(
            ["_id", "report_number", "url", "title", "source_domain", "date_published", "text", "language"]
        )
        for incident_id in range(1, args.incidents + 1):
            year, month, day = rng.randint(2012, 2025), rng.randint(1, 12), rng.randint(1, 28)
            topic = " ".join(rng.sample(WORDS, 3))
            numbers = []
            for _ in range(rng.randint(1, 5)):
                report_number += 1
                numbers.append(report_number)
                domain = rng.choice(DOMAINS)
                report_writer.writerow(
                    [
                        f"r{report_number:07d}",
                        report_number,
                        f"https://{domain}/{year}/{report_number}-{slugify(topic)}",
                        f"Report on {topic} ({report_number})",
                        domain,
                        f"{year}-{month:02d}-{min(day + 1, 28):02d}",
                        f"An article about {topic}. " * 20,
                        "en",
                    ]
                )
            deployer = (
                ["unknown-deployer"] if rng.random() < 0.05 else rng.sample(org_slugs, rng.randint(1, 2))
            )
            incident_writer.writerow(
                [
                    f"i{incident_id:07d}",
                    incident_id,
                    f"{year}-{month:02d}-{day:02d}",
                    json.dumps(numbers),
                    json.dumps(deployer),
                    json.dumps(rng.sample(org_slugs, 1)),
                    json.dumps(rng.sample(HARMED, rng.randint(0, 2))),
                    f"A {topic} system caused harm in incident {incident_id}.",
                    f"{topic.capitalize()} incident {incident_id}",
                    "Checked" if rng.random() < 0.1 else "",
                ]
            )

    with (folder / "duplicates.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["_id", "duplicate_incident_number", "true_incident_number"])
        ids = list(range(2, args.incidents + 1))
        rng.shuffle(ids)
        chosen = ids[: args.incidents // 50]
        for number, duplicate in enumerate(chosen, start=1):
            true = rng.randint(1, duplicate - 1)
            writer.writerow([f"d{number:06d}", duplicate, true])  # true may be a duplicate too: a chain
    print(f"Wrote {args.incidents:,} incidents and {report_number:,} reports to {folder}.")


if __name__ == "__main__":
    main()
