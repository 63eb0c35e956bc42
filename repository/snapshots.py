"""Writing the published dataset to files: CSV that `import_sheet` reads back, and JSON.

Both files are written in one pass over the incidents (so they describe the same moment),
in chunks of `CHUNK` incidents read by number, straight to the files: memory does not grow
with the dataset. Each file is written under a temporary name in the same directory and
renamed into place when complete, so a reader never sees half a file.

CSV: a title row, the column row and the sub-header row, then one row per incident, built
from its current revision's document. The columns are the newest AIAAIC layout's first (a
spreadsheet made for AIAAIC's sheet reads them), then every field that layout lacks: type,
released, transparency, internal harms, harmed parties, unknown roles, summary, narrative,
source, external ids, references by section (JSON lists), other source columns (a JSON
object), the permalink and the incident's number; and a column for each vocabulary added
since. The permalink's slug and the number are the incident's identity in this installation:
`import_sheet` on a snapshot, into an empty database or back into the installation it came
from, rebuilds the same incidents (numbers, slugs) with identical documents, incidents that
share an AIAAIC id included; into another installation it is an ordinary sheet. Multi-valued cells are joined with "; ". A cell a
spreadsheet would read as a formula (starting with =, +, -, @, tab or carriage return) gets
a leading apostrophe, which the importer strips.

JSON: one array of items (`dataset_item`, the shape of `/incidents/<slug>/document.json`),
one incident per line, so that it can be read whole with any JSON parser or line by line:
`{"slug", "number", "revision", "created_at", "updated_at", "merged_into", "document"}`.
`import_dataset` reads it back into an empty or existing database (`importers/dataset.py`);
`schema/incident-snapshot.schema.json` describes it (served at /export/).
"""

import csv
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from . import documents
from .documents import split_values
from .models import Incident, Vocabulary
from .periods import period_human
from .sheetformat import escape_cell

CHUNK = 500
# (header, sub-header, target as repository.importers.sheet reads it): the 2026 AIAAIC layout, then ours.
EXPORT_COLUMNS = [
    ("AIAAIC ID#", "", "external_id"),
    ("Headline", "", "headline"),
    ("Occurred", "", "occurred"),
    ("Deployer", "", "entities:deployer"),
    ("Developer", "", "entities:developer"),
    ("System name", "", "entities:system"),
    ("Technology", "", "terms:technology"),
    ("Purpose", "", "terms:purpose"),
    ("News trigger (taxonomy)", "", "terms:news-trigger"),
    ("Ethical issue (taxonomy)", "", "terms:issue"),
    ("Impacted area", "Jurisdiction", "terms:country"),
    ("Impacted area", "Sector", "terms:sector"),
    ("External harm (taxonomy)", "Individual", "terms:harm-individual"),
    ("External harm (taxonomy)", "Societal", "terms:harm-societal"),
    ("External harm (taxonomy)", "Environmental", "terms:harm-environmental"),
    ("Consequence (taxonomy)", "", "terms:consequence"),
    ("Response (taxonomy)", "", "terms:response"),
    ("Summary/links", "", "summary_links"),
    ("Type", "", "type"),
    ("Released", "", "released"),
    ("Transparency", "", "terms:transparency"),
    ("Internal harm (taxonomy)", "Strategic/reputational", "terms:harm-strategic"),
    ("Internal harm (taxonomy)", "Operational", "terms:harm-operational"),
    ("Internal harm (taxonomy)", "Financial", "terms:harm-financial"),
    ("Internal harm (taxonomy)", "Legal/regulatory", "terms:harm-legal"),
    ("Harmed parties", "", "entities:harmed"),
    ("Unknown roles", "", "placeholders"),
    ("Summary", "", "summary"),
    ("Narrative", "", "narrative"),
    ("Source", "", "source"),
    ("External ids", "", "external_ids"),
    ("References", "System", "references:system"),
    ("References", "Legal, regulatory", "references:legal"),
    ("References", "Research, advocacy", "references:research"),
    ("References", "Investigations, assessments, audits", "references:investigations"),
    ("References", "News, commentary, analysis", "references:news"),
    ("Other source columns", "", "extra"),
    ("Permalink", "", "permalink"),
    ("Number", "", "number"),
]
FILE_PREFIX = "incidents-"
TEMP_PREFIX = ".incidents-"
TEMP_SUFFIX = ".part"
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


@dataclass(frozen=True)
class WrittenFile:
    format: str
    file_name: str
    size: int
    sha256: str


class _HashingWriter:
    """A text sink that writes UTF-8 to a binary file and keeps its size and SHA-256."""

    def __init__(self, raw):
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, text):
        data = text.encode("utf-8")
        self.hash.update(data)
        self.size += len(data)
        self.raw.write(data)
        return len(text)


def snapshot_path(file_name):
    """The file of a snapshot row: a plain name inside EXPORT_DIR, never a path."""
    if not file_name or Path(file_name).name != file_name or file_name.startswith("."):
        raise ValueError(f"{file_name!r} is not a snapshot file name.")
    return Path(settings.EXPORT_DIR) / file_name


