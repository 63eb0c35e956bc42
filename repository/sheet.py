"""The AIAAIC sheet: reading any export of it, and importing it without losing a value.

An export has a title row (its text is free), a row of column names, and, under grouped
columns such as "External harms", a row of sub-headers. Columns are found by a normalised
name (case, spacing, "(s)"/"(ies)" plural suffixes and "(taxonomy)" ignored) through one
table of names and synonyms that covers every layout AIAAIC has used since 2023, and the
columns of this site's own snapshots. A column the table does not know is kept (under the
document's `extra`) and reported; only a sheet without an id and a headline column is
refused.

Row problems are findings, never refusals: a row with an id but no headline is skipped, an
id repeated in the file is imported once with its copies merged field by field, a cell that
cannot be read is left out of its row. Everything is reported, grouped by kind with row
numbers (`repository.reports`). The import is one transaction.

Identity across exports: a row updates an incident only when it tells the same story (the
same AIAAIC id and a similar headline or the same source link, or the same source link
alone). AIAAIC has reused ids: an id that now names a different story becomes a new
incident, and both keep the id. Nothing is erased or made vaguer: a blank cell keeps the
stored value (unless `blank_clears`), and a less precise period never replaces a more
precise one that it contains.
"""

import codecs
import csv
import io
import json
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import reset_queries, transaction

from . import documents
from .addresses import normalize_url
from .bulk import PlannerStatistics, insert_rows
from .documents import DocumentError, clean_name, fold, split_values
from .models import Entity, ExternalId, Incident, SourceRecord, Term, Vocabulary
from .periods import PeriodError, more_precise, parse_period, period_human
from .reports import ImportReport
from .services import (
    PublishItem,
    StaleRevision,
    Taxonomy,
    incidents_publish,
    make_slug,
)
from .signals import incidents_imported

URL_PATTERN = re.compile(r"https?://[^\s<>\"]+")
AIAAIC_PAGE = "https://www.aiaaic.org/"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a formula from these
_url_validator = URLValidator(schemes=["http", "https"])


# Column names ------------------------------------------------------------------------------


def header_key(text):
    """A column name as the table knows it: 'Country(ies) ' -> 'country',
    'News trigger (taxonomy)' -> 'news trigger', 'Headline/title' -> 'headline/title'."""
    text = " ".join(str(text).replace("\u00a0", " ").split()).casefold()
    text = re.sub(r"\s*\((?:s|es|ies|taxonomy)\)", "", text)
    text = re.sub(r"[\s:]+$", "", text)
    return text


def _names(*names):
    return [header_key(name) for name in names]


# target -> the names it goes by; a (group, sub-header) pair for grouped columns.
COLUMN_NAMES = {
    "external_id": _names("AIAAIC ID#", "AIAAIC ID", "AIAAIC #", "ID#", "ID"),
    "headline": _names("Headline", "Headline/title", "Title", "Headline / title"),
    "type": _names("Type"),
    "released": _names("Released", "Release date", "Year released"),
    "occurred": _names("Occurred", "Date occurred", "Occurred date"),
    "terms:country": [
        *_names("Country(ies)", "Countries", "Jurisdiction", "Jurisdiction(s)"),
        ("impacted area", "jurisdiction"),
        ("impacted area", "country"),
    ],
    "terms:sector": [*_names("Sector(s)", "Sectors"), ("impacted area", "sector")],
    "entities:deployer": _names("Deployer(s)", "Deployers", "Operator(s)", "Operators"),
    "entities:developer": _names("Developer(s)", "Developers"),
    "entities:system": _names("System name(s)", "System names", "System(s)", "Systems"),
    "entities:harmed": _names("Harmed parties", "Harmed party"),
    "terms:technology": _names("Technology(ies)", "Technologies"),
    "terms:purpose": _names("Purpose(s)", "Purposes"),
    "terms:news-trigger": _names("Media trigger(s)", "News trigger(s)", "News trigger (taxonomy)"),
    "terms:issue": _names("Issue(s)", "Issues", "Ethical issue(s)", "Ethical issue (taxonomy)"),
    "terms:transparency": _names("Transparency", "Transparency (taxonomy)"),
    "terms:consequence": _names("Consequence(s)", "Consequence (taxonomy)"),
    "terms:response": _names("Response(s)", "Response (taxonomy)"),
    "source": _names("Description/links", "Source", "Source link", "Link", "Links", "URL"),
    "summary_links": _names("Summary/links"),
    "summary": _names("Summary", "Description"),
    "narrative": _names("Narrative"),
    "external_ids": _names("External ids"),
    "placeholders": _names("Unknown roles"),
    "extra": _names("Other source columns"),
    "permalink": _names("Permalink"),
}
HARM_GROUPS = {
    "external": ("individual", "societal", "environmental"),
    "internal": ("strategic/reputational", "operational", "financial", "legal/regulatory"),
}
HARM_SLUGS = {
    "individual": "harm-individual",
    "societal": "harm-societal",
    "environmental": "harm-environmental",
    "strategic/reputational": "harm-strategic",
    "operational": "harm-operational",
    "financial": "harm-financial",
    "legal/regulatory": "harm-legal",
}
for _group, _subs in HARM_GROUPS.items():
    for _sub in _subs:
        COLUMN_NAMES[f"terms:{HARM_SLUGS[_sub]}"] = [
            (f"{_group} {word}", _sub) for word in ("harm", "harms", "harm (taxonomy)")
        ] + [(f"{_group} harm (taxonomy)", _sub)]
for _category, _label in documents.CATEGORY_LABELS.items():
    COLUMN_NAMES[f"references:{_category}"] = [("references", header_key(_label))]

