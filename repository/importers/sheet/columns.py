"""Reading a sheet's rows: each cell into the value its column holds (a table of column
readers, each resolving its cell, cleaning its text and assigning the value, run by one loop
in `parse_row`), rows of one id merged, and a row laid over an incident's document."""

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from ... import documents
from ...documents import DocumentError, clean_name, split_values
from ...periods import PeriodError, more_precise, parse_period, period_human
from ...sheetformat import COMMA_SEPARATED, unescape_cell
from ..common import validate_web_address
from .layout import column_letter

URL_PATTERN = re.compile(r"https?://[^\s<>\"]+")


@dataclass
class SheetRow:
    line: int  # the row number as a spreadsheet shows it
    external_id: str  # "AIAAIC0563", or "" when the row has none
    values: dict  # target -> value (non-blank cells only)
    blank: set = field(default_factory=set)  # targets whose cell was blank
    copies: list = field(default_factory=list)  # lines of the rows merged into this one
    checked: dict | None = None  # the row's own document, as `check_row` validated it

    @property
    def headline(self):
        return self.values.get("headline", "")


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


def _checked_url(url):
    validate_web_address(url)
    if len(url) > documents.MAX_LENGTHS["source_url"]:
        raise ValidationError("too long")
    return url


# Column readers -------------------------------------------------------------------------------
#
# What each kind of column holds, as a table of small readers run by one loop (`parse_row`):
# a reader resolves its cell in a row, cleans the cell's text into a value (raising ValueError
# or PeriodError for a cell left out, reporting what it kept with a note) and assigns the value
# to the row. The column a reader reads is found by name (`layout.detect_layout`).


@dataclass(frozen=True)
class Cell:
    """Where a cell is, for what a reader reports of it."""

    column: object  # layout.Column
    line: int
    report: object  # ImportReport
    snapshot: bool = False

    def note(self, kind, text):
        self.report.add(kind, text, row=self.line, column=self.column.title)


class ColumnReader:
    """A column of the sheet: resolve the cell, clean its text, assign the value."""

    def resolve(self, cells, column):
        """The cell's text in a row, without the apostrophe the snapshot writer escapes with."""
        return unescape_cell(cells[column.index]) if column.index < len(cells) else ""

    def clean(self, raw, cell):
        return raw.strip()

    def assign(self, value, values, target):
        values[target] = value


class HeadlineReader(ColumnReader):
    def clean(self, raw, cell):
        headline, whole = clean_name(raw), None
        limit = documents.MAX_LENGTHS["headline"]
        if len(headline) > limit:
            whole = headline
            headline = documents.shorten(headline, limit)
            cell.note(
                "unreadable-cell",
                f"longer than {limit} characters: shortened; the whole headline is kept under "
                "'Other source columns'.",
            )
        return headline, whole, cell.column.title

    def assign(self, value, values, target):
        headline, whole, title = value
        if whole is not None:
            values.setdefault("extra", {})[title] = whole
        values["headline"] = headline


class TypeReader(ColumnReader):
    def clean(self, raw, cell):
        kind = raw.strip().lower()
        if kind not in documents.TYPES:
            raise ValueError(f"{raw.strip()!r} is not a type ({', '.join(documents.TYPES)})")
        return kind


class OccurredReader(ColumnReader):
    def clean(self, raw, cell):
        iso, note = sheet_period(raw)
        if note:
            cell.note("ambiguous", note + ".")
        return iso


class ReleasedReader(ColumnReader):
    """Years (or dates) of release, several to a cell."""

    def clean(self, raw, cell):
        years, bad = [], []
        for part in split_values(raw):
            try:
                iso, note = sheet_period(part)
            except PeriodError:
                bad.append(part)
                continue
            if note:
                cell.note("ambiguous", note + ".")
            years.append(iso)
        if bad:
            cell.note(
                "unreadable-cell",
                f"{'; '.join(bad)!r} cannot be read as a year or date; left out"
                + (f", kept {'; '.join(years)}." if years else "."),
            )
        return "; ".join(years) if years else None

    def assign(self, value, values, target):
        if value is not None:
            values[target] = value


class LinksReader(ColumnReader):
    """A source link (the first address), more addresses (kept as references) and text (the
    summary, when no summary column says it). `required`: a cell without an address is left out."""

    def __init__(self, *, required):
        self.required = required

    def clean(self, raw, cell):
        urls = [documents.trim_url(url) for url in URL_PATTERN.findall(raw)]
        text = " ".join(URL_PATTERN.sub(" ", raw).split())
        if self.required and not urls:
            raise ValueError(f"{raw.strip()[:60]!r} is not a web address")
        source = None
        if urls:
            try:
                source = _checked_url(urls[0])
            except ValidationError:
                cell.note("unreadable-cell", f"{urls[0][:60]!r} is not a web address; left out.")
        return source, urls[1:], text

    def assign(self, value, values, target):
        source, more, text = value
        if source is not None:
            values["source_url"] = source
        for url in more:
            values.setdefault("more_urls", []).append(url)
        if text:
            values.setdefault("summary", text)


