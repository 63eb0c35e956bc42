"""The AI Incident Database's public snapshot (its CSV export): reading it and importing it.

A snapshot is a directory of CSV files. `incidents.csv` is required: one row per AIID
incident, with `reports` a JSON list of report numbers and the three "Alleged …" columns
JSON lists of entity slugs (`"keolis-north-america"`; `unknown-…` means the source does not
know who). `entities.csv` (entity_id, name) names the slugs, `reports.csv` (report_number,
url, title, source_domain, date_published, …) gives each incident its references, and a
duplicates file (duplicate_incident_number, true_incident_number) folds duplicates into
their true incident. Columns are found by name, never by position.

An AIID incident is found again by its `aiid` external id. The import is all or nothing
for what makes the snapshot unreadable (`AiidError`); a bad cell or row is a finding in the
report and the rest is imported. A later snapshot updates what it says; a blank cell keeps
the stored value, lists only grow, a less precise date never replaces a more precise one it
contains, and a value an editor changed on the site since the last import is kept: what the
snapshot said is kept per incident (`SourceRecord`) as the base of the next import.
"""

import ast
import csv
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from .. import documents
from ..addresses import normalize_url
from ..documents import DocumentError, clean_name, fold
from ..models import ExternalId, Incident, SourceRecord, statement_order
from ..periods import PeriodError, parse_partial_date, parse_period
from ..provenance import Origin
from ..services import PublishItem, Taxonomy
from .common import (
    ChunkRefused,
    DryRun,
    chunk_publish,
    fold_statements,
    import_batch_finish,
    import_batch_start,
    import_run,
    problem_text,
    proposals_on_commit,
    source_records,
    source_records_save,
    validate_web_address,
)
from .dating import as_of_text, export_date
from .reports import ImportReport

SOURCE = "aiid"
SUMMARY = "Imported from the AI Incident Database"
CITE_URL = "https://incidentdatabase.ai/cite/{}/"
CHUNK = 100  # incidents a transaction: an editor publishing meanwhile waits for one at most

# Article texts in reports.csv are long: let the csv module read whole cells.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

# target -> the column names it is known by (compared with `column_key`).
INCIDENT_COLUMNS = {
    "id": ("incident_id",),
    "title": ("title",),
    "date": ("date",),
    "description": ("description",),
    "reports": ("reports",),
    "deployer": ("Alleged deployer of AI system",),
    "developer": ("Alleged developer of AI system",),
    "harmed": ("Alleged harmed or nearly harmed parties",),
    "system": ("Alleged implicated AI systems", "implicated_systems"),
    "ignored": ("_id",),  # the snapshot database's own row key: not a fact about the incident
}
ENTITY_ROLES = ("deployer", "developer", "harmed", "system")
ENTITY_COLUMNS = {"slug": ("entity_id",), "name": ("name",)}
REPORT_COLUMNS = {
    "number": ("report_number",),
    "url": ("url",),
    "title": ("title",),
    "publisher": ("source_domain",),
    "published": ("date_published",),
}
DUPLICATE_COLUMNS = {"duplicate": ("duplicate_incident_number",), "true": ("true_incident_number",)}

SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
ISO_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d")


class AiidError(Exception):
    """A snapshot that cannot be imported; nothing was written."""


class AiidRefused(AiidError):
    """`strict` was asked and the snapshot has warnings; nothing was written."""

    def __init__(self, report):
        count = len(report.warnings)
        super().__init__(
            f"The snapshot has {count:,} warning{'s' if count != 1 else ''} and --strict was given; "
            "nothing was imported."
        )
        self.report = report


@dataclass
class SnapshotFiles:
    incidents: Path
    entities: Path | None = None
    reports: Path | None = None
    duplicates: Path | None = None


@dataclass
class AiidImportResult:
    files: SnapshotFiles
    report: ImportReport
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    merged_duplicates: int = 0
    skipped: int = 0  # incidents whose document the site could not take (a warning each)
    entities_created: int = 0
    incident_ids: list = field(default_factory=list)  # created or changed
    batch: int | None = None  # the ImportBatch's id
    dry_run: bool = False  # nothing was kept: the counts say what the import would change
    proposals: int = 0  # changes proposed to editors instead of made
    older: int = 0  # incidents left as they are: a newer snapshot was imported before
    as_of: object = None  # the snapshot's date, read from its folder's (or file's) name
    as_of_note: str = ""

    @property
    def warnings(self):
        return self.report.warnings


def column_key(name):
    """Column names compared without case, spaces, underscores or hyphens."""
    return re.sub(r"[\s_\-]+", "", str(name)).casefold()


# Reading the files ---------------------------------------------------------------------