GROUPS = {"impacted area", "references"} | {
    name[0] for names in COLUMN_NAMES.values() for name in names if isinstance(name, tuple)
}
# (header key, sub key) -> target
KNOWN = {
    (name if isinstance(name, tuple) else (name, "")): target
    for target, names in COLUMN_NAMES.items()
    for name in names
}
# Columns only this site's snapshots have: a file with them is read as a snapshot.
SNAPSHOT_TARGETS = {"external_ids", "narrative", "placeholders", "extra", "permalink"}
SNAPSHOT_TARGETS |= {f"references:{category}" for category in documents.CATEGORIES}
# Countries are also separated by commas in AIAAIC's exports ("USA, UK"), not in ours.
COMMA_SEPARATED = {"terms:country"}
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True)
class Column:
    index: int
    header: str  # as written (the group's name for a column under a grouped header)
    sub: str
    target: str  # a key of COLUMN_NAMES, or "" for a column the site has no field for

    @property
    def title(self):
        if self.header and self.sub:
            return f"{self.header} / {self.sub}"
        return self.header or self.sub or f"Column {_column_letter(self.index)}"


def _column_letter(index):
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class SheetError(Exception):
    """A sheet that cannot be imported at all; nothing was written."""


@dataclass
class SheetLayout:
    name: str  # "2024", "2026", "snapshot" or "other"
    columns: list  # [Column]
    data_start: int  # index of the first data row
    snapshot: bool = False

    def by_target(self):
        return {column.target: column for column in self.columns if column.target}


class SheetSource:
    """The rows of an export, read as a stream as often as needed (an import reads twice),
    from text, bytes or a file. UTF-8 (with or without a byte order mark) and UTF-16 are
    read as such; anything else as Windows-1252, with a warning."""

    def __init__(self, *, data=None, path=None, report):
        self.data, self.path = data, path
        self.encoding = None if isinstance(data, str) else self._detect(report)

    def _binary(self):
        return open(self.path, "rb") if self.path else io.BytesIO(self.data)

    def _detect(self, report):
        with self._binary() as handle:
            if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
                return "utf-16"
            handle.seek(0)
            decoder, offset = codecs.getincrementaldecoder("utf-8-sig")(), 0
            try:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    decoder.decode(block)
                    offset += len(block)
                decoder.decode(b"", final=True)
                return "utf-8-sig"
            except UnicodeDecodeError as exc:
                report.add(
                    "ambiguous",
                    f"The file is not UTF-8 (byte {offset + exc.start}); it was read as Windows-1252. "
                    "Check accented names; export the sheet as UTF-8 CSV to be sure.",
                )
                return "cp1252"

    def rows(self):
        """(line, cells) for every record; `line` numbers records as a spreadsheet does."""
        if self.encoding is None:
            stream = io.StringIO(self.data, newline="")
        else:
            stream = io.TextIOWrapper(self._binary(), encoding=self.encoding, errors="replace", newline="")
        with stream:
            try:
                yield from enumerate(csv.reader(stream), start=1)
            except csv.Error as exc:
                raise SheetError(f"The file is not valid CSV: {exc}.") from None


def read_rows(data, report):
    """Every row of an export held in memory (for small files and tests)."""
    return [cells for _line, cells in SheetSource(data=data, report=report).rows()]


def _target(header, sub, vocabularies=None):
    header, sub = header_key(header), header_key(sub)
    target = KNOWN.get((header, sub))
    if target is None and not sub and vocabularies:
        target = vocabularies.get(header)
    if target is None and sub and (header in GROUPS or not header):
        target = KNOWN.get((sub, ""))
    if target is None and not sub:
        target = KNOWN.get((header, ""))
    return target or ""


def detect_layout(rows, report, vocabularies=()):
    """Find the column row (and a sub-header row under it) and what each column holds.

    A column named after a vocabulary that no column of the table names (one an
    administrator added) holds that vocabulary's terms."""
    covered = set(KNOWN.values())
    extra_vocabularies = {
        header_key(key): f"terms:{v.slug}"
        for v in vocabularies
        if f"terms:{v.slug}" not in covered
        for key in (v.label, v.slug)
    }
    header_index = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        targets = {_target(cell, "") for cell in row}
        if {"external_id", "headline"} <= targets:
            header_index = index
            break
    if header_index is None:
        found_id = any(
            _target(cell, "") == "external_id" for row in rows[:HEADER_SEARCH_ROWS] for cell in row
        )
        missing = "headline" if found_id else "id ('AIAAIC ID#')"
        raise SheetError(
            f"No column row found: the sheet has no {missing} column. One of its first "
            f"{HEADER_SEARCH_ROWS} rows must name an id column ('AIAAIC ID#') and a headline "
            "column ('Headline')."
        )
    header = rows[header_index]
    id_index = next(i for i, cell in enumerate(header) if _target(cell, "") == "external_id")
    headline_index = next(i for i, cell in enumerate(header) if _target(cell, "") == "headline")
    data_start = header_index + 1
    sub = [""] * len(header)
    following = rows[data_start] if data_start < len(rows) else []
    if (
        following
        and not (following[id_index].strip() if id_index < len(following) else "")
        and not (following[headline_index].strip() if headline_index < len(following) else "")
        and any(cell.strip() for cell in following)
    ):
        sub = following + [""] * (len(header) - len(following))
        data_start += 1
    width = max([len(header), len(sub)] + [len(row) for row in rows[data_start:]] or [0])
    columns, group, taken = [], "", {}
    for index in range(width):
        name = header[index].strip() if index < len(header) else ""
        under = sub[index].strip() if index < len(sub) else ""
        if name:
            group = name if under or header_key(name) in GROUPS else ""
        elif under and group:
            name = group
        target = _target(name, under, extra_vocabularies) if (name or under) else ""
        column = Column(index, name, under, target)
        if target and target in taken:
            report.add(
                "unknown-column",
                f"a second column for {target.partition(':')[2] or target} "
                f"(the first is '{taken[target].title}'): its values are kept under its title.",
                column=column.title,
            )
            column = Column(index, name, under, "")
        elif target:
            taken[target] = column
        columns.append(column)
    snapshot = bool(SNAPSHOT_TARGETS & set(taken))
    names = {header_key(column.header) for column in columns}
    if snapshot:
        layout = "snapshot"
    elif names & {"news trigger", "ethical issue", "impacted area", "summary/links"}:
        layout = "2026"
    elif names & {"media trigger", "description/links", "country", "issue"}:
        layout = "2024"
    else:
        layout = "other"
    return SheetLayout(layout, columns, data_start, snapshot)


