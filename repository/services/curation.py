"""Taxonomy curation: renaming, merging, moving and splitting terms and entities.

Each function is one transaction that checks the current state, changes the taxonomy's rows,
publishes a new revision of every incident it touches (through `incidents_publish`, so that
pages, JSON, history and snapshots agree) and writes a `CurationEvent` with the state before
and after and the revisions it made. `curation_undo` reverses an event from that row, as long
as nothing it touched changed since.

Names resolve through aliases (`Taxonomy`): a renamed term keeps its old name as an alias and
a merged term's aliases move to its survivor, so that importers and forms that still meet the
old spellings land on the right term.
"""

from django.db import transaction
from django.db.models import Q

from .. import ancestry, documents, freshness
from ..models import (
    CurationEvent,
    Entity,
    EntityAlias,
    Incident,
    IncidentEntity,
    IncidentTerm,
    IncidentUnderTerm,
    Revision,
    Term,
    TermAlias,
)
from ..provenance import Origin
from .publishing import PublishItem, incidents_publish
from .taxonomy import Taxonomy

CHUNK = 200
MAX_SPLIT = 20


class CurationRefused(Exception):
    """The change is not possible as asked; the message says why, for the editor who tried."""


def _quote(name):
    return f"“{name}”"


def _with_note(text, note):
    note = " ".join((note or "").split()).rstrip(".:;")
    return (f"{text}, {_quote(note)}" if note else text)[:300]


