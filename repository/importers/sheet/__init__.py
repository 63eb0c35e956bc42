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
numbers (`repository.importers.reports`). The import is one transaction.

Identity across exports: a row updates an incident only when its id and its story agree
(the same AIAAIC id and a headline like one any statement ever gave it, the same source link,
or an overlapping period and a shared organisation); a source link alone joins only a row
without an id. AIAAIC has reused ids: an id that now names a different story becomes a new
incident, both keep the id, and a merge is proposed. Each row is a dated statement (`statements`):
the source's view folds them by date, so exports imported in any order give one record.
Nothing is erased or made vaguer: a blank cell keeps the stored value (unless `blank_clears`),
and a less precise period never replaces a more precise one that it contains.

The package reads in layers: `layout` (rows and columns of a file), `columns` (a row's cells
into values, a row laid over a document), `identify` (which incident a row is, which
spellings are one name), `run` (the import). The names below are what callers use.
"""

from ...sheetformat import header_key
from .columns import SheetRow, apply_row, parse_row, parse_rows, sheet_period
from .identify import similar_headlines
from .layout import SheetError, SheetLayout, SheetSource, detect_layout, read_rows
from .run import CHUNK, SOURCE, ImportResult, sheet_import

__all__ = [
    "CHUNK",
    "SOURCE",
    "ImportResult",
    "SheetError",
    "SheetLayout",
    "SheetRow",
    "SheetSource",
    "apply_row",
    "detect_layout",
    "header_key",
    "parse_row",
    "parse_rows",
    "read_rows",
    "sheet_import",
    "sheet_period",
    "similar_headlines",
]
