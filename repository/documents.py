"""The incident document: the one canonical, versioned, serialisable form of an incident.

The importers produce it, a proposal is a change to it, a revision stores it, the
moderation diff compares two of them, the exports emit it and revert applies it.

A document is a plain JSON-able dict::

    {
      "schema": 2,
      "headline": "…",
      "type": "incident" | "issue" | "system" | "data" | "",
      "occurred": "2021-02" | "2019/2024" | "2023/.." | "",
      "released": "2022; 2023",
      "summary": "…",
      "narrative": "Markdown …",
      "source_url": "https://…",
      "external_ids": [{"scheme": "aiaaic", "value": "AIAAIC0563"}, {"scheme": "aiid", "value": "12"}],
      "terms": {"country": ["China"], "sector": ["Govt - police"], …},
      "entities": {"deployer": ["Amazon"], "developer": […], "system": […], "harmed": […]},
      "placeholders": {"deployer": "Unclear/unknown", "country": "Multiple"},
      "references": {"system": [{"url": …, "title": …, "publisher": …, "published": …}],
                     "legal": […], "research": […], "investigations": […], "news": […]},
      "extra": {"Column a source had": "its value"},
      "provenance": {"origins": [{"kind": "editor", "on": "2026-05-03"},
                                 {"kind": "source", "source": "aiaaic", "as_of": "2026-02"}],
                     "values": {"headline": 0, "terms.country": {"kenya": 0}}, "rest": 1},
    }

`external_ids` are the incident's ids in other databases (the same value may name two
incidents when a source reused it). `placeholders` record, per role or vocabulary (its slug),
what the source wrote where it names no one thing ("Unclear/unknown", "Multiple", "N/A"), in
its own words: never an entity or a term (`is_placeholder` says which words these are).
`extra` keeps the values of source columns the site has no field for, by column title.
`provenance` (schema 3, optional) says where each value came from, beside the values, each
distinct origin stored once: see `repository.provenance`. The diff, the three-way merge,
change summaries and the duplicate checks compare values only and never read it. Schema 1 documents (one `external_id`) and
schema 2 documents (no provenance: every value "recorded before provenance") are read and
upgraded by `upgrade` and `normalize`.

Terms and entities are named, not numbered, so a document reads on its own and survives
renames (an old name is an alias of the renamed term). `normalize` is the one validator.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from . import provenance
from .addresses import address_key
from .models import Incident, IncidentEntity, Reference
from .periods import PeriodError, parse_partial_date, parse_period

SCHEMA_VERSION = 3
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
    "source_url",
]
# Fields that hold a structure, compared and merged whole.
STRUCTURE_PATHS = ["external_ids", "placeholders", "extra"]
FIELD_LABELS = {
    "headline": "Headline",
    "type": "Type",
    "occurred": "Occurred",
    "released": "Released",
    "summary": "Summary",
    "narrative": "Narrative",
    "source_url": "Source",
    "external_ids": "External ids",
    "placeholders": "Placeholders",
    "extra": "Other source columns",
}
MAX_LENGTHS = {
    "headline": 300,
    "released": 100,
    "summary": 5_000,
    "narrative": 100_000,
    "external_id": 40,
    "scheme": 20,
    "source_url": 500,
    "name": 500,
    "url": 2000,
    "title": 500,
    "publisher": 200,
}

_url_validator = URLValidator(schemes=["http", "https"])


@functools.lru_cache(maxsize=65_536)
def is_web_address(url):
    """Whether `url` is an http(s) address (Django's URLValidator, a long regular expression:
    remembered, since an import meets each of its sources' addresses several times)."""
    try:
        _url_validator(url)
    except ValidationError:
        return False
    return True


class DocumentError(ValidationError):
    """A document that breaks a rule; `message_dict` maps a field path to its messages."""


@functools.lru_cache(maxsize=100_000)
def fold(name):
    """The key that variant spellings of one name share: 'Open AI', 'OpenAI ', 'openai'."""
    text = unicodedata.normalize("NFKD", name).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    key = "".join(ch for ch in text if ch.isalnum() or ch in "+#")
    return key or " ".join(text.split())


def fold_text(text):
    """Text in lower case without accents, spaces kept: for comparing words."""
    text = unicodedata.normalize("NFKD", str(text)).casefold()
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def clean_name(name):
    """A name as it is kept: trimmed, inner whitespace collapsed."""
    return " ".join(str(name).split())


def shorten(text, limit):
    """`text` cut at a word so that it holds at most `limit` characters, ending with "…"; as
    it is when it is not longer."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip() + "…"


@functools.lru_cache(maxsize=16)
def _splitter(separators):
    return re.compile("|".join(map(re.escape, separators)))


def split_values(cell, separators=";"):
    """The values of a multi-valued cell, trimmed, blanks dropped."""
    return [name for name in map(clean_name, _splitter(separators).split(cell or "")) if name]


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
        "source_url": "",
        "external_ids": [],
        "terms": {},
        "entities": {role: [] for role in ROLES},
        "placeholders": {},
        "references": {category: [] for category in CATEGORIES},
        "extra": {},
    }


# External ids ----------------------------------------------------------------------------

AIAAIC_ID = re.compile(r"^AIAAIC\s*0*(\d+)$", re.IGNORECASE)
# scheme -> (label, address of the record or None). Other schemes are kept as they come.
ID_SCHEMES = {
    "aiaaic": ("AIAAIC", None),
    "aiid": ("AI Incident Database", "https://incidentdatabase.ai/cite/{value}/"),
    "oecd": ("OECD AI Incidents Monitor", None),
}
SCHEME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


def aiaaic_id(value):
    """'AIAAIC0563' for any spelling of an AIAAIC id ('aiaaic 563', 'AIAAIC00563'), or ''."""
    match = AIAAIC_ID.match(str(value or "").strip())
    return f"AIAAIC{int(match[1]):04d}" if match else ""


def external_id_values(document, scheme):
    """The values of one scheme among a document's external ids."""
    return [item["value"] for item in document.get("external_ids", []) if item["scheme"] == scheme]


def external_id_label(scheme):
    return ID_SCHEMES.get(scheme, (scheme.upper(), None))[0]


def external_id_url(scheme, value):
    template = ID_SCHEMES.get(scheme, (None, None))[1]
    return template.format(value=value) if template else ""


def _normalize_external_ids(raw, errors):
    ids, seen = [], set()
    if not isinstance(raw, list):
        errors.setdefault("external_ids", []).append("Must be a list of {scheme, value}.")
        return ids
    for item in raw:
        if not isinstance(item, dict):
            errors.setdefault("external_ids", []).append("Each external id is a {scheme, value}.")
            continue
        scheme = str(item.get("scheme") or "").strip().lower()
        value = " ".join(str(item.get("value") or "").split())
        if scheme == "aiaaic" and aiaaic_id(value):
            value = aiaaic_id(value)
        if not value:
            continue
        if not SCHEME_PATTERN.match(scheme):
            errors.setdefault("external_ids", []).append(f"{scheme!r} is not an id scheme (a-z, 0-9, -).")
            continue
        if len(value) > MAX_LENGTHS["external_id"]:
            errors.setdefault("external_ids", []).append(
                f"{value[:40]!r} is longer than {MAX_LENGTHS['external_id']} characters."
            )
            continue
        if (scheme, value) not in seen:
            seen.add((scheme, value))
            ids.append({"scheme": scheme, "value": value})
    return ids


def _normalize_text_map(raw, path, errors, keys=None, limit=5_000):
    """A {name: text} map with blank values dropped; `keys` limits the names allowed."""
    if not isinstance(raw, dict):
        errors.setdefault(path, []).append("Must map names to text.")
        return {}
    clean = {}
    for key, value in raw.items():
        key = " ".join(str(key).split())
        value = str(value if value is not None else "").strip()
        if not key or not value:
            continue
        if keys is not None and key not in keys:
            errors.setdefault(path, []).append(f"{key!r} is not one of {', '.join(keys)}.")
            continue
        if len(key) > 200 or len(value) > limit:
            errors.setdefault(path, []).append(f"The value of {key[:40]!r} is too long.")
            continue
        clean[key] = value
    return dict(sorted(clean.items())) if keys is None else {k: clean[k] for k in keys if k in clean}


def upgrade(document):
    """An older document in this schema's shape: schema 1's one external_id became a list
    (schema 2); schema 2 carried no provenance (schema 3 adds it, optional: a value without
    an entry was recorded before provenance); schema 3's provenance was first stored verbose
    (an origin per path and item), now packed (`provenance.pack`). Anything else is returned
    as it is."""
    if not isinstance(document, dict):
        return document
    version = document.get("schema", 1)
    if version == 1 and "external_ids" not in document:
        document = {**document, "schema": SCHEMA_VERSION}
        old = str(document.pop("external_id", "") or "").strip()
        document["external_ids"] = (
            [{"scheme": "aiaaic" if aiaaic_id(old) else "other", "value": old}] if old else []
        )
        return document
    if version in (1, 2):
        return {**document, "schema": SCHEMA_VERSION}
    raw = document.get("provenance")
    if raw and isinstance(raw, dict) and not provenance.is_packed(raw):
        # Schema 3's first, verbose shape (an origin per path and item): stored packed now.
        try:
            return {**document, "provenance": provenance.pack(document, raw)}
        except (AttributeError, KeyError, TypeError, ValueError):
            pass  # values not in shape: kept as they are, for `normalize` to say what is wrong
    return document


def values_of(document):
    """A document without its provenance, in this schema's shape: what the diff compares."""
    document = upgrade(document)
    if isinstance(document, dict) and "provenance" in document:
        document = {key: value for key, value in document.items() if key != "provenance"}
    return document


def same_values(first, second):
    """True when two documents hold the same values (their provenance aside)."""
    if first is None or second is None:
        return first is second
    return values_of(first) == values_of(second)


def published(document):
    """A stored document as the site publishes it (document.json, the API, the snapshots): in
    this schema's shape, with its provenance map when any of its values has an origin (the
    canonical form leaves an empty map out)."""
    return upgrade(document)


# What sources write where they do not know who: a record that the role is unknown, not an entity.
PLACEHOLDER_KEYS = {
    "unknown",
    "unclear",
    "unclearunknown",
    "unknownunclear",
    "multiple",
    "various",
    "na",
    "none",
    "notknown",
    "undisclosed",
    "unnamed",
    "tbc",
}


def is_placeholder(name):
    return fold(name) in PLACEHOLDER_KEYS


def _add_placeholders(placeholders, key, found):
    """Add the placeholders `found` among a role's or a vocabulary's names to what
    `placeholders[key]` says already, each wording once."""
    parts = {}
    for part in split_values(str(placeholders.get(key) or "")) + found:
        parts.setdefault(fold(part), part)
    placeholders[key] = "; ".join(parts.values())


VOCABULARY_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")


def _normalize_placeholders(raw, errors, vocabularies):
    """{role or vocabulary slug: what the source wrote}: the roles first, in their order, then
    the vocabularies by slug. A vocabulary must be one of `vocabularies` when they are given."""
    if not isinstance(raw, dict):
        errors.setdefault("placeholders", []).append("Must map roles and vocabularies to text.")
        return {}
    known = set(ROLES) | (set(vocabularies) if vocabularies is not None else set())
    clean = {}
    for key, value in raw.items():
        key = " ".join(str(key).split())
        value = str(value if value is not None else "").strip()
        if not key or not value:
            continue
        if key not in known and (vocabularies is not None or not VOCABULARY_SLUG.match(key)):
            errors.setdefault("placeholders", []).append(f"{key!r} is neither a role nor a vocabulary.")
            continue
        if len(value) > 200:
            errors.setdefault("placeholders", []).append(f"The value of {key[:40]!r} is too long.")
            continue
        clean[key] = value
    roles = {role: clean[role] for role in ROLES if role in clean}
    return roles | {key: clean[key] for key in sorted(clean) if key not in roles}


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
    if not is_web_address(reference["url"]):
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


def reference_key(reference):
    """What makes two references one source: the address as the duplicate check compares it
    (no scheme, `www.`, tracking parameters, fragment or trailing slash)."""
    return address_key(reference["url"]) or reference["url"]


def _fill_blanks(reference, other):
    """Give `reference` the title, publisher and date `other` has where its own are blank."""
    for field in ("title", "publisher", "published"):
        if not reference.get(field) and other.get(field):
            reference[field] = other[field]


def normalize(document, vocabularies=None):
    """Validate a document and return its canonical form. Raises DocumentError.

    `vocabularies`, when given, is the set of known vocabulary slugs.
    """
    if not isinstance(document, dict):
        raise DocumentError({"": ["An incident document must be a mapping."]})
    given_provenance = document.get("provenance")  # checked as given, before `upgrade` packs it
    document = upgrade(document)
    errors = {}
    schema = document.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        errors["schema"] = [f"Unknown document schema {schema!r}; this site reads {SCHEMA_VERSION}."]
    clean = empty_document()
    for field in ("headline", "released", "summary", "source_url"):
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
    if clean["source_url"] and not is_web_address(clean["source_url"]):
        errors["source_url"] = ["Not a valid web address."]

    terms = document.get("terms") or {}
    if not isinstance(terms, dict):
        errors["terms"] = ["Must map vocabularies to lists of terms."]
        terms = {}
    placeholders = document.get("placeholders") or {}
    placeholders = dict(placeholders) if isinstance(placeholders, dict) else placeholders
    for vocabulary, names in terms.items():
        if vocabularies is not None and vocabulary not in vocabularies:
            errors[f"terms.{vocabulary}"] = [f"There is no vocabulary {vocabulary!r}."]
            continue
        names = _unique_names(names, f"terms.{vocabulary}", errors)
        found = [name for name in names if is_placeholder(name)]
        if found and isinstance(placeholders, dict):
            names = [name for name in names if name not in found]
            _add_placeholders(placeholders, vocabulary, found)
        if names:
            clean["terms"][vocabulary] = names
    clean["terms"] = dict(sorted(clean["terms"].items()))

    entities = document.get("entities") or {}
    if not isinstance(entities, dict) or set(entities) - set(ROLES):
        errors["entities"] = [f"Entities are listed by role: {', '.join(ROLES)}."]
        entities = {}
    for role in ROLES:
        clean["entities"][role] = _unique_names(entities.get(role) or [], f"entities.{role}", errors)
    if isinstance(placeholders, dict):
        for role in ROLES:
            found = [name for name in clean["entities"][role] if is_placeholder(name)]
            if found:
                clean["entities"][role] = [name for name in clean["entities"][role] if name not in found]
                _add_placeholders(placeholders, role, found)

    clean["external_ids"] = _normalize_external_ids(document.get("external_ids") or [], errors)
    clean["placeholders"] = _normalize_placeholders(placeholders, errors, vocabularies)
    clean["extra"] = _normalize_text_map(document.get("extra") or {}, "extra", errors)

    references = document.get("references") or {}
    if not isinstance(references, dict) or set(references) - set(CATEGORIES):
        errors["references"] = [f"References are listed by category: {', '.join(CATEGORIES)}."]
        references = {}
    seen = {}  # one source once, by its normalised address: the first spelling is kept
    for category in CATEGORIES:
        for raw in references.get(category) or []:
            reference = _normalize_reference(raw, f"references.{category}", errors)
            if not reference:
                continue
            key = reference_key(reference)
            if key in seen:
                _fill_blanks(seen[key], reference)
                continue
            seen[key] = reference
            clean["references"][category].append(reference)

    expanded = _normalize_provenance(given_provenance, clean, errors)
    if expanded:
        clean["provenance"] = provenance.pack(clean, expanded)
    if errors:
        raise DocumentError(errors)
    return clean


def is_list_path(path):
    """True for the paths whose value is a list of items (each with its own provenance)."""
    return path == "external_ids" or path.partition(".")[0] in ("terms", "entities", "references")


def provenance_item_key(path, item):
    """The text that names one item of a list field in a provenance map: its identity
    (`item_identity`): a folded name, a reference's normalised address, 'scheme:value'."""
    if path == "external_ids":
        return f"{item['scheme']}:{item['value']}"
    return item_identity(path)(item)


def keyed_items(path, items):
    """{provenance item key: item} of a list field, the first item of a key kept."""
    keyed = {}
    for item in items:
        keyed.setdefault(provenance_item_key(path, item), item)
    return keyed


PROVENANCE_PATH = re.compile(
    r"^(headline|type|occurred|released|summary|narrative|source_url|external_ids|placeholders|extra"
    r"|entities\.[a-z]+|references\.[a-z]+|terms\.[A-Za-z0-9_-]+)$"
)


def _unpack_provenance(raw, document, errors):
    """A stored provenance map checked (its origins a list, `rest` and each path's entry a
    number of one, or a list path's an object mapping items to numbers) and expanded; None
    when it is not one."""
    origins, values = raw.get("origins"), raw.get("values")
    if (
        not {"origins", "values"} <= set(raw) <= {"origins", "values", "rest"}
        or not isinstance(origins, list)
        or not isinstance(values, dict)
    ):
        errors.setdefault("provenance", []).append("Must list the origins and map field paths to them.")
        return None

    def number(entry):
        return isinstance(entry, int) and not isinstance(entry, bool) and 0 <= entry < len(origins)

    if "rest" in raw and not number(raw["rest"]):
        errors.setdefault("provenance", []).append("rest: its origin is not in the list.")
        return None

    for path, entry in values.items():
        if isinstance(entry, dict) and is_list_path(str(path)):
            if not all(number(item) for item in entry.values()):
                errors.setdefault("provenance", []).append(f"{path}: an item's origin is not in the list.")
                return None
        elif not number(entry):
            errors.setdefault("provenance", []).append(f"{str(path)[:60]}: its origin is not in the list.")
            return None
    for origin in origins:
        if problem := provenance.check_origin(origin):
            errors.setdefault("provenance", []).append(problem)
            return None
    return provenance.unpack(raw, document)


def _normalize_provenance(raw, document, errors):
    """A provenance map (stored, or in schema 3's first, verbose shape) checked and expanded:
    known paths, an origin per field, an origin per list item."""
    if raw is None or raw == {}:
        return {}
    if not isinstance(raw, dict):
        errors.setdefault("provenance", []).append("Must map field paths to origins.")
        return {}
    if provenance.is_packed(raw):
        raw = _unpack_provenance(raw, document, errors)
        if raw is None:
            return {}
    clean = {}
    for path, value in raw.items():
        if not isinstance(path, str) or not PROVENANCE_PATH.match(path):
            errors.setdefault("provenance", []).append(f"{str(path)[:60]!r} is not a field path.")
            continue
        if is_list_path(path):
            if not isinstance(value, dict) or "kind" in value:
                errors.setdefault("provenance", []).append(f"{path}: must map its items to origins.")
                continue
            items = {}
            for key, origin in value.items():
                problem = provenance.check_origin(origin)
                if problem:
                    errors.setdefault("provenance", []).append(f"{path}: {problem}")
                elif key:
                    items[str(key)] = dict(origin)
            if items:
                clean[path] = items
        else:
            problem = provenance.check_origin(value)
            if problem:
                errors.setdefault("provenance", []).append(f"{path}: {problem}")
            else:
                clean[path] = dict(value)
    return clean


def document_from_incident(incident):
    """The document of an incident as its rows stand now.

    Expects `incident_terms__term__vocabulary`, `incident_entities__entity` and
    `references` prefetched when called in a loop.
    """
    document = empty_document()
    for field in ("headline", "type", "occurred", "released", "summary", "narrative"):
        document[field] = getattr(incident, field)
    document["source_url"] = incident.source_url
    document["external_ids"] = [
        {"scheme": item.scheme, "value": item.value} for item in incident.external_ids.all()
    ]
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

    list_change(
        "external_ids",
        FIELD_LABELS["external_ids"],
        old.get("external_ids", []),
        new.get("external_ids", []),
        key=lambda item: (item["scheme"], item["value"]),
    )
    for field in ("placeholders", "extra"):
        if old.get(field, {}) != new.get(field, {}):
            changes.append(Change(field, FIELD_LABELS[field], old.get(field, {}), new.get(field, {}), [], []))
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
        + STRUCTURE_PATHS
        + [f"entities.{role}" for role in ROLES]
        + [f"terms.{slug}" for slug in vocabularies]
        + [f"references.{category}" for category in CATEGORIES]
    )


