"""A proposal's names read as the taxonomy knows them, before anyone reviews it.

A contributor writes "Dahua"; the repository knows Zhejiang Dahua Technology, with "Dahua" as
one of its spellings (an alias), or already names it on the incident in full. Each term or
organisation name a proposal adds is matched through the aliases (and, for an improvement, to
the incident's own names when the given name is a whole word of one of them) and written as
the incident or the taxonomy spells it, so approving never adds a second copy of something
that exists. What was matched is kept for the review page ("Dahua → Zhejiang Dahua Technology
(alias)"). A name nothing matches stays as written: approving creates it only once an editor
confirms that it is new.
"""

import re

from repository import documents
from repository.models import Entity, EntityAlias, TermAlias

ALIAS = "alias"
FULL_NAME = "full name"
PARTIAL_NAME = 4  # a name this long or longer may be a whole word of a longer one ("Dahua")


def _entity_kind(role):
    return Entity.Kind.SYSTEM if role == "system" else Entity.Kind.ORGANISATION


def _whole_word_of(name, longer):
    """Whether `name` is a whole word (or words) of `longer`: "Dahua" of "Zhejiang Dahua Technology"."""
    if len(re.sub(r"[\W_]", "", name)) < PARTIAL_NAME:
        return False
    pattern = rf"(?<![^\W_]){re.escape(documents.fold_text(name).strip())}(?![^\W_])"
    return re.search(pattern, documents.fold_text(longer)) is not None


def _added(base, proposed):
    """[(path, name)] for each term and entity name in `proposed` that `base` does not have."""
    added = []
    for role, names in proposed["entities"].items():
        have = {documents.fold(name) for name in base["entities"].get(role, [])}
        added += [(f"entities.{role}", name) for name in names if documents.fold(name) not in have]
    for slug, names in proposed["terms"].items():
        have = {documents.fold(name) for name in base["terms"].get(slug, [])}
        added += [(f"terms.{slug}", name) for name in names if documents.fold(name) not in have]
    return added


def _lookups(keys_by_group):
    """{("entities", kind, key) | ("terms", slug, key): canonical name}, two queries at most."""
    found = {}
    entity_keys = keys_by_group.get("entities")
    if entity_keys:
        rows = (
            EntityAlias.objects.filter(key__in=entity_keys, entity__merged_into__isnull=True)
            .order_by("entity_id")
            .values_list("key", "entity__kind", "entity__name")
        )
        for key, kind, name in rows:
            found.setdefault(("entities", kind, key), name)
    term_keys = keys_by_group.get("terms")
    if term_keys:
        rows = (
            TermAlias.objects.filter(key__in=term_keys)
            .order_by("term_id")
            .values_list("key", "vocabulary__slug", "term__name")
        )
        for key, slug, name in rows:
            found.setdefault(("terms", slug, key), name)
    return found


def names_resolve(*, proposed, base=None, keep=()):
    """`proposed` with each term and entity name it adds to `base` written as the incident or
    the taxonomy spells it, and the list of what was matched:
    [{"path", "given", "name", "how"}] ("how" is ALIAS or FULL_NAME). Names `base` already has
    are left as they are: approving must not respell what the contributor did not touch, nor
    the names in `keep` ([(path, name)]: the contributor chose to keep them as written)."""
    base = documents.normalize(base) if base else documents.empty_document()
    kept = {(path, documents.fold(name)) for path, name in keep}
    added = [
        (path, name) for path, name in _added(base, proposed) if (path, documents.fold(name)) not in kept
    ]
    if not added:
        return proposed, []
    keys = {"entities": set(), "terms": set()}
    for path, name in added + _added(documents.empty_document(), base):
        keys[path.partition(".")[0]].add(documents.fold(name))
    found = _lookups(keys)

    def canonical(path, name):
        group, _, scope = path.partition(".")
        scope = _entity_kind(scope) if group == "entities" else scope
        return found.get((group, scope, documents.fold(name)))

    resolved = {
        "entities": {role: list(names) for role, names in proposed["entities"].items()},
        "terms": {slug: list(names) for slug, names in proposed["terms"].items()},
    }
    matches = []
    for path, given in added:
        group, _, scope = path.partition(".")
        already = base[group].get(scope, [])
        name, how = canonical(path, given), ALIAS
        if name is not None:
            # The incident may name the same thing in its own spelling: keep that one.
            same = [have for have in already if canonical(path, have) == name]
            name = same[0] if same else name
        elif group == "entities" and scope != "system":
            longer = [have for have in already if _whole_word_of(given, have)]
            name, how = (longer[0], FULL_NAME) if len(longer) == 1 else (None, "")
        if name is None or (documents.fold(name) == documents.fold(given) and name == given):
            continue
        values = resolved[group][scope]
        values[values.index(given)] = name
        if documents.fold(name) != documents.fold(given):
            matches.append({"path": path, "given": given, "name": name, "how": how})
    document = documents.normalize(
        {
            **proposed,
            "entities": {**proposed["entities"], **resolved["entities"]},
            "terms": {**proposed["terms"], **resolved["terms"]},
        }
    )
    return document, matches


def names_unknown(*, document, base=None):
    """[(path, name)] for the term and entity names `document` adds to `base` that no alias
    knows: approving would create them. Two queries at most."""
    base = base or documents.empty_document()
    added = [(path, name) for path, name in _added(base, document) if not documents.is_placeholder(name)]
    if not added:
        return []
    keys = {"entities": set(), "terms": set()}
    for path, name in added:
        keys[path.partition(".")[0]].add(documents.fold(name))
    found = _lookups(keys)
    unknown, seen = [], set()
    for path, name in added:
        group, _, scope = path.partition(".")
        scope = _entity_kind(scope) if group == "entities" else scope
        if (group, scope, documents.fold(name)) not in found and new_name_token(path, name) not in seen:
            seen.add(new_name_token(path, name))
            unknown.append((path, name))
    return unknown


def new_name_token(path, name):
    """How the review form names one new name the editor confirms: 'organisation:acme' (one
    organisation whatever its role), 'terms.country:freedonia'."""
    group, _, scope = path.partition(".")
    return f"{_entity_kind(scope) if group == 'entities' else path}:{documents.fold(name)}"


def names_identity(*docs):
    """The `identity` for `documents.three_way` over these documents: a term or entity name
    is what it resolves to through the aliases (so "Dahua" and "Zhejiang Dahua Technology"
    are one item when an alias says so); other lists keep their own identity. Two queries."""
    keys = {"entities": set(), "terms": set()}
    for document in docs:
        for path, name in _added(documents.empty_document(), document):
            keys[path.partition(".")[0]].add(documents.fold(name))
    found = _lookups(keys)

    def identity(path):
        group, _, scope = path.partition(".")
        if group not in keys:
            return documents.item_identity(path)
        scope = _entity_kind(scope) if group == "entities" else scope

        def key(name):
            folded = documents.fold(name)
            canonical = found.get((group, scope, folded))
            return documents.fold(canonical) if canonical else folded

        return key

    return identity
