"""Incident pages in plain text: reading them into incident documents, and importing them.

The format, in order (see the seed page)::

    Headline

    Occurred: February 2021

    Can you improve this page?
    Share your insights with us

    Narrative paragraphs, separated by blank lines. A short line standing alone
    without closing punctuation is a sub-heading.

    Operator: Amazon; Modesto City Schools
    Developer: …
    Country: … (one line per vocabulary, values separated by ';')

    System
    Legal, regulatory
    Research, advocacy
    Investigations, assessments, audits
    News, commentary, analysis

Under each reference heading, one reference per line: a web address, optionally after a
title ("Title - https://…") or as "Title | Publisher | 2021-02-09 | https://…".
"""

import re
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from .. import documents
from ..documents import DocumentError, clean_name, split_values, trim_url
from ..models import ImportBatch, Incident, Vocabulary
from ..periods import PeriodError, more_precise, parse_partial_date, parse_period
from ..provenance import Origin
from ..services import Taxonomy, incident_publish, make_slug
from .common import fold_statements, import_batch_finish, problem_text, statements_of

INVITATION_LINES = {"can you improve this page?", "share your insights with us"}
ROLE_LABELS = {
    "operator": "deployer",
    "operators": "deployer",
    "deployer": "deployer",
    "deployers": "deployer",
    "developer": "developer",
    "developers": "developer",
    "system": "system",
    "systems": "system",
    "system name": "system",
    "system names": "system",
}
VOCABULARY_SYNONYMS = {
    "countries": "country",
    "jurisdiction": "country",
    "sectors": "sector",
    "purposes": "purpose",
    "technologies": "technology",
    "issues": "issue",
    "ethical issue": "issue",
    "media trigger": "news-trigger",
}
SECTION_TITLES = {label.casefold(): category for category, label in documents.CATEGORY_LABELS.items()}
LABEL_LINE = re.compile(r"^([A-Za-z][A-Za-z ()/&-]{0,40}?)\s*:\s*(.*)$")
URL = re.compile(r"https?://[^\s<>\"]+")
BULLET = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s+")
SUMMARY_LENGTH = 600
HEADING_MAX_WORDS = 12
SOURCE = "aiaaic"  # what `incidents_imported` says the pages came from
SENTENCE_END = tuple(".!?:;,'\"”’)")


class PageError(Exception):
    """A page that cannot be read; nothing was imported."""


@dataclass
class ParsedPage:
    headline: str
    occurred: str
    narrative: str
    summary: str
    terms: dict  # vocabulary slug -> names, for the lines the page has
    entities: dict  # role -> names, for the lines the page has
    references: dict | None  # category -> references, None when the page has no sections


def _labels():
    labels = {}
    for vocabulary in Vocabulary.objects.all():
        labels[vocabulary.label.casefold()] = ("terms", vocabulary.slug)
        labels[vocabulary.slug.replace("-", " ")] = ("terms", vocabulary.slug)
    for label, slug in VOCABULARY_SYNONYMS.items():
        labels.setdefault(label, ("terms", slug))
    for label, role in ROLE_LABELS.items():
        labels[label] = ("entities", role)
    return labels


def _is_heading(paragraph):
    return (
        len(paragraph) == 1
        and len(paragraph[0].split()) <= HEADING_MAX_WORDS
        and not paragraph[0].endswith(SENTENCE_END)
        and paragraph[0][:1].isupper()
    )


def _markdown_paragraph(lines):
    text = "\n".join(lines)
    # The page is plain text: keep a leading '#', '>' or list marker from turning into markup.
    return re.sub(r"^([#>]|\d+\.|[-*+]\s)", r"\\\1", text)


def _trim_title(title, chars=" -–—:|"):
    """Drop separators around a title, and brackets left unmatched by taking out the address."""
    title = title.strip(chars)
    while title.endswith("(") or (title.endswith(")") and title.count(")") > title.count("(")):
        title = title[:-1].strip(chars)
    while title.startswith(")") or (title.startswith("(") and title.count("(") > title.count(")")):
        title = title[1:].strip(chars)
    return title