def get_path(document, path):
    group, _, name = path.partition(".")
    if not name:
        return document.get(
            group, {} if group in ("placeholders", "extra") else [] if group == "external_ids" else ""
        )
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


def item_identity(path):
    """What makes two items of a list field the same item: a reference's normalised address,
    an external id, a folded name. (Callers that know the taxonomy pass their own, which
    reads a name through its aliases.)"""
    group = path.partition(".")[0]
    if group == "references":
        return reference_key
    if group == "external_ids":
        return lambda item: (item["scheme"], item["value"])
    return fold


def _keyed(items, key):
    """{key: item} in list order; a second item of one key fills the first one's blanks."""
    keyed = {}
    for item in items:
        k = key(item)
        if k in keyed:
            if isinstance(item, dict):
                keyed[k] = {**keyed[k]}
                _fill_blanks(keyed[k], item)
            continue
        keyed[k] = item
    return keyed


def _same_item(current, proposed):
    """An item both sides added: the incident's version, with blanks the proposal fills."""
    if isinstance(current, dict) and isinstance(proposed, dict):
        item = {**current}
        _fill_blanks(item, proposed)
        return item
    return current


@dataclass
class ListMerge:
    """A list field merged item by item: `merged` takes each item from the side that changed
    it (added, removed or edited); `conflicts` are the items both sides changed differently
    (`merged` keeps the incident's version of them; `combined` the proposal's)."""

    merged: list
    combined: list
    conflicts: list


