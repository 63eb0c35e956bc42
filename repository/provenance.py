"""Where each value of an incident came from.

A document (schema 3) may carry a `provenance` map beside its values. It stores each distinct
origin once, in `origins`, and says which one each value came from by its number there:
`rest`, when every value the document holds has an origin, is the number of the one most of
them share; `values` gives the others, keyed by the paths the three-way merge uses
(`documents.document_paths`): a field's path ("headline", "placeholders") maps to one number;
a list's path ("terms.country", "references.news", "external_ids") maps to one number when
all its items share it, else each of its items, by the item's identity
(`documents.provenance_item_key`), to one (an item it does not name takes `rest`)::

    "provenance": {
      "origins": [{"kind": "editor", "on": "2026-05-03"},
                  {"kind": "source", "source": "aiaaic", "form": "export", "as_of": "2026-02"}],
      "values": {"headline": 0, "terms.country": {"kenya": 0}},
      "rest": 1
    }

Without `rest`, a value `values` does not name was recorded before provenance was kept.
The stored form is canonical (`pack`): origins numbered by first use (paths in page order,
items in the document's order), `rest` the most used (the first of equals), so that equal
provenance is equal JSON. The rest of the code reads and writes the expanded map (`expand`):
{field path: origin} and {list path: {item key: origin}}, origins as JSON (`Origin.as_json`).
`expand` also reads the first, verbose shape of schema 3 (that expanded map itself, stored as
it is), which `documents.upgrade` packs.

An origin says what set the value, never who: a source (its name, the form it came in, and the
date since which it has said so, when known), a contributor's proposal approved by an editor,
an editor's own change, taxonomy curation, or a merge, each with the day it was decided.

Publishing computes the map of each new revision (`compute`): a value that changed takes the
origin of the change; an unchanged one keeps its own; a removed one drops out.
"""

from dataclasses import dataclass

from django.utils import timezone

from . import documents
from .periods import PeriodError, parse_partial_date

KINDS = ("source", "proposal", "editor", "curation", "merge")
FORMS = ("export", "page", "snapshot", "file")
# How each source is named to readers.
SOURCE_NAMES = {"aiaaic": "AIAAIC", "aiid": "AI Incident Database"}
FORM_NAMES = {"export": "export", "page": "page", "snapshot": "snapshot", "file": "file"}
BEFORE_PROVENANCE = "recorded before provenance"


