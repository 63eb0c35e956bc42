"""The AIAAIC sheet: its known layouts, and importing an export of it.

An export has a title row, a row of column names, and (for grouped columns such as
"External harms") a row of sub-headers. Columns are found by their names, never by
position, through one mapping per known layout. A sheet whose columns match no layout is
refused with the columns that were not recognised.
"""

import csv
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from . import documents
from .documents import DocumentError, clean_name, fold, split_values
from .models import Incident, Vocabulary
from .periods import PeriodError, parse_period
from .services import StaleRevision, Taxonomy, incident_publish, incident_search_refresh, make_slug
from .signals import incidents_imported

ID_PATTERN = re.compile(r"^AIAAIC\s*0*(\d+)$", re.IGNORECASE)
URL_PATTERN = re.compile(r"https?://\S+")
_url_validator = URLValidator(schemes=["http", "https"])


@dataclass(frozen=True)
class Column:
    header: str  # the name in the column row
    sub: str  # the name in the sub-header row under a grouped column, or ""
    target: str  # external_id, headline, type, released, occurred, source, summary_links,
    #              terms:<vocabulary slug> or entities:<role>
    separators: str = ";"  # what separates the values of a multi-valued cell

    @property
    def title(self):
        return f"{self.header} / {self.sub}" if self.sub else self.header


@dataclass(frozen=True)
class Layout:
    name: str
    columns: tuple

    def by_key(self):
        return {_key(column.header, column.sub): column for column in self.columns}


def _key(header, sub):
    return (" ".join(header.split()).casefold(), " ".join(sub.split()).casefold())


LAYOUT_2024 = Layout(
    "2024",
    (
        Column("AIAAIC ID#", "", "external_id"),
        Column("Headline", "", "headline"),
        Column("Type", "", "type"),
        Column("Released", "", "released"),
        Column("Occurred", "", "occurred"),
        Column("Country(ies)", "", "terms:country", separators=";,"),
        Column("Sector(s)", "", "terms:sector"),
        Column("Deployer(s)", "", "entities:deployer"),
        Column("Developer(s)", "", "entities:developer"),
        Column("System name(s)", "", "entities:system"),
        Column("Technology(ies)", "", "terms:technology"),
        Column("Purpose(s)", "", "terms:purpose"),
        Column("Media trigger(s)", "", "terms:news-trigger"),
        Column("Issue(s)", "", "terms:issue"),
        Column("Transparency", "", "terms:transparency"),
        Column("External harms", "Individual", "terms:harm-individual"),
        Column("External harms", "Societal", "terms:harm-societal"),
        Column("External harms", "Environmental", "terms:harm-environmental"),
        Column("Internal harms", "Strategic/reputational", "terms:harm-strategic"),
        Column("Internal harms", "Operational", "terms:harm-operational"),
        Column("Internal harms", "Financial", "terms:harm-financial"),
        Column("Internal harms", "Legal/regulatory", "terms:harm-legal"),
        Column("Description/links", "", "source"),
    ),
)

LAYOUT_2026 = Layout(
    "2026",
    (
        Column("AIAAIC ID#", "", "external_id"),
        Column("Headline", "", "headline"),
        Column("Occurred", "", "occurred"),
        Column("Deployer", "", "entities:deployer"),
        Column("Developer", "", "entities:developer"),
        Column("System name", "", "entities:system"),
        Column("Technology", "", "terms:technology"),
        Column("Purpose", "", "terms:purpose"),
        Column("News trigger (taxonomy)", "", "terms:news-trigger"),
        Column("Ethical issue (taxonomy)", "", "terms:issue"),
        Column("Impacted area", "Jurisdiction", "terms:country", separators=";,"),
        Column("Impacted area", "Sector", "terms:sector"),
        Column("External harm (taxonomy)", "Individual", "terms:harm-individual"),
        Column("External harm (taxonomy)", "Societal", "terms:harm-societal"),
        Column("External harm (taxonomy)", "Environmental", "terms:harm-environmental"),
        Column("Consequence (taxonomy)", "", "terms:consequence"),
        Column("Response (taxonomy)", "", "terms:response"),
        Column("Summary/links", "", "summary_links"),
    ),
)

