"""When something happened: a day, a month or a year, or a range of them, possibly open.

The canonical text form, used in incident documents and stored on the incident, is
ISO 8601: ``2021``, ``2021-02``, ``2021-02-12``, a range ``2019/2024`` and an open range
``2023/..``. :func:`parse_period` also reads what people write: ``February 2021``,
``12 Feb 2021``, ``2019-2024``, ``2023-``, ``March 2020 - June 2021``.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date

YEAR = "year"
MONTH = "month"
DAY = "day"

MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9

MIN_YEAR = 1900
MAX_YEAR = 2100

OPEN_END_WORDS = {"", "..", "present", "ongoing", "now", "today"}


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class PartialDate:
    year: int
    month: int | None = None
    day: int | None = None

    @property
    def precision(self):
        if self.day is not None:
            return DAY
        if self.month is not None:
            return MONTH
        return YEAR

    def first_day(self):
        return date(self.year, self.month or 1, self.day or 1)

    def last_day(self):
        if self.day is not None:
            return date(self.year, self.month, self.day)
        month = self.month or 12
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    def iso(self):
        if self.day is not None:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        if self.month is not None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}"

    def human(self):
        if self.day is not None:
            return f"{self.day} {calendar.month_name[self.month]} {self.year}"
        if self.month is not None:
            return f"{calendar.month_name[self.month]} {self.year}"
        return str(self.year)


@dataclass(frozen=True)
class Period:
    start: PartialDate
    end: PartialDate | None = None  # None: a single day, month or year (unless open)
    open: bool = False  # a range that has not ended: "2023-"

    @property
    def precision(self):
        return self.start.precision

    @property
    def first_day(self):
        return self.start.first_day()

    @property
    def last_day(self):
        """The last day the period covers, or None while it is still open."""
        if self.open:
            return None
        return (self.end or self.start).last_day()

    def iso(self):
        if self.open:
            return f"{self.start.iso()}/.."
        if self.end is not None:
            return f"{self.start.iso()}/{self.end.iso()}"
        return self.start.iso()

    def human(self):
        if self.open:
            return f"{self.start.human()}-"
        if self.end is not None:
            joiner = "-" if self.start.precision == YEAR and self.end.precision == YEAR else " - "
            return f"{self.start.human()}{joiner}{self.end.human()}"
        return self.start.human()

    def __str__(self):
        return self.iso()


_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_MONTH_YEAR = re.compile(r"^([a-z]+)\.?,?\s+(\d{4})$")
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})$")
_MONTH_DAY_YEAR = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")


def _partial(year, month=None, day=None, text=""):
    year = int(year)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"the year in {text!r} is out of range ({MIN_YEAR}-{MAX_YEAR})")
    if month is not None:
        month = int(month)
        if not 1 <= month <= 12:
            raise PeriodError(f"the month in {text!r} is not between 1 and 12")
    if day is not None:
        day = int(day)
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            raise PeriodError(f"{text!r} is not a real day")
    return PartialDate(year, month, day)


def _month_number(word, text):
    number = MONTHS.get(word)
    if number is None:
        raise PeriodError(f"{word!r} in {text!r} is not a month")
    return number


def parse_partial_date(text):
    """Read one day, month or year. Raises PeriodError."""
    value = " ".join(text.strip().lower().split())
    if match := _ISO.match(value):
        return _partial(*match.groups(), text=text)
    if match := _MONTH_YEAR.match(value):
        return _partial(match[2], _month_number(match[1], text), text=text)
    if match := _DAY_MONTH_YEAR.match(value):
        return _partial(match[3], _month_number(match[2], text), match[1], text=text)
    if match := _MONTH_DAY_YEAR.match(value):
        return _partial(match[3], _month_number(match[1], text), match[2], text=text)
    raise PeriodError(f"cannot read {text.strip()!r} as a year, month or day")


def _split_range(value):
    """Split a range at '/', ' to ', an en dash, or a hyphen that is not inside an ISO date."""
    if "/" in value:
        return value.split("/", 1)
    if value.endswith(("-", "–", "—")):  # "2023-", "2023 -": still going on
        return [value[:-1].strip(), ""]
    for separator in (" to ", "–", "—", " - "):
        if separator in value:
            return value.split(separator, 1)
    # "2019-2024", "2023-" but not "2021-02" or "2021-02-12".
    if match := re.match(r"^(.*\d{4})-(\d{4}.*|[a-z].*|)$", value):
        return [match[1], match[2]]
    return None


def parse_period(text):
    """Read a period from text; None for an empty value. Raises PeriodError."""
    value = " ".join((text or "").strip().lower().split())
    if not value:
        return None
    parts = _split_range(value)
    if parts is None:
        return Period(parse_partial_date(value))
    start = parse_partial_date(parts[0])
    end_text = parts[1].strip()
    if end_text in OPEN_END_WORDS:
        return Period(start, open=True)
    end = parse_partial_date(end_text)
    if end.last_day() < start.first_day():
        raise PeriodError(f"{text.strip()!r} ends before it starts")
    if end == start:
        return Period(start)
    return Period(start, end)


def period_iso(text):
    """Canonical ISO text for a period written any accepted way ('' when empty)."""
    period = parse_period(text)
    return period.iso() if period else ""


def period_human(iso_text):
    """How a stored period is shown to readers: 'February 2021', '2019-2024', '2023-'."""
    period = parse_period(iso_text)
    return period.human() if period else ""


def more_precise(old, new):
    """The period to keep when `new` arrives where `old` is: `old` when `new` is less precise
    and contains it ("2021" where "2021-02" is known), else `new`. Both ISO text or ''."""
    if not old or not new or old == new:
        return new or old
    try:
        before, after = parse_period(old), parse_period(new)
    except PeriodError:
        return new
    if before is None or after is None:
        return new or old
    starts_within = after.first_day <= before.first_day
    if after.last_day is None:
        ends_within = True
    else:
        ends_within = before.last_day is not None and before.last_day <= after.last_day
    return old if starts_within and ends_within else new