def find_files(path_or_dir):
    """The snapshot's files: a directory holding `incidents.csv` (or one below it), or an
    incidents file with its siblings next to it. Raises AiidError."""
    path = Path(path_or_dir)
    if path.is_dir():
        incidents = _named(path, "incidents.csv")
        if incidents is None:
            found = sorted(p for p in path.rglob("*.csv") if p.name.lower() == "incidents.csv")
            if len(found) != 1:
                raise AiidError(
                    f"No incidents.csv in {path}."
                    if not found
                    else f"More than one incidents.csv under {path}: {', '.join(map(str, found))}."
                )
            incidents = found[0]
    elif path.is_file():
        incidents = path
    else:
        raise AiidError(f"No such file or directory: {path}")
    folder = incidents.parent
    files = SnapshotFiles(
        incidents=incidents, entities=_named(folder, "entities.csv"), reports=_named(folder, "reports.csv")
    )
    taken = {p for p in (incidents, files.entities, files.reports) if p}
    for candidate in sorted(folder.glob("*.csv")):
        if candidate in taken or not candidate.is_file():
            continue
        header = _first_row(candidate)
        if {column_key(name) for name in header} >= {"duplicateincidentnumber", "trueincidentnumber"}:
            files.duplicates = candidate
            break
    return files


def _named(folder, name):
    return next((p for p in sorted(folder.iterdir()) if p.is_file() and p.name.lower() == name), None)