class ExternalIdsReader(ColumnReader):
    def clean(self, raw, cell):
        ids = []
        for part in split_values(raw):
            scheme, colon, value = part.partition(":")
            if not colon or not value.strip():
                raise ValueError(f"{part!r} is not scheme:value")
            ids.append({"scheme": scheme.strip().lower(), "value": value.strip()})
        return ids


class JsonReader(ColumnReader):
    """A JSON value of this site's snapshots: an object, or a list of references."""

    def __init__(self, kind, what):
        self.kind, self.what = kind, what

    def clean(self, raw, cell):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"is not {self.what}") from None
        if not isinstance(value, self.kind):
            raise ValueError(f"is not {self.what}")
        return value


class PermalinkReader(ColumnReader):
    def clean(self, raw, cell):
        match = re.search(r"/incidents/([^/?#]+)", raw)
        return match[1] if match else None

    def assign(self, value, values, target):
        if value is not None:
            values["permalink"] = value


class NumberReader(ColumnReader):
    """A snapshot's incident number."""

    def clean(self, raw, cell):
        raw = raw.strip()
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError("is not an incident number")
        return int(raw)


class NamesReader(ColumnReader):
    """Terms or entities, several to a cell. Snapshots separate them by ';' only (a name may
    hold a comma); AIAAIC's exports also separate countries by commas ("USA, UK")."""

    @staticmethod
    def separators(target, snapshot):
        return ";," if target in COMMA_SEPARATED and not snapshot else ";"

    def clean(self, raw, cell):
        return split_values(raw, self.separators(cell.column.target, cell.snapshot))


NAMES_READER = NamesReader()
# target (or the part before ':') -> its reader
READERS = {
    "headline": HeadlineReader(),
    "type": TypeReader(),
    "occurred": OccurredReader(),
    "released": ReleasedReader(),
    "source": LinksReader(required=True),
    "summary_links": LinksReader(required=False),
    "summary": ColumnReader(),
    "narrative": ColumnReader(),
    "external_ids": ExternalIdsReader(),
    "placeholders": JsonReader(dict, "a JSON object"),
    "extra": JsonReader(dict, "a JSON object"),
    "references": JsonReader(list, "a JSON list of references"),
    "permalink": PermalinkReader(),
    "number": NumberReader(),
    "terms": NAMES_READER,
    "entities": NAMES_READER,
}
UNKNOWN_READER = ColumnReader()


def reader_for(target):
    """The reader of a column target ("headline", "terms:country", …)."""
    return READERS.get(target) or READERS.get(target.partition(":")[0], NAMES_READER)


def parse_row(cells, line, layout, report, unknown_counts):
    """One data row as a SheetRow (None for a blank or skipped row), its problems reported."""
    if not any(cell.strip() for cell in cells):
        return None
    values, blank, external_id, bad_id = {}, set(), "", False
    for column in layout.columns:
        reader = reader_for(column.target) if column.target else UNKNOWN_READER
        raw = reader.resolve(cells, column)
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
            value = reader.clean(raw, Cell(column, line, report, layout.snapshot))
        except (ValueError, PeriodError) as exc:
            report.add("unreadable-cell", f"{str(exc).rstrip('.')}; left out.", row=line, column=column.title)
            continue
        reader.assign(value, values, column.target)
    for index in range(len(layout.columns), len(cells)):  # cells beyond the column row
        if cells[index].strip():
            title = f"Column {column_letter(index)}"
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
        self.headline = self.external_id = self.number = self.permalink = None
        self.names = []  # (index, target, separators)
        for column in layout.columns:
            if column.target == "headline":
                self.headline = column.index
            elif column.target == "number" and layout.snapshot:
                self.number = column.index
            elif column.target == "permalink":
                self.permalink = column.index
            elif column.target == "external_id":
                self.external_id = column.index
            elif column.target.startswith(("terms:", "entities:")):
                separators = NamesReader.separators(column.target, layout.snapshot)
                self.names.append((column.index, column.target, separators))

    @staticmethod
    def _raw(cells, index):
        return unescape_cell(cells[index]) if index is not None and index < len(cells) else ""

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

    def identity(self, cells):
        """(number, slug) of a snapshot's row, or None: a row of another file, or one whose
        number or permalink cannot be read."""
        if self.number is None or self.permalink is None:
            return None
        number = self._raw(cells, self.number).strip()
        slug = PermalinkReader().clean(self._raw(cells, self.permalink), None)
        return (int(number), slug) if number.isdigit() and int(number) > 0 and slug else None


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
            document["placeholders"].pop(name, None)  # the row says which (or says none again)
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
        elif target in ("permalink", "number"):
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
                document["placeholders"].pop(name, None)
            elif kind in ("entities", "references"):
                document[kind][name] = []
                if kind == "entities":
                    document["placeholders"].pop(name, None)
            elif target in ("source", "summary_links"):
                document["source_url"] = ""
            elif target in documents.SCALAR_PATHS:
                document[target] = ""
    return document


def check_row(row, vocabularies, report):
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