def _reference(line, number):
    text = BULLET.sub("", line).strip()
    found = URL.search(text)
    if not found:
        raise PageError(f"line {number}: a reference needs a web address: {text[:60]!r}")
    url = trim_url(found.group(0))
    rest = (text[: found.start()] + " " + text[found.end() :]).strip()
    title, publisher, published = rest, "", ""
    if "|" in rest:
        parts = [part.strip() for part in rest.split("|") if part.strip()]
        title = parts[0] if parts else ""
        for part in parts[1:]:
            try:
                published = parse_partial_date(part).iso()
            except PeriodError:
                publisher = publisher or part
    title = _trim_title(title)
    return {"url": url, "title": clean_name(title), "publisher": publisher, "published": published}


def parse_page(text, labels=None):
    """Read a page. Raises PageError naming the line at fault."""
    labels = labels if labels is not None else _labels()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    numbered = [(i + 1, line.rstrip()) for i, line in enumerate(lines)]
    position = 0

    def next_filled():
        nonlocal position
        while position < len(numbered) and not numbered[position][1].strip():
            position += 1
        if position == len(numbered):
            return None, None
        number, line = numbered[position]
        position += 1
        return number, line.strip()

    number, headline = next_filled()
    if headline is None:
        raise PageError("line 1: the page is empty")
    if headline.casefold().startswith("occurred:"):
        raise PageError(f"line {number}: the page must start with its headline")
    headline = clean_name(headline)
    if len(headline) > documents.MAX_LENGTHS["headline"]:
        raise PageError(
            f"line {number}: the headline is longer than {documents.MAX_LENGTHS['headline']} characters"
        )

    number, line = next_filled()
    match = LABEL_LINE.match(line or "")
    if not match or match[1].casefold() != "occurred":
        where = f"line {number}" if number else f"line {len(numbered)}"
        raise PageError(f"{where}: expected 'Occurred: <month year, year or range>' after the headline")
    try:
        period = parse_period(match[2])
    except PeriodError as exc:
        raise PageError(f"line {number}: {exc}") from None
    occurred = period.iso() if period else ""

    paragraphs, current = [], []
    terms, entities, references = {}, {}, None
    section, section_index = None, -1
    in_classification = False
    categories = list(documents.CATEGORY_LABELS)
    for number, raw in numbered[position:]:
        line = raw.strip()
        if not line:
            if current:
                paragraphs.append(current)
                current = []
            continue
        title = line.rstrip(":").casefold()
        if title in SECTION_TITLES:
            category = SECTION_TITLES[title]
            index = categories.index(category)
            if index <= section_index:
                raise PageError(
                    f"line {number}: the section {line!r} is out of order; the sections are "
                    + "; ".join(documents.CATEGORY_LABELS.values())
                )
            section, section_index = category, index
            if references is None:
                references = {category: [] for category in categories}
            continue
        if section is not None:
            references[section].append(_reference(line, number))
            continue
        match = LABEL_LINE.match(line)
        label = labels.get(match[1].strip().casefold()) if match else None
        if label is not None:
            in_classification = True
            if current:
                paragraphs.append(current)
                current = []
            kind, name = label
            target = terms if kind == "terms" else entities
            if name in target:
                raise PageError(f"line {number}: {match[1].strip()!r} is given twice")
            target[name] = split_values(match[2])
            continue
        if in_classification:
            raise PageError(
                f"line {number}: {line[:60]!r} is not a classification line "
                "('Label: value; value') nor a reference section"
            )
        if line.casefold() in INVITATION_LINES and not paragraphs:
            continue
        current.append(line)
    if current:
        paragraphs.append(current)

    blocks, summary = [], ""
    for paragraph in paragraphs:
        if _is_heading(paragraph):
            blocks.append(f"## {paragraph[0]}")
        else:
            blocks.append(_markdown_paragraph(paragraph))
            if not summary:
                summary = " ".join(" ".join(paragraph).split())
    if len(summary) > SUMMARY_LENGTH:
        summary = summary[:SUMMARY_LENGTH].rsplit(" ", 1)[0] + "…"
    return ParsedPage(
        headline=headline,
        occurred=occurred,
        narrative="\n\n".join(blocks),
        summary=summary,
        terms=terms,
        entities=entities,
        references=references,
    )