def _first_row(path):
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _read(path, columns, required):
    """Yield (row number, {target: cell}, {extra column title: cell}) for each row of a CSV
    file, finding `columns` by name. Raises AiidError when the file is unreadable or lacks
    a required column."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise AiidError(f"Cannot read {path}: {exc.strerror}.") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if not header or not any(cell.strip() for cell in header):
                raise AiidError(f"{path.name} is empty: it needs a row of column names.")
            known = {column_key(name): target for target, names in columns.items() for name in names}
            index, extra, seen = {}, {}, {}
            for position, name in enumerate(header):
                key = column_key(name)
                if not key:
                    continue
                if key in seen:
                    raise AiidError(f"{path.name} has two columns named {name.strip()!r}.")
                seen[key] = position
                if key in known:
                    index[known[key]] = position
                else:
                    extra[position] = " ".join(name.split())
            missing = [columns[target][0] for target in required if target not in index]
            if missing:
                raise AiidError(
                    f"{path.name} is not an AI Incident Database file: it has no "
                    f"{' or '.join(repr(name) for name in missing)} column "
                    f"(its columns: {', '.join(repr(h.strip()) for h in header[:12] if h.strip())})."
                )
            for number, row in enumerate(reader, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                values = {target: row[i] if i < len(row) else "" for target, i in index.items()}
                others = {title: row[i] for i, title in extra.items() if i < len(row) and row[i].strip()}
                yield number, values, others
        except UnicodeDecodeError as exc:
            raise AiidError(f"{path.name} is not UTF-8 text (byte {exc.start}): is it a CSV file?") from None
        except csv.Error as exc:
            raise AiidError(f"{path.name} is not a readable CSV file: {exc}.") from None


SMALL_WORDS = {"a", "an", "and", "at", "by", "de", "for", "in", "of", "on", "or", "the", "to"}
NUMBER = re.compile(r"^\d{1,12}(?:\.0*)?$")


def incident_number(text):
    """An id or report number as a file writes it ('12', '12.0'); raises ValueError."""
    text = str(text).strip()
    if not NUMBER.match(text):
        raise ValueError(f"{text!r} is not a number")
    return int(text.split(".")[0])


def name_from_slug(slug, sentence=False):
    """'keolis-north-america' -> 'Keolis North America' (or 'Keolis north america');
    a value that is not a slug is kept as written."""
    slug = clean_name(slug)
    if not SLUG.match(slug):
        return slug
    words = [word for word in re.split(r"[-_]", slug) if word]
    first, rest = words[0][:1].upper() + words[0][1:], words[1:]
    if sentence:
        return " ".join([first, *rest])
    return " ".join([first, *(word if word in SMALL_WORDS else word[:1].upper() + word[1:] for word in rest)])


def parse_list(text):
    """The items of a list cell and whether it had to be read tolerantly: (items, tolerant).
    JSON first, then a Python-style list, then comma- or semicolon-separated values.
    Raises ValueError when nothing reads it."""
    text = text.strip()
    if not text:
        return [], False
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, list):
        tolerant = False
    else:
        tolerant = True
        try:
            value = ast.literal_eval(text) if len(text) < 100_000 else None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = None
        if not isinstance(value, list | tuple):
            inner = text
            if inner.startswith("[") != inner.endswith("]"):
                raise ValueError(f"{text[:60]!r} is not a list")
            if inner.startswith("["):
                inner = inner[1:-1]
            if any(ch in inner for ch in "[]{}"):
                raise ValueError(f"{text[:60]!r} is not a list")
            value = [part.strip().strip("'\"").strip() for part in re.split(r"[,;]", inner)]
    items = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ValueError(f"{text[:60]!r} is not a list of names or numbers")
        item = str(item).strip()
        if item:
            items.append(item)
    return items, tolerant


def _period(text):
    """A readable `date` cell as ISO text; raises PeriodError."""
    text = text.strip()
    if match := ISO_TIMESTAMP.match(text):
        text = match[1]
    period = parse_period(text)
    return period.iso() if period else ""


def _published(text):
    text = text.strip()
    if match := ISO_TIMESTAMP.match(text):
        text = match[1]
    return parse_partial_date(text).iso() if text else ""


def read_entities(path, report):
    """{slug: name} from entities.csv."""
    names = {}
    for number, values, _ in _read(path, ENTITY_COLUMNS, ["slug"]):
        slug = values["slug"].strip()
        name = clean_name(values.get("name", ""))
        if not slug or not name:
            continue
        if slug in names and fold(names[slug]) != fold(name):
            report.add(
                "disagreement",
                f"entities.csv names {slug!r} {names[slug]!r} and {name!r}; the first kept.",
                row=number,
                column="name",
            )
            continue
        names.setdefault(slug, name)
    return names


def read_reports(path, report):
    """{report number: reference} from reports.csv; a row that cannot be a reference is
    a warning and left out."""
    references = {}
    for number, values, _ in _read(path, REPORT_COLUMNS, ["number", "url"]):
        where = {"row": number}
        raw_number = values["number"].strip()
        try:
            report_number = incident_number(raw_number)
        except ValueError:
            report.add(
                "unreadable-cell",
                f"reports.csv: {raw_number!r} is not a report number; the report is left out.",
                column="report_number",
                **where,
            )
            continue
        url = values["url"].strip()
        try:
            validate_web_address(url)
            if len(url) > documents.MAX_LENGTHS["url"]:
                raise ValidationError("too long")
        except ValidationError:
            report.add(
                "unreadable-cell",
                f"reports.csv: report {report_number}'s address {url[:80]!r} is not a web address; "
                "the report is left out.",
                column="url",
                **where,
            )
            continue
        reference = {"url": url, "title": "", "publisher": "", "published": ""}
        for target in ("title", "publisher"):
            text = clean_name(values.get(target, ""))
            limit = documents.MAX_LENGTHS[target]
            if len(text) > limit:
                report.add(
                    "shortened",
                    f"reports.csv: report {report_number}'s {target} is longer than {limit} characters; "
                    "shortened.",
                    column=REPORT_COLUMNS[target][0],
                    **where,
                )
                text = text[: limit - 1].rstrip() + "…"
            reference[target] = text
        try:
            reference["published"] = _published(values.get("published", ""))
        except PeriodError as exc:
            report.add(
                "unreadable-cell",
                f"reports.csv: report {report_number}'s date: {exc}; left out (the report is kept).",
                column="date_published",
                **where,
            )
        if report_number in references and references[report_number]["url"] != url:
            report.add(
                "disagreement",
                f"reports.csv: report {report_number} appears twice with different addresses; "
                "the first kept.",
                **where,
            )
            continue
        references.setdefault(report_number, reference)
    return references


def read_duplicates(path, report):
    """{duplicate id: true id} from the duplicates file."""
    pairs = {}
    for number, values, _ in _read(path, DUPLICATE_COLUMNS, ["duplicate", "true"]):
        try:
            duplicate, true = incident_number(values["duplicate"]), incident_number(values["true"])
        except ValueError:
            report.add(
                "unreadable-cell",
                f"{path.name}: {values['duplicate'].strip()!r} → {values['true'].strip()!r} are not "
                "incident numbers; left out.",
                row=number,
            )
            continue
        if duplicate == true:
            report.add(
                "duplicate-cycle", f"{path.name}: incident {duplicate} is its own duplicate.", row=number
            )
            continue
        if duplicate in pairs and pairs[duplicate] != true:
            report.add(
                "disagreement",
                f"{path.name}: incident {duplicate} is a duplicate of {pairs[duplicate]} and of {true}; "
                "the first kept.",
                row=number,
            )
            continue
        pairs[duplicate] = true
    return pairs


def resolve_duplicates(pairs, report):
    """{duplicate id: the true incident at the end of its chain}. A chain that loops is a
    warning and none of its incidents is merged."""
    roots, looping = {}, set()
    for start in pairs:
        chain, current = [start], pairs[start]
        while current in pairs and current not in chain:
            chain.append(current)
            current = pairs[current]
        if current in chain:
            cycle = chain[chain.index(current) :]
            if not looping.issuperset(cycle):
                report.add(
                    "duplicate-cycle",
                    f"Incidents {' → '.join(map(str, [*cycle, current]))} are each other's duplicates; "
                    "none of them is merged.",
                )
                looping.update(cycle)
            continue
        roots[start] = current
    for duplicate in list(roots):
        chain, current = [duplicate], pairs[duplicate]
        while current in pairs:
            chain.append(current)
            current = pairs[current]
        if looping.intersection(chain):
            del roots[duplicate]
    return roots


@dataclass
class Facts:
    """What one incidents.csv row says, as a partial document: only the cells it filled."""

    aiid_id: int
    row: int
    fields: dict = field(default_factory=dict)  # headline, occurred, summary, narrative
    entities: dict = field(default_factory=dict)  # role -> [names], for the cells it had
    placeholders: dict = field(default_factory=dict)  # role -> text
    references: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def read_incidents(path, report, names, references):
    """[Facts] from incidents.csv, one per AIID incident (copies of one id merged)."""
    facts_of = {}
    unknown_columns = defaultdict(int)
    for number, values, others in _read(path, INCIDENT_COLUMNS, ["id", "title"]):
        raw_id = values["id"].strip()
        try:
            aiid_id = incident_number(raw_id)
        except ValueError:
            report.add(
                "missing-id",
                f"{raw_id!r} is not an incident number; the row is skipped."
                if raw_id
                else "No incident_id; the row is skipped.",
                row=number,
                column="incident_id",
            )
            continue
        facts = Facts(aiid_id, number)
        _read_text_cells(facts, values, report)
        for role in ENTITY_ROLES:
            if role in values:
                _read_party(facts, role, values[role], names, report)
        if "reports" in values:
            _read_reports_cell(facts, values["reports"], references, report)
        for title, text in others.items():
            unknown_columns[title] += 1
            text = text.strip()
            if len(text) > 5_000:
                report.add(
                    "unreadable-cell",
                    f"{len(text):,} characters, more than the 5,000 kept per column; left out.",
                    row=number,
                    column=title,
                )
                continue
            facts.extra[title[:200]] = text
        if aiid_id in facts_of:
            first = facts_of[aiid_id]
            report.add(
                "repeated-id",
                f"Incident {aiid_id} is also on row {first.row}; the rows are merged.",
                row=number,
                column="incident_id",
            )
            _fold_copy(first, facts, report)
        else:
            facts_of[aiid_id] = facts
    for title, count in unknown_columns.items():
        report.add(
            "unknown-column",
            f"{count:,} non-blank value{'s' if count != 1 else ''}, kept under 'Other source columns'.",
            column=title,
        )
    return list(facts_of.values())


def _read_text_cells(facts, values, report):
    row = facts.row
    title = clean_name(values["title"])
    if len(title) > documents.MAX_LENGTHS["headline"]:
        report.add(
            "shortened",
            "The title is longer than 300 characters: the headline is shortened and the whole title "
            "kept under 'Other source columns'.",
            row=row,
            column="title",
        )
        facts.extra["title"] = title
        title = documents.shorten(title, documents.MAX_LENGTHS["headline"])
    if title:
        facts.fields["headline"] = title
    description = values.get("description", "").strip()
    if len(description) > documents.MAX_LENGTHS["summary"]:
        report.add(
            "shortened",
            "The description is longer than 5,000 characters: the summary is its beginning and the "
            "whole text is the narrative.",
            row=row,
            column="description",
        )
        facts.fields["narrative"] = description
        description = documents.shorten(description, documents.MAX_LENGTHS["summary"])
    if description:
        facts.fields["summary"] = description
    raw_date = values.get("date", "").strip()
    if raw_date:
        try:
            facts.fields["occurred"] = _period(raw_date)
        except PeriodError as exc:
            report.add("unreadable-cell", f"{exc}; left out.", row=row, column="date")


def _read_party(facts, role, cell, names, report):
    column = INCIDENT_COLUMNS[role][0]
    try:
        slugs, tolerant = parse_list(cell)
    except ValueError as exc:
        report.add("unreadable-cell", f"{exc}; left out.", row=facts.row, column=column)
        return
    if tolerant:
        report.add(
            "ambiguous",
            f"{cell.strip()[:80]!r} is not a JSON list; read as {', '.join(slugs) or 'nothing'}.",
            row=facts.row,
            column=column,
        )
    entities, unknown = [], []
    for slug in slugs:
        placeholder = slug.lower() == "unknown" or slug.lower().startswith("unknown-")
        name = names.get(slug) or name_from_slug(slug, sentence=placeholder)
        if len(name) > documents.MAX_LENGTHS["name"]:
            report.add(
                "unreadable-cell",
                f"{name[:40]!r}… is too long for a name; left out.",
                row=facts.row,
                column=column,
            )
            continue
        (unknown if placeholder else entities).append(name)
    if not slugs:
        return
    facts.entities[role] = entities
    if unknown:
        facts.placeholders[role] = "; ".join(dict.fromkeys(unknown))[:200]


def _read_reports_cell(facts, cell, references, report):
    try:
        numbers, tolerant = parse_list(cell)
        numbers = [incident_number(n) for n in numbers]
    except ValueError as exc:
        report.add("unreadable-cell", f"{exc}; left out.", row=facts.row, column="reports")
        return
    if tolerant:
        report.add(
            "ambiguous",
            f"{cell.strip()[:80]!r} is not a JSON list; read as {', '.join(map(str, numbers)) or 'nothing'}.",
            row=facts.row,
            column="reports",
        )
    if references is None:
        return
    for number in numbers:
        reference = references.get(number)
        if reference is None:
            report.add(
                "missing-report", f"Report {number} is not in reports.csv.", row=facts.row, column="reports"
            )
        else:
            facts.references.append(reference)


def _fold_copy(first, copy, report):
    """Merge a second row of one incident into the first: the first's values win."""
    for name, value in copy.fields.items():
        if name in first.fields and first.fields[name] != value:
            report.add(
                "disagreement",
                f"Incident {first.aiid_id}'s rows disagree on {name}; row {first.row}'s kept.",
                row=copy.row,
            )
        first.fields.setdefault(name, value)
    for role, names in copy.entities.items():
        first.entities[role] = _union_names(first.entities.get(role, []), names)
    for role, text in copy.placeholders.items():
        first.placeholders.setdefault(role, text)
    first.references = _union_references(first.references, copy.references)
    for title, text in copy.extra.items():
        first.extra.setdefault(title, text)