@dataclass(frozen=True)
class Origin:
    """What set a value: `kind` (KINDS); for a source, its name, the form it came in and the
    date since which it has said the value (`as_of`, ISO, possibly partial: '2026-02'; empty
    when the source carries no date); for a decision, the day it was taken (`on`, ISO)."""

    kind: str
    source: str = ""
    form: str = ""
    as_of: str = ""
    on: str = ""

    @classmethod
    def of_source(cls, source, form="export", as_of=""):
        return cls("source", source=source, form=form, as_of=str(as_of or ""))

    @classmethod
    def decision(cls, kind, on=None):
        """A proposal approved, an editor's change, a curation or a merge, on `on` (today)."""
        return cls(kind, on=(on or timezone.localdate()).isoformat())

    def as_json(self):
        data = {"kind": self.kind}
        for name in ("source", "form", "as_of", "on"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        return data

    @classmethod
    def from_json(cls, data):
        return cls(**{name: data.get(name, "") for name in ("kind", "source", "form", "as_of", "on")})


def check_origin(data):
    """The problem with an origin as stored, or '' when it is one."""
    if not isinstance(data, dict):
        return "An origin is an object with a kind."
    if set(data) - {"kind", "source", "form", "as_of", "on"}:
        return f"An origin has kind, source, form, as_of and on, not {sorted(set(data))!r}."
    if data.get("kind") not in KINDS:
        return f"{data.get('kind')!r} is not a kind of origin ({', '.join(KINDS)})."
    if not all(isinstance(value, str) for value in data.values()):
        return "An origin's parts are text."
    if data["kind"] == "source" and not documents.SCHEME_PATTERN.match(data.get("source", "")):
        return "An origin from a source names the source (a-z, 0-9, -)."
    if data.get("form") and data["form"] not in FORMS:
        return f"{data['form']!r} is not a form of source ({', '.join(FORMS)})."
    for name in ("as_of", "on"):
        if data.get(name):
            try:
                parse_partial_date(data[name])
            except PeriodError:
                return f"{name} must be an ISO date (2026, 2026-02 or 2026-02-01)."
    return ""


# The stored form ------------------------------------------------------------------------


def is_packed(raw):
    """True for a provenance map in the stored form ({"origins": […], "values": {…}[, "rest"]});
    the first, verbose shape keyed origins by path and has none of these keys."""
    return isinstance(raw, dict) and bool({"origins", "values", "rest"} & set(raw))


def _full(document):
    return {**documents.empty_document(), **(document or {})}


def expand(document, entries=None):
    """The provenance of a document (its stored form, or the first, verbose one) as the code
    reads it: {field path: origin} and {list path: {item key: origin}}, origins as JSON; {}
    when it has none. `entries` (`_entries` of the document) spares computing them again."""
    return unpack((document or {}).get("provenance"), document, entries)


def _number(origins, entry):
    """The origin numbered `entry` in `origins`, or None when there is none."""
    if isinstance(entry, int) and not isinstance(entry, bool) and 0 <= entry < len(origins):
        return origins[entry]
    return None


def unpack(raw, document, entries=None):
    """A provenance map (stored or verbose) expanded against the values of `document`, which
    say what items a list path that maps to one number holds, and what values `rest` covers.
    Entries pointing at no origin are left out (`documents.normalize` refuses them)."""
    if not isinstance(raw, dict) or not raw:
        return {}
    if not is_packed(raw):
        return raw
    origins = raw.get("origins") if isinstance(raw.get("origins"), list) else []
    values = raw.get("values") if isinstance(raw.get("values"), dict) else {}
    rest = _number(origins, raw.get("rest"))
    if entries is None and (
        rest is not None or any(not isinstance(entry, dict) for entry in values.values())
    ):
        entries = _entries(_full(document))

    expanded = {}
    for path, entry in values.items():
        if isinstance(entry, dict):
            items = {
                key: origins[number] for key, number in entry.items() if _number(origins, number) is not None
            }
        elif documents.is_list_path(path):
            found = _number(origins, entry)
            held = entries.get(path)
            items = dict.fromkeys(held, found) if found is not None and isinstance(held, dict) else {}
        else:
            if _number(origins, entry) is not None:
                expanded[path] = origins[entry]
            continue
        if items:
            expanded[path] = items
    if rest is not None:
        for path, value in entries.items():
            if isinstance(value, dict) and documents.is_list_path(path):
                if value:
                    given = expanded.get(path) or {}
                    expanded[path] = {key: given.get(key, rest) for key in value} | given
            elif _is_set(value) and path not in expanded:
                expanded[path] = rest
    return expanded


def pack(document, expanded):
    """The stored form of an expanded provenance map for `document` (its values): each
    distinct origin once, in `origins`, numbered by first use (paths in page order, items in
    the document's order); `rest`, when every value the document holds has an origin, the one
    most of them share; and in `values` the number of each other value's origin: a field's;
    a list's, when all its items share one; else its items' one by one. {} when the map is
    empty. Canonical (equal maps give equal JSON); entries for values the document does not
    hold come last, sorted."""
    if not expanded:
        return {}
    entries = _entries(_full(document))
    origins, numbers = [], {}

    def number(data):
        origin = Origin.from_json(data).as_json()
        key = tuple(origin.items())
        if key not in numbers:
            numbers[key] = len(origins)
            origins.append(origin)
        return numbers[key]

    # {path: number} for fields, {path: {item key: number}} for lists, in the canonical order.
    numbered, held_count, unknown = {}, {}, False
    paths = [path for path in entries if path in expanded]
    paths += sorted((path for path in expanded if path not in entries), key=str)
    for path in entries:
        if path not in expanded:
            value = entries[path]
            unknown = unknown or (bool(value) if documents.is_list_path(path) else _is_set(value))
    for path in paths:
        given = expanded[path]
        if not isinstance(given, dict):
            unknown = unknown or bool(entries.get(path))
            continue
        if not documents.is_list_path(path):
            numbered[path] = number(given)
            if _is_set(entries.get(path)):
                held_count[numbered[path]] = held_count.get(numbered[path], 0) + 1
            continue
        held = entries.get(path) if isinstance(entries.get(path), dict) else {}
        keys = [key for key in held if key in given]
        keys += sorted((key for key in given if key not in held), key=str)
        items = {key: number(given[key]) for key in keys if isinstance(given[key], dict)}
        unknown = unknown or any(key not in items for key in held)
        for key in held:
            if key in items:
                held_count[items[key]] = held_count.get(items[key], 0) + 1
        if items:
            numbered[path] = items
    if not numbered:
        return {}

    rest = None if unknown or not held_count else max(held_count, key=lambda n: (held_count[n], -n))
    values = {}
    for path, entry in numbered.items():
        if not isinstance(entry, dict):
            if entry != rest or not _is_set(entries.get(path)):
                values[path] = entry
            continue
        held = entries.get(path) if isinstance(entries.get(path), dict) else {}
        shared = set(entry.values())
        if len(shared) == 1 and list(entry) == list(held):
            if shared != {rest}:
                values[path] = shared.pop()
            continue
        others = {key: n for key, n in entry.items() if n != rest or key not in held}
        if others:
            values[path] = others
    stored = {"origins": origins, "values": values}
    return stored if rest is None else {**stored, "rest": rest}


def single(origin):
    """The stored form when every value a document holds came from `origin` (a new
    incident's first revision, the common case of an import): what `pack` gives for
    `compute(None, document, origin)`, without expanding every value."""
    return {"origins": [Origin.from_json(origin.as_json()).as_json()], "values": {}, "rest": 0}


# Computing a revision's provenance -------------------------------------------------------


def _entries(document):
    """{path: value} for the fields and {path: {item key: item}} for the lists of a document."""
    entries = {}
    for path in documents.document_paths(document):
        value = documents.get_path(document, path)
        if isinstance(value, list):
            entries[path] = documents.keyed_items(path, value)
        else:
            entries[path] = value
    return entries


def _entry(provenance, path, key=None):
    found = provenance.get(path)
    if key is None:
        return found if isinstance(found, dict) and "kind" in found else None
    return found.get(key) if isinstance(found, dict) and "kind" not in found else None


def _is_set(value):
    return value not in ("", [], {}, None)


def compute(previous, document, origin, *, restore=None, inherit=(), attribute=(), override=None):
    """The provenance of `document` published over `previous` (the current revision's
    document, or None for a new incident).

    A value that `restore` (a document with its own provenance: the revision a revert or an
    undo brings back) holds takes its origin there. Otherwise a field or list item whose
    value is unchanged keeps its origin; one that changed takes, in order: the origin of the
    same value in one of `inherit` (documents with their own provenance: what a merge
    joins), the origin paired
    with the first of `attribute` ([(document, Origin)]) that has the same value, else
    `origin` (None: no entry, as for a value recorded before provenance). `override`
    (expanded, {path: origin} or {path: {item key: origin}}, JSON, or stored, as a file
    carries it) has the last word for the paths it names. Empty fields carry no entry.
    Returns the expanded map (`pack` makes it the stored form)."""
    previous = documents.upgrade(previous) if previous else documents.empty_document()
    old_entries = _entries(previous)
    old_provenance = expand(previous, old_entries)
    others = [(entries := _entries(doc), expand(doc, entries)) for doc in inherit]
    restore = documents.upgrade(restore) if restore else None
    restored = (entries := _entries(restore), expand(restore, entries)) if restore else None
    attributed = [(_entries(doc), given.as_json()) for doc, given in attribute]
    default = origin.as_json() if origin is not None else None
    new_entries = _entries(document)
    override = unpack(override, document, new_entries)

    def same(entries, path, value, key):
        there = entries.get(path)
        if key is None:
            return there == value
        if not isinstance(there, dict) or key not in there:
            return False
        # A name is its item's identity (a respelling is the same item); a reference whose
        # title or date changed is a changed item.
        return isinstance(value, str) or there[key] == value

    def pick(path, value, key=None):
        if restored and same(restored[0], path, value, key):
            return _entry(restored[1], path, key)
        if same(old_entries, path, value, key):
            return _entry(old_provenance, path, key)
        for entries, provenance in others:
            if same(entries, path, value, key):
                return _entry(provenance, path, key)
        for entries, given in attributed:
            if same(entries, path, value, key):
                return given
        return default

    provenance = {}
    for path, value in new_entries.items():
        named = override.get(path)
        if isinstance(value, dict) and documents.is_list_path(path):
            items = {}
            for key, item in value.items():
                given = named.get(key) if isinstance(named, dict) and "kind" not in named else None
                found = given or pick(path, item, key)
                if found:
                    items[key] = found
            if items:
                provenance[path] = items
        elif _is_set(value):
            found = named if isinstance(named, dict) and "kind" in named else pick(path, value)
            if found:
                provenance[path] = found
    return provenance


# What readers see ------------------------------------------------------------------------


def _day(iso):
    try:
        day = parse_partial_date(iso)
    except PeriodError:
        return iso
    return day.human()


def source_phrase(data):
    """'the AIAAIC export of 2026-02', 'the AIAAIC page', 'the AI Incident Database snapshot'."""
    name = SOURCE_NAMES.get(data.get("source", ""), data.get("source", "").upper())
    form = FORM_NAMES.get(data.get("form", ""), "")
    phrase = f"the {name} {form}".rstrip()
    return f"{phrase} of {data['as_of']}" if data.get("as_of") else phrase


def describe(data):
    """An origin (JSON, or None for a value without one) as readers read it: never a name."""
    if not data:
        return BEFORE_PROVENANCE
    kind, on = data.get("kind"), _day(data.get("on", ""))
    when = f" on {on}" if on else ""
    if kind == "source":
        return source_phrase(data)
    if kind == "proposal":
        return f"a contributor's proposal, approved by an editor{when}"
    if kind == "editor":
        return f"an editor{when}"
    if kind == "curation":
        return f"curation{when}"
    if kind == "merge":
        return f"a merge of incidents{when}"
    return BEFORE_PROVENANCE


def _phrase(data, first):
    """One origin in a section's line: 'From the AIAAIC export of 2026-02', 'corrected by an
    editor on 3 May 2026'."""
    kind = (data or {}).get("kind")
    text = describe(data)
    if kind == "editor":
        return ("Set by " if first else "corrected by ") + text
    if kind == "curation":
        return ("Set by " if first else "renamed or merged by ") + text
    if not data:
        return text[0].upper() + text[1:] if first else text
    return ("From " if first else "from ") + text


def _order(data):
    """Sources first (the older statement first), then decisions by day; unknown first of all."""
    if not data:
        return (0, "", "")
    if data.get("kind") == "source":
        return (1, data.get("as_of", ""), source_phrase(data))
    return (2, data.get("on", ""), data.get("kind", ""))


def line(origins, limit=4):
    """The origins of a section's values in one short line, or '' when there are none."""
    unique = {}
    for data in origins:
        unique.setdefault(describe(data), data)
    ordered = sorted(unique.values(), key=_order)
    if not ordered:
        return ""
    shown = ordered[:limit]
    text = "; ".join(_phrase(data, index == 0) for index, data in enumerate(shown))
    if len(ordered) > limit:
        text += f"; and {len(ordered) - limit} more"
    return text + "."


# The page's sections and the paths each shows.
SECTIONS = (
    ("header", "Headline and date", ("headline", "occurred")),
    ("narrative", "Narrative", ("summary", "narrative")),
    ("classification", "Classification", ("entities.", "terms.", "placeholders")),
    ("references", "References", ("references.",)),
    ("details", "Details", ("type", "released", "source_url", "external_ids", "extra")),
)


def _in_section(path, prefixes):
    return any(path == prefix or (prefix.endswith(".") and path.startswith(prefix)) for prefix in prefixes)


def origins_by_path(document):
    """[(path, origin JSON or None)] for every value the document holds (an item each)."""
    entries = _entries(_full(document))
    provenance = expand(document, entries)
    found = []
    for path, value in entries.items():
        if isinstance(value, dict) and documents.is_list_path(path):
            found += [(path, _entry(provenance, path, key)) for key in value]
        elif _is_set(value):
            found.append((path, _entry(provenance, path)))
    return found


def section_lines(document):
    """{section: line} for the page: where each section's values came from."""
    by_path = origins_by_path(documents.upgrade(document))
    lines = {}
    for name, _label, prefixes in SECTIONS:
        text = line(origin for path, origin in by_path if _in_section(path, prefixes))
        if text:
            lines[name] = text
    return lines


def change_line(document, changes):
    """Where the values a revision changed came from (its history entry), or ''."""
    by_path = origins_by_path(documents.upgrade(document))
    changed = {change.path for change in changes}
    return line(origin for path, origin in by_path if path in changed)


def has_unknown_origins(document):
    """True when some value of the document was recorded before provenance."""
    return any(origin is None for _path, origin in origins_by_path(documents.upgrade(document)))


def sources_of(document):
    """The source names (SOURCE_NAMES keys and others) the document's values came from, in the
    order they first appear."""
    names = []
    for _path, origin in origins_by_path(documents.upgrade(document)):
        if origin and origin.get("kind") == "source" and origin.get("source") not in names:
            names.append(origin["source"])
    return names
