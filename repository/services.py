"""Writes to the published record. Every change to an incident goes through incident_publish."""

import itertools
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from config.celery import enqueue_many

from . import documents, fetching
from .metadata import host_name, parse_metadata
from .models import (
    DatasetSnapshot,
    Entity,
    EntityAlias,
    Incident,
    IncidentEntity,
    IncidentTerm,
    Reference,
    Revision,
    SourceMetadata,
    Term,
    TermAlias,
    Vocabulary,
)

PARENT_SEPARATOR = " - "  # "Govt - police" sits under "Govt"


def make_slug(text, fallback="item", max_length=200):
    slug = slugify(text.replace("/", " ").replace("&", " and "))[:max_length].strip("-")
    return slug or fallback


def _unique_slug(base, taken, max_length=200):
    """`base`, or `base-2`, `base-3`…: the first that `taken(slug)` says is free."""
    base = base[: max_length - 6].strip("-")
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


class Taxonomy:
    """Resolves names to terms and entities through their aliases, creating what is missing.

    One instance serves one unit of work (a publish, an import) and caches what it has
    looked up. Call `preload()` before resolving many names (an import), or
    `load_document(document)` before resolving one document's names (two queries).
    """

    def __init__(self):
        self.vocabularies = {v.slug: v for v in Vocabulary.objects.all()}
        self._terms = {}  # (vocabulary id, key) -> Term
        self._entities = {}  # key -> Entity
        self._term_slugs = None  # vocabulary id -> set of slugs, when preloaded
        self._entity_slugs = None
        self.incident_slugs = None  # when preloaded
        self.preferred = {}  # (vocabulary slug or role, key) -> the spelling to create a name with
        self.created_terms = 0
        self.created_entities = 0

    # Loading ---------------------------------------------------------------------------

    def preload(self):
        for alias in TermAlias.objects.select_related("term"):
            self._terms[(alias.vocabulary_id, alias.key)] = alias.term
        for alias in EntityAlias.objects.select_related("entity"):
            self._entities[alias.key] = alias.entity
        self._term_slugs = {}
        for vocabulary_id, slug in Term.objects.values_list("vocabulary_id", "slug"):
            self._term_slugs.setdefault(vocabulary_id, set()).add(slug)
        self._entity_slugs = set(Entity.objects.values_list("slug", flat=True))
        self.incident_slugs = set(Incident.objects.values_list("slug", flat=True))

    def ensure(self, terms=(), entities=()):
        """Create in bulk the terms [(vocabulary slug, name)] and entities [(name, role)] that
        no alias knows yet. Needs preload(); an import calls it once before publishing."""
        wanted = {}
        for vocabulary_slug, name in terms:
            vocabulary = self.vocabulary(vocabulary_slug)
            name = documents.clean_name(name)
            names = [name]
            if PARENT_SEPARATOR in name:
                names.insert(0, name.split(PARENT_SEPARATOR, 1)[0].strip())
            for item in filter(None, names):
                key = (vocabulary.id, documents.fold(item))
                if key not in self._terms and key not in wanted:
                    wanted[key] = (vocabulary, self.preferred.get((vocabulary.slug, key[1]), item))
        new_terms = []
        for (vocabulary_id, key), (vocabulary, name) in wanted.items():
            slugs = self._term_slugs.setdefault(vocabulary_id, set())
            slug = _unique_slug(make_slug(name, "term"), slugs.__contains__)
            slugs.add(slug)
            new_terms.append((key, Term(vocabulary=vocabulary, name=name, slug=slug)))
        Term.objects.bulk_create([term for _, term in new_terms], batch_size=500)
        TermAlias.objects.bulk_create(
            [
                TermAlias(term=term, vocabulary_id=term.vocabulary_id, name=term.name, key=key)
                for key, term in new_terms
            ],
            batch_size=500,
        )
        with_parent = []
        for key, term in new_terms:
            self._terms[(term.vocabulary_id, key)] = term
        for _key, term in new_terms:
            if PARENT_SEPARATOR in term.name:
                parent_key = documents.fold(term.name.split(PARENT_SEPARATOR, 1)[0].strip())
                parent = self._terms.get((term.vocabulary_id, parent_key))
                if parent is not None and parent.pk != term.pk:
                    term.parent = parent
                    with_parent.append(term)
        Term.objects.bulk_update(with_parent, ["parent"], batch_size=500)
        self.created_terms += len(new_terms)

        new_entities = {}
        for name, role in entities:
            name = documents.clean_name(name)
            key = documents.fold(name)
            if key not in self._entities and key not in new_entities:
                name = self.preferred.get(("entity", key), name)
                slug = _unique_slug(make_slug(name, "entity"), self._entity_slugs.__contains__)
                self._entity_slugs.add(slug)
                kind = Entity.Kind.SYSTEM if role == IncidentEntity.Role.SYSTEM else Entity.Kind.ORGANISATION
                new_entities[key] = Entity(name=name, slug=slug, kind=kind)
        Entity.objects.bulk_create(new_entities.values(), batch_size=500)
        EntityAlias.objects.bulk_create(
            [EntityAlias(entity=entity, name=entity.name, key=key) for key, entity in new_entities.items()],
            batch_size=500,
        )
        self._entities.update(new_entities)
        self.created_entities += len(new_entities)

    def load_document(self, document):
        term_keys = [documents.fold(name) for names in document.get("terms", {}).values() for name in names]
        entity_keys = [
            documents.fold(name) for names in document.get("entities", {}).values() for name in names
        ]
        if term_keys:
            for alias in TermAlias.objects.filter(key__in=term_keys).select_related("term"):
                self._terms[(alias.vocabulary_id, alias.key)] = alias.term
        if entity_keys:
            for alias in EntityAlias.objects.filter(key__in=entity_keys).select_related("entity"):
                self._entities[alias.key] = alias.entity

    # Resolving -------------------------------------------------------------------------

    def vocabulary(self, slug):
        try:
            return self.vocabularies[slug]
        except KeyError:
            raise documents.DocumentError({f"terms.{slug}": [f"There is no vocabulary {slug!r}."]}) from None

    def term(self, vocabulary_slug, name):
        vocabulary = self.vocabulary(vocabulary_slug)
        name = documents.clean_name(name)
        key = documents.fold(name)
        term = self._terms.get((vocabulary.id, key))
        if term is None and self._term_slugs is None:
            alias = TermAlias.objects.filter(vocabulary=vocabulary, key=key).select_related("term").first()
            term = alias.term if alias else None
        if term is None:
            term = self._create_term(vocabulary, self.preferred.get((vocabulary.slug, key), name), key)
        while term.merged_into_id:
            term = Term.objects.get(pk=term.merged_into_id)
        self._terms[(vocabulary.id, key)] = term
        return term

    def _create_term(self, vocabulary, name, key):
        parent = None
        if PARENT_SEPARATOR in name:
            parent_name = name.split(PARENT_SEPARATOR, 1)[0].strip()
            if parent_name and documents.fold(parent_name) != key:
                parent = self.term(vocabulary.slug, parent_name)

        def taken(slug):
            if self._term_slugs is not None:
                return slug in self._term_slugs.get(vocabulary.id, ())
            return Term.objects.filter(vocabulary=vocabulary, slug=slug).exists()

        slug = _unique_slug(make_slug(name, "term"), taken)
        term = Term.objects.create(vocabulary=vocabulary, name=name, slug=slug, parent=parent)
        TermAlias.objects.create(term=term, vocabulary=vocabulary, name=name, key=key)
        if self._term_slugs is not None:
            self._term_slugs.setdefault(vocabulary.id, set()).add(slug)
        self.created_terms += 1
        return term

    def entity(self, name, role=IncidentEntity.Role.DEPLOYER):
        name = documents.clean_name(name)
        key = documents.fold(name)
        entity = self._entities.get(key)
        if entity is None and self._entity_slugs is None:
            alias = EntityAlias.objects.filter(key=key).select_related("entity").first()
            entity = alias.entity if alias else None
        if entity is None:
            entity = self._create_entity(self.preferred.get(("entity", key), name), key, role)
        while entity.merged_into_id:
            entity = Entity.objects.get(pk=entity.merged_into_id)
        self._entities[key] = entity
        return entity

    def _create_entity(self, name, key, role):
        def taken(slug):
            if self._entity_slugs is not None:
                return slug in self._entity_slugs
            return Entity.objects.filter(slug=slug).exists()

        slug = _unique_slug(make_slug(name, "entity"), taken)
        kind = Entity.Kind.SYSTEM if role == IncidentEntity.Role.SYSTEM else Entity.Kind.ORGANISATION
        entity = Entity.objects.create(name=name, slug=slug, kind=kind)
        EntityAlias.objects.create(entity=entity, name=name, key=key)
        if self._entity_slugs is not None:
            self._entity_slugs.add(slug)
        self.created_entities += 1
        return entity

    def canonical(self, document):
        """The document with every term and entity under its canonical name, plus the rows.

        Returns (document, terms, entities): terms as [(Term, position)], entities as
        [(Entity, role, position)].
        """
        source = document
        document = {**document, "terms": {}, "entities": {}}
        terms, entities = [], []
        seen_terms = set()
        for vocabulary_slug, names in source["terms"].items():
            canonical = []
            for name in names:
                term = self.term(vocabulary_slug, name)
                if term.id not in seen_terms:
                    seen_terms.add(term.id)
                    canonical.append(term.name)
                    terms.append((term, len(terms)))
            if canonical:
                document["terms"][vocabulary_slug] = canonical
        for role, names in source["entities"].items():
            canonical, seen = [], set()
            for name in names:
                entity = self.entity(name, role)
                if entity.id not in seen:
                    seen.add(entity.id)
                    canonical.append(entity.name)
                    entities.append((entity, role, len(entities)))
            document["entities"][role] = canonical
        return document, terms, entities