# Reading rows ------------------------------------------------------------------------------


@dataclass
class SheetRow:
    line: int  # the row number as a spreadsheet shows it
    external_id: str  # "AIAAIC0563", or "" when the row has none
    values: dict  # target -> value (non-blank cells only)
    blank: set = field(default_factory=set)  # targets whose cell was blank
    copies: list = field(default_factory=list)  # lines of the rows merged into this one
    checked: dict | None = None  # the row's own document, as `_check_row` validated it

    @property
    def headline(self):
        return self.values.get("headline", "")


def escape_cell(text):
    """A cell a spreadsheet would run as a formula (=, +, -, @, tab, carriage return) gets a
    leading apostrophe, and so does one that already starts with an apostrophe and such a
    sign, so that `_cell` can take exactly one away again."""
    if text[:1] in FORMULA_START or (text[:1] == "'" and text[1:2] and text[1:2] in FORMULA_START):
        return "'" + text
    return text


def _cell(text):
    """A cell's text, without the apostrophe `escape_cell` put before it."""
    if text[:1] == "'" and escape_cell(text[1:]) == text:
        return text[1:]
    return text


def sheet_period(text):
    """A period as a sheet writes it. Returns (ISO text, a note when the reading is a guess).

    "2021-22" and "2019-2024" are ranges; "2011-12" could be December 2011 or 2011 to 2012:
    in a sheet (which writes months as words) it is read as the range, with a note."""
    value = " ".join(text.split())
    match = re.match(r"^(\d{4})\s*[-–]\s*(\d{2})$", value)
    if match:
        start, end = int(match[1]), int(match[1]) // 100 * 100 + int(match[2])
        if end > start:
            note = ""
            if 1 <= int(match[2]) <= 12:
                note = f"{value!r} read as the years {start}-{end}, not as a month"
            return parse_period(f"{start}/{end}").iso(), note
    period = parse_period(value)
    return (period.iso() if period else ""), ""


def _urls_and_text(raw):
    urls = [documents.trim_url(url) for url in URL_PATTERN.findall(raw)]
    text = " ".join(URL_PATTERN.sub(" ", raw).split())
    return urls, text


def _checked_url(url):
    _url_validator(url)
    if len(url) > documents.MAX_LENGTHS["source_url"]:
        raise ValidationError("too long")
    return url


def _read_cell(column, raw, values, report, line, snapshot=False):
    """Read one non-blank cell into `values`. Raises ValueError for a cell left out."""
    target = column.target
    if target == "headline":
        headline = clean_name(raw)
        limit = documents.MAX_LENGTHS["headline"]
        if len(headline) > limit:
            values.setdefault("extra", {})[column.title] = headline
            headline = headline[: limit - 1].rsplit(" ", 1)[0] + "…"
            report.add(
                "unreadable-cell",
                f"longer than {limit} characters: shortened; the whole headline is kept under "
                "'Other source columns'.",
                row=line,
                column=column.title,
            )
        values["headline"] = headline
    elif target == "type":
        kind = raw.strip().lower()
        if kind not in documents.TYPES:
            raise ValueError(f"{raw.strip()!r} is not a type ({', '.join(documents.TYPES)})")
        values["type"] = kind
    elif target == "occurred":
        iso, note = sheet_period(raw)
        if note:
            report.add("ambiguous", note + ".", row=line, column=column.title)
        values["occurred"] = iso
    elif target == "released":
        years, bad = [], []
        for part in split_values(raw):
            try:
                iso, note = sheet_period(part)
            except PeriodError:
                bad.append(part)
                continue
            if note:
                report.add("ambiguous", note + ".", row=line, column=column.title)
            years.append(iso)
        if bad:
            report.add(
                "unreadable-cell",
                f"{'; '.join(bad)!r} cannot be read as a year or date; left out"
                + (f", kept {'; '.join(years)}." if years else "."),
                row=line,
                column=column.title,
            )
        if years:
            values["released"] = "; ".join(years)
    elif target in ("source", "summary_links"):
        urls, text = _urls_and_text(raw)
        if target == "source" and not urls:
            raise ValueError(f"{raw.strip()[:60]!r} is not a web address")
        if urls:
            try:
                values["source_url"] = _checked_url(urls[0])
            except ValidationError:
                report.add(
                    "unreadable-cell",
                    f"{urls[0][:60]!r} is not a web address; left out.",
                    row=line,
                    column=column.title,
                )
            for url in urls[1:]:  # more addresses than the one source: kept as references
                values.setdefault("more_urls", []).append(url)
        if text:
            values.setdefault("summary", text)
    elif target in ("summary", "narrative"):
        values[target] = raw.strip()
    elif target == "external_ids":
        ids = []
        for part in split_values(raw):
            scheme, colon, value = part.partition(":")
            if not colon or not value.strip():
                raise ValueError(f"{part!r} is not scheme:value")
            ids.append({"scheme": scheme.strip().lower(), "value": value.strip()})
        values["external_ids"] = ids
    elif target in ("placeholders", "extra"):
        try:
            mapping = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError("is not a JSON object") from None
        if not isinstance(mapping, dict):
            raise ValueError("is not a JSON object")
        values[target] = mapping
    elif target.startswith("references:"):
        try:
            items = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError("is not a JSON list of references") from None
        if not isinstance(items, list):
            raise ValueError("is not a JSON list of references")
        values[target] = items
    elif target == "permalink":
        match = re.search(r"/incidents/([^/?#]+)", raw)
        if match:
            values["permalink"] = match[1]
    else:  # terms:… and entities:…; snapshots separate by ';' only (a name may hold a comma)
        separators = ";," if target in COMMA_SEPARATED and not snapshot else ";"
        values[target] = split_values(raw, separators)