LAYOUTS = (LAYOUT_2024, LAYOUT_2026)
REQUIRED_TARGETS = {"external_id", "headline"}
HEADER_SEARCH_ROWS = 10


class SheetError(Exception):
    """A sheet that cannot be imported; nothing was written."""


@dataclass
class SheetRow:
    line: int  # 1-based row number in the file, as a spreadsheet shows it
    number: int  # the numeric part of the AIAAIC id
    values: dict  # target -> cleaned value (str or list of names)


@dataclass
class ImportResult:
    layout: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    terms_created: int = 0
    entities_created: int = 0
    warnings: list = field(default_factory=list)


def _read_rows(data):
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SheetError(f"The file is not UTF-8 text (byte {exc.start}).") from None
    try:
        return list(csv.reader(io.StringIO(data, newline="")))
    except csv.Error as exc:
        raise SheetError(f"The file is not valid CSV: {exc}.") from None


def detect_layout(rows):
    """Find the column row and the layout. Returns (layout, {index: Column}, first data index)."""
    header_index = next(
        (i for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]) if row and _key(row[0], "")[0] == "aiaaic id#"),
        None,
    )
    if header_index is None:
        raise SheetError(
            "No column row found: the first column of one of the first "
            f"{HEADER_SEARCH_ROWS} rows must be 'AIAAIC ID#'."
        )
    header = rows[header_index]
    sub = [""] * len(header)
    data_start = header_index + 1
    following = rows[data_start] if data_start < len(rows) else []
    if following and not following[0].strip() and any(cell.strip() for cell in following):
        sub = following + [""] * (len(header) - len(following))
        data_start += 1

    found = {}  # index -> (header, sub) as written
    group = ""
    for index, name in enumerate(header):
        if name.strip():
            group = name
        under = sub[index] if index < len(sub) else ""
        if name.strip() or under.strip():
            found[index] = (name.strip() or group, under.strip())

    best, best_unknown = None, None
    for layout in LAYOUTS:
        known = layout.by_key()
        unknown = [pair for pair in found.values() if _key(*pair) not in known]
        if best is None or len(unknown) < len(best_unknown):
            best, best_unknown = layout, unknown
    if best_unknown:
        names = ", ".join(f"'{h} / {s}'" if s else f"'{h}'" for h, s in best_unknown)
        raise SheetError(
            f"Unknown sheet layout: columns not recognised: {names}. "
            f"Known layouts: {', '.join(layout.name for layout in LAYOUTS)} "
            f"(the closest is {best.name})."
        )
    known = best.by_key()
    columns = {index: known[_key(*pair)] for index, pair in found.items()}
    missing = REQUIRED_TARGETS - {column.target for column in columns.values()}
    if missing:
        raise SheetError(f"The sheet has no {' or '.join(sorted(missing))} column.")
    seen = Counter(column.target for column in columns.values())
    doubled = [target for target, count in seen.items() if count > 1]
    if doubled:
        raise SheetError(f"The sheet has more than one column for {', '.join(doubled)}.")
    return best, columns, data_start


def _document_errors(row, layout, vocabularies):
    """What the document validator says of a row's values, by column."""
    try:
        documents.normalize(_apply_row(documents.empty_document(), row), vocabularies)
    except DocumentError as exc:
        titles = {}
        paths = {"source": ["source_url"], "summary_links": ["summary", "source_url"]}
        for column in layout.columns:
            path = column.target.replace(":", ".")
            for document_path in paths.get(path, [path]):
                titles[document_path] = column.title
        return [
            f"row {row.line}, column '{titles.get(path, path)}': {' '.join(messages)}"
            for path, messages in exc.message_dict.items()
        ]
    return []


def _checked_url(url, where, warnings):
    """The address, or '' with a warning when it is not a web address the site can keep."""
    if not url:
        return ""
    try:
        _url_validator(url)
        if len(url) > documents.MAX_LENGTHS["source_url"]:
            raise ValidationError("too long")
    except ValidationError:
        warnings.append(f"{where}: {url[:60]!r} is not a web address; left out.")
        return ""
    return url