def page_document(base, page, dated=()):
    """`base` with what the page says laid over it; what the page leaves out stays, and a
    less precise period never replaces a more precise one ("2021" where "February 2021" is
    known), so a page and a sheet give the same incident in either order.

    A page carries no date: it is older than any dated export. `dated`: the fields (sheet
    targets: "headline", "terms:issue", …) a dated export of the sheet gives this incident;
    the page leaves them as they are."""
    document = _page_laid(base, page)
    if dated:
        for target in dated:
            kind, _, name = target.partition(":")
            if kind in ("terms", "entities", "references") and name:
                if name in base[kind]:
                    document[kind][name] = base[kind][name]
                else:
                    document[kind].pop(name, None)
            elif target in ("headline", "occurred", "narrative", "summary"):
                document[target] = base.get(target, "")
    return document


def _dated_targets(incident):
    """What the sheet's dated exports say of the incident (their targets), if any."""
    statements = [
        record
        for record in statements_of(source=SOURCE, incident_ids=[incident.pk]).get(incident.pk, [])
        if record.as_of is not None
    ]
    return set(fold_statements(statements)) if statements else set()


def _page_laid(base, page):
    document = {
        **base,
        "headline": page.headline,
        "occurred": more_precise(base.get("occurred", ""), page.occurred),
        "narrative": page.narrative or base.get("narrative", ""),
        "summary": page.summary or base.get("summary", ""),
        "terms": dict(base["terms"]),
        "entities": dict(base["entities"]),
    }
    for vocabulary, names in page.terms.items():
        if names:
            document["terms"][vocabulary] = names
        else:
            document["terms"].pop(vocabulary, None)
    document["entities"].update(page.entities)
    if page.references is not None:
        document["references"] = {**base["references"], **page.references}
    return document


def read_pages(paths):
    """Read every file first: [(slug, ParsedPage)]. Raises PageError naming file and line."""
    labels = _labels()
    pages, errors = [], []
    for path in map(Path, paths):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: cannot be read ({exc})")
            continue
        try:
            pages.append((make_slug(path.stem, "incident", 255), parse_page(text, labels)))
        except PageError as exc:
            errors.append(f"{path}, {exc}")
    if errors:
        raise PageError("\n".join(errors))
    return pages


def page_import(*, pages, summary="Imported from an incident page", progress=None):
    """Publish parsed pages, all or nothing. A page updates the incident with its slug.

    Returns a list of (slug, PublishResult). Once committed, sends `incidents_imported` with
    the incidents created or changed.
    """
    results = []
    taxonomy = Taxonomy()
    with transaction.atomic():
        names = [slug for slug, _page in pages]
        batch = ImportBatch.objects.create(
            source="page",
            file_name=(names[0] + (f" and {len(names) - 1} more" if len(names) > 1 else ""))[:255]
            if names
            else "",
        )
        for done, (slug, page) in enumerate(pages, start=1):
            incident = (
                Incident.objects.filter(slug=slug).select_related("current_revision", "merged_into").first()
            )
            if incident is not None and incident.merged_into is not None:
                raise PageError(
                    f"{slug}: this incident was merged into incident #{incident.merged_into.number} "
                    f"({incident.merged_into.slug}); name the page after that one to update it."
                )
            base = (
                incident.current_revision.document
                if incident is not None and incident.current_revision is not None
                else documents.empty_document()
            )
            try:
                outcome = incident_publish(
                    document=page_document(base, page, _dated_targets(incident) if incident else ()),
                    incident=incident,
                    summary=summary,
                    slug=slug,
                    taxonomy=taxonomy,
                    import_batch=batch,
                    origin=Origin.of_source("aiaaic", "page"),  # a page carries no date
                )
            except DocumentError as exc:
                raise PageError(f"{slug}: {problem_text(exc)}") from None
            results.append((slug, outcome))
            if progress:
                progress(done, len(pages))
        taxonomy.keep_spellings()
        import_batch_finish(
            batch,
            stopped=[],
            created=sum(outcome.created for _slug, outcome in results),
            updated=sum(outcome.changed and not outcome.created for _slug, outcome in results),
            incident_ids=[outcome.incident.pk for _slug, outcome in results if outcome.changed],
            source=SOURCE,
        )
    return results
