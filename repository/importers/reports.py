"""What an import found: warnings (data problems, each kept or left out visibly) and notes
(what it did that an editor may want to check), grouped by kind with row numbers."""

import csv
from collections import defaultdict
from dataclasses import dataclass, field

# kind -> (a heading for the group, whether it is a data problem that --strict refuses)
KINDS = {
    "unknown-column": ("Columns the site has no field for (kept under 'Other source columns')", True),
    "skipped-row": ("Rows skipped", True),
    "missing-id": ("Rows without an id", True),
    "repeated-id": ("Ids repeated in the file (imported once, copies merged)", True),
    "disagreement": ("Copies of one id that disagree (the first row's value kept)", True),
    "unreadable-cell": ("Cells left out (the rest of the row was imported)", True),
    "ambiguous": ("Ambiguous values (read as said)", True),
    "id-reused": ("Ids that now name a different story (a new incident; check both)", True),
    "merged-id": (
        "Rows whose incident another row of the file updated (merged on the site): left as they are",
        True,
    ),
    "missing-report": ("Report numbers with no row in reports.csv (no reference made)", True),
    "shortened": ("Values too long for their field (shortened; the whole text kept)", True),
    "duplicate-cycle": ("Duplicate chains that loop (none of their incidents merged)", True),
    "duplicate-stored": (
        "Duplicates already on the site as incidents of their own (an editor should merge)",
        True,
    ),
    "duplicate-merged": ("Duplicates merged into their true incident", False),
    "kept-precise": ("Values kept because the file's were less precise", False),
    "as-of": ("The date of the export (the date its statements are as of)", False),
    "older-value": ("Values a newer export of the source gives otherwise (the newer kept)", False),
    "proposed": ("Changes to values an editor or another source gave (proposed to editors)", False),
    "other-link": ("Rows linking to another incident's page, of another id (not joined)", False),
    "site-value-kept": ("Values an editor changed since the last import (the site's kept)", False),
    "folded": ("Variant spellings folded into one name (kept as aliases)", False),
    "renamed": ("Names changed to their most common spelling", False),
    "merge-candidate": ("Probable variants not folded (candidates for an editor to merge)", False),
    "snapshot-mode": ("How a snapshot of this site was read", False),
    "run-again": ("Earlier runs that stopped before their end (this run finishes them)", False),
    # JSON dataset snapshots (import_dataset)
    "invalid-item": ("Items left out: they break the snapshot schema or the document rules", True),
    "unknown-schema": ("Items left out: documents of a schema version this site does not read", True),
    "repeated-item": ("Slugs repeated in the file (the first item imported, later ones left out)", True),
    "unreadable-field": ("Item fields left out (the rest of the item was imported)", True),
    "slug-taken": ("Slugs that name a different story here (the incident got another slug)", True),
    "number-taken": ("Numbers that name another incident here (the incident has another number)", True),
    "not-canonical": ("Documents not in canonical form (stored as the site normalizes them)", True),
    "not-identical": ("Documents stored differently than the file has them (this site's names)", True),
    "merge-differs": ("Merges that differ from the file (left as they are here)", True),
    "upgraded": ("Documents of schema 1 read as schema 2", False),
    "merged": ("Incidents marked as merged into their survivor, as in the file", False),
}


@dataclass(frozen=True)
class Finding:
    kind: str
    row: int | None  # the row (line) in the file, as a spreadsheet numbers it
    column: str
    message: str

    @property
    def is_warning(self):
        return KINDS.get(self.kind, ("", True))[1]

    def __str__(self):
        where = ", ".join(
            filter(None, [f"row {self.row}" if self.row else "", self.column and f"column '{self.column}'"])
        )
        return f"{where}: {self.message}" if where else self.message


@dataclass
class ImportReport:
    findings: list = field(default_factory=list)

    def add(self, kind, message, row=None, column=""):
        self.findings.append(Finding(kind, row, column, message))

    @property
    def warnings(self):
        return [finding for finding in self.findings if finding.is_warning]

    @property
    def notes(self):
        return [finding for finding in self.findings if not finding.is_warning]

    def of_kind(self, kind):
        return [finding for finding in self.findings if finding.kind == kind]

    def grouped(self):
        """[(kind, heading, [Finding])] in the order of KINDS, then any other kind."""
        groups = defaultdict(list)
        for finding in self.findings:
            groups[finding.kind].append(finding)
        order = [kind for kind in KINDS if kind in groups] + sorted(set(groups) - set(KINDS))
        return [(kind, KINDS.get(kind, (kind, True))[0], groups[kind]) for kind in order]

    def write_csv(self, path):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["kind", "warning", "row", "column", "message"])
            for finding in self.findings:
                writer.writerow(
                    [
                        finding.kind,
                        "yes" if finding.is_warning else "no",
                        finding.row or "",
                        finding.column,
                        finding.message,
                    ]
                )


def write_summary(report, write, limit=10):
    """Print the report grouped by kind: each group's count and its first `limit` findings
    (all with limit=None). `write(text, warning)` prints one line."""
    for _kind, heading, findings in report.grouped():
        write(f"{heading}: {len(findings):,}", findings[0].is_warning)
        shown = findings if limit is None else findings[:limit]
        for finding in shown:
            write(f"  {finding}", finding.is_warning)
        if len(shown) < len(findings):
            write(f"  … and {len(findings) - len(shown):,} more (--report FILE lists them all)", False)


def write_changes(changes, write, limit=20):
    """Print what an import changed (or would change): one line per incident created or
    updated, `changes` as (state, number, slug, what changed)."""
    shown = changes if limit is None else changes[:limit]
    for state, number, slug, summary in shown:
        write(f"  {state:7} #{number} {slug}: {summary}")
    if len(shown) < len(changes):
        write(f"  … and {len(changes) - len(shown):,} more (-v 2 lists them all)")