def _republish(incident_ids, *, editor, summary, change=None):
    """A new revision of each incident (its current document, `change`d if given, with every
    name under its current canonical spelling). Returns the revisions written."""
    revisions = []
    ids = sorted(set(incident_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = Incident.objects.select_related("current_revision").filter(
            pk__in=ids[start : start + CHUNK], merged_into__isnull=True, current_revision__isnull=False
        )
        items = []
        for incident in chunk:
            document = incident.current_revision.document
            items.append(
                PublishItem(
                    document=change(document) if change else document,
                    incident=incident,
                    summary=summary,
                    author=editor,
                    expected_revision=incident.current_revision_id,
                    origin=Origin.decision("curation"),
                )
            )
        if items:
            results = incidents_publish(items=items, taxonomy=Taxonomy())
            revisions += [result.revision for result in results if result.revision is not None]
    return revisions


def _event(*, action, editor, target, description, before, after, note="", revisions=(), undoes=None):
    event = CurationEvent.objects.create(
        action=action,
        editor=editor,
        target_type=CurationEvent.Target.TERM if isinstance(target, Term) else CurationEvent.Target.ENTITY,
        target_id=target.pk,
        description=description[:300],
        before=before,
        after=after,
        note=" ".join((note or "").split())[:300],
        undoes=undoes,
    )
    if revisions:
        event.revisions.add(*revisions)
    freshness.changed()
    return event


def _term_incidents(term):
    return list(IncidentTerm.objects.filter(term=term).values_list("incident_id", flat=True))


def _entity_incidents(entity):
    return list(IncidentEntity.objects.filter(entity=entity).values_list("incident_id", flat=True).distinct())


def _lock(model, obj):
    return model.objects.select_for_update().get(pk=obj.pk)


def _clean(name):
    name = documents.clean_name(name or "")
    if not name:
        raise CurationRefused("A name is needed.")
    if len(name) > 500:
        raise CurationRefused("That name is too long (500 characters at most).")
    if documents.is_placeholder(name):
        raise CurationRefused(
            f"{_quote(name)} says the source names no one thing: it is kept as written on each "
            "incident, never as a term or an entity."
        )
    return name


def _term_named(vocabulary, name, exclude):
    """The term of the vocabulary, other than `exclude`, that a name already means, or None."""
    key = documents.fold(name)
    alias = (
        TermAlias.objects.filter(vocabulary=vocabulary, key=key)
        .exclude(term=exclude)
        .select_related("term")
        .first()
    )
    if alias:
        return alias.term
    for term in Term.objects.filter(vocabulary=vocabulary, name__iexact=name).exclude(pk=exclude.pk):
        if documents.fold(term.name) == key:
            return term
    return None


def _entity_named(kind, name, exclude):
    key = documents.fold(name)
    alias = (
        EntityAlias.objects.filter(key=key, entity__kind=kind)
        .exclude(entity=exclude)
        .select_related("entity")
        .first()
    )
    if alias:
        return alias.entity
    for entity in Entity.objects.filter(kind=kind, name__iexact=name).exclude(pk=exclude.pk):
        if documents.fold(entity.name) == key:
            return entity
    return None


def term_incident_count(term):
    """How many incidents a change to this term touches (the editor's preview)."""
    return IncidentTerm.objects.filter(term=term).count()


def entity_incident_count(entity):
    return IncidentEntity.objects.filter(entity=entity).values("incident_id").distinct().count()


def _touched(incident_ids):
    # The incidents `_republish` writes: live (not merged away) and published.
    return (
        Incident.objects.filter(pk__in=incident_ids, merged_into__isnull=True, current_revision__isnull=False)
        .only("pk", "number", "slug", "headline")
        .order_by("number")
    )


def term_incidents_touched(*, term, below=False):
    """The incidents a change to this term touches, by number, for the editor's preview: those
    carrying it (a rename or merge republishes each), or with `below` every incident under it
    or a term below it (a move changes the terms each is filed under)."""
    if below:
        return _touched(IncidentUnderTerm.objects.filter(term=term).values("incident_id"))
    return _touched(IncidentTerm.objects.filter(term=term).values("incident_id"))


def entity_incidents_touched(*, entity):
    """The incidents naming this entity (a rename, merge or split republishes each), by number."""
    return _touched(IncidentEntity.objects.filter(entity=entity).values("incident_id"))


def entity_roles_of(*, entity, incident_ids):
    """{incident id: [role labels]} in which each of these incidents names the entity."""
    roles = {}
    links = IncidentEntity.objects.filter(entity=entity, incident_id__in=incident_ids).order_by("role")
    for incident_id, role in links.values_list("incident_id", "role"):
        roles.setdefault(incident_id, []).append(IncidentEntity.Role(role).label)
    return roles


def curation_event_incidents(*, event):
    """The revisions an event published, one per incident, by incident number, each with its
    incident: an incident whose current revision is no longer that one (or that was merged
    away) changed since, and refuses the event's undo."""
    return (
        event.revisions.select_related("incident")
        .only(
            "pk",
            "number",
            "incident__number",
            "incident__slug",
            "incident__headline",
            "incident__current_revision_id",
            "incident__merged_into_id",
        )
        .order_by("incident__number")
    )


# Terms ----------------------------------------------------------------------------------------


@transaction.atomic
def term_rename(*, term, name, editor, note=""):
    """Rename a term; its old name stays an alias. Every incident carrying it gets a new
    revision showing the new name. Refused when another term already has that name."""
    term = _lock(Term, term)
    name = _clean(name)
    if term.merged_into_id:
        raise CurationRefused(f"{_quote(term.name)} was merged into another term: rename that one.")
    if name == term.name:
        raise CurationRefused(f"The term is already called {_quote(name)}.")
    other = _term_named(term.vocabulary, name, term)
    if other is not None:
        raise CurationRefused(
            f"{_quote(name)} already names the term {_quote(other.name)} in {term.vocabulary.label}: "
            f"merge {_quote(term.name)} into it instead."
        )
    old = term.name
    alias, created = TermAlias.objects.get_or_create(
        vocabulary_id=term.vocabulary_id, name=name, defaults={"term": term, "key": documents.fold(name)}
    )
    # The old name stays an alias (the import made one; an older row may lack it).
    old_alias, old_created = TermAlias.objects.get_or_create(
        vocabulary_id=term.vocabulary_id, name=old, defaults={"term": term, "key": documents.fold(old)}
    )
    term.name = name
    term.save(update_fields=["name"])
    summary = _with_note(f"{term.vocabulary.label} term {_quote(old)} renamed {_quote(name)}", note)
    revisions = _republish(_term_incidents(term), editor=editor, summary=summary)
    return _event(
        action=CurationEvent.Action.TERM_RENAME,
        editor=editor,
        target=term,
        description=f"{term.vocabulary.label}: {_quote(old)} renamed {_quote(name)}",
        before={"name": old},
        after={
            "name": name,
            "created_aliases": [a.pk for a, made in ((alias, created), (old_alias, old_created)) if made],
        },
        note=note,
        revisions=revisions,
    )


def _merge_cycle(start, target, model):
    """True when following `merged_into` from `start` reaches `target` (guarded against loops)."""
    seen, current = set(), start
    while current is not None and current.pk not in seen:
        if current.pk == target.pk:
            return True
        seen.add(current.pk)
        current = model.objects.filter(pk=current.merged_into_id).first() if current.merged_into_id else None
    return False


@transaction.atomic
def term_merge(*, term, into, editor, note=""):
    """Merge `term` into `into` (same vocabulary): incidents carrying it move to `into` as new
    revisions, its aliases move to `into`, and its page redirects there."""
    if term.pk == into.pk:
        raise CurationRefused("A term cannot be merged into itself.")
    first, second = sorted([term, into], key=lambda t: t.pk)
    locked = {t.pk: t for t in (_lock(Term, first), _lock(Term, second))}
    term, into = locked[term.pk], locked[into.pk]
    if term.vocabulary_id != into.vocabulary_id:
        raise CurationRefused("Terms of two vocabularies cannot be merged.")
    if term.merged_into_id:
        raise CurationRefused(f"{_quote(term.name)} was already merged into another term.")
    if _merge_cycle(into, term, Term):
        raise CurationRefused(
            f"{_quote(into.name)} was merged into {_quote(term.name)}: that would be a cycle."
        )
    if into.merged_into_id:
        raise CurationRefused(f"{_quote(into.name)} was merged into another term: merge into that one.")
    incident_ids = _term_incidents(term)
    aliases = list(TermAlias.objects.filter(term=term).values_list("pk", flat=True))
    TermAlias.objects.filter(pk__in=aliases).update(term=into)
    redirected = list(Term.objects.filter(merged_into=term).values_list("pk", flat=True))
    Term.objects.filter(pk__in=redirected).update(merged_into=into)
    # Its children go under the survivor (the survivor itself, if it was one, takes its place).
    children = list(Term.objects.filter(parent=term).values_list("pk", flat=True))
    Term.objects.filter(pk__in=children).exclude(pk=into.pk).update(parent=into)
    if into.parent_id == term.pk:
        into.parent_id = term.parent_id
        into.save(update_fields=["parent"])
    term.merged_into = into
    term.save(update_fields=["merged_into"])
    summary = _with_note(
        f"{term.vocabulary.label} term {_quote(term.name)} merged into {_quote(into.name)}", note
    )
    revisions = _republish(incident_ids, editor=editor, summary=summary)
    # The children's incidents are under the survivor now, and under its parent.
    ancestry.refresh_below([into.pk])
    return _event(
        action=CurationEvent.Action.TERM_MERGE,
        editor=editor,
        target=term,
        description=f"{term.vocabulary.label}: {_quote(term.name)} merged into {_quote(into.name)}",
        before={"merged_into": None, "aliases": aliases, "redirected": redirected, "children": children},
        after={"merged_into": into.pk},
        note=note,
        revisions=revisions,
    )


@transaction.atomic
def term_move(*, term, parent, editor, note=""):
    """Give a term another parent in its vocabulary (None: a top-level term)."""
    term = _lock(Term, term)
    if parent is not None:
        parent = Term.objects.get(pk=parent.pk)
        if parent.vocabulary_id != term.vocabulary_id:
            raise CurationRefused("A term's parent must be in its own vocabulary.")
        if parent.merged_into_id:
            raise CurationRefused(f"{_quote(parent.name)} was merged into another term.")
        seen, current = set(), parent
        while current is not None and current.pk not in seen:
            if current.pk == term.pk:
                raise CurationRefused(
                    f"{_quote(parent.name)} is {_quote(term.name)} or under it: that would be a cycle."
                )
            seen.add(current.pk)
            current = Term.objects.filter(pk=current.parent_id).first() if current.parent_id else None
    if term.merged_into_id:
        raise CurationRefused(f"{_quote(term.name)} was merged into another term.")
    new_parent_id = parent.pk if parent else None
    if term.parent_id == new_parent_id:
        raise CurationRefused("The term already has that parent.")
    before = term.parent_id
    term.parent_id = new_parent_id
    term.save(update_fields=["parent"])
    ancestry.refresh_below([term.pk])
    where = f"under {_quote(parent.name)}" if parent else "to the top level"
    return _event(
        action=CurationEvent.Action.TERM_MOVE,
        editor=editor,
        target=term,
        description=f"{term.vocabulary.label}: {_quote(term.name)} moved {where}",
        before={"parent": before},
        after={"parent": new_parent_id},
        note=note,
    )


# Entities -------------------------------------------------------------------------------------


@transaction.atomic
def entity_rename(*, entity, name, editor, note=""):
    """Rename an entity; its old name stays an alias; its incidents get new revisions."""
    entity = _lock(Entity, entity)
    name = _clean(name)
    if entity.merged_into_id:
        raise CurationRefused(f"{_quote(entity.name)} was merged into another entity: rename that one.")
    if name == entity.name:
        raise CurationRefused(f"The entity is already called {_quote(name)}.")
    other = _entity_named(entity.kind, name, entity)
    if other is not None:
        raise CurationRefused(
            f"{_quote(name)} already names the entity {_quote(other.name)}: "
            f"merge {_quote(entity.name)} into it instead."
        )
    old = entity.name
    made = []
    for spelling in (name, old):
        alias, created = EntityAlias.objects.get_or_create(
            entity=entity, name=spelling, defaults={"key": documents.fold(spelling)}
        )
        if created:
            made.append(alias.pk)
    entity.name = name
    entity.save(update_fields=["name"])
    summary = _with_note(f"Entity {_quote(old)} renamed {_quote(name)}", note)
    revisions = _republish(_entity_incidents(entity), editor=editor, summary=summary)
    return _event(
        action=CurationEvent.Action.ENTITY_RENAME,
        editor=editor,
        target=entity,
        description=f"{_quote(old)} renamed {_quote(name)}",
        before={"name": old},
        after={"name": name, "created_aliases": made},
        note=note,
        revisions=revisions,
    )


@transaction.atomic
def entity_merge(*, entity, into, editor, note=""):
    """Merge `entity` into `into` (same kind): its incidents name `into` instead."""
    if entity.pk == into.pk:
        raise CurationRefused("An entity cannot be merged into itself.")
    first, second = sorted([entity, into], key=lambda e: e.pk)
    locked = {e.pk: e for e in (_lock(Entity, first), _lock(Entity, second))}
    entity, into = locked[entity.pk], locked[into.pk]
    if entity.kind != into.kind:
        raise CurationRefused(
            f"{_quote(entity.name)} is {entity.get_kind_display().lower()} and "
            f"{_quote(into.name)} {into.get_kind_display().lower()}: they cannot be merged."
        )
    if entity.merged_into_id:
        raise CurationRefused(f"{_quote(entity.name)} was already merged into another entity.")
    if _merge_cycle(into, entity, Entity):
        raise CurationRefused(
            f"{_quote(into.name)} was merged into {_quote(entity.name)}: that would be a cycle."
        )
    if into.merged_into_id:
        raise CurationRefused(f"{_quote(into.name)} was merged into another entity: merge into that one.")
    incident_ids = _entity_incidents(entity)
    taken = set(EntityAlias.objects.filter(entity=into).values_list("name", flat=True))
    aliases = list(
        EntityAlias.objects.filter(entity=entity).exclude(name__in=taken).values_list("pk", flat=True)
    )
    EntityAlias.objects.filter(pk__in=aliases).update(entity=into)
    redirected = list(Entity.objects.filter(merged_into=entity).values_list("pk", flat=True))
    Entity.objects.filter(pk__in=redirected).update(merged_into=into)
    entity.merged_into = into
    entity.save(update_fields=["merged_into"])
    summary = _with_note(f"Entity {_quote(entity.name)} merged into {_quote(into.name)}", note)
    revisions = _republish(incident_ids, editor=editor, summary=summary)
    return _event(
        action=CurationEvent.Action.ENTITY_MERGE,
        editor=editor,
        target=entity,
        description=f"{_quote(entity.name)} merged into {_quote(into.name)}",
        before={"merged_into": None, "aliases": aliases, "redirected": redirected},
        after={"merged_into": into.pk},
        note=note,
        revisions=revisions,
    )


@transaction.atomic
def entity_split(*, entity, names, editor, note=""):
    """One entity whose name lists several ("Alphabet/Google/Deepmind") becomes several: each
    incident naming it names all of them instead, in the same role, as a new revision. The
    entities are found by name (aliases) or created."""
    entity = _lock(Entity, entity)
    if entity.merged_into_id:
        raise CurationRefused(f"{_quote(entity.name)} was merged into another entity.")
    cleaned = []
    for name in names:
        name = documents.clean_name(name or "")
        if name and documents.fold(name) not in {documents.fold(n) for n in cleaned}:
            cleaned.append(name)
    if len(cleaned) < 2:
        raise CurationRefused("Give at least two names to split into.")
    if len(cleaned) > MAX_SPLIT:
        raise CurationRefused(f"Split into at most {MAX_SPLIT} names at once.")
    if any(len(name) > 500 for name in cleaned):
        raise CurationRefused("A name is too long (500 characters at most).")
    keys = set(EntityAlias.objects.filter(entity=entity).values_list("key", flat=True))
    keys.add(documents.fold(entity.name))
    role = IncidentEntity.Role.SYSTEM if entity.kind == Entity.Kind.SYSTEM else IncidentEntity.Role.DEPLOYER
    taxonomy = Taxonomy()
    resolved, created = [], []
    for name in cleaned:
        count = taxonomy.created_entities
        target = taxonomy.entity(name, role)
        if taxonomy.created_entities > count:
            created.append(target.pk)
        resolved.append(target.pk)

    def change(document):
        entities = {}
        for role_name, listed in document["entities"].items():
            names_out = []
            for name in listed:
                names_out += cleaned if documents.fold(name) in keys else [name]
            entities[role_name] = names_out
        return {**document, "entities": entities}

    summary = _with_note(
        f"Entity {_quote(entity.name)} split into {', '.join(_quote(n) for n in cleaned)}", note
    )
    revisions = _republish(_entity_incidents(entity), editor=editor, summary=summary, change=change)
    return _event(
        action=CurationEvent.Action.ENTITY_SPLIT,
        editor=editor,
        target=entity,
        description=summary,
        before={"name": entity.name},
        after={"names": cleaned, "entities": resolved, "created": created},
        note=note,
        revisions=revisions,
    )


# Undo -----------------------------------------------------------------------------------------


def _refuse_if_changed(condition, what):
    if not condition:
        raise CurationRefused(f"This change cannot be undone: {what} changed since.")


@transaction.atomic
def curation_undo(*, event, editor):
    """Reverse a curation event: the taxonomy's rows as they were, and each incident it
    published a revision of published back (a new revision). Refused when something it
    touched changed since, or when it was undone already."""
    event = CurationEvent.objects.select_for_update().get(pk=event.pk)
    if event.action == CurationEvent.Action.UNDO:
        raise CurationRefused("An undo cannot be undone: make the change again instead.")
    if CurationEvent.objects.filter(undoes=event).exists():
        raise CurationRefused("This change was undone already.")
    model = Term if event.target_type == CurationEvent.Target.TERM else Entity
    target = model.objects.select_for_update().get(pk=event.target_id)
    revisions = list(event.revisions.select_related("incident"))
    for revision in revisions:
        _refuse_if_changed(
            revision.incident.current_revision_id == revision.pk and revision.incident.merged_into_id is None,
            f"incident #{revision.incident.number}",
        )
    before, after = event.before, event.after
    action = event.action
    if action in (CurationEvent.Action.TERM_RENAME, CurationEvent.Action.ENTITY_RENAME):
        _refuse_if_changed(target.name == after["name"] and not target.merged_into_id, "its name")
        target.name = before["name"]
        target.save(update_fields=["name"])
        alias_model = TermAlias if model is Term else EntityAlias
        alias_model.objects.filter(pk__in=after.get("created_aliases", []), name=after["name"]).delete()
    elif action in (CurationEvent.Action.TERM_MERGE, CurationEvent.Action.ENTITY_MERGE):
        _refuse_if_changed(target.merged_into_id == after["merged_into"], "where it is merged")
        survivor = model.objects.select_for_update().get(pk=after["merged_into"])
        _refuse_if_changed(survivor.merged_into_id is None, f"{_quote(survivor.name)}")
        alias_model, field = (TermAlias, "term") if model is Term else (EntityAlias, "entity")
        alias_model.objects.filter(pk__in=before["aliases"], **{field: survivor}).update(**{field: target})
        model.objects.filter(pk__in=before["redirected"], merged_into=survivor).update(merged_into=target)
        if model is Term:
            Term.objects.filter(pk__in=before.get("children", [])).update(parent=target)
        target.merged_into = None
        target.save(update_fields=["merged_into"])
    elif action == CurationEvent.Action.TERM_MOVE:
        _refuse_if_changed(target.parent_id == after["parent"], "its parent")
        target.parent_id = before["parent"]
        target.save(update_fields=["parent"])
    undo_summary = f"Undid: {event.description}"[:300]
    published = []
    for start in range(0, len(revisions), CHUNK):
        chunk = revisions[start : start + CHUNK]
        previous = {
            (r.incident_id, r.number): r.document for r in Revision.objects.filter(_previous_of(chunk))
        }
        items = [
            PublishItem(
                document=previous[(revision.incident_id, revision.number - 1)],
                incident=revision.incident,
                summary=undo_summary,
                author=editor,
                expected_revision=revision.pk,
                origin=Origin.decision("curation"),
                # What the undo brings back keeps the origin it had.
                restore=previous[(revision.incident_id, revision.number - 1)],
            )
            for revision in chunk
        ]
        results = incidents_publish(items=items, taxonomy=Taxonomy())
        published += [result.revision for result in results if result.revision is not None]
    if action in (CurationEvent.Action.TERM_MERGE, CurationEvent.Action.TERM_MOVE):
        # Parents are back as they were: so are the ancestors of the incidents below them.
        ancestry.refresh_below([target.pk, after.get("merged_into")])
    if action == CurationEvent.Action.ENTITY_SPLIT:
        # Entities the split created and nothing names any more go again.
        Entity.objects.filter(
            pk__in=after["created"], incident_entities__isnull=True, merged_entities__isnull=True
        ).delete()
    return _event(
        action=CurationEvent.Action.UNDO,
        editor=editor,
        target=target,
        description=undo_summary,
        before=after,
        after=before,
        revisions=published,
        undoes=event,
    )


def _previous_of(revisions):
    condition = Q(pk__in=[])
    for revision in revisions:
        condition |= Q(incident_id=revision.incident_id, number=revision.number - 1)
    return condition


def placeholders_release(*, editor=None):
    """Publish again every incident that carries a term or an entity named as a placeholder
    ("Multiple", "Unclear/unknown": `documents.is_placeholder`), as data imported before
    placeholders were recognised in every vocabulary holds: the new revision keeps the name as
    written among the document's placeholders, no longer as a term or an entity. The rows of
    those terms and entities stay (their pages, with no incident, say where they went).
    Returns (terms, entities, revisions) released."""
    keys = documents.PLACEHOLDER_KEYS
    terms = [
        term
        for term in Term.objects.filter(pk__in=TermAlias.objects.filter(key__in=keys).values("term_id"))
        if documents.is_placeholder(term.name)
    ]
    entities = [
        entity
        for entity in Entity.objects.filter(
            pk__in=EntityAlias.objects.filter(key__in=keys).values("entity_id")
        )
        if documents.is_placeholder(entity.name)
    ]
    incident_ids = set(IncidentTerm.objects.filter(term__in=terms).values_list("incident_id", flat=True))
    incident_ids |= set(
        IncidentEntity.objects.filter(entity__in=entities).values_list("incident_id", flat=True)
    )
    with transaction.atomic():
        revisions = _republish(
            incident_ids, editor=editor, summary="Placeholders kept as written, not as terms or entities"
        )
    return terms, entities, revisions
