"""Charts of the repository, or of any browse URL's results: the numbers and their drawing.

The numbers are counted in the database (grouped by year and term, never incident by
incident) in a fixed number of queries, and cached for readers under the freshness token of
what is published, so publishing anything makes them new at once; the timeout is only a
safety net for a cache that could not be told.

- Incidents per year: each incident counts once, in the year its "Occurred" period begins.
  Incidents without a date are counted apart ("No date"), in every total but in no bar.
- Top terms over time: for sector, technology, issue and country, the terms carried by the
  most of the results (as the browse page's filter lists count them: an incident counts under
  each term it carries), with their incidents per year.

The drawings are plain geometry (numbers and names) for the templates, which write the SVG
and escape every name; no JavaScript and no inline style.
"""

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass, field

from django.db.models import Count, F, Window
from django.db.models.functions import ExtractYear, RowNumber

from . import freshness
from .filters import selected_labels
from .models import Incident, IncidentUnderTerm
from .sheetformat import escape_cell

CHART_VOCABULARIES = ("sector", "technology", "issue", "country")  # slugs, in page order
TOP_TERMS = 6
CACHE_SECONDS = 24 * 3600  # a safety net only: a publication changes the key at once
CACHE_VERSION = 1  # bumped when the cached shape changes
NOT_FILTERS = ("sort", "page", "more")  # query parameters that do not change the results
NO_DATE = "No date"


# The numbers ------------------------------------------------------------------------------