# Documents -----------------------------------------------------------------------------


def _union_names(names, more):
    keys = {fold(name) for name in names}
    return [*names, *(name for name in more if fold(name) not in keys and not keys.add(fold(name)))]


def _reference_key(reference):
    return normalize_url(reference["url"]) or reference["url"]


def _union_references(references, more):
    keys = {_reference_key(ref) for ref in references}
    result = list(references)
    for ref in more:
        if _reference_key(ref) not in keys:
            keys.add(_reference_key(ref))
            result.append(ref)
    return result


def _contains(outer, inner):
    """Whether period `outer` (ISO text) covers `inner` and is not the same period."""
    try:
        big, small = parse_period(outer), parse_period(inner)
    except PeriodError:
        return False
    if big is None or small is None or big == small:
        return False
    big_end = big.last_day or date.max
    small_end = small.last_day or date.max
    return big.first_day <= small.first_day and small_end <= big_end


def apply_facts(document, facts, aiid_ids, report=None):
    """`document` with what the snapshot says of an incident: filled cells replace scalar
    values (never with a vaguer date), names and references join the lists."""
    document = {
        **document,
        "entities": dict(document["entities"]),
        "placeholders": dict(document.get("placeholders", {})),
        "references": dict(document["references"]),
        "extra": dict(document.get("extra", {})),
    }
    for name, value in facts.fields.items():
        if name == "occurred" and _contains(value, document.get("occurred", "")):
            if report is not None:
                report.add(
                    "kept-precise",
                    f"{document['occurred']} kept: the snapshot's {value} is less precise.",
                    row=facts.row,
                    column="date",
                )
            continue
        document[name] = value
    for role, names in facts.entities.items():
        document["entities"][role] = _union_names(document["entities"].get(role, []), names)
        if facts.placeholders.get(role):
            document["placeholders"][role] = facts.placeholders[role]
        elif names:
            document["placeholders"].pop(role, None)  # the snapshot now names who
    document["references"]["news"] = _union_references(
        document["references"].get("news", []), facts.references
    )
    document["extra"].update(facts.extra)
    ids = {(item["scheme"], item["value"]) for item in document.get("external_ids", [])}
    document["external_ids"] = list(document.get("external_ids", [])) + [
        {"scheme": SOURCE, "value": str(value)} for value in aiid_ids if (SOURCE, str(value)) not in ids
    ]
    document["source_url"] = CITE_URL.format(aiid_ids[0])
    return document