def parse_row(cells, line, layout, report, unknown_counts):
    """One data row as a SheetRow (None for a blank or skipped row), its problems reported."""
    if not any(cell.strip() for cell in cells):
        return None
    values, blank, external_id, bad_id = {}, set(), "", False
    for column in layout.columns:
        raw = _cell(cells[column.index]) if column.index < len(cells) else ""
        if not raw.strip():
            if column.target:
                blank.add(column.target)
            continue
        if not column.target:
            values.setdefault("extra", {})[column.title] = raw.strip()
            unknown_counts[column.title] += 1
            continue
        if column.target == "summary_links" and layout.snapshot:
            continue  # a snapshot's Summary and Source columns say the same, exactly
        if column.target == "external_id":
            external_id = documents.aiaaic_id(raw)
            if not external_id:
                report.add(
                    "missing-id",
                    f"{raw.strip()!r} is not an AIAAIC id; the row is imported without one "
                    "and the value kept under 'Other source columns'.",
                    row=line,
                    column=column.title,
                )
                values.setdefault("extra", {})[column.title] = raw.strip()
                bad_id = True
            continue
        try:
            _read_cell(column, raw, values, report, line, layout.snapshot)
        except (ValueError, PeriodError) as exc:
            report.add("unreadable-cell", f"{str(exc).rstrip('.')}; left out.", row=line, column=column.title)
    for index in range(len(layout.columns), len(cells)):  # cells beyond the column row
        if cells[index].strip():
            title = f"Column {_column_letter(index)}"
            values.setdefault("extra", {})[title] = cells[index].strip()
            unknown_counts[title] += 1
    if not values.get("headline"):
        what = external_id or "a row without an id"
        report.add(
            "skipped-row", f"{what} has no headline (a withdrawn or placeholder entry): skipped.", row=line
        )
        return None
    if not external_id and not bad_id and not layout.snapshot:
        report.add("missing-id", "the row has no id: imported without one.", row=line)
    return SheetRow(line, external_id, values, blank)


class RowScanner:
    """What the first pass needs of a row, read without the rest of `parse_row`'s work: its
    id, whether it has a headline (a row without one is skipped), and its names (the values
    of its term and entity columns, as `parse_row` splits them)."""

    def __init__(self, layout):
        self.headline = self.external_id = None
        self.names = []  # (index, target, separators)
        for column in layout.columns:
            if column.target == "headline":
                self.headline = column.index
            elif column.target == "external_id":
                self.external_id = column.index
            elif column.target.startswith(("terms:", "entities:")):
                snapshot = layout.snapshot
                separators = ";," if column.target in COMMA_SEPARATED and not snapshot else ";"
                self.names.append((column.index, column.target, separators))

    @staticmethod
    def _raw(cells, index):
        return _cell(cells[index]) if index is not None and index < len(cells) else ""

    def scan(self, cells):
        """(external id or "", [(target, names)]) of a row, or None for a row parse_row skips."""
        if not self._raw(cells, self.headline).strip():
            return None
        raw = self._raw(cells, self.external_id)
        external_id = documents.aiaaic_id(raw) if raw.strip() else ""
        names = []
        for index, target, separators in self.names:
            raw = self._raw(cells, index)
            if raw.strip():
                names.append((target, split_values(raw, separators)))
        return external_id, names


def report_unknown_columns(layout, unknown_counts, report):
    named = {column.title for column in layout.columns if not column.target}
    for title in sorted(named | set(unknown_counts), key=lambda t: (t not in named, t)):
        count = unknown_counts[title]
        column = next((c for c in layout.columns if c.title == title), None)
        if count or (column is not None and (column.header or column.sub)):
            report.add(
                "unknown-column",
                f"not a column this site knows; its {count:,} non-blank cell(s) are kept under "
                "'Other source columns' of each incident.",
                column=title,
            )


def parse_rows(rows, layout, report):
    """Every data row of rows held in memory as a SheetRow."""
    unknown_counts = Counter()
    parsed = []
    for offset, cells in enumerate(rows[layout.data_start :]):
        row = parse_row(cells, layout.data_start + offset + 1, layout, report, unknown_counts)
        if row is not None:
            parsed.append(row)
    report_unknown_columns(layout, unknown_counts, report)
    return parsed