def _released(text):
    parts = split_values(text)
    years = []
    for part in parts:
        period = parse_period(part)
        years.append(period.iso())
    return "; ".join(years)


def parse_sheet(data, vocabularies):
    """Read and check every row. Returns (layout, [SheetRow], warnings). Raises SheetError."""
    rows = _read_rows(data)
    layout, columns, start = detect_layout(rows)
    missing = sorted(
        {c.target.partition(":")[2] for c in columns.values() if c.target.startswith("terms:")}
        - set(vocabularies)
    )
    if missing:
        raise SheetError(
            f"The site has no vocabulary {', '.join(missing)}; the sheet's columns need them "
            "(they come with the migrations: run `python manage.py migrate`)."
        )
    errors, warnings, parsed, seen_ids = [], [], [], {}
    for offset, row in enumerate(rows[start:]):
        line = start + offset + 1
        if not any(cell.strip() for cell in row):
            continue
        values = {}
        for index, column in columns.items():
            raw = row[index] if index < len(row) else ""
            where = f"row {line}, column '{column.title}'"
            target = column.target
            try:
                if target == "external_id":
                    match = ID_PATTERN.match(raw.strip())
                    if not match:
                        raise ValueError(
                            f"{raw.strip()!r} is not an AIAAIC id" if raw.strip() else "the id is missing"
                        )
                    values["number"] = int(match[1])
                    values[target] = f"AIAAIC{int(match[1]):04d}"
                    values["external_ids"] = [{"scheme": "aiaaic", "value": values[target]}]
                elif target == "headline":
                    values[target] = clean_name(raw)
                    if not values[target]:
                        raise ValueError("the headline is missing")
                elif target == "type":
                    kind = raw.strip().lower()
                    if kind and kind not in documents.TYPES:
                        raise ValueError(f"{raw.strip()!r} is not a type ({', '.join(documents.TYPES)})")
                    values[target] = kind
                elif target == "occurred":
                    period = parse_period(raw)
                    values[target] = period.iso() if period else ""
                elif target == "released":
                    values[target] = _released(raw)
                elif target == "source":
                    values["source_url"] = _checked_url(raw.strip(), where, warnings)
                elif target == "summary_links":
                    urls = [documents.trim_url(url) for url in URL_PATTERN.findall(raw)]
                    values["source_url"] = _checked_url(urls[0] if urls else "", where, warnings)
                    values["summary"] = " ".join(URL_PATTERN.sub(" ", raw).split())
                else:
                    values[target] = split_values(raw, column.separators)
            except (ValueError, PeriodError) as exc:
                errors.append(f"{where}: {exc}.")
        if "number" in values:
            external_id = values["external_id"]
            if external_id in seen_ids:
                errors.append(f"row {line}: {external_id} is also on row {seen_ids[external_id]}.")
            seen_ids[external_id] = line
            row = SheetRow(line, values.pop("number"), values)
            errors.extend(_document_errors(row, layout, vocabularies))
            parsed.append(row)
    if errors:
        shown = "\n  ".join(errors[:20])
        more = f"\n  … and {len(errors) - 20} more." if len(errors) > 20 else ""
        raise SheetError(f"The sheet has {len(errors)} error(s); nothing was imported.\n  {shown}{more}")
    return layout, parsed, warnings


def _spelling_preferences(rows, warnings):
    """The most common spelling of each folded name, and a warning for each folded variant."""
    spellings = defaultdict(Counter)
    for row in rows:
        for target, value in row.values.items():
            kind, _, name = target.partition(":")
            if kind in {"terms", "entities"}:
                scope = name if kind == "terms" else ("system" if name == "system" else "organisation")
                for item in value:
                    spellings[(scope, fold(item))][item] += 1
    preferred = {}
    for key, counter in spellings.items():
        preferred[key] = counter.most_common(1)[0]
        if len(counter) > 1:
            variants = ", ".join(f"{name!r}" for name in counter if name != preferred[key][0])
            scope = key[0].capitalize() if key[0] in ("organisation", "system") else f"Vocabulary {key[0]}"
            warnings.append(f"{scope}: {variants} folded into {preferred[key][0]!r}.")
    return preferred