def group_document(group, base=None, report=None):
    """The document a true incident and its duplicates make, applied onto `base` (what the
    snapshot said at the last import, or an empty document): the true incident's cells
    first, then each duplicate's facts joining as a merged report (they fill only blanks)."""
    true, *duplicates = group
    base = base or documents.empty_document()
    document = apply_facts(base, true, [true.aiid_id], report)
    if not document["headline"]:
        document["headline"] = f"AI Incident Database incident {true.aiid_id}"
    for duplicate in duplicates:
        document = documents.merge(document, duplicate_document(duplicate, document["headline"]))
    # A role the true incident did not know and a duplicate names is no longer unknown.
    for role, text in true.placeholders.items():
        if document["entities"].get(role) and document["placeholders"].get(role) == text:
            del document["placeholders"][role]
    return document


def duplicate_document(duplicate, headline):
    """A duplicate's facts as a report to merge into its true incident: its names, references
    and id join; its own title, description, date and other columns are kept under
    'Other source columns' ("AIID 4: title"), since the true incident's own take their place."""
    other = apply_facts(documents.empty_document(), duplicate, [duplicate.aiid_id])
    prefix = f"AIID {duplicate.aiid_id}: "
    cells = {"title": "headline", "description": "summary", "date": "occurred"}
    extra = {prefix + column: other[field] for column, field in cells.items() if other[field]}
    extra.update({prefix + title: text for title, text in other["extra"].items()})
    return {
        **other,
        **dict.fromkeys(documents.SCALAR_PATHS, ""),
        "headline": headline,
        "extra": {key[:200]: text for key, text in extra.items()},
    }


def _union_value(current, proposed, base):
    """Both sides changed a field: keep the site's value, adding what the snapshot added."""
    if isinstance(current, list):
        keyed = {json.dumps(item, sort_keys=True) for item in current}
        if any(isinstance(item, str) for item in [*current, *proposed]):
            return _union_names(current, [item for item in proposed if item not in base])
        return current + [
            item for item in proposed if item not in base and json.dumps(item, sort_keys=True) not in keyed
        ]
    if isinstance(current, dict):
        return {**{k: v for k, v in proposed.items() if k not in base}, **current}
    return current


def reconcile(base, current, proposed, report, row, disputed=None):
    """The current document with what the snapshot changed since the last import (`base`):
    a field only the snapshot changed takes its value; one an editor changed keeps theirs
    (the snapshot's value, for a field of one value, goes into `disputed`: {path: value},
    for editors to decide)."""
    document = current
    for change in documents.three_way(base, current, proposed):
        if not change.proposal_changed or change.proposed == change.current:
            continue
        if not change.incident_changed:
            document = documents.set_path(document, change.path, change.proposed)
            continue
        value = _union_value(change.current, change.proposed, change.base)
        if value != change.current:
            document = documents.set_path(document, change.path, value)
        if not isinstance(change.current, list | dict):
            if disputed is not None:
                disputed[change.path] = change.proposed
            report.add(
                "site-value-kept",
                f"{change.label}: the site's value is kept (changed since the last import); "
                f"the snapshot says {str(change.proposed)[:80]!r}.",
                row=row,
            )
    return document


