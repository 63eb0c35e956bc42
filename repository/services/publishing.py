"""Publishing: every change to an incident is a new revision, written by incident_publish."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from .. import ancestry, documents, freshness, narrative, provenance, search
from ..addresses import address_key, normalize_url
from ..bulk import create_objects, insert_rows
from ..models import ExternalId, Incident, IncidentEntity, IncidentTerm, Reference, Revision
from ..provenance import Origin
from .taxonomy import Taxonomy, make_slug, unique_slug


class StaleRevision(Exception):
    """The incident has a newer revision than the one the change was made against."""


class IncidentMerged(Exception):
    """The incident was merged into another; changes go to the survivor."""

    def __init__(self, survivor_id):
        super().__init__(f"The incident was merged into incident {survivor_id}.")
        self.survivor_id = survivor_id


@dataclass
class PublishResult:
    incident: Incident
    revision: Revision | None  # None when the document was already the published one
    created: bool
    number_refused: int | None = None  # the number asked for, in use: the incident got another

    @property
    def changed(self):
        return self.revision is not None


def _lock_numbers():
    """Serialise number allocation between concurrent publishers until commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('repository_incident_number'))")


def _grant_numbers(items, taxonomy):
    """Give each new item its number, under the number lock: the number it asks for when no
    incident has it (a restore keeps its file's numbers), the next after every number in use
    otherwise (and `number_refused` says which was asked for)."""
    new = [item for item in items if item.incident is None]
    if not new:
        return
    _lock_numbers()
    if taxonomy.incident_slugs is not None:
        taxonomy.incident_slugs_refresh()  # holding the lock: every other new incident has committed
    asked = {item.number for item in new if item.number is not None}
    in_use = (
        set(Incident.objects.filter(number__in=asked).values_list("number", flat=True)) if asked else set()
    )
    for item in new:
        item.number_refused = None
        if item.number is not None and item.number not in in_use:
            in_use.add(item.number)
        elif item.number is not None:
            item.number_refused, item.number = item.number, None
    next_number = None
    for item in new:
        if item.number is None:
            if next_number is None:
                top = Incident.objects.aggregate(top=Max("number"))["top"] or 0
                next_number = max([top, *in_use]) + 1
            item.number, next_number = next_number, next_number + 1


def _sync_links(model, key_of, wanted_by_incident, fresh_ids, update_fields, make):
    """Make each incident's rows of `model` the wanted ones, in a few queries for them all.

    `wanted_by_incident` maps an incident id to {key: values}; `key_of(row)` is a stored
    row's key; rows whose values differ are updated (`update_fields`), missing ones created
    from `make(incident_id, key, values)` (a row's columns), the others deleted."""
    existing = defaultdict(dict)
    stale_ids = [pk for pk in wanted_by_incident if pk not in fresh_ids]
    if stale_ids:
        for row in model.objects.filter(incident_id__in=stale_ids):
            existing[row.incident_id][key_of(row)] = row
    delete, update, create = [], [], []
    for incident_id, wanted in wanted_by_incident.items():
        have = existing.get(incident_id, {})
        delete += [row.pk for key, row in have.items() if key not in wanted]
        for key, values in wanted.items():
            row = have.get(key)
            if row is None:
                create.append(make(incident_id, key, values))
            elif any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                update.append(row)
    if delete:
        model.objects.filter(pk__in=delete).delete()
    if update:
        model.objects.bulk_update(update, update_fields, batch_size=500)
    insert_rows(model, create)


