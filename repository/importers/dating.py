"""An export's date (the date its statements are as of) and its file's hash.

The date is read where the file says it: a title row above the column names ("Updated 15
February 2026", "2026-02-15"), else the file's name (`aiaaic-repository-2026-02-15.csv`,
`…-2026-02.csv`: a month reads as its first day), else it is given (`--as-of`), which wins
over both. A file without any is undated: older than any dated export of its source."""

import datetime
import hashlib
import re

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
ISO = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.](0[1-9]|1[0-2])(?:[-_.](0[1-9]|[12]\d|3[01]))?(?!\d)")
WORDS = re.compile(
    r"(?:(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s+)?("
    + "|".join(sorted(MONTHS, key=len, reverse=True))
    + r")\.?,?\s+((?:19|20)\d{2})(?!\d)",
    re.IGNORECASE,
)


def _date(year, month, day):
    try:
        return datetime.date(int(year), int(month), int(day or 1))
    except ValueError:
        return None


def date_in_text(text):
    """The first date the text writes ("2026-02-15", "2026-02", "15 February 2026",
    "Feb 2026"), or None."""
    found = []
    for match in ISO.finditer(text):
        found.append((match.start(), _date(match[1], match[2], match[3])))
    for match in WORDS.finditer(text):
        found.append((match.start(), _date(match[3], MONTHS[match[2].casefold()], match[1])))
    found = [(start, day) for start, day in sorted(found, key=lambda pair: pair[0]) if day is not None]
    return found[0][1] if found else None


def export_date(*, given=None, title_rows=(), file_name=""):
    """(date or None, how it was found: "given", "title", "file name" or "undated")."""
    if given is not None:
        return given, "given"
    for row in title_rows:
        for cell in row:
            day = date_in_text(cell)
            if day is not None:
                return day, "title"
    if file_name:
        day = date_in_text(str(file_name).replace("\\", "/").rsplit("/", 1)[-1])
        if day is not None:
            return day, "file name"
    return None, "undated"


def as_of_text(as_of, how):
    if as_of is None:
        return (
            "The file carries no date (give one with --as-of YYYY-MM-DD): its rows are undated "
            "statements, older than any dated export."
        )
    where = {
        "given": "given with --as-of",
        "title": "read from its title row",
        "file name": "read from its name",
    }
    return f"The export is as of {as_of:%Y-%m-%d} ({where[how]}): a newer export's values win over its."


def parse_as_of(text):
    """--as-of's YYYY-MM-DD (or YYYY-MM) as a date; raises ValueError."""
    match = ISO.fullmatch(text.strip())
    day = _date(match[1], match[2], match[3]) if match else None
    if day is None:
        raise ValueError(f"{text!r} is no date: write YYYY-MM-DD.")
    return day


def file_hash(*, data=None, path=None):
    """SHA-256 of the file (or of the text or bytes given), in hex."""
    digest = hashlib.sha256()
    if path is not None:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    elif isinstance(data, str):
        digest.update(data.encode("utf-8"))
    elif data is not None:
        digest.update(data)
    return digest.hexdigest()