def merge_items(base, current, proposed, key):
    """Merge three versions of a list field, the items told apart by `key`."""
    b, c, p = _keyed(base, key), _keyed(current, key), _keyed(proposed, key)
    merged, combined, conflicts = [], [], []

    def both(item):
        merged.append(item)
        combined.append(item)

    for k, now in c.items():
        if k in p:
            if k not in b:
                both(_same_item(now, p[k]))
            elif p[k] in (b[k], now):
                both(now)
            elif now == b[k]:
                both(p[k])
            else:  # edited differently on both sides
                conflicts.append(p[k])
                merged.append(now)
                combined.append(p[k])
        elif k in b:  # the proposal removed it
            if now != b[k]:  # ... and the incident changed it meanwhile
                conflicts.append(now)
                merged.append(now)
        else:  # the incident added it
            both(now)
    for k, item in p.items():
        if k in c:
            continue
        if k not in b:  # the proposal added it
            both(item)
        elif item != b[k]:  # the incident removed what the proposal changed
            conflicts.append(item)
            combined.append(item)
    return ListMerge(merged, combined, conflicts)


@dataclass
class FieldMerge:
    """One field seen three ways: where the proposal started, the incident now, the proposal.

    A text field both sides changed, differently, is a conflict. A list field is merged item
    by item (`identity` tells its items apart): where the two sides changed different items,
    or the same item the same way, its "combined" value (the default) holds both sides'
    changes; only an item both changed differently, or one changed on one side and removed
    on the other, is a conflict.
    """

    path: str
    base: object
    current: object
    proposed: object
    label: str = ""
    identity: object = None

    @property
    def proposal_changed(self):
        return self.proposed != self.base

    @property
    def incident_changed(self):
        return self.current != self.base

    @property
    def changed_on_both_sides(self):
        return self.proposal_changed and self.incident_changed and self.proposed != self.current

    @functools.cached_property
    def items(self):
        """The item-by-item merge of a list field both sides changed (else None)."""
        if not (self.changed_on_both_sides and self.is_list):
            return None
        return merge_items(self.base, self.current, self.proposed, self.identity or item_identity(self.path))

    @property
    def conflict(self):
        """Both sides changed the field, or the same item of a list, differently: an editor
        must choose."""
        if not self.changed_on_both_sides:
            return False
        return bool(self.items.conflicts) if self.is_list else True

    @property
    def conflicts(self):
        """The items of a list both sides changed differently."""
        return self.items.conflicts if self.items is not None else []

    @property
    def merged(self):
        """What publishing keeps without a choice: the changed side's value, or for a list
        both sides changed, the items merged (conflicting ones as published now)."""
        if self.items is not None:
            return self.items.merged
        return self.proposed if self.proposal_changed else self.current

    @property
    def combined(self):
        """For a list both sides changed: both sides' changes, the proposal's version of any
        conflicting item; else None."""
        return self.items.combined if self.items is not None else None

    @property
    def default(self):
        """The side to keep when nothing is chosen: none for a conflict (the editor chooses),
        "combined" for a list both sides changed, else the side that changed."""
        if self.conflict:
            return None
        if self.items is not None:
            return "combined"
        return "proposed" if self.proposal_changed else "current"

    @property
    def is_list(self):
        return isinstance(self.proposed, list) or isinstance(self.current, list)

    @property
    def sides(self):
        return [("base", self.base), ("current", self.current), ("proposed", self.proposed)]

    def value(self, side):
        if side == "combined":
            return self.combined
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