def _sync_rows(prepared, fresh_ids, last_write=False):
    """The relational rows of every published document: terms, entities, references (their
    link-health data kept) and external ids. With `last_write`, the incidents' ancestor ids are
    left to the statement that ends publishing."""
    terms, entities, references, external_ids = {}, {}, {}, {}
    for item in prepared:
        pk = item.incident.pk
        terms[pk] = {term.id: {"position": position} for term, position in item.term_rows}
        entities[pk] = {
            (entity.id, role): {"position": position} for entity, role, position in item.entity_rows
        }
        wanted = {}
        for category in documents.CATEGORIES:
            for reference in item.document["references"][category]:
                wanted.setdefault(
                    reference["url"],
                    {
                        "category": category,
                        "title": reference["title"],
                        "publisher": reference["publisher"],
                        "published": reference["published"],
                        "position": len(wanted),
                    },
                )
        references[pk] = wanted
        external_ids[pk] = {
            (value["scheme"], value["value"]): {"position": position}
            for position, value in enumerate(item.document["external_ids"])
        }
    _sync_links(
        IncidentTerm,
        lambda row: row.term_id,
        terms,
        fresh_ids,
        ["position"],
        lambda pk, term_id, values: {"incident_id": pk, "term_id": term_id, **values},
    )
    ancestry.refresh_incidents(terms, fresh_ids=fresh_ids, ids=not last_write)
    _sync_links(
        IncidentEntity,
        lambda row: (row.entity_id, row.role),
        entities,
        fresh_ids,
        ["position"],
        lambda pk, key, values: {"incident_id": pk, "entity_id": key[0], "role": key[1], **values},
    )
    _sync_links(
        Reference,
        lambda row: row.url,
        references,
        fresh_ids,
        ["category", "title", "publisher", "published", "position"],
        lambda pk, url, values: {"incident_id": pk, "url": url, "url_key": address_key(url), **values},
    )
    _sync_links(
        ExternalId,
        lambda row: (row.scheme, row.value),
        external_ids,
        fresh_ids,
        ["position"],
        lambda pk, key, values: {"incident_id": pk, "scheme": key[0], "value": key[1], **values},
    )


def incident_search_refresh(*, incident_ids):
    """Bring the search index of these incidents up to date (repository.search): PostgreSQL's
    stored vector, SQLite's FTS5 table; merged incidents leave it."""
    search.index_refresh(incident_ids=incident_ids)


def _revision_summary(summary, previous, document, vocabulary_labels):
    if previous is None:
        changes = "Created"
    elif documents.same_values(previous, document):
        changes = "Where values came from"  # a revision that changes only their provenance
    else:
        changes = documents.change_summary(documents.diff(previous, document, vocabulary_labels))
    return (f"{summary}: {changes}" if summary else changes)[:300]


@dataclass
class PublishItem:
    """One document to publish: a new revision of `incident`, or a new incident."""

    document: dict
    incident: Incident | None = None
    summary: str = ""
    slug: str = ""
    number: int | None = None
    expected_revision: int | None = None
    author: object = None
    credit: str = ""
    # The document is `documents.normalize`'s own output, unchanged since (an importer
    # validated it row by row already): it is not normalized a second time.
    normalized: bool = False
    # Where the values this publication changes came from (provenance.Origin; None: not
    # known, as for values recorded before provenance). Unchanged values keep their own.
    origin: Origin | None = None
    # Per path, an origin that has the last word ({path: origin} or {path: {item key: origin}},
    # as JSON): an importer's since-dates, a restored file's own provenance.
    provenance: dict | None = None
    # A document (with its provenance) this one brings back: a revert's revision, an undo's;
    # the values it holds take their origin there.
    restore: dict | None = None
    # Documents (with their provenance) whose values keep their origin where this one takes
    # them: the incident a merge joins.
    inherit: list = field(default_factory=list)
    # [(document, Origin)]: a changed value equal to one of these documents' takes its origin
    # (an approval: what the contributor proposed, the rest being the editor's).
    attribute: list = field(default_factory=list)
    # Filled while publishing.
    number_refused: int | None = None
    term_rows: list = field(default_factory=list)
    entity_rows: list = field(default_factory=list)
    previous: dict | None = None


def incident_publish(
    *,
    document,
    incident=None,
    author=None,
    summary="",
    credit="",
    slug="",
    number=None,
    taxonomy=None,
    refresh_search=True,
    expected_revision=None,
    import_batch=None,
    origin=None,
    provenance=None,
    restore=None,
    inherit=(),
    attribute=(),
):
    """Publish a document as a new revision of `incident`, or as a new incident.

    Returns a PublishResult; when the document equals the published one nothing is
    written and `revision` is None. Raises DocumentError on an invalid document,
    StaleRevision when `expected_revision` (an id) is given and is no longer current, and
    IncidentMerged when the incident was merged into another.
    The revision's summary is `summary` followed by what changed. The revision's document
    carries its provenance: `origin` for the values that changed (see PublishItem).
    """
    item = PublishItem(
        document=document,
        incident=incident,
        summary=summary,
        slug=slug,
        number=number,
        expected_revision=expected_revision,
        author=author,
        credit=credit,
        origin=origin,
        provenance=provenance,
        restore=restore,
        inherit=list(inherit),
        attribute=list(attribute),
    )
    [result] = incidents_publish(
        items=[item], taxonomy=taxonomy, refresh_search=refresh_search, import_batch=import_batch
    )
    return result