class StaleRevision(Exception):
    """The incident has a newer revision than the one the change was made against."""


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
            incident.slug = _unique_slug(
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
            if expected_revision is not None and incident.current_revision_id != expected_revision:
                raise StaleRevision(incident.current_revision_id)
            if incident.current_revision is not None:
                previous = incident.current_revision.document
                if previous == document:
                    return PublishResult(incident, None, False)
        for field in ("headline", "type", "occurred", "released", "summary", "narrative", "source_url"):
            setattr(incident, field, document[field])
        incident.external_id = document["external_id"] or None
        incident.save()
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


# Link health, source metadata and dataset snapshots ---------------------------------------
# The tasks and the snapshot writer import this module, so it imports them where they are used.


def reference_check(*, reference, force=False, final_attempt=True):
    """Check a reference's link and record what happened: status, final URL, when, error.

    HEAD first; GET when HEAD fails or answers an error (many servers refuse HEAD with 405,
    501 or 403). A reference checked within LINK_CHECK_INTERVAL_DAYS is left alone unless
    `force`, so running twice is harmless. A network error (timeout, connection) is raised
    for the task to retry, and recorded only on the `final_attempt`.
    """
    now = timezone.now()
    fresh_after = now - timedelta(days=settings.LINK_CHECK_INTERVAL_DAYS)
    if not force and reference.checked_at and reference.checked_at > fresh_after:
        return reference
    status, final_url, error = None, "", ""
    try:
        try:
            result = fetching.fetch(reference.url, method="HEAD")
        except (
            fetching.FetchRefused,
            fetching.FetchTooManyRedirects,
            fetching.FetchTimeout,
            fetching.FetchHostBusy,
        ):
            raise
        except fetching.FetchError:
            result = None  # some servers drop the connection on HEAD: GET decides
        if result is None or result.status >= 400:
            result = fetching.fetch(reference.url, method="GET", max_bytes=0)
        status, final_url = result.status, result.final_url
    except fetching.FetchNetworkError as exc:
        if not final_attempt:
            raise
        error = str(exc)
    except fetching.FetchError as exc:
        error = str(exc)
    fields = {
        "checked_at": now,
        "status_code": status if status is not None and status < 1000 else None,
        "final_url": final_url if len(final_url) <= 2000 else "",
        "check_error": error[:300],
    }
    for field, value in fields.items():
        setattr(reference, field, value)
    # A conditional update: a publish may have removed the reference while we fetched.
    Reference.objects.filter(pk=reference.pk, url=reference.url).update(**fields)
    return reference


def references_check_due(*, limit=None):
    """Queue link checks (after commit) for the references most in need: never checked
    first, then those checked longest ago, at most `limit` (LINK_CHECK_BATCH_SIZE).
    Returns the ids queued. Two indexed queries, whatever the size of the table."""
    from . import tasks

    limit = limit or settings.LINK_CHECK_BATCH_SIZE
    cutoff = timezone.now() - timedelta(days=settings.LINK_CHECK_INTERVAL_DAYS)
    ids = list(
        Reference.objects.filter(checked_at__isnull=True).order_by("id").values_list("id", flat=True)[:limit]
    )
    if len(ids) < limit:
        ids += list(
            Reference.objects.filter(checked_at__lt=cutoff)
            .order_by("checked_at", "id")
            .values_list("id", flat=True)[: limit - len(ids)]
        )
    _enqueue_on_commit(tasks.reference_check, ids)
    return ids


def _enqueue_on_commit(task, ids):
    """One batch of tasks for these ids, handed to the broker after commit."""
    if ids:
        ids = list(ids)
        transaction.on_commit(lambda: enqueue_many(task, [(pk,) for pk in ids]))


def source_metadata_request(*, urls):
    """Make sure each URL has a SourceMetadata row and queue a fetch (after commit) for those
    not fetched yet. Returns {url: SourceMetadata}. For the submission forms."""
    from . import tasks

    urls = [url.strip() for url in urls if url and url.strip()]
    urls = list(dict.fromkeys(url for url in urls if len(url) <= 2000))
    SourceMetadata.objects.bulk_create([SourceMetadata(url=url) for url in urls], ignore_conflicts=True)
    rows = {row.url: row for row in SourceMetadata.objects.filter(url__in=urls)}
    _enqueue_on_commit(
        tasks.source_metadata_fetch,
        [row.pk for row in rows.values() if row.status != SourceMetadata.Status.FETCHED],
    )
    return rows


def source_metadata_requeue(*, now=None, limit=100):
    """Queue again the lookups still pending a while after they were asked for (the broker
    may have been down then). Returns the ids queued."""
    from . import tasks

    cutoff = (now or timezone.now()) - timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER)
    ids = list(
        SourceMetadata.objects.filter(status=SourceMetadata.Status.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue_on_commit(tasks.source_metadata_fetch, ids)
    return ids


def source_metadata_fetch(*, url, refresh=False, final_attempt=True):
    """Fetch what the page at `url` says about itself and store it, once per URL (again only
    with `refresh`). Returns the SourceMetadata row. A network error is raised for the task
    to retry, and recorded as a failure only on the `final_attempt`."""
    row, _ = SourceMetadata.objects.get_or_create(url=url.strip())
    if row.status == SourceMetadata.Status.FETCHED and not refresh:
        return row
    values = {
        "title": "",
        "publisher": "",
        "published": "",
        "final_url": "",
        "status_code": None,
        "error": "",
    }
    try:
        result = fetching.fetch(row.url, method="GET", truncate=True)
    except fetching.FetchNetworkError as exc:
        if not final_attempt:
            raise
        values.update(status=SourceMetadata.Status.FAILED, error=str(exc)[:300])
    except fetching.FetchError as exc:
        values.update(status=SourceMetadata.Status.FAILED, error=str(exc)[:300])
    else:
        values.update(final_url=result.final_url[:2000], status_code=min(result.status, 999))
        if result.status >= 400:
            values.update(
                status=SourceMetadata.Status.FAILED, error=f"The page answered HTTP {result.status}"
            )
        elif result.content_type in {"", "text/html", "application/xhtml+xml"}:
            page = parse_metadata(result.body, url=result.final_url, charset=result.charset)
            values.update(
                status=SourceMetadata.Status.FETCHED,
                title=page.title,
                publisher=page.publisher,
                published=page.published,
            )
        else:  # a PDF, an image…: nothing to read but who serves it
            values.update(status=SourceMetadata.Status.FETCHED, publisher=host_name(result.final_url)[:200])
    for field, value in values.items():
        setattr(row, field, value)
    row.fetched_at = timezone.now()
    row.save(update_fields=[*values, "fetched_at"])
    return row


SNAPSHOT_LOCK = "dataset-snapshot:writing"
SNAPSHOT_LOCK_SECONDS = 30 * 60  # outlives a writer that died, not a long wait


class SnapshotInProgress(Exception):
    """Another process is writing a snapshot at this moment."""


def dataset_snapshot_create(*, progress=None):
    """Write the published dataset as CSV and JSON in EXPORT_DIR, record both files, and keep
    only the newest EXPORT_KEEP of each format. Returns ([DatasetSnapshot], [removed names]).

    One writer at a time (a lock in the shared cache): raises SnapshotInProgress otherwise.
    """
    if not cache.add(SNAPSHOT_LOCK, 1, timeout=SNAPSHOT_LOCK_SECONDS):
        raise SnapshotInProgress("Another snapshot is being written; try again when it is done.")
    try:
        return _dataset_snapshot_write(progress)
    finally:
        cache.delete(SNAPSHOT_LOCK)


def _dataset_snapshot_write(progress):
    from . import snapshots

    created_at = timezone.now()
    stem = base = f"{snapshots.FILE_PREFIX}{created_at:%Y%m%d-%H%M%S}"
    for n in itertools.count(2):
        names = [f"{stem}.{format}" for format in DatasetSnapshot.Format.values]
        exists = any(snapshots.snapshot_path(name).exists() for name in names)
        if not exists and not DatasetSnapshot.objects.filter(file_name__in=names).exists():
            break
        stem = f"{base}-{n}"
    title = f"{settings.SITE_NAME}: published incidents, {created_at:%Y-%m-%d %H:%M} UTC"
    written, count = snapshots.write_dataset(stem=stem, title=title, progress=progress)
    try:
        with transaction.atomic():
            rows = [
                DatasetSnapshot.objects.create(
                    format=file.format,
                    file_name=file.file_name,
                    created_at=created_at,
                    size=file.size,
                    sha256=file.sha256,
                    incident_count=count,
                )
                for file in written
            ]
    except Exception:
        for file in written:
            snapshots.snapshot_path(file.file_name).unlink(missing_ok=True)
        raise
    removed = dataset_snapshots_prune(keep=settings.EXPORT_KEEP)
    return rows, removed


def dataset_snapshots_prune(*, keep):
    """Delete all but the newest `keep` snapshots of each format: rows, then their files once
    the deletion is committed, and temporary files left by a write that died a day ago."""
    from . import snapshots

    old = []
    for format in DatasetSnapshot.Format.values:
        old += DatasetSnapshot.objects.filter(format=format).order_by("-created_at", "-id")[keep:]
    names = [snapshot.file_name for snapshot in old]

    def remove_files():
        for name in names:
            snapshots.snapshot_path(name).unlink(missing_ok=True)
        directory = Path(settings.EXPORT_DIR)
        if directory.is_dir():
            stale = time.time() - 24 * 3600
            for path in directory.glob(f"{snapshots.TEMP_PREFIX}*{snapshots.TEMP_SUFFIX}"):
                if path.stat().st_mtime < stale:
                    path.unlink(missing_ok=True)

    with transaction.atomic():
        DatasetSnapshot.objects.filter(pk__in=[snapshot.pk for snapshot in old]).delete()
        transaction.on_commit(remove_files, robust=True)  # a file that will not go is logged
    return names