def three_way(base, current, proposed, vocabulary_labels=None, identity=None):
    """The fields either side changed since `base`, as FieldMerge rows in page order.

    `identity(path)`, when given, returns the function that tells a list's items apart
    (default: `item_identity`)."""
    rows = []
    for path in document_paths(base, current, proposed):
        row = FieldMerge(path, get_path(base, path), get_path(current, path), get_path(proposed, path))
        row.label = path_label(path, vocabulary_labels)
        row.identity = identity(path) if identity else None
        if row.proposal_changed or row.incident_changed:
            rows.append(row)
    return rows


def has_conflicts(rows):
    return any(row.conflict for row in rows)


def resolve(current, rows, choices):
    """`current` with each changed field taken from the side chosen for it ({path: side}); a
    field with no choice takes its default (the merged value)."""
    document = current
    for row in rows:
        side = choices.get(row.path) or row.default
        if side == "combined" and row.combined is None:
            side = None
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
    merged["external_ids"] = merged["external_ids"] + report["external_ids"]
    merged["placeholders"] = {**report["placeholders"], **merged["placeholders"]}
    merged["extra"] = {**report["extra"], **merged["extra"]}
    for role in ROLES:
        merged["entities"][role] = merged["entities"][role] + report["entities"][role]
    for slug, names in report["terms"].items():
        merged["terms"][slug] = merged["terms"].get(slug, []) + names
    for category in CATEGORIES:
        merged["references"][category] = merged["references"][category] + report["references"][category]
    return normalize(merged)