def incidents_publish(*, items, taxonomy=None, refresh_search=True, import_batch=None):
    """Publish many PublishItems at once (an import's chunk), with the same checks and the
    same revisions as one at a time, in a number of queries that does not grow with them.
    Returns a PublishResult per item, in order. Raises as incident_publish does, for the
    first item at fault; nothing is written then (the caller's transaction rolls back).
    The revisions carry `import_batch` (an ImportBatch) when an import publishes them."""
    taxonomy = taxonomy or Taxonomy()
    vocabularies = set(taxonomy.vocabularies)
    for item in items:
        if not item.normalized:
            item.document = documents.normalize(item.document, vocabularies=vocabularies)
    with transaction.atomic(savepoint=False):
        locked = _lock(items)
        # Refused before anything is written, and raised once out of the block, so that a
        # caller's own transaction stays usable.
        refusal = _refusal(items, locked)
        if refusal is None:
            if not taxonomy.preloaded:
                for item in items:
                    taxonomy.load_document(item.document)
            for item in items:
                item.document, item.term_rows, item.entity_rows = taxonomy.canonical(item.document)
            results = _write(items, locked, taxonomy, refresh_search, import_batch)
    if refusal is not None:
        raise refusal
    return results


def _lock(items):
    """The items' incidents by id, locked until commit, with their current revisions (one
    query). A revision the caller has read already is not read again: revisions never change,
    so when every incident came with its current revision, only the incidents are read, and
    the revisions that are no longer current (a change meanwhile) in one more query."""
    existing = [item.incident for item in items if item.incident is not None]
    if not existing:
        return {}
    ids = [incident.pk for incident in existing]
    query = Incident.objects.select_for_update(of=("self",)).defer("search_vector")
    if not all(Incident.current_revision.is_cached(incident) for incident in existing):
        return query.select_related("current_revision").in_bulk(ids)
    known = {
        incident.current_revision_id: incident.current_revision
        for incident in existing
        if incident.current_revision is not None
    }
    locked = query.in_bulk(ids)
    missing = {incident.current_revision_id for incident in locked.values()} - set(known) - {None}
    if missing:
        known.update(Revision.objects.in_bulk(missing))
    for incident in locked.values():
        incident.current_revision = known.get(incident.current_revision_id)
    return locked


def _refusal(items, locked):
    """The error for the first item that may not be published (merged, or stale), or None."""
    for item in items:
        if item.incident is None:
            continue
        incident = locked[item.incident.pk]
        if incident.merged_into_id is not None:
            return IncidentMerged(incident.merged_into_id)
        if item.expected_revision is not None and incident.current_revision_id != item.expected_revision:
            return StaleRevision(incident.current_revision_id)
    return None