def merge_copies(original, copies, report):
    """The first row of a repeated id, with what its copies add; disagreements reported."""
    for row in copies:
        original.copies.append(row.line)
        for target, value in row.values.items():
            if target not in original.values:
                original.values[target] = value
                original.blank.discard(target)
            elif original.values[target] != value:
                report.add(
                    "disagreement",
                    f"{row.external_id}: {target.partition(':')[2] or target} is "
                    f"{_shown(original.values[target])} on row {original.line} and {_shown(value)} "
                    f"here; the first is kept.",
                    row=row.line,
                )
    report.add(
        "repeated-id",
        f"{original.external_id} is also on row(s) {', '.join(map(str, original.copies))}: imported once.",
        row=original.line,
    )
    return original


def merge_repeated(rows, report):
    """One row per id: the first, with what its copies add, every disagreement reported."""
    copies, first, merged = defaultdict(list), {}, []
    for row in rows:
        if row.external_id and row.external_id in first:
            copies[row.external_id].append(row)
            continue
        if row.external_id:
            first[row.external_id] = row
        merged.append(row)
    for external_id, rows_of_id in copies.items():
        merge_copies(first[external_id], rows_of_id, report)
    return merged


def _shown(value):
    if isinstance(value, list):
        value = "; ".join(map(str, value))
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "…")


# Building documents ------------------------------------------------------------------------


def row_view(row):
    """What a row says, as kept between imports (`SourceRecord`): its values by column target."""
    return {"external_id": row.external_id, **row.values}


def apply_row(document, row, *, blank_clears=False, report=None, said=None):
    """`document` with the row laid over it. A blank cell keeps the stored value (clears it
    with `blank_clears`); a less precise period never replaces a more precise one. `said`
    is what the sheet said at the last import (`row_view`): a value the sheet has not
    changed since is not laid again, so an editor's change to it stays."""
    document = {
        **document,
        "terms": dict(document["terms"]),
        "entities": dict(document["entities"]),
        "placeholders": dict(document.get("placeholders", {})),
        "references": dict(document["references"]),
        "extra": dict(document.get("extra", {})),
        "external_ids": list(document.get("external_ids", [])),
    }
    values = row.values
    if said is not None:
        values = {target: value for target, value in values.items() if said.get(target) != value}
    for target, value in values.items():
        kind, _, name = target.partition(":")
        if kind == "terms":
            document["terms"][name] = value
        elif kind == "entities":
            document["entities"][name] = value
            document["placeholders"].pop(name, None)  # the row says who (or says unknown again)
        elif kind == "references":
            document["references"][name] = value
        elif target in ("occurred", "released"):
            kept = more_precise(document.get(target, ""), value)
            if kept != value and report is not None:
                report.add(
                    "kept-precise",
                    f"{target} {period_human(document[target])!r} kept: the file's "
                    f"{period_human(value)!r} is less precise.",
                    row=row.line,
                )
            document[target] = kept
        elif target == "extra":
            document["extra"].update(value)
        elif target == "placeholders":
            document["placeholders"] = value
        elif target == "external_ids":
            document["external_ids"] = value
        elif target == "more_urls":
            known = {ref["url"] for refs in document["references"].values() for ref in refs}
            news = list(document["references"]["news"])
            news += [{"url": url} for url in value if url not in known]
            document["references"]["news"] = news
        elif target in ("permalink",):
            continue
        else:
            document[target] = value
    if row.external_id and "external_ids" not in values and "external_ids" not in row.blank:
        pair = {"scheme": "aiaaic", "value": row.external_id}
        if pair not in document["external_ids"]:
            document["external_ids"].append(pair)
    if blank_clears:
        for target in row.blank - set(values):
            kind, _, name = target.partition(":")
            if kind == "terms":
                document["terms"].pop(name, None)
            elif kind in ("entities", "references"):
                document[kind][name] = []
            elif target in ("source", "summary_links"):
                document["source_url"] = ""
            elif target in documents.SCALAR_PATHS:
                document[target] = ""
    return document


def _check_row(row, vocabularies, report):
    """Leave out of the row the values the document validator refuses, with a finding each."""
    for _attempt in range(3):
        try:
            row.checked = documents.normalize(apply_row(documents.empty_document(), row), vocabularies)
            return True
        except DocumentError as exc:
            problems = exc.message_dict
        removed = False
        for path, messages in problems.items():
            targets = _targets_of_path(path, row)
            for target in targets:
                row.values.pop(target, None)
                removed = True
            report.add(
                "unreadable-cell",
                f"{' '.join(messages).rstrip('.')}; left out.",
                row=row.line,
                column=path,
            )
        if not removed or not row.values.get("headline"):
            return bool(row.values.get("headline"))
    return False


def _targets_of_path(path, row):
    group, _, name = path.partition(".")
    if group in ("terms", "entities", "references"):
        return [target for target in row.values if target == f"{group}:{name}"]
    if group == "source_url":
        return ["source_url"]
    return [group] if group in row.values else []


# Identity ----------------------------------------------------------------------------------


def _words(text):
    return {word for word in re.findall(r"[a-z0-9]+", documents.fold_text(text)) if len(word) > 2}


def similar_headlines(a, b):
    """Two headlines of one story: mostly the same words, or mostly the same text."""
    if a == b:
        return True  # what the comparisons below say of one text (an import run again: every row)
    words_a, words_b = _words(a), _words(b)
    if words_a and words_b:
        shared = len(words_a & words_b) / min(len(words_a), len(words_b))
        if shared >= 0.6:
            return True
    return SequenceMatcher(None, a.casefold(), b.casefold()).ratio() >= 0.75


SKIP = object()  # a row Identities.find says to leave alone