def _cached(kind, params, compute):
    """compute() once per publication and filter combination; without a cache, every time."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:40]
    key = f"charts:v{CACHE_VERSION}:{kind}:{freshness.token()}:{digest}"
    value = freshness.cache_get(key)  # None from an unreachable cache: count afresh
    if value is None:
        value = compute()
        freshness.cache_set(key, value, CACHE_SECONDS)
    return value


def applied_filters(filterset):
    """The filters a FilterSet applies ({name: value}), the same for equivalent URLs."""
    filterset.form.is_valid()
    data = getattr(filterset.form, "cleaned_data", {})
    return {
        name: value
        for name, value in sorted(data.items())
        if name not in NOT_FILTERS and value not in (None, "", [])
    }


def count_years(incidents):
    """{"years": [[year, n], …] (every year from the first to the last), "undated": n, "total": n}.

    One query."""
    rows = (
        Incident.objects.filter(pk__in=incidents.order_by().values("pk"))
        .annotate(year=ExtractYear("occurred_start"))
        .values("year")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {row["year"]: row["n"] for row in rows}
    undated = counts.pop(None, 0)
    years = [[year, counts.get(year, 0)] for year in range(min(counts), max(counts) + 1)] if counts else []
    return {"years": years, "undated": undated, "total": undated + sum(counts.values())}


def count_terms(incidents, vocabularies, top=TOP_TERMS):
    """Per chart vocabulary, its `top` terms among the incidents with their incidents per year:
    [{"slug", "label", "terms": [{"slug", "name", "total", "years": {year: n}, "undated": n}]}].

    Two queries: the top terms of each vocabulary, then their counts per year."""
    by_id = {v.id: v for v in vocabularies if v.slug in CHART_VOCABULARIES}
    charts = {
        v.id: {"slug": v.slug, "label": v.label, "terms": []}
        for v in sorted(by_id.values(), key=lambda v: CHART_VOCABULARIES.index(v.slug))
    }
    if not by_id:
        return []
    ids = incidents.order_by().values("pk")
    totals = (
        IncidentUnderTerm.objects.filter(incident__in=ids, term__vocabulary_id__in=list(by_id))
        .values("term_id", "term__vocabulary_id", "term__slug", "term__name")
        .annotate(n=Count("incident_id"))
        .order_by()
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("term__vocabulary_id")],
                order_by=[F("n").desc(), F("term__name").asc()],
            )
        )
        .filter(rank__lte=top)
    )
    terms = {}
    for row in totals:
        terms[row["term_id"]] = term = {
            "slug": row["term__slug"],
            "name": row["term__name"],
            "total": row["n"],
            "years": {},
            "undated": 0,
            "rank": row["rank"],
        }
        charts[row["term__vocabulary_id"]]["terms"].append(term)
    if terms:
        per_year = (
            IncidentUnderTerm.objects.filter(incident__in=ids, term_id__in=list(terms))
            .values("term_id", year=ExtractYear("incident__occurred_start"))
            .annotate(n=Count("incident_id"))
            .order_by()
        )
        for row in per_year:
            term = terms[row["term_id"]]
            if row["year"] is None:
                term["undated"] = row["n"]
            else:
                term["years"][row["year"]] = row["n"]
    for chart in charts.values():
        chart["terms"].sort(key=lambda term: term.pop("rank"))
    return list(charts.values())


def repository_years():
    """Incidents per year of the whole repository (the home page's chart)."""
    incidents = Incident.objects.unmerged()
    return _cached("years", {}, lambda: count_years(incidents))


def figures(filterset, vocabularies, terms=True):
    """The charts' numbers for a FilterSet's results (incidents per year; with `terms`, the top
    terms over time and the names of what the filters select)."""
    params = applied_filters(filterset)
    incidents = filterset.qs
    numbers = {"years": _cached("years", params, lambda: count_years(incidents))}
    if terms:
        numbers |= _cached(
            "terms",
            params,
            lambda: {
                "vocabularies": count_terms(incidents, vocabularies),
                "chips": selected_labels(vocabularies, filterset.selected(), filterset.resolved),
            },
        )
    return numbers


# The drawings -----------------------------------------------------------------------------

WIDTH = 720
YEAR_HEIGHT = 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 8, 12, 28
MAX_YEAR_LABELS = 12
ROW_HEIGHT = 50
LABEL_WIDTH = 220  # the term names' column in small multiples
TOTAL_WIDTH = 56  # the totals' column at the right
NAME_CHARACTERS = 27  # a longer name is cut (the table and the tooltip give it whole)


def nice_ceiling(value, ticks=4):
    """The top of an axis and its step: a round step (1, 2 or 5 times a power of ten), about
    `ticks` of them, at or above `value`."""
    if value <= 0:
        return 1, 1
    rough = value / ticks
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    step = max(1, int(step))
    return step * math.ceil(value / step), step


def _label_every(count):
    """Label every nth year so that at most MAX_YEAR_LABELS fit: 1, 2, 5, 10, 20, …"""
    for every in (1, 2, 5, 10, 20, 25, 50, 100):
        if math.ceil(count / every) <= MAX_YEAR_LABELS:
            return every
    return 100


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    year: int
    value: int


@dataclass
class YearAxis:
    """Where each year sits across a plot from `left` to `right`."""

    years: list
    left: float
    right: float

    @property
    def band(self):
        return (self.right - self.left) / max(len(self.years), 1)

    def x(self, index):
        return self.left + index * self.band

    def labels(self):
        every = _label_every(len(self.years))
        return [
            (round(self.x(i) + self.band / 2, 1), year)
            for i, year in enumerate(self.years)
            if year % every == 0 or every == 1
        ]

    def bars(self, values, baseline, height, top):
        """Bars for values (one per year) rising from `baseline`, `height` tall at `top`."""
        width = max(self.band * 0.78, 1)
        bars = []
        for i, (year, value) in enumerate(zip(self.years, values, strict=True)):
            h = height * value / top if top else 0
            bars.append(
                Bar(
                    round(self.x(i) + (self.band - width) / 2, 2),
                    round(baseline - h, 2),
                    round(width, 2),
                    round(h, 2),
                    year,
                    value,
                )
            )
        return bars


@dataclass
class YearChart:
    """Incidents per year as a bar chart, with its numbers for the table beside it."""

    rows: list  # [(year, n)]
    undated: int
    total: int
    width: int = WIDTH
    height: int = YEAR_HEIGHT
    bars: list = field(default_factory=list)
    ticks: list = field(default_factory=list)  # [(y, value)]
    year_labels: list = field(default_factory=list)  # [(x, year)]
    plot_left: int = MARGIN_LEFT
    plot_right: int = WIDTH - MARGIN_RIGHT
    baseline: int = YEAR_HEIGHT - MARGIN_BOTTOM
    peak: tuple | None = None  # (year, n) of the highest bar, the first if several

    @property
    def first_year(self):
        return self.rows[0][0] if self.rows else None

    @property
    def last_year(self):
        return self.rows[-1][0] if self.rows else None

    @property
    def dated(self):
        return self.total - self.undated


def year_chart(numbers):
    rows = [tuple(row) for row in numbers["years"]]
    chart = YearChart(rows=rows, undated=numbers["undated"], total=numbers["total"])
    if not rows:
        return chart
    top, step = nice_ceiling(max(n for _, n in rows))
    plot_height = chart.baseline - MARGIN_TOP
    axis = YearAxis([year for year, _ in rows], chart.plot_left, chart.plot_right)
    chart.bars = axis.bars([n for _, n in rows], chart.baseline, plot_height, top)
    chart.ticks = [
        (round(chart.baseline - plot_height * value / top, 2), value) for value in range(0, top + 1, step)
    ]
    chart.year_labels = axis.labels()
    chart.peak = max(rows, key=lambda row: row[1])
    return chart


@dataclass
class TermRow:
    slug: str
    browse_url: str
    name: str
    short_name: str
    total: int
    undated: int
    values: list  # per year of the chart
    bars: list
    peak: tuple | None  # (year, n) of its busiest year, the first if several; its bars' scale
    top: float  # y of the row's top
    baseline: float
    label_y: float
    note_y: float


@dataclass
class TermChart:
    """The top terms of one vocabulary over time, as small multiples: one row of bars per term,
    each on its own scale (its busiest year is a full row, and named beside it), so that the
    shape of every term's years shows, however far the first outnumbers the last."""

    slug: str
    label: str
    years: list
    rows: list = field(default_factory=list)
    width: int = WIDTH
    height: int = 0
    plot_left: int = LABEL_WIDTH
    plot_right: int = WIDTH - TOTAL_WIDTH
    total_x: int = WIDTH - 4
    year_labels: list = field(default_factory=list)
    axis_y: float = 0

    @property
    def undated(self):
        return any(row.undated for row in self.rows)

    @property
    def table(self):
        """[(year, [n per term])] for the table beside the chart."""
        return [(year, [row.values[i] for row in self.rows]) for i, year in enumerate(self.years)]

    @property
    def first_year(self):
        return self.years[0] if self.years else None

    @property
    def last_year(self):
        return self.years[-1] if self.years else None


def _short(name):
    return name if len(name) <= NAME_CHARACTERS else name[: NAME_CHARACTERS - 1].rstrip() + "…"


def term_chart(vocabulary, years, browse_url=lambda vocabulary, term: ""):
    """`vocabulary` as count_terms gives it; `years` the per-year chart's years, so that every
    chart of a page shares its time axis; `browse_url(vocabulary, term)` the list of a term's
    incidents among the results."""
    chart = TermChart(slug=vocabulary["slug"], label=vocabulary["label"], years=list(years))
    terms = vocabulary["terms"]
    values = [[term["years"].get(year, 0) for year in chart.years] for term in terms]
    axis = YearAxis(chart.years, chart.plot_left, chart.plot_right)
    bar_height = ROW_HEIGHT - 12
    for i, (term, row_values) in enumerate(zip(terms, values, strict=True)):
        top = MARGIN_TOP + i * ROW_HEIGHT
        baseline = top + ROW_HEIGHT - 6
        highest = max(row_values, default=0)
        peak = (chart.years[row_values.index(highest)], highest) if highest else None
        chart.rows.append(
            TermRow(
                slug=term["slug"],
                browse_url=browse_url(vocabulary["slug"], term["slug"]),
                name=term["name"],
                short_name=_short(term["name"]),
                total=term["total"],
                undated=term["undated"],
                values=row_values,
                bars=axis.bars(row_values, baseline, bar_height, highest) if chart.years else [],
                peak=peak,
                top=top,
                baseline=baseline,
                label_y=top + 20,
                note_y=top + 36,
            )
        )
    chart.axis_y = MARGIN_TOP + len(terms) * ROW_HEIGHT
    chart.height = chart.axis_y + MARGIN_BOTTOM
    chart.year_labels = axis.labels() if chart.years else []
    return chart


# CSV --------------------------------------------------------------------------------------


def _csv(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([escape_cell(cell) if isinstance(cell, str) else cell for cell in row])
    return out.getvalue()


def years_csv(numbers):
    """Year, incidents: one row a year, then the incidents without a date."""
    rows = [["Year", "Incidents"], *numbers["years"]]
    if numbers["undated"]:
        rows.append([NO_DATE, numbers["undated"]])
    return _csv(rows)


def terms_csv(vocabulary, years):
    """Year, then one column per top term (its name), as the table beside the chart."""
    terms = vocabulary["terms"]
    rows = [["Year", *[term["name"] for term in terms]]]
    rows += [[year, *[term["years"].get(year, 0) for term in terms]] for year in years]
    if any(term["undated"] for term in terms):
        rows.append([NO_DATE, *[term["undated"] for term in terms]])
    return _csv(rows)