def _write(items, locked, taxonomy, refresh_search, import_batch=None):
    """Write the revisions and rows of the items whose document changed (in a transaction)."""
    results = [None] * len(items)
    publishing, taken = [], set()
    _grant_numbers(items, taxonomy)
    for index, item in enumerate(items):
        if item.incident is None:
            item.incident = Incident(number=item.number)
            item.incident.slug = _new_slug(item.slug or item.document["headline"], taxonomy, taken)
            publishing.append((index, item))
            continue
        incident = item.incident = locked[item.incident.pk]
        if incident.current_revision is not None:
            item.previous = incident.current_revision.document
            if documents.same_values(item.previous, item.document) and (
                # The same values: nothing to publish, unless the item says anew where they
                # came from (an older export that has said them since before) and that differs.
                item.provenance is None
                or _with_provenance(item).get("provenance") == item.previous.get("provenance")
            ):
                results[index] = PublishResult(incident, None, False)
                continue
        publishing.append((index, item))
    if not publishing:
        return results
    now = timezone.now()
    new, changed = [], []
    for _index, item in publishing:
        incident = item.incident
        for name in INCIDENT_FIELDS:
            setattr(incident, name, item.document[name])
        incident.source_key = normalize_url(incident.source_url)[:500]
        incident.set_occurred(incident.occurred)
        incident.narrative_html = narrative.render_html(incident.narrative)
        incident.updated_at = now
        (new if incident.pk is None else changed).append(incident)
    create_objects(Incident, new, key="number")
    new_ids = {incident.pk for incident in new}
    if changed:
        Incident.objects.bulk_update(changed, UPDATED_FIELDS, batch_size=500)
    # On PostgreSQL, each write of an incident's row also writes all its indexes (three of them
    # GIN): after inserting or updating it, one last statement sets its newest revision, its
    # ancestor ids and its search vector together.
    last_write = refresh_search and connection.vendor == "postgresql"
    _sync_rows([item for _index, item in publishing], fresh_ids=new_ids, last_write=last_write)
    labels = {slug: v.label for slug, v in taxonomy.vocabularies.items()}
    revisions = [
        Revision(
            incident=item.incident,
            number=(item.incident.current_revision.number if item.incident.current_revision else 0) + 1,
            document=_with_provenance(item),
            summary=_revision_summary(item.summary, item.previous, item.document, labels),
            credit=item.credit[:200],
            author=item.author,
            import_batch=import_batch,
        )
        for _index, item in publishing
    ]
    create_objects(Revision, revisions, key="incident_id")
    for (index, item), revision in zip(publishing, revisions, strict=True):
        item.incident.current_revision = revision
        results[index] = PublishResult(
            item.incident, revision, item.incident.pk in new_ids, number_refused=item.number_refused
        )
    # Each incident now points at its newest revision: one UPDATE for them all; then the search
    # index follows the new text, terms and entities (on PostgreSQL, the same statement).
    published_ids = [item.incident.pk for _index, item in publishing]
    if last_write:
        search.index_refresh(
            incident_ids=published_ids, also=[_NEWEST_REVISION, f"under_term_ids = {ancestry.IDS_OF_ROWS}"]
        )
    else:
        Incident.objects.filter(pk__in=published_ids).update(
            current_revision=Subquery(
                Revision.objects.filter(incident=OuterRef("pk")).order_by("-number").values("pk")[:1]
            )
        )
        if refresh_search:
            incident_search_refresh(incident_ids=published_ids)
    freshness.changed()
    return results


def _with_provenance(item):
    """The item's document as its revision stores it: its values, and where each came from."""
    values = documents.values_of(item.document)
    origin = item.origin
    if origin is not None and origin.kind != "source" and not origin.on:
        origin = Origin(origin.kind, on=timezone.localdate().isoformat())
    if (
        item.previous is None
        and origin is not None
        and not (item.restore or item.inherit or item.attribute or item.provenance)
    ):
        return {**values, "provenance": provenance.single(origin)}  # one origin for every value
    found = provenance.compute(
        item.previous,
        values,
        origin,
        restore=item.restore,
        inherit=item.inherit,
        attribute=item.attribute,
        override=item.provenance,
    )
    stored = provenance.pack(values, found)
    return {**values, "provenance": stored} if stored else values


# The newest revision of the incident `i` (publishing's last statement on PostgreSQL).
_NEWEST_REVISION = (
    "current_revision_id = (SELECT r.id FROM repository_revision r WHERE r.incident_id = i.id "
    "ORDER BY r.number DESC LIMIT 1)"
)
INCIDENT_FIELDS = ("headline", "type", "occurred", "released", "summary", "narrative", "source_url")
UPDATED_FIELDS = [
    *INCIDENT_FIELDS,
    "occurred_start",
    "occurred_end",
    "occurred_precision",
    "source_key",
    "narrative_html",
    "updated_at",
]


def _new_slug(text, taxonomy, taken):
    known = taxonomy.incident_slugs

    def in_use(slug):
        if slug in taken or (known is not None and slug in known):
            return True
        return known is None and Incident.objects.filter(slug=slug).exists()

    slug = unique_slug(make_slug(text, "incident", 255), in_use, max_length=255)
    taken.add(slug)
    if known is not None:
        known.add(slug)
    return slug


def incident_revert(*, incident, revision, editor, expected_revision=None):
    """Publish an earlier revision's document again, as a new revision."""
    if revision.incident_id != incident.pk:
        raise ValueError("That revision belongs to another incident.")
    return incident_publish(
        document=revision.document,
        incident=incident,
        author=editor,
        summary=f"Reverted to revision {revision.number}",
        expected_revision=expected_revision,
        origin=Origin.decision("editor"),
        restore=revision.document,
    )