class Identities:
    """Which published incident each row of a chunk is: a few indexed queries per chunk (ids,
    normalised source links, slugs), so memory does not grow with the database."""

    def __init__(self, rows):
        self.by_id = defaultdict(list)  # AIAAIC id -> [incident id]
        self.by_source = defaultdict(list)  # normalised source link -> [incident id]
        self.by_slug = {}
        self.headline, self.source = {}, {}
        ids = {row.external_id for row in rows if row.external_id}
        sources = {normalize_url(row.values.get("source_url", "")) for row in rows} - {""}
        slugs = {row.values.get("permalink") or make_slug(_slug_hint(row), "incident", 255) for row in rows}
        pairs = ExternalId.objects.filter(
            scheme="aiaaic", value__in=ids, incident__merged_into__isnull=True
        ).values_list("value", "incident_id")
        for value, incident_id in pairs:
            self.by_id[value].append(incident_id)
        # Three lookups, each on its own index (an OR of them would scan the table).
        columns = ("pk", "slug", "headline", "source_key", "merged_into_id")
        found = {}
        for lookup in (
            {"pk__in": {pk for pks in self.by_id.values() for pk in pks}},
            {"source_key__in": sources},
            {"slug__in": slugs},
        ):
            if next(iter(lookup.values())):
                for values in Incident.objects.filter(**lookup).values_list(*columns):
                    found[values[0]] = values
        found = [found[pk] for pk in sorted(found)]
        # A merged incident's source and slug now lead to the incident it was merged into.
        survivors = {survivor for *_rest, survivor in found if survivor is not None}
        known = {pk for pk, *_rest in found}
        found += list(Incident.objects.filter(pk__in=survivors - known).values_list(*columns))
        self.merged_slugs = set()
        for pk, slug, headline, key, survivor in found:
            self.headline[pk], self.source[pk] = headline, key
            if survivor is None:
                self.by_slug[slug] = pk
                if key:
                    self.by_source[key].append(pk)
        for _pk, slug, _headline, key, survivor in found:
            if survivor is not None:
                self.merged_slugs.add(slug)
                self.by_slug.setdefault(slug, survivor)
                if key and survivor not in self.by_source[key]:
                    self.by_source[key].append(survivor)
        slugged = set(self.by_slug.values())
        self.has_aiaaic = set(
            ExternalId.objects.filter(scheme="aiaaic", incident_id__in=slugged).values_list(
                "incident_id", flat=True
            )
        )

    def find(self, row, report, taken):
        """The incident the row updates, None for a new one (reporting a reused id), or SKIP
        for a row whose incident another row of the file updated already."""
        source = normalize_url(row.values.get("source_url", ""))
        headline = row.headline
        named = self.by_id.get(row.external_id, [])
        candidates = [pk for pk in named if pk not in taken]
        if named and not candidates:
            pk = named[0]
            report.add(
                "merged-id",
                f"{row.external_id} belongs to incident {pk} ({self.headline.get(pk, '')!r}) with another "
                f"id of this file (the two were merged), and row {taken[pk]} updated it already: this "
                "row is left as it is.",
                row=row.line,
            )
            return SKIP
        for pk in candidates:
            if similar_headlines(self.headline[pk], headline) or (source and self.source[pk] == source):
                return pk
        for pk in self.by_source.get(source, []) if source else []:
            if pk not in taken:
                return pk
        if candidates:
            others = "; ".join(f"incident {pk}: {self.headline[pk]!r}" for pk in candidates)
            report.add(
                "id-reused",
                f"{row.external_id} names {others} on the site, and {headline!r} here: a "
                "different story, imported as a new incident; both keep the id.",
                row=row.line,
            )
            return None
        slug = row.values.get("permalink") or make_slug(_slug_hint(row), "incident", 255)
        pk = self.by_slug.get(slug)
        if (
            pk is not None
            and pk not in taken
            and (pk not in self.has_aiaaic or slug in self.merged_slugs)
            and (row.values.get("permalink") is None or similar_headlines(self.headline[pk], headline))
        ):
            return pk  # a page (or a snapshot row) imported before, under the same slug
        return None


def _slug_hint(row):
    if row.values.get("permalink"):
        return row.values["permalink"]
    url = row.values.get("source_url", "")
    if url.startswith(AIAAIC_PAGE):
        return url.rstrip("/").rsplit("/", 1)[-1]
    return row.headline


# Spellings and merge candidates --------------------------------------------------------------


def count_spellings(row, counts, first_row):
    """Count the row's spellings of each folded name: counts[(scope, key)][spelling], and the
    first row of each spelling."""
    _count_names(row.values.items(), row.line, counts, first_row)


def _count_names(values, line, counts, first_row):
    for target, value in values:
        kind, _, name = target.partition(":")
        if kind not in ("terms", "entities"):
            continue
        scope = name if kind == "terms" else ("system" if name == "system" else "organisation")
        for item in value:
            if documents.is_placeholder(item):
                continue
            key = (scope, fold(item))
            counts[key][item] += 1
            first_row.setdefault((key, item), line)


def report_folds(counts, first_row, report):
    for (scope, _key), counter in counts.items():
        if len(counter) > 1:
            ranked = counter.most_common()
            name = ranked[0][0]
            variants = ", ".join(
                f"{spelling!r} ({uses}×, first on row {first_row[((scope, _key), spelling)]})"
                for spelling, uses in ranked[1:]
            )
            report.add("folded", f"{variants} folded into {name!r} ({ranked[0][1]}×).", column=scope)


STOP_WORDS = {"of", "the", "and", "for", "de", "&"}


