"""Reading a sheet export: its rows (any encoding AIAAIC has used), and its layout (which row
names the columns, which sub-headers sit under grouped columns, and what each column holds)."""

import codecs
import csv
import io
from dataclasses import dataclass

from ...sheetformat import GROUPS, KNOWN, SNAPSHOT_TARGETS, header_key

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
        return self.header or self.sub or f"Column {column_letter(self.index)}"


def column_letter(index):
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
