"""Writing the published dataset to files: CSV in the AIAAIC sheet's 2024 layout, and JSON.

Both files are written in one pass over the incidents (so they describe the same moment),
in chunks of `CHUNK` incidents read by number, straight to the files: memory does not grow
with the dataset. Each file is written under a temporary name in the same directory and
renamed into place when complete, so a reader never sees half a file.

CSV: the title row, the column row and the sub-header row of the 2024 sheet, then one row
per incident, built from its current revision's document. `import_sheet` reads it back.
The 2024 layout has no summary, narrative, references, consequence or response; those are
in the JSON. The `AIAAIC ID#` column holds the incident's AIAAIC id; an incident without one
(reported here, not on the AIAAIC sheet) gets `AIAAIC` followed by NO_ID_OFFSET plus its
permanent number (incident 42 is AIAAIC1000042): stable from one snapshot to the next, far
above the AIAAIC numbering, and of the shape the importer requires. Importing such a file
gives that incident this id as its external id.

JSON: one array of `{"slug", "number", "document"}` objects (the shape of
`/incidents/<slug>/document.json`), one incident per line, so that it can be read whole
with any JSON parser or line by line.
"""

import csv
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from . import documents
from .models import ExternalId, Incident
from .periods import period_human
from .sheet import ID_PATTERN, LAYOUT_2024

CHUNK = 500
NO_ID_OFFSET = 1_000_000
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


def sheet_header_rows(title):
    """The title row, the column row and the sub-header row of the 2024 sheet."""
    columns = LAYOUT_2024.columns
    names, subs, group = [], [], None
    for column in columns:
        if column.sub and column.header == group:
            names.append("")  # under the grouped header, as the sheet writes it
        else:
            names.append(column.header)
        group = column.header if column.sub else None
        subs.append(column.sub)
    return [[title] + [""] * (len(columns) - 1), names, subs]


def sheet_id(external_id, number, offset=NO_ID_OFFSET):
    """The `AIAAIC ID#` of an incident: its AIAAIC id, or one made from its number."""
    match = ID_PATTERN.match((external_id or "").strip())
    if match:
        return f"AIAAIC{int(match[1]):04d}"
    return f"AIAAIC{offset + number}"


def sheet_row(document, identifier):
    """One incident as a row of the 2024 sheet."""
    row = []
    for column in LAYOUT_2024.columns:
        target = column.target
        kind, _, name = target.partition(":")
        if target == "external_id":
            row.append(identifier)
        elif target == "type":
            row.append(document.get("type", "").capitalize())
        elif target == "occurred":
            row.append(period_human(document.get("occurred", "")))
        elif target == "source":
            row.append(document.get("source_url", ""))
        elif kind == "terms":
            row.append("; ".join(document.get("terms", {}).get(name, [])))
        elif kind == "entities":
            row.append("; ".join(document.get("entities", {}).get(name, [])))
        else:  # headline, released
            row.append(document.get(target, ""))
    return row


def _chunks(size=CHUNK):
    """The published incidents (merged ones left out: their facts are their survivor's) by
    number, `size` at a time: (number, slug, external_id, document)."""
    last = 0
    while True:
        rows = list(
            Incident.objects.unmerged()
            .filter(number__gt=last, current_revision__isnull=False)
            .order_by("number")
            .values_list("number", "slug", "current_revision__document")[:size]
        )
        if not rows:
            return
        yield [
            (number, slug, (documents.external_id_values(document, "aiaaic") or [""])[0], document)
            for number, slug, document in rows
        ]
        last = rows[-1][0]


def _made_up_ids(rows):
    """Ids for the incidents of a chunk that have no AIAAIC id, avoiding any id in use."""
    wanted = [number for number, _slug, external_id, _doc in rows if not ID_PATTERN.match(external_id or "")]
    ids, offset = {}, NO_ID_OFFSET
    while wanted:
        candidates = {number: sheet_id("", number, offset) for number in wanted}
        taken = set(
            ExternalId.objects.filter(scheme="aiaaic", value__in=candidates.values()).values_list(
                "value", flat=True
            )
        )
        ids.update({number: value for number, value in candidates.items() if value not in taken})
        wanted = [number for number, value in candidates.items() if value in taken]
        offset += NO_ID_OFFSET
    return ids


def write_dataset(*, stem, title, progress=None):
    """Write `<stem>.csv` and `<stem>.json` in EXPORT_DIR. Returns ([WrittenFile], count)."""
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
        sheet.writerows(sheet_header_rows(title))
        out = temps["json"][1]
        out.write("[")
        count = 0
        for rows in _chunks():
            made_up = _made_up_ids(rows)
            for number, slug, external_id, document in rows:
                sheet.writerow(sheet_row(document, made_up.get(number) or sheet_id(external_id, number)))
                item = {"slug": slug, "number": number, "document": document}
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
        return written, count
    except BaseException:
        for handle, _writer in temps.values():
            handle.close()
            Path(handle.name).unlink(missing_ok=True)
        raise