def _initials(name):
    words = [word for word in re.findall(r"[A-Za-z0-9]+", name) if word.casefold() not in STOP_WORDS]
    if len(words) < 2 or any(len(word) < 3 for word in words):
        return ""
    return "".join(word[0] for word in words).casefold()


def _deletions(key):
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


def merge_candidates(names):
    """Pairs of names in one vocabulary (or of organisations) that probably mean the same:
    an acronym and its words ("UK", "United Kingdom"), a short name and its extension
    ("US", "USA"), one or two letters apart ("Accuracy/reliability", "Accuracy/reliablity"),
    and a combined name and its parts ("Meta/Facebook", "Meta")."""
    by_key = {}
    for name in names:
        by_key.setdefault(fold(name), name)
    pairs = set()
    keys = list(by_key)
    short = {key: by_key[key] for key in keys if 2 <= len(key) <= 5}
    for key in keys:
        initials = _initials(by_key[key])
        if initials and initials in short and initials != key:
            pairs.add(tuple(sorted((short[initials], by_key[key]))))
    extended = defaultdict(list)  # a key without its last one or two characters -> the keys
    for other in keys:
        for extra in (1, 2):
            if len(other) - extra >= 2:
                extended[other[:-extra]].append(other)
    for key, name in short.items():
        for other in extended.get(key, ()):
            pairs.add(tuple(sorted((name, by_key[other]))))
    variants = defaultdict(set)
    for key in keys:
        if len(key) >= 7:
            variants[key].add(key)
            for deleted in _deletions(key):
                variants[deleted].add(key)
    for group in variants.values():
        if 1 < len(group) <= 5:
            group = sorted(group)
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    if re.findall(r"\d+", a) == re.findall(r"\d+", b):  # "USD 23m" is not "USD 30m"
                        pairs.add(tuple(sorted((by_key[a], by_key[b]))))
    for key, name in by_key.items():
        if "/" in name:
            for part in name.split("/"):
                part_key = fold(part)
                if part_key in by_key and part_key != key:
                    pairs.add(tuple(sorted((name, by_key[part_key]))))
    return sorted(pairs)


def report_merge_candidates(taxonomy, scopes, report):
    for scope in sorted(scopes):
        if scope in taxonomy.vocabularies:
            names = Term.objects.filter(vocabulary__slug=scope, merged_into__isnull=True).values_list(
                "name", flat=True
            )
        elif scope == "organisation":
            names = Entity.objects.filter(
                kind=Entity.Kind.ORGANISATION, merged_into__isnull=True
            ).values_list("name", flat=True)
        else:
            continue
        for a, b in merge_candidates(list(names)):
            report.add("merge-candidate", f"{a!r} and {b!r} may be one name.", column=scope)


# The import ---------------------------------------------------------------------------------


@dataclass
class ImportResult:
    layout: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    terms_created: int = 0
    entities_created: int = 0
    aliases_kept: int = 0
    report: ImportReport = field(default_factory=ImportReport)
    incident_ids: list = field(default_factory=list)  # created or changed
    seconds: float = 0.0

    @property
    def warnings(self):
        return [str(finding) for finding in self.report.warnings]


CHUNK = 200
SOURCE = "aiaaic"  # the SourceRecord of what the sheet said


def sheet_import(*, data=None, path=None, progress=None, strict=False, blank_clears=False):
    """Import an AIAAIC sheet export (`data` as bytes or text, or a file at `path`) in one
    transaction. Returns ImportResult.

    The file is read as a stream, twice: once for what the whole file says (spellings, ids
    repeated), once to publish its rows a chunk at a time, so memory does not grow with it.
    Raises SheetError when the file cannot be read at all (nothing is written), and with
    `strict` when any warning was found (nothing is written either).
    """
    started = time.monotonic()
    report = ImportReport()
    source = SheetSource(data=data, path=path, report=report)
    head = []
    for line, cells in source.rows():
        head.append(cells)
        if line > HEADER_SEARCH_ROWS:
            break
    vocabularies = {v.slug: v for v in Vocabulary.objects.all()}
    layout = detect_layout(head, report, vocabularies.values())
    missing = sorted(
        {
            c.target.partition(":")[2]
            for c in layout.columns
            if c.target.startswith("terms:") and c.target.partition(":")[2] not in vocabularies
        }
    )
    if missing:
        raise SheetError(
            f"The site has no vocabulary {', '.join(missing)}; the sheet's columns need them "
            "(they come with the migrations: run `python manage.py migrate`)."
        )

    # First pass: spellings, ids met more than once (their later rows kept: the copies).
    lines, seen, copies = 0, set(), defaultdict(list)
    counts, first_row = defaultdict(Counter), {}
    scanner = RowScanner(layout)
    for line, cells in source.rows():
        if line <= layout.data_start or not any(cell.strip() for cell in cells):
            continue
        lines += 1
        scanned = scanner.scan(cells)
        if scanned is None:
            continue
        external_id, names = scanned
        if external_id and external_id in seen:
            copies[external_id].append(parse_row(cells, line, layout, ImportReport(), Counter()))
            continue
        seen.add(external_id)
        _count_names(names, line, counts, first_row)
    del seen
    copy_lines = {row.line for rows in copies.values() for row in rows}
    report_folds(counts, first_row, report)
    result = ImportResult(layout=layout.name, rows=lines, report=report)
    taxonomy = Taxonomy()
    taxonomy.preferred = {key: counter.most_common(1)[0] for key, counter in counts.items()}
    summary = f"Imported from the AIAAIC sheet ({layout.name} layout)"
    with transaction.atomic():
        taxonomy.preload()
        for scope, old, new in taxonomy.rename_to_preferred():
            report.add("renamed", f"{old!r} is now {new!r}, its most common spelling.", column=scope)
        taxonomy.ensure(
            terms=[
                (scope, name)
                for (scope, _key), names in counts.items()
                if scope in vocabularies
                for name in names
            ],
            entities=[
                (name, "system" if scope == "system" else "deployer")
                for (scope, _key), names in counts.items()
                if scope in ("system", "organisation")
                for name in names
            ],
        )
        # Second pass: publish, a chunk at a time.
        taken, chunk, unknown_counts = {}, [], Counter()
        statistics = PlannerStatistics()
        for line, cells in source.rows():
            if line <= layout.data_start or line in copy_lines:
                continue
            row = parse_row(cells, line, layout, report, unknown_counts)
            if row is None:
                continue
            if row.external_id in copies:
                merge_copies(row, copies.pop(row.external_id), report)
            if not _check_row(row, set(vocabularies), report):
                continue
            chunk.append(row)
            if len(chunk) == CHUNK:
                before = result.created + result.updated
                _publish_chunk(chunk, taken, taxonomy, summary, blank_clears, result)
                statistics.wrote(result.created + result.updated - before)
                chunk = []
                if progress:
                    progress(result.created + result.updated + result.unchanged, lines)
        if chunk:
            _publish_chunk(chunk, taken, taxonomy, summary, blank_clears, result)
        if progress:
            progress(result.created + result.updated + result.unchanged, lines)
        report_unknown_columns(layout, unknown_counts, report)
        result.skipped = lines - result.created - result.updated - result.unchanged - len(copy_lines)
        result.aliases_kept = taxonomy.keep_spellings()
        report_merge_candidates(taxonomy, {scope for scope, _key in counts}, report)
        if strict and report.warnings:
            raise SheetError(
                f"--strict: {len(report.warnings):,} warning(s); nothing was imported.\n  "
                + "\n  ".join(str(finding) for finding in report.warnings[:20])
            )
        changed = list(result.incident_ids)
        transaction.on_commit(
            lambda: incidents_imported.send(sender=Incident, incident_ids=changed, source=SOURCE)
        )
    result.terms_created = taxonomy.created_terms
    result.entities_created = taxonomy.created_entities
    result.seconds = time.monotonic() - started
    return result