# Importing ----------------------------------------------------------------------------


@dataclass
class Group:
    """One incident on the site: an AIID incident and the duplicates that fold into it.
    `true` is None when only duplicates of a stored incident are in the file."""

    true_id: int
    true: Facts | None
    duplicates: list = field(default_factory=list)
    incident: Incident | None = None  # the stored incident, once looked up
    disputed: dict = field(default_factory=dict)  # path -> the snapshot's value, proposed
    view: dict | None = None  # what the snapshot says of it, once worked out

    @property
    def members(self):
        return [self.true, *self.duplicates] if self.true else list(self.duplicates)

    @property
    def row(self):
        return self.members[0].row


def _groups(facts, roots):
    """[Group] in incident order; duplicates whose true incident is not in the file get a
    Group without `true`."""
    groups = {item.aiid_id: Group(item.aiid_id, item) for item in facts if item.aiid_id not in roots}
    for item in sorted(facts, key=lambda f: f.aiid_id):
        true = roots.get(item.aiid_id)
        if true is not None:
            groups.setdefault(true, Group(true, None)).duplicates.append(item)
    return [groups[key] for key in sorted(groups)]


def _existing(aiid_ids):
    """{aiid id (str): [Incident]} for incidents carrying those ids (one query)."""
    found = defaultdict(list)
    links = (
        ExternalId.objects.filter(scheme=SOURCE, value__in=[str(v) for v in aiid_ids])
        .select_related("incident__current_revision", "incident__merged_into__current_revision")
        .order_by("incident__number")
    )
    for link in links:
        incident = link.incident
        if incident.merged_into_id is not None and incident.merged_into.merged_into_id is None:
            incident = incident.merged_into  # a merged incident's facts go to its survivor
        if all(other.pk != incident.pk for other in found[link.value]):
            found[link.value].append(incident)
    return found


def _match(groups, report):
    """Find each group's stored incident by its AIID ids (one query for the chunk)."""
    existing = _existing(
        [item.aiid_id for group in groups for item in group.members] + [g.true_id for g in groups]
    )
    for group in groups:
        candidates = existing.get(str(group.true_id), [])
        if len(candidates) > 1:
            report.add(
                "id-reused",
                f"AIID incident {group.true_id} names {len(candidates)} incidents on the site "
                f"({', '.join(f'#{i.number}' for i in candidates)}); the first is updated.",
                row=group.row,
            )
        group.incident = candidates[0] if candidates else None
        for duplicate in group.duplicates:
            for other in existing.get(str(duplicate.aiid_id), []):
                if group.incident is None:
                    group.incident = other
                elif other.pk != group.incident.pk:
                    report.add(
                        "duplicate-stored",
                        f"AIID incident {duplicate.aiid_id}, a duplicate of {group.true_id}, is incident "
                        f"#{other.number} on the site; its facts now join #{group.incident.number} too: "
                        "an editor should merge the two.",
                        row=duplicate.row,
                    )


def _place_orphans(groups, report):
    """Duplicates whose true incident is not in the file join it when it is on the site;
    otherwise each is imported as an incident of its own, with a warning (one query)."""
    orphans = [group for group in groups if group.true is None]
    if not orphans:
        return groups
    stored = _existing([group.true_id for group in orphans])
    placed = []
    for group in groups:
        if group.true is not None or stored.get(str(group.true_id)):
            placed.append(group)
            continue
        for duplicate in group.duplicates:
            report.add(
                "skipped-row",
                f"Incident {duplicate.aiid_id} is a duplicate of {group.true_id}, which is neither in "
                "the file nor on the site; imported as an incident of its own.",
                row=duplicate.row,
            )
            placed.append(Group(duplicate.aiid_id, duplicate))
    return sorted(placed, key=lambda group: group.true_id)


def _records(groups):
    """{incident id: SourceRecord} of what the snapshot said at the last import (one query)."""
    ids = [group.incident.pk for group in groups if group.incident is not None]
    records = source_records(source=SOURCE, incident_ids=ids)
    # An incident the snapshot made and an editor merged into another: what the snapshot said
    # of it is what it said of the survivor.
    for record in SourceRecord.objects.filter(source=SOURCE, incident__merged_into_id__in=ids).select_related(
        "incident"
    ):
        records.setdefault(record.incident.merged_into_id, record)
    return records


def source_view(group, record, headline="", report=None):
    """What the snapshot says of a group's incident, as a document of the AIID's own values,
    applied onto what it said at the last import (`record`): a blank cell keeps the value it
    had, lists only grow, a vaguer date never replaces a precise one."""
    if group.true is not None:
        return documents.normalize(group_document(group.members, base=record, report=report))
    view = record or {
        **documents.empty_document(),
        "headline": headline or f"AI Incident Database incident {group.true_id}",
    }
    for duplicate in group.duplicates:
        view = documents.merge(view, duplicate_document(duplicate, view["headline"]))
    return documents.normalize(view)


