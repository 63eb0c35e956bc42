"""Publishing: every change to an incident is a new revision, written by incident_publish."""

from dataclasses import dataclass

from django.contrib.postgres.search import SearchVector
from django.db import connection, transaction
from django.db.models import Max

from .. import documents
from ..models import ExternalId, Incident, IncidentEntity, IncidentTerm, Reference, Revision
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

    @property
    def changed(self):
        return self.revision is not None


def _next_incident_number():
    if connection.vendor == "postgresql":
        # Serialise number allocation between concurrent publishers until commit.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('repository_incident_number'))")
    return (Incident.objects.aggregate(top=Max("number"))["top"] or 0) + 1


def _sync_terms(incident, rows, fresh):
    existing = {} if fresh else {link.term_id: link for link in incident.incident_terms.all()}
    wanted = {term.id: position for term, position in rows}
    stale = [link.id for term_id, link in existing.items() if term_id not in wanted]
    if stale:
        IncidentTerm.objects.filter(id__in=stale).delete()
    moved = []
    for term_id, position in wanted.items():
        link = existing.get(term_id)
        if link is not None and link.position != position:
            link.position = position
            moved.append(link)
    if moved:
        IncidentTerm.objects.bulk_update(moved, ["position"])
    new = [
        IncidentTerm(incident=incident, term_id=term_id, position=position)
        for term_id, position in wanted.items()
        if term_id not in existing
    ]
    if new:
        IncidentTerm.objects.bulk_create(new)


def _sync_entities(incident, rows, fresh):
    existing = (
        {} if fresh else {(link.entity_id, link.role): link for link in incident.incident_entities.all()}
    )
    wanted = {(entity.id, role): position for entity, role, position in rows}
    stale = [link.id for key, link in existing.items() if key not in wanted]
    if stale:
        IncidentEntity.objects.filter(id__in=stale).delete()
    moved = []
    for key, position in wanted.items():
        link = existing.get(key)
        if link is not None and link.position != position:
            link.position = position
            moved.append(link)
    if moved:
        IncidentEntity.objects.bulk_update(moved, ["position"])
    new = [
        IncidentEntity(incident=incident, entity_id=entity_id, role=role, position=position)
        for (entity_id, role), position in wanted.items()
        if (entity_id, role) not in existing
    ]
    if new:
        IncidentEntity.objects.bulk_create(new)


def _sync_external_ids(incident, document, fresh):
    wanted = [(item["scheme"], item["value"]) for item in document["external_ids"]]
    if not fresh:
        existing = list(incident.external_ids.order_by("position").values_list("scheme", "value"))
        if existing == wanted:
            return
        incident.external_ids.all().delete()
    ExternalId.objects.bulk_create(
        [
            ExternalId(incident=incident, scheme=scheme, value=value, position=position)
            for position, (scheme, value) in enumerate(wanted)
        ]
    )


def _sync_references(incident, document, fresh):
    """Make the incident's references those of the document, keeping link-health data."""
    existing = {} if fresh else {ref.url: ref for ref in incident.references.all()}
    wanted = []
    for category in documents.CATEGORIES:
        for item in document["references"][category]:
            wanted.append((category, item))
    wanted_urls = {item["url"] for _, item in wanted}
    stale = [ref.id for url, ref in existing.items() if url not in wanted_urls]
    if stale:
        Reference.objects.filter(id__in=stale).delete()
    changed, new = [], []
    for position, (category, item) in enumerate(wanted):
        values = {
            "category": category,
            "title": item["title"],
            "publisher": item["publisher"],
            "published": item["published"],
            "position": position,
        }
        ref = existing.get(item["url"])
        if ref is None:
            new.append(Reference(incident=incident, url=item["url"], **values))
            continue
        current = {field: getattr(ref, field) for field in values}
        if current != values:
            for field, value in values.items():
                setattr(ref, field, value)
            changed.append(ref)
    if changed:
        Reference.objects.bulk_update(changed, ["category", "title", "publisher", "published", "position"])
    if new:
        Reference.objects.bulk_create(new)


def incident_search_refresh(*, incident_ids):
    """Recompute the stored full-text vector (PostgreSQL; SQLite searches the columns)."""
    if connection.vendor != "postgresql":
        return
    vector = (
        SearchVector("headline", weight="A", config="english")
        + SearchVector("summary", weight="B", config="english")
        + SearchVector("narrative", weight="C", config="english")
    )
    Incident.objects.filter(pk__in=incident_ids).update(search_vector=vector)


def _revision_summary(summary, previous, document, vocabulary_labels):
    changes = (
        "Created"
        if previous is None
        else documents.change_summary(documents.diff(previous, document, vocabulary_labels))
    )
    return (f"{summary}: {changes}" if summary else changes)[:300]


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
):
    """Publish a document as a new revision of `incident`, or as a new incident.

    Returns a PublishResult; when the document equals the published one nothing is
    written and `revision` is None. Raises DocumentError on an invalid document, and
    StaleRevision when `expected_revision` (an id) is given and is no longer current.
    The revision's summary is `summary` followed by what changed.
    """
    taxonomy = taxonomy or Taxonomy()
    document = documents.normalize(document, vocabularies=set(taxonomy.vocabularies))
    with transaction.atomic(savepoint=False):
        if taxonomy._term_slugs is None:
            taxonomy.load_document(document)
        document, term_rows, entity_rows = taxonomy.canonical(document)
        previous = None
        created = incident is None
        if created:
            incident = Incident(number=number or _next_incident_number())
            known = taxonomy.incident_slugs
            incident.slug = unique_slug(
                make_slug(slug or document["headline"], "incident", 255),
                known.__contains__
                if known is not None
                else lambda s: Incident.objects.filter(slug=s).exists(),
                max_length=255,
            )
            if known is not None:
                known.add(incident.slug)
        else:
            incident = (
                Incident.objects.select_for_update(of=("self",))
                .select_related("current_revision")
                .get(pk=incident.pk)
            )
            if incident.merged_into_id is not None:
                raise IncidentMerged(incident.merged_into_id)
            if expected_revision is not None and incident.current_revision_id != expected_revision:
                raise StaleRevision(incident.current_revision_id)
            if incident.current_revision is not None:
                previous = incident.current_revision.document
                if previous == document:
                    return PublishResult(incident, None, False)
        for field in ("headline", "type", "occurred", "released", "summary", "narrative", "source_url"):
            setattr(incident, field, document[field])
        incident.save()
        _sync_external_ids(incident, document, created)
        _sync_terms(incident, term_rows, created)
        _sync_entities(incident, entity_rows, created)
        _sync_references(incident, document, created)
        latest = incident.current_revision.number if incident.current_revision else 0
        vocabulary_labels = {slug: v.label for slug, v in taxonomy.vocabularies.items()}
        revision = Revision.objects.create(
            incident=incident,
            number=latest + 1,
            document=document,
            summary=_revision_summary(summary, previous, document, vocabulary_labels),
            credit=credit[:200],
            author=author,
        )
        incident.current_revision = revision
        incident.save(update_fields=["current_revision", "updated_at"])
        if refresh_search:
            incident_search_refresh(incident_ids=[incident.pk])
    return PublishResult(incident, revision, created)


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
    )