def export_columns(vocabularies):
    """The snapshot's columns as (header, sub-header, target): the newest AIAAIC layout's
    first, then the fields it lacks, then one per vocabulary no column names yet."""
    columns = list(EXPORT_COLUMNS)
    covered = {target for _h, _s, target in columns}
    for vocabulary in vocabularies:
        if f"terms:{vocabulary.slug}" not in covered:
            columns.append((vocabulary.label, "", f"terms:{vocabulary.slug}"))
    return columns


def sheet_header_rows(title, columns):
    """The title row, the column row and the sub-header row, as the sheet writes them: a
    group's name over its first column only."""
    names, subs, group = [], [], None
    for header, sub, _target in columns:
        names.append("" if sub and header == group else header)
        group = header if sub else None
        subs.append(sub)
    return [[title] + [""] * (len(columns) - 1), names, subs]


def _periods_human(text):
    return "; ".join(period_human(part) for part in split_values(text))


def _json(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


def sheet_row(document, columns, permalink="", number=None):
    """One incident as a row of the snapshot sheet."""
    row = []
    for _header, _sub, target in columns:
        kind, _, name = target.partition(":")
        if target == "external_id":
            value = (documents.external_id_values(document, "aiaaic") or [""])[0]
        elif target == "type":
            value = document.get("type", "").capitalize()
        elif target in ("occurred", "released"):
            value = _periods_human(document.get(target, ""))
        elif target == "summary_links":
            value = " ".join(filter(None, [document.get("summary", ""), document.get("source_url", "")]))
        elif target == "source":
            value = document.get("source_url", "")
        elif target == "external_ids":
            value = "; ".join(
                f"{item['scheme']}:{item['value']}" for item in document.get("external_ids", [])
            )
        elif target in ("placeholders", "extra"):
            value = _json(document.get(target, {}))
        elif kind == "references":
            value = _json(document.get("references", {}).get(name, []))
        elif kind == "terms":
            value = "; ".join(document.get("terms", {}).get(name, []))
        elif kind == "entities":
            value = "; ".join(document.get("entities", {}).get(name, []))
        elif target == "permalink":
            value = permalink
        elif target == "number":
            value = "" if number is None else str(number)
        else:  # headline, summary, narrative
            value = document.get(target, "")
        row.append(escape_cell(value))
    return row


def dataset_item(
    *, slug, number, document, revision=None, created_at=None, updated_at=None, merged_into=None
):
    """One incident as an item of the JSON snapshot (and of `/incidents/<slug>/document.json`).

    Times are ISO 8601 with microseconds and offset, so that a restore keeps them exactly;
    `merged_into` is the survivor's slug or None. The document comes last: the short fields
    open each line of the file.
    """
    item = {"slug": slug, "number": number}
    if revision is not None:
        item["revision"] = revision
    if created_at is not None:
        item["created_at"] = created_at.isoformat()
    if updated_at is not None:
        item["updated_at"] = updated_at.isoformat()
    item["merged_into"] = merged_into
    item["document"] = documents.published(document)  # schema 3, its provenance map included
    return item


def _chunks(size=CHUNK):
    """The published incidents by number, `size` at a time, merged ones too (the JSON keeps
    their redirect; the CSV leaves them out): (number, slug, document, the rest of its JSON
    item as keyword arguments)."""
    last = 0
    while True:
        rows = list(
            Incident.objects.filter(number__gt=last, current_revision__isnull=False)
            .order_by("number")
            .values_list(
                "number",
                "slug",
                "current_revision__document",
                "current_revision__number",
                "created_at",
                "updated_at",
                "merged_into__slug",
            )[:size]
        )
        if not rows:
            return
        yield [
            (
                number,
                slug,
                document,
                {"revision": revision, "created_at": created, "updated_at": updated, "merged_into": merged},
            )
            for number, slug, document, revision, created, updated, merged in rows
        ]
        last = rows[-1][0]


def write_dataset(*, stem, title, progress=None):
    """Write `<stem>.csv` and `<stem>.json` in EXPORT_DIR. Returns ([WrittenFile], the number of incidents listed: merged ones are in the JSON only)."""
    directory = Path(settings.EXPORT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    temps = {}
    try:
        for format in ("csv", "json"):
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, renamed on success)
                dir=directory, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, delete=False
            )
            temps[format] = (handle, _HashingWriter(handle))
        sheet = csv.writer(temps["csv"][1], lineterminator="\r\n")
        columns = export_columns(Vocabulary.objects.all())
        sheet.writerows(sheet_header_rows(title, columns))
        site = settings.SITE_URL.rstrip("/")
        out = temps["json"][1]
        out.write("[")
        count = listed = 0
        for rows in _chunks():
            for number, slug, document, rest in rows:
                if not rest["merged_into"]:  # the CSV lists incidents; the JSON mirrors merges too
                    permalink = site + reverse("repository:incident", args=[slug])
                    sheet.writerow(sheet_row(document, columns, permalink, number))
                    listed += 1
                item = dataset_item(slug=slug, number=number, document=document, **rest)
                out.write(("\n" if count == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
                count += 1
            if progress:
                progress(count)
        out.write("\n]\n")
        written = []
        for format, (handle, writer) in temps.items():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.chmod(handle.name, 0o644)  # the web processes serve it
            file_name = f"{stem}.{format}"
            os.replace(handle.name, directory / file_name)
            written.append(WrittenFile(format, file_name, writer.size, writer.hash.hexdigest()))
        return written, listed
    except BaseException:
        for handle, _writer in temps.values():
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
        raise
