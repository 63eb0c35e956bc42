"""The incident document: the one canonical, versioned, serialisable form of an incident.

The importers produce it, a proposal is a change to it, a revision stores it, the
moderation diff compares two of them, the exports emit it and revert applies it.

A document is a plain JSON-able dict::

    {
      "schema": 1,
      "headline": "…",
      "type": "incident" | "issue" | "system" | "data" | "",
      "occurred": "2021-02" | "2019/2024" | "2023/.." | "",
      "released": "2022; 2023",
      "summary": "…",
      "narrative": "Markdown …",
      "external_id": "AIAAIC0563",
      "source_url": "https://…",
      "terms": {"country": ["China"], "sector": ["Govt - police"], …},
      "entities": {"deployer": ["Amazon"], "developer": […], "system": […]},
      "references": {"system": [{"url": …, "title": …, "publisher": …, "published": …}],
                     "legal": […], "research": […], "investigations": […], "news": […]},
    }

Terms and entities are named, not numbered, so a document reads on its own and survives
renames (an old name is an alias of the renamed term). `normalize` is the one validator.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from .models import Incident, IncidentEntity, Reference
from .periods import PeriodError, parse_partial_date, parse_period

SCHEMA_VERSION = 1
ROLES = [choice.value for choice in IncidentEntity.Role]
ROLE_LABELS = dict(IncidentEntity.Role.choices)
CATEGORIES = [choice.value for choice in Reference.Category]
CATEGORY_LABELS = dict(Reference.Category.choices)
TYPES = [choice.value for choice in Incident.Type]

# The fields that hold one value, in page order.
SCALAR_PATHS = [
    "headline",
    "type",
    "occurred",
    "released",
    "summary",
    "narrative",
    "external_id",
    "source_url",
]
FIELD_LABELS = {
    "headline": "Headline",
    "type": "Type",
    "occurred": "Occurred",
    "released": "Released",
    "summary": "Summary",
    "narrative": "Narrative",
    "external_id": "External id",
    "source_url": "Source",
}
MAX_LENGTHS = {
    "headline": 300,
    "released": 100,
    "summary": 5_000,
    "narrative": 100_000,
    "external_id": 40,
    "source_url": 500,
    "name": 500,
    "url": 2000,
    "title": 500,
    "publisher": 200,
}

_url_validator = URLValidator(schemes=["http", "https"])


class DocumentError(ValidationError):
    """A document that breaks a rule; `message_dict` maps a field path to its messages."""


@functools.lru_cache(maxsize=100_000)
def fold(name):
    """The key that variant spellings of one name share: 'Open AI', 'OpenAI ', 'openai'."""
    text = unicodedata.normalize("NFKD", name).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    key = "".join(ch for ch in text if ch.isalnum() or ch in "+#")
    return key or " ".join(text.split())


def clean_name(name):
    """A name as it is kept: trimmed, inner whitespace collapsed."""
    return " ".join(str(name).split())


def split_values(cell, separators=";"):
    """The values of a multi-valued cell, trimmed, blanks dropped."""
    parts = re.split("|".join(map(re.escape, separators)), cell or "")
    return [clean_name(part) for part in parts if clean_name(part)]


def trim_url(url):
    """Drop punctuation after an address ('(https://…).') but not its own brackets ('…/X_(y)')."""
    while url and (url[-1] in ".,;" or (url[-1] == ")" and url.count(")") > url.count("("))):
        url = url[:-1]
    return url


def empty_document():
    return {
        "schema": SCHEMA_VERSION,
        "headline": "",
        "type": "",
        "occurred": "",
        "released": "",
        "summary": "",
        "narrative": "",
        "external_id": "",
        "source_url": "",
        "terms": {},
        "entities": {role: [] for role in ROLES},
        "references": {category: [] for category in CATEGORIES},
    }


def _unique_names(values, path, errors):
    names, seen = [], set()
    if not isinstance(values, list):
        errors.setdefault(path, []).append("Must be a list of names.")
        return names
    for value in values:
        name = clean_name(value) if isinstance(value, str) else ""
        if not name:
            continue
        if len(name) > MAX_LENGTHS["name"]:
            errors.setdefault(path, []).append(
                f"{name[:40]!r}… is longer than {MAX_LENGTHS['name']} characters."
            )
            continue
        if fold(name) not in seen:
            seen.add(fold(name))
            names.append(name)
    return names


def _normalize_reference(raw, path, errors):
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, dict):
        errors.setdefault(path, []).append("Must be a reference with a URL.")
        return None
    reference = {
        "url": str(raw.get("url") or "").strip(),
        "title": clean_name(raw.get("title") or ""),
        "publisher": clean_name(raw.get("publisher") or ""),
        "published": str(raw.get("published") or "").strip(),
    }
    try:
        _url_validator(reference["url"])
    except ValidationError:
        errors.setdefault(path, []).append(f"{reference['url'][:80]!r} is not a valid web address.")
        return None
    for field in ("url", "title", "publisher"):
        if len(reference[field]) > MAX_LENGTHS[field]:
            errors.setdefault(path, []).append(f"The {field} is longer than {MAX_LENGTHS[field]} characters.")
            return None
    if reference["published"]:
        try:
            reference["published"] = parse_partial_date(reference["published"]).iso()
        except PeriodError as exc:
            errors.setdefault(path, []).append(f"Publication date: {exc}.")
            return None
    return reference


def normalize(document, vocabularies=None):
    """Validate a document and return its canonical form. Raises DocumentError.

    `vocabularies`, when given, is the set of known vocabulary slugs.
    """
    if not isinstance(document, dict):
        raise DocumentError({"": ["An incident document must be a mapping."]})
    errors = {}
    schema = document.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        errors["schema"] = [f"Unknown document schema {schema!r}; this site reads {SCHEMA_VERSION}."]
    clean = empty_document()
    for field in ("headline", "released", "summary", "external_id", "source_url"):
        value = document.get(field) or ""
        clean[field] = " ".join(str(value).split()) if field != "summary" else str(value).strip()
    clean["narrative"] = str(document.get("narrative") or "").replace("\r\n", "\n").strip()
    for field, limit in MAX_LENGTHS.items():
        if field in clean and len(clean[field]) > limit:
            errors.setdefault(field, []).append(f"Must be at most {limit} characters.")
    if not clean["headline"]:
        errors.setdefault("headline", []).append("A headline is required.")
    kind = str(document.get("type") or "").strip().lower()
    if kind and kind not in TYPES:
        errors["type"] = [f"{kind!r} is not a type; use one of {', '.join(TYPES)}."]
    clean["type"] = kind
    try:
        period = parse_period(str(document.get("occurred") or ""))
        clean["occurred"] = period.iso() if period else ""
    except PeriodError as exc:
        errors["occurred"] = [f"{str(exc).capitalize()}."]
    if clean["source_url"]:
        try:
            _url_validator(clean["source_url"])
        except ValidationError:
            errors["source_url"] = ["Not a valid web address."]

    terms = document.get("terms") or {}
    if not isinstance(terms, dict):
        errors["terms"] = ["Must map vocabularies to lists of terms."]
        terms = {}
    for vocabulary, names in terms.items():
        if vocabularies is not None and vocabulary not in vocabularies:
            errors[f"terms.{vocabulary}"] = [f"There is no vocabulary {vocabulary!r}."]
            continue
        names = _unique_names(names, f"terms.{vocabulary}", errors)
        if names:
            clean["terms"][vocabulary] = names
    clean["terms"] = dict(sorted(clean["terms"].items()))

    entities = document.get("entities") or {}
    if not isinstance(entities, dict) or set(entities) - set(ROLES):
        errors["entities"] = [f"Entities are listed by role: {', '.join(ROLES)}."]
        entities = {}
    for role in ROLES:
        clean["entities"][role] = _unique_names(entities.get(role) or [], f"entities.{role}", errors)

    references = document.get("references") or {}
    if not isinstance(references, dict) or set(references) - set(CATEGORIES):
        errors["references"] = [f"References are listed by category: {', '.join(CATEGORIES)}."]
        references = {}
    seen_urls = set()
    for category in CATEGORIES:
        for raw in references.get(category) or []:
            reference = _normalize_reference(raw, f"references.{category}", errors)
            if reference and reference["url"] not in seen_urls:
                seen_urls.add(reference["url"])
                clean["references"][category].append(reference)

    if errors:
        raise DocumentError(errors)
    return clean


def document_from_incident(incident):
    """The document of an incident as its rows stand now.

    Expects `incident_terms__term__vocabulary`, `incident_entities__entity` and
    `references` prefetched when called in a loop.
    """
    document = empty_document()
    for field in ("headline", "type", "occurred", "released", "summary", "narrative"):
        document[field] = getattr(incident, field)
    document["external_id"] = incident.external_id or ""
    document["source_url"] = incident.source_url
    for link in incident.incident_terms.all():
        document["terms"].setdefault(link.term.vocabulary.slug, []).append(link.term.name)
    document["terms"] = dict(sorted(document["terms"].items()))
    for link in incident.incident_entities.all():
        document["entities"][link.role].append(link.entity.name)
    for reference in incident.references.all():
        document["references"][reference.category].append(
            {
                "url": reference.url,
                "title": reference.title,
                "publisher": reference.publisher,
                "published": reference.published,
            }
        )
    return document


@dataclass
class Change:
    """One field that differs between two documents."""

    path: str  # "headline", "terms.country", "entities.deployer", "references.news"
    label: str
    old: object
    new: object
    added: list
    removed: list

    @property
    def is_list(self):
        return isinstance(self.old, list)


def diff(old, new, vocabulary_labels=None):
    """The changes from document `old` to document `new`, in page order.

    `vocabulary_labels` maps vocabulary slugs to labels, in the order to show them.
    """
    vocabulary_labels = vocabulary_labels or {}
    old = old or empty_document()
    changes = []
    for field in SCALAR_PATHS:
        if old.get(field, "") != new.get(field, ""):
            changes.append(Change(field, FIELD_LABELS[field], old.get(field, ""), new.get(field, ""), [], []))

    def list_change(path, label, before, after, key=lambda value: value):
        if before == after:
            return
        before_keys = {key(value) for value in before}
        after_keys = {key(value) for value in after}
        changes.append(
            Change(
                path,
                label,
                before,
                after,
                [value for value in after if key(value) not in before_keys],
                [value for value in before if key(value) not in after_keys],
            )
        )

    for role in ROLES:
        list_change(
            f"entities.{role}",
            ROLE_LABELS[role],
            old["entities"].get(role, []),
            new["entities"].get(role, []),
        )
    present = set(old["terms"]) | set(new["terms"])
    ordered = [slug for slug in vocabulary_labels if slug in present]
    for vocabulary in ordered + sorted(present - set(ordered)):
        list_change(
            f"terms.{vocabulary}",
            vocabulary_labels.get(vocabulary, vocabulary),
            old["terms"].get(vocabulary, []),
            new["terms"].get(vocabulary, []),
        )
    for category in CATEGORIES:
        list_change(
            f"references.{category}",
            CATEGORY_LABELS[category],
            old["references"].get(category, []),
            new["references"].get(category, []),
            key=lambda reference: reference["url"],
        )
    return changes


def change_summary(changes):
    """A short line naming what changed: 'Headline, Country, News references'."""
    if not changes:
        return "No changes"
    return "Changed " + ", ".join(change.label for change in changes)


# Paths, three-way comparison and merging -------------------------------------------------


def document_paths(*docs):
    """Every field path that any of the documents has, in page order."""
    vocabularies = sorted({slug for doc in docs for slug in doc["terms"]})
    return (
        SCALAR_PATHS
        + [f"entities.{role}" for role in ROLES]
        + [f"terms.{slug}" for slug in vocabularies]
        + [f"references.{category}" for category in CATEGORIES]
    )


def get_path(document, path):
    group, _, name = path.partition(".")
    if not name:
        return document.get(group, "")
    return document[group].get(name, [])


def set_path(document, path, value):
    """A copy of the document with one field replaced."""
    document = {**document, "terms": dict(document["terms"]), "entities": dict(document["entities"])}
    document["references"] = dict(document["references"])
    group, _, name = path.partition(".")
    if not name:
        document[group] = value
    elif group == "terms" and not value:
        document["terms"].pop(name, None)
    else:
        document[group][name] = value
    return document


@dataclass
class FieldMerge:
    """One field seen three ways: where the proposal started, the incident now, the proposal."""

    path: str
    base: object
    current: object
    proposed: object
    label: str = ""

    @property
    def proposal_changed(self):
        return self.proposed != self.base

    @property
    def incident_changed(self):
        return self.current != self.base

    @property
    def conflict(self):
        """Both sides changed the field, differently: an editor must choose."""
        return self.proposal_changed and self.incident_changed and self.proposed != self.current

    @property
    def default(self):
        """The side to keep when there is no conflict."""
        if self.conflict:
            return None
        return "proposed" if self.proposal_changed else "current"

    @property
    def is_list(self):
        return isinstance(self.proposed, list) or isinstance(self.current, list)

    @property
    def sides(self):
        return [("base", self.base), ("current", self.current), ("proposed", self.proposed)]

    def value(self, side):
        return {"base": self.base, "current": self.current, "proposed": self.proposed}[side]


def path_label(path, vocabulary_labels=None):
    """How a field path is named to people: 'Headline', 'Country', 'News, commentary, analysis'."""
    group, _, name = path.partition(".")
    if not name:
        return FIELD_LABELS.get(group, group)
    if group == "entities":
        return ROLE_LABELS.get(name, name)
    if group == "references":
        return CATEGORY_LABELS.get(name, name)
    return (vocabulary_labels or {}).get(name, name)


def three_way(base, current, proposed, vocabulary_labels=None):
    """The fields either side changed since `base`, as FieldMerge rows in page order."""
    rows = []
    for path in document_paths(base, current, proposed):
        row = FieldMerge(path, get_path(base, path), get_path(current, path), get_path(proposed, path))
        row.label = path_label(path, vocabulary_labels)
        if row.proposal_changed or row.incident_changed:
            rows.append(row)
    return rows


def resolve(current, rows, choices):
    """`current` with each changed field taken from the side chosen for it ({path: side})."""
    document = current
    for row in rows:
        side = choices.get(row.path) or row.default
        if side is None:
            raise DocumentError({row.path: ["Choose which version to keep."]})
        document = set_path(document, row.path, row.value(side))
    return document


def merge(target, report):
    """`target` with a report's facts added: its terms, entities and references join the
    target's; a field the target leaves blank takes the report's value."""
    merged = normalize(target)
    report = normalize(report)
    for field in SCALAR_PATHS:
        if not merged[field] and report[field]:
            merged[field] = report[field]
    for role in ROLES:
        merged["entities"][role] = merged["entities"][role] + report["entities"][role]
    for slug, names in report["terms"].items():
        merged["terms"][slug] = merged["terms"].get(slug, []) + names
    for category in CATEGORIES:
        merged["references"][category] = merged["references"][category] + report["references"][category]
    return normalize(merged)