def _publish_chunk(chunk, taken, taxonomy, summary, blank_clears, result):
    """Publish a chunk of rows. `taken` maps each incident updated so far to its row."""
    reset_queries()  # with DEBUG on, Django keeps every query's text: not an import's thousands
    report = result.report
    identities = Identities(chunk)
    targets = []
    for row in chunk:
        pk = identities.find(row, report, taken)
        if pk is not None and pk is not SKIP:
            taken[pk] = row.line
        targets.append(pk)
    kept = [(row, pk) for row, pk in zip(chunk, targets, strict=True) if pk is not SKIP]
    if not kept:
        return
    chunk, targets = [row for row, _pk in kept], [pk for _row, pk in kept]
    found = [pk for pk in targets if pk is not None]
    loaded = Incident.objects.select_related("current_revision").defer("search_vector").in_bulk(found)
    records = {
        record.incident_id: record
        for record in SourceRecord.objects.filter(source=SOURCE, incident_id__in=found)
    }
    items = []
    for row, pk in zip(chunk, targets, strict=True):
        incident = loaded.get(pk) if pk is not None else None
        record = records.get(pk)
        if incident is None or incident.current_revision is None:
            # A new incident's document is the row's alone: _check_row validated it already.
            document, normalized = row.checked, not blank_clears and record is None
            if not normalized:
                document = apply_row(
                    documents.empty_document(),
                    row,
                    blank_clears=blank_clears,
                    report=report,
                    said=record.document if record is not None else None,
                )
        else:
            base = incident.current_revision.document
            document = apply_row(
                base,
                row,
                blank_clears=blank_clears,
                report=report,
                said=record.document if record is not None else None,
            )
            # A row that changes nothing leaves the published document, which publishing
            # normalized when it wrote it (an import run again: every row).
            normalized = document == base and base.get("schema") == documents.SCHEMA_VERSION
        items.append(
            PublishItem(
                document=document,
                normalized=normalized,
                incident=incident,
                summary=summary,
                slug=_slug_hint(row),
                expected_revision=incident.current_revision_id if incident else None,
            )
        )
    lines = f"rows {chunk[0].line}-{chunk[-1].line}"
    try:
        outcomes = incidents_publish(items=items, taxonomy=taxonomy)
    except StaleRevision:
        raise SheetError(
            f"{lines}: an incident was changed on the site while the import ran; nothing "
            "was imported. Run the import again."
        ) from None
    except DocumentError as exc:
        problems = "; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in exc.message_dict.items())
        raise SheetError(f"{lines}: {problems}") from None
    new_records, changed_records = [], []
    for row, outcome in zip(chunk, outcomes, strict=True):
        view, record = row_view(row), records.get(outcome.incident.pk)
        if record is None:
            new_records.append({"incident_id": outcome.incident.pk, "source": SOURCE, "document": view})
        elif record.document != view:
            record.document = view
            changed_records.append(record)
    insert_rows(SourceRecord, new_records)
    SourceRecord.objects.bulk_update(changed_records, ["document"], batch_size=CHUNK)
    for row, outcome in zip(chunk, outcomes, strict=True):
        taken[outcome.incident.pk] = row.line
        if outcome.created:
            result.created += 1
        elif outcome.changed:
            result.updated += 1
        else:
            result.unchanged += 1
        if outcome.changed:
            result.incident_ids.append(outcome.incident.pk)