def _given_elsewhere(groups):
    """{incident id: the document paths the AIAAIC sheet's statements give it} for the groups'
    incidents (and the incidents merged into them)."""
    ids = [group.incident.pk for group in groups if group.incident is not None]
    if not ids:
        return {}
    statements = defaultdict(list)
    for record in SourceRecord.objects.filter(
        source="aiaaic", incident__merged_into_id__in=ids
    ).select_related("incident"):
        statements[record.incident.merged_into_id].append(record)
    for record in SourceRecord.objects.filter(source="aiaaic", incident_id__in=ids):
        statements[record.incident_id].append(record)
    given = {}
    for pk, records in statements.items():
        paths = set()
        for target in fold_statements(records):
            kind, _, name = target.partition(":")
            if kind in ("terms", "entities", "references") and name:
                paths.add(f"{kind}.{name}")
            elif target == "more_urls":
                paths.add("references.news")
            elif target in documents.SCALAR_PATHS or target == "placeholders":
                paths.add(target)
        given[pk] = paths
    return given


def _hold_back(current, document, given, disputed):
    """`document` with each path another source gives (`given`) left as `current` has it, the
    snapshot's value of it put into `disputed` instead (a proposal, never an overwrite)."""
    for path in documents.document_paths(current, document):
        if path in given and documents.get_path(document, path) != documents.get_path(current, path):
            disputed[path] = documents.get_path(document, path)
            document = documents.set_path(document, path, documents.get_path(current, path))
    return document


def _proposal(incident_id, published, disputed, true_id):
    document = published
    for path, value in disputed.items():
        document = documents.set_path(document, path, value)
    fields = sorted(disputed)
    return {
        "incident_id": incident_id,
        "document": document,
        "fields": fields,
        "note": (
            f"The AI Incident Database's snapshot (its incident {true_id}) changes "
            f"{', '.join(documents.path_label(path) for path in fields)}, which the AIAAIC sheet or an "
            "editor gives otherwise: the incident keeps its value until an editor decides."
        ),
    }


def _document_for(group, record, report):
    """(the document to publish, the snapshot's view of it). A new incident is the view; one
    the AIID import made is the site's document with what the snapshot changed since the
    last import (an editor's change kept); one from elsewhere that carries an AIID id keeps
    its values and gains the snapshot's names, references and blanks filled."""
    incident = group.incident
    if incident is None or incident.current_revision is None:
        view = source_view(group, None, report=report)
        return view, view
    current = incident.current_revision.document
    view = source_view(group, record, current["headline"], report)
    if record is None:
        joining = {**view, "source_url": "" if current.get("source_url") else view["source_url"]}
        return documents.merge(current, joining), view
    return reconcile(record, current, view, report, group.row, group.disputed), view


def _item(group, document, taxonomy, batch, view=None, as_of=None):
    """The PublishItem of a group's document (normalized here, so that a document the site
    refuses is this group's finding alone), or None when the incident already says it all.
    Raises DocumentError. A new incident's number is publishing's to give. A new incident's
    document is the snapshot's `view`, normalized already: it is checked only for
    vocabularies the site lacks (normalize's one check that needs them)."""
    vocabularies = set(taxonomy.vocabularies)
    if document is not view or not set(document["terms"]) <= vocabularies:
        document = documents.normalize(document, vocabularies=vocabularies)
    incident = group.incident
    if (
        incident is not None
        and incident.current_revision is not None
        and documents.same_values(document, incident.current_revision.document)
    ):
        return None
    return PublishItem(
        document=document,
        incident=incident,
        summary=SUMMARY,
        normalized=True,
        origin=Origin.of_source("aiid", "snapshot", as_of=as_of),  # the date since which it says so
    )


def _publish_items(pending, taxonomy, batch):
    """Publish [(group, item)] together (the sheet's path: `incidents_publish`); when
    publishing refuses them (an incident merged since it was read), one at a time, each
    refusal a finding. Returns [(group, PublishResult or the refusal)]."""
    if not pending:
        return []
    try:
        outcomes = chunk_publish(
            items=[item for _group, item in pending], taxonomy=taxonomy, where="", import_batch=batch
        )
        return list(zip([group for group, _item in pending], outcomes, strict=True))
    except ChunkRefused:
        pass
    done = []
    for group, item in pending:
        try:
            [outcome] = chunk_publish(items=[item], taxonomy=taxonomy, where="", import_batch=batch)
        except ChunkRefused as exc:
            outcome = exc.error
        done.append((group, outcome))
    return done