def _apply_row(document, row):
    document = {
        **document,
        "terms": dict(document["terms"]),
        "entities": dict(document["entities"]),
    }
    for target, value in row.values.items():
        kind, _, name = target.partition(":")
        if target == "external_id":
            continue
        if kind == "terms":
            if value:
                document["terms"][name] = value
            else:
                document["terms"].pop(name, None)
        elif kind == "entities":
            document["entities"][name] = value
        else:
            document[target] = value
    return document


def _slug_hint(row):
    url = row.values.get("source_url", "")
    if url.startswith("https://www.aiaaic.org/"):
        return url.rstrip("/").rsplit("/", 1)[-1]
    return row.values["headline"]


def sheet_import(*, data, progress=None):
    """Import an AIAAIC sheet export (bytes or text), all or nothing. Returns ImportResult."""
    vocabularies = set(Vocabulary.objects.values_list("slug", flat=True))
    layout, rows, warnings = parse_sheet(data, vocabularies)
    result = ImportResult(layout=layout.name, rows=len(rows), warnings=warnings)
    taxonomy = Taxonomy()
    taxonomy.preferred = _spelling_preferences(rows, result.warnings)
    rows.sort(key=lambda row: row.number)
    changed_ids = []
    with transaction.atomic():
        taxonomy.preload()
        terms, entities = [], []
        for row in rows:
            for target, value in row.values.items():
                kind, _, name = target.partition(":")
                if kind == "terms":
                    terms.extend((name, item) for item in value)
                elif kind == "entities":
                    entities.extend((item, name) for item in value)
        taxonomy.ensure(terms=terms, entities=entities)
        existing, unnumbered = {}, {}
        for incident in Incident.objects.select_related("current_revision").prefetch_related("external_ids"):
            ids = [item.value for item in incident.external_ids.all() if item.scheme == "aiaaic"]
            for value in ids:
                existing[value] = incident
            if not ids:
                unnumbered[incident.slug] = incident
        next_number = None
        for done, row in enumerate(rows, start=1):
            incident = existing.get(row.values["external_id"])
            if incident is None:
                # A page imported before the sheet: same slug, no AIAAIC id yet.
                incident = unnumbered.pop(make_slug(_slug_hint(row), "incident", 255), None)
            if incident is not None and incident.current_revision is not None:
                base = incident.current_revision.document
            else:
                base = documents.empty_document()
            number = None
            if incident is None:
                if next_number is None:
                    next_number = (
                        Incident.objects.order_by("-number").values_list("number", flat=True).first() or 0
                    ) + 1
                number, next_number = next_number, next_number + 1
            try:
                outcome = incident_publish(
                    document=_apply_row(base, row),
                    incident=incident,
                    summary=f"Imported from the AIAAIC sheet ({layout.name} layout)",
                    slug=_slug_hint(row),
                    number=number,
                    taxonomy=taxonomy,
                    refresh_search=False,
                    expected_revision=incident.current_revision_id if incident else None,
                )
            except StaleRevision:
                raise SheetError(
                    f"row {row.line}: {row.values['external_id']} was changed on the site while the "
                    "import ran; nothing was imported. Run the import again."
                ) from None
            except DocumentError as exc:
                problems = "; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in exc.message_dict.items())
                raise SheetError(f"row {row.line}: {problems}") from None
            if outcome.created:
                result.created += 1
            elif outcome.changed:
                result.updated += 1
            else:
                result.unchanged += 1
            if outcome.changed:
                changed_ids.append(outcome.incident.pk)
            if progress:
                progress(done, len(rows))
        for start in range(0, len(changed_ids), 500):
            incident_search_refresh(incident_ids=changed_ids[start : start + 500])
    if changed_ids:
        incidents_imported.send(sender=Incident, incident_ids=changed_ids, source="aiaaic")
    result.terms_created = taxonomy.created_terms
    result.entities_created = taxonomy.created_entities
    return result