def aiid_import(*, path_or_dir, progress=None, strict=False, dry_run=False):
    """Import an AI Incident Database snapshot. Returns AiidImportResult.

    The snapshot is read whole first: AiidError when it cannot be read (nothing is written).
    Then its incidents are published a chunk at a time, each chunk committing on its own (an
    editor publishing meanwhile waits for a chunk at most); an import run again leaves what
    it imported already as it is, so a run that stopped is finished by running it again.
    With `strict` (AiidRefused, carrying the report, when the snapshot has warnings) and
    `dry_run` (rolled back at the end) the import is one transaction.
    """
    files = find_files(path_or_dir)
    report = ImportReport()
    names = read_entities(files.entities, report) if files.entities else {}
    references = read_reports(files.reports, report) if files.reports else None
    pairs = read_duplicates(files.duplicates, report) if files.duplicates else {}
    facts = read_incidents(files.incidents, report, names, references)
    roots = resolve_duplicates(pairs, report)
    groups = _groups(facts, roots)
    result = AiidImportResult(files=files, report=report, rows=len(facts))
    result.as_of, how = export_date(file_name=files.incidents.name)
    if result.as_of is None:
        result.as_of, how = export_date(file_name=files.incidents.parent.name)
    result.as_of_note = as_of_text(result.as_of, how).replace(" (give one with --as-of YYYY-MM-DD)", "")
    try:
        with import_run(whole=strict or dry_run):
            _import_groups(groups, facts, result, progress, strict, dry_run)
    except DryRun:
        result.dry_run = True
    return result


def _import_groups(groups, facts, result, progress, strict, dry_run):
    report = result.report
    batch, stopped = import_batch_start(
        source=SOURCE, file_name=result.files.incidents.parent.name, report=report
    )
    changed_ids = []
    taxonomy = Taxonomy()
    with transaction.atomic():
        taxonomy.preload()
        taxonomy.ensure(
            entities=[
                (name, role)
                for item in facts
                for role, role_names in item.entities.items()
                for name in role_names
                if role != "system"  # which system a name means depends on the incident
            ]
        )
        groups = _place_orphans(groups, report)
    for start in range(0, len(groups), CHUNK):
        with transaction.atomic():
            changed_ids += _import_chunk(groups[start : start + CHUNK], taxonomy, result, batch)
        if progress:
            progress(min(start + CHUNK, len(groups)), len(groups))
    with transaction.atomic():
        taxonomy.keep_spellings()
        result.entities_created = taxonomy.created_entities
        result.incident_ids = changed_ids
        if strict and report.warnings:
            raise AiidRefused(report)
        import_batch_finish(
            batch,
            stopped=stopped,
            created=result.created,
            updated=result.updated,
            incident_ids=changed_ids,
            source=SOURCE,
        )
        result.batch = batch.pk
        if dry_run:
            raise DryRun


def _import_chunk(chunk, taxonomy, result, batch):
    """Publish a chunk of groups together (in the caller's transaction); returns the ids
    changed. Two groups that lead to one incident are published one after the other."""
    report, changed_ids = result.report, []
    _match(chunk, report)
    records = _records(chunk)
    given = _given_elsewhere(chunk)
    views, pending, published, proposals = {}, [], [], []
    for group in chunk:
        for duplicate in group.duplicates:
            result.merged_duplicates += 1
            report.add(
                "duplicate-merged",
                f"AIID incident {duplicate.aiid_id} merged into {group.true_id}.",
                row=duplicate.row,
            )
        record = records.get(group.incident.pk) if group.incident else None
        if record is not None and statement_order(record.as_of, "") > statement_order(result.as_of, ""):
            # An older snapshot than the one the record keeps: it changes nothing.
            result.unchanged += 1
            result.older += 1
            report.add(
                "older-value",
                f"AIID incident {group.true_id}: this snapshot is older than the one imported before "
                f"(as of {record.as_of:%Y-%m-%d}); the incident is left as it is.",
                row=group.row,
            )
            continue
        try:
            document, view = _document_for(group, record.document if record else None, report)
            if group.incident is not None and group.incident.current_revision is not None:
                current = group.incident.current_revision.document
                document = _hold_back(current, document, given.get(group.incident.pk, ()), group.disputed)
            item = _item(group, document, taxonomy, batch, view, result.as_of)
        except DocumentError as exc:
            result.skipped += 1
            report.add(
                "skipped-row",
                f"AIID incident {group.true_id} not imported: {problem_text(exc)}",
                row=group.row,
            )
            continue
        group.view = view
        if item is None:
            views[group.incident.pk] = view
            result.unchanged += 1
            if group.disputed:
                proposals.append(
                    _proposal(
                        group.incident.pk,
                        group.incident.current_revision.document,
                        group.disputed,
                        group.true_id,
                    )
                )
            continue
        if group.incident is not None and any(
            other.incident and other.incident.pk == group.incident.pk for other, _item in pending
        ):
            published += _publish_items(pending, taxonomy, batch)
            pending = []
        pending.append((group, item))
    published += _publish_items(pending, taxonomy, batch)
    for group, outcome in published:
        if isinstance(outcome, Exception):
            result.skipped += 1
            report.add(
                "skipped-row",
                f"AIID incident {group.true_id} not imported: {problem_text(outcome)}",
                row=group.row,
            )
            continue
        views[outcome.incident.pk] = group.view
        if group.disputed:
            published_document = (outcome.revision or outcome.incident.current_revision).document
            proposals.append(
                _proposal(outcome.incident.pk, published_document, group.disputed, group.true_id)
            )
        result.created += outcome.created
        result.updated += outcome.changed and not outcome.created
        result.unchanged += not outcome.changed
        if outcome.changed:
            changed_ids.append(outcome.incident.pk)
    source_records_save(source=SOURCE, views=views, records=records, as_of=result.as_of)
    result.proposals += len(proposals)
    proposals_on_commit(proposals=proposals)
    return changed_ids
