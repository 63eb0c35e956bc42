"""Resolving names to terms and entities, creating what is missing, keeping every spelling.

Names fold (`documents.fold`) so that variant spellings ("Open AI", "OpenAI ") mean one term
or entity; every spelling met is kept as an alias with a count of how often imports met it,
and a term is named after its most used spelling. Organisations and systems are different
kinds: a system never folds into an organisation, and two systems of one name are one entity
only when they share a deployer or developer (or nothing says otherwise). Parents come from
a vocabulary's known hierarchy only (`Vocabulary.parent_separator`).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import F
from django.utils.text import slugify

from .. import documents
from ..bulk import create_objects, insert_rows, update_column
from ..models import Entity, EntityAlias, Incident, IncidentEntity, Term, TermAlias, Vocabulary

ORGANISATION_ROLES = (IncidentEntity.Role.DEPLOYER, IncidentEntity.Role.DEVELOPER)


def make_slug(text, fallback="item", max_length=200):
    slug = slugify(text.replace("/", " ").replace("&", " and "))[:max_length].strip("-")
    return slug or fallback


def unique_slug(base, taken, max_length=200):
    """`base`, or `base-2`, `base-3`…: the first that `taken(slug)` says is free."""
    base = base[: max_length - 6].strip("-")
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def entity_kind(role):
    return Entity.Kind.SYSTEM if role == IncidentEntity.Role.SYSTEM else Entity.Kind.ORGANISATION


def parent_name(vocabulary, name):
    """The parent a name has in its vocabulary's known hierarchy, or ''."""
    separator = vocabulary.parent_separator
    if separator and separator in name:
        parent = name.split(separator, 1)[0].strip()
        if parent and documents.fold(parent) != documents.fold(name):
            return parent
    return ""


class Taxonomy:
    """One unit of work's view of the taxonomy (a publish, an import), caching what it has
    looked up. Call `preload()` before resolving many names (an import), or
    `load_document(document)` before resolving one document's names (a few queries).
    """

    def __init__(self):
        self.vocabularies = {v.slug: v for v in Vocabulary.objects.all()}
        self._terms = {}  # (vocabulary id, key) -> Term
        self._entities = {}  # (kind, key) -> [Entity], oldest first
        self._system_orgs = defaultdict(set)  # system entity id -> organisation ids seen with it
        self._term_slugs = None  # vocabulary id -> set of slugs, when preloaded
        self._entity_slugs = None
        self.incident_slugs = None  # when preloaded
        self.preferred = {}  # (vocabulary slug or entity kind, key) -> (spelling, uses in this import)
        self.spellings = Counter()  # ("term" | "entity", id, spelling) -> uses in this unit of work
        self.created_terms = 0
        self.created_entities = 0
        self.renamed = []  # (kind, old name, new name)

    @property
    def preloaded(self):
        return self._term_slugs is not None

    # Loading ---------------------------------------------------------------------------

    def preload(self):
        for alias in TermAlias.objects.select_related("term"):
            self._terms[(alias.vocabulary_id, alias.key)] = alias.term
        for term in Term.objects.all():
            self._terms.setdefault((term.vocabulary_id, documents.fold(term.name)), term)
        self._entities = {}
        for alias in EntityAlias.objects.select_related("entity").order_by("entity_id"):
            self._add_entity(alias.key, alias.entity)
        self._load_system_orgs(None)
        self._term_slugs = {}
        for vocabulary_id, slug in Term.objects.values_list("vocabulary_id", "slug"):
            self._term_slugs.setdefault(vocabulary_id, set()).add(slug)
        self._entity_slugs = set(Entity.objects.values_list("slug", flat=True))
        self.incident_slugs, self._incident_top = set(), 0
        self.incident_slugs_refresh()

    def incident_slugs_refresh(self):
        """Add the slugs of incidents created since they were loaded (by another publisher,
        while an import commits chunk by chunk): one query on the primary key."""
        for pk, slug in Incident.objects.filter(pk__gt=self._incident_top).values_list("pk", "slug"):
            self.incident_slugs.add(slug)
            self._incident_top = max(self._incident_top, pk)

    def _add_entity(self, key, entity):
        found = self._entities.setdefault((entity.kind, key), [])
        if all(other.id != entity.id for other in found):
            found.append(entity)

    def _load_system_orgs(self, system_ids):
        """Which organisations each system appeared with (all systems when `system_ids` is None)."""
        links = IncidentEntity.objects.filter(role=IncidentEntity.Role.SYSTEM)
        if system_ids is not None:
            links = links.filter(entity_id__in=system_ids)
        pairs = IncidentEntity.objects.filter(
            role__in=ORGANISATION_ROLES, incident_id__in=links.values("incident_id")
        ).values_list("incident_id", "entity_id")
        orgs_of_incident = defaultdict(set)
        for incident_id, entity_id in pairs:
            orgs_of_incident[incident_id].add(entity_id)
        for system_id, incident_id in links.values_list("entity_id", "incident_id"):
            self._system_orgs[system_id] |= orgs_of_incident.get(incident_id, set())

    def load_document(self, document):
        term_keys = [documents.fold(name) for names in document.get("terms", {}).values() for name in names]
        entity_keys = [
            documents.fold(name) for names in document.get("entities", {}).values() for name in names
        ]
        if term_keys:
            for alias in TermAlias.objects.filter(key__in=term_keys).select_related("term"):
                self._terms[(alias.vocabulary_id, alias.key)] = alias.term
        if entity_keys:
            systems = []
            for alias in (
                EntityAlias.objects.filter(key__in=entity_keys).select_related("entity").order_by("entity_id")
            ):
                self._add_entity(alias.key, alias.entity)
                if alias.entity.kind == Entity.Kind.SYSTEM:
                    systems.append(alias.entity_id)
            if systems:
                self._load_system_orgs(systems)

    def ensure(self, terms=(), entities=()):
        """Create in bulk the terms [(vocabulary slug, name)] and entities [(name, role)] that
        no alias knows yet. Needs preload(); an import calls it before publishing."""
        wanted = {}
        for vocabulary_slug, name in terms:
            vocabulary = self.vocabulary(vocabulary_slug)
            name = documents.clean_name(name)
            for item in filter(None, [parent_name(vocabulary, name), name]):
                key = (vocabulary.id, documents.fold(item))
                if key not in self._terms and key not in wanted:
                    wanted[key] = (vocabulary, self._preferred_spelling(vocabulary.slug, key[1], item))
        new_terms = []
        for (vocabulary_id, key), (vocabulary, name) in wanted.items():
            slugs = self._term_slugs.setdefault(vocabulary_id, set())
            slug = unique_slug(make_slug(name, "term"), slugs.__contains__)
            slugs.add(slug)
            new_terms.append((key, Term(vocabulary=vocabulary, name=name, slug=slug)))
        create_objects(Term, [term for _, term in new_terms], key=("vocabulary_id", "slug"))
        insert_rows(
            TermAlias,
            [
                {"term_id": term.pk, "vocabulary_id": term.vocabulary_id, "name": term.name, "key": key}
                for key, term in new_terms
            ],
        )
        for key, term in new_terms:
            self._terms[(term.vocabulary_id, key)] = term
        with_parent = []
        for _key, term in new_terms:
            parent = parent_name(term.vocabulary, term.name)
            if parent:
                term.parent = self._terms.get((term.vocabulary_id, documents.fold(parent)))
                if term.parent is not None and term.parent.pk != term.pk:
                    with_parent.append(term)
        Term.objects.bulk_update(with_parent, ["parent"], batch_size=500)
        self.created_terms += len(new_terms)

        # Names no entity of their kind has yet. A system created here has no organisation
        # yet: the first incident to name it claims it, and another system of the same name
        # with other organisations is created as it is resolved.
        new_entities = {}
        for name, role in entities:
            kind = entity_kind(role)
            name = documents.clean_name(name)
            key = documents.fold(name)
            if documents.is_placeholder(name):
                continue
            if (kind, key) not in self._entities and (kind, key) not in new_entities:
                name = self._preferred_spelling(kind, key, name)
                slug = unique_slug(make_slug(name, "entity"), self._entity_slugs.__contains__)
                self._entity_slugs.add(slug)
                new_entities[(kind, key)] = Entity(name=name, slug=slug, kind=kind)
        create_objects(Entity, list(new_entities.values()), key="slug")
        insert_rows(
            EntityAlias,
            [
                {"entity_id": entity.pk, "name": entity.name, "key": key}
                for (_kind, key), entity in new_entities.items()
            ],
        )
        for (kind, key), entity in new_entities.items():
            self._entities[(kind, key)] = [entity]
        self.created_entities += len(new_entities)

    def _preferred_spelling(self, scope, key, name):
        return self.preferred.get((scope, key), (name, 0))[0]

    def rename_to_preferred(self):
        """Name each existing term and organisation after its most used spelling, counting
        this import's uses with those stored on its aliases. Needs preload(). Returns the
        renames as (kind, old name, new name)."""
        stored = defaultdict(Counter)  # (scope, key) -> spelling -> uses
        for vocabulary_id, key, name, uses in TermAlias.objects.values_list(
            "vocabulary_id", "key", "name", "uses"
        ):
            stored[(vocabulary_id, key)][name] = uses
        for key, name, uses in EntityAlias.objects.filter(entity__kind=Entity.Kind.ORGANISATION).values_list(
            "key", "name", "uses"
        ):
            stored[(Entity.Kind.ORGANISATION, key)][name] = max(
                uses, stored[(Entity.Kind.ORGANISATION, key)][name]
            )
        terms, entities = [], []
        for (scope, key), (spelling, count) in self.preferred.items():
            if scope in self.vocabularies:
                vocabulary = self.vocabularies[scope]
                current = self._terms.get((vocabulary.id, key))
                uses = stored[(vocabulary.id, key)]
            elif scope == Entity.Kind.ORGANISATION and self._entities.get((scope, key)):
                current = self._entities[(scope, key)][0]
                uses = stored[(scope, key)]
            else:
                continue
            if current is None or current.name == spelling:
                continue
            if max(uses[spelling], count) > uses[current.name]:
                self.renamed.append((scope, current.name, spelling))
                current.name = spelling
                (terms if isinstance(current, Term) else entities).append(current)
        Term.objects.bulk_update(terms, ["name"], batch_size=500)
        Entity.objects.bulk_update(entities, ["name"], batch_size=500)
        return self.renamed

    def keep_spellings(self, count_uses=True):
        """Keep every spelling resolved in this unit of work as an alias of its term or entity,
        with how often it was met (the most in any one import, so that importing a file
        again changes nothing)."""
        term_ids = {item_id for kind, item_id, _ in self.spellings if kind == "term"}
        entity_ids = {item_id for kind, item_id, _ in self.spellings if kind == "entity"}
        # Only what is compared and updated is read (no model instance for each alias).
        term_aliases = {
            (term_id, name): _Uses(pk, uses)
            for pk, term_id, name, uses in TermAlias.objects.filter(term_id__in=term_ids).values_list(
                "pk", "term_id", "name", "uses"
            )
        }
        entity_aliases = {
            (entity_id, name): _Uses(pk, uses)
            for pk, entity_id, name, uses in EntityAlias.objects.filter(entity_id__in=entity_ids).values_list(
                "pk", "entity_id", "name", "uses"
            )
        }
        vocabulary_of = dict(Term.objects.filter(id__in=term_ids).values_list("id", "vocabulary_id"))
        new_terms, new_entities, updated_terms, updated_entities = [], [], [], []
        for (kind, item_id, spelling), count in self.spellings.items():
            count = count if count_uses else 0
            if kind == "term":
                alias = term_aliases.get((item_id, spelling))
                if alias is None:
                    alias = TermAlias(
                        term_id=item_id,
                        vocabulary_id=vocabulary_of[item_id],
                        name=spelling,
                        key=documents.fold(spelling),
                        uses=count,
                    )
                    term_aliases[(item_id, spelling)] = alias
                    new_terms.append(alias)
                elif count > alias.uses:
                    alias.uses = count
                    updated_terms.append(alias)
            else:
                alias = entity_aliases.get((item_id, spelling))
                if alias is None:
                    alias = EntityAlias(
                        entity_id=item_id, name=spelling, key=documents.fold(spelling), uses=count
                    )
                    entity_aliases[(item_id, spelling)] = alias
                    new_entities.append(alias)
                elif count > alias.uses:
                    alias.uses = count
                    updated_entities.append(alias)
        # A spelling that already names another term of the vocabulary stays with that term.
        TermAlias.objects.bulk_create(new_terms, batch_size=500, ignore_conflicts=True)
        EntityAlias.objects.bulk_create(new_entities, batch_size=500, ignore_conflicts=True)
        for model, updated in ((TermAlias, updated_terms), (EntityAlias, updated_entities)):
            update_column(model, {alias.pk: alias.uses for alias in updated}, "uses")
        self.spellings.clear()
        return len(new_terms) + len(new_entities)

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
        if term is None and not self.preloaded:
            alias = TermAlias.objects.filter(vocabulary=vocabulary, key=key).select_related("term").first()
            term = alias.term if alias else self._term_by_name(vocabulary, name, key)
        if term is None:
            term = self._create_term(vocabulary, self._preferred_spelling(vocabulary.slug, key, name), key)
        seen = set()
        while term.merged_into_id and term.pk not in seen:
            seen.add(term.pk)
            term = Term.objects.get(pk=term.merged_into_id)
        self._terms[(vocabulary.id, key)] = term
        self.spellings[("term", term.id, name)] += 1
        return term

    @staticmethod
    def _term_by_name(vocabulary, name, key):
        """A term whose own name is this one though no alias says so (a name changed by hand):
        it is that term, never a new one."""
        for term in Term.objects.filter(vocabulary=vocabulary, name__iexact=name).order_by("pk"):
            if documents.fold(term.name) == key:
                return term
        return None

    def _create_term(self, vocabulary, name, key):
        parent = parent_name(vocabulary, name)
        parent = self.term(vocabulary.slug, parent) if parent else None

        def taken(slug):
            if self._term_slugs is not None:
                return slug in self._term_slugs.get(vocabulary.id, ())
            return Term.objects.filter(vocabulary=vocabulary, slug=slug).exists()

        slug = unique_slug(make_slug(name, "term"), taken)
        term = Term.objects.create(vocabulary=vocabulary, name=name, slug=slug, parent=parent)
        TermAlias.objects.create(term=term, vocabulary=vocabulary, name=name, key=key)
        if self._term_slugs is not None:
            self._term_slugs.setdefault(vocabulary.id, set()).add(slug)
        self.created_terms += 1
        return term

    def entity(self, name, role=IncidentEntity.Role.DEPLOYER, organisations=frozenset()):
        """The entity a name means in a role. For a system, `organisations` (the ids of the
        incident's deployers and developers) decides between systems of the same name."""
        kind = entity_kind(role)
        name = documents.clean_name(name)
        key = documents.fold(name)
        candidates = self._entities.get((kind, key))
        if candidates is None and not self.preloaded:
            aliases = EntityAlias.objects.filter(key=key, entity__kind=kind).select_related("entity")
            for alias in aliases.order_by("entity_id"):
                self._add_entity(key, alias.entity)
            candidates = self._entities.get((kind, key))
            if not candidates:
                for entity in Entity.objects.filter(kind=kind, name__iexact=name).order_by("pk"):
                    if documents.fold(entity.name) == key:
                        self._add_entity(key, entity)
                candidates = self._entities.get((kind, key))
            if candidates and kind == Entity.Kind.SYSTEM:
                self._load_system_orgs([entity.id for entity in candidates])
        chosen = self._choose(kind, candidates or [], organisations)
        if chosen is None:
            # Another system of the same name keeps the spelling its source gave it.
            spelling = name if candidates else self._preferred_spelling(kind, key, name)
            chosen = self._create_entity(spelling, key, kind)
            self._entities.setdefault((kind, key), []).append(chosen)
        seen = set()
        while chosen.merged_into_id and chosen.pk not in seen:
            seen.add(chosen.pk)
            chosen = Entity.objects.get(pk=chosen.merged_into_id)
        if kind == Entity.Kind.SYSTEM:
            self._system_orgs[chosen.id] |= set(organisations)
        self.spellings[("entity", chosen.id, name)] += 1
        return chosen

    def _choose(self, kind, candidates, organisations):
        if not candidates:
            return None
        if kind != Entity.Kind.SYSTEM:
            return candidates[0]
        for entity in candidates:
            if self._system_orgs.get(entity.id, set()) & set(organisations):
                return entity
        for entity in candidates:
            if not self._system_orgs.get(entity.id):
                return entity  # nothing known says it is another system
        return None if organisations else candidates[0]

    def _create_entity(self, name, key, kind):
        def taken(slug):
            if self._entity_slugs is not None:
                return slug in self._entity_slugs
            return Entity.objects.filter(slug=slug).exists()

        slug = unique_slug(make_slug(name, "entity"), taken)
        entity = Entity.objects.create(name=name, slug=slug, kind=kind)
        EntityAlias.objects.create(entity=entity, name=name, key=key)
        if self._entity_slugs is not None:
            self._entity_slugs.add(slug)
        self.created_entities += 1
        return entity

    def canonical(self, document):
        """The document with every term and entity under its canonical name, plus the rows.

        Returns (document, terms, entities): terms as [(Term, position)], entities as
        [(Entity, role, position)]. Organisations are resolved before systems, which they
        tell apart.
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
        organisations = set()
        resolved = {}
        order = sorted(source["entities"], key=lambda role: role == IncidentEntity.Role.SYSTEM)
        for role in order:
            canonical, seen = [], set()
            for name in source["entities"][role]:
                entity = self.entity(name, role, frozenset(organisations))
                if role in ORGANISATION_ROLES:
                    organisations.add(entity.id)
                if entity.id not in seen:
                    seen.add(entity.id)
                    canonical.append((entity, name))
            resolved[role] = canonical
        for role in source["entities"]:
            document["entities"][role] = [entity.name for entity, _ in resolved[role]]
        for role in source["entities"]:
            for entity, _name in resolved[role]:
                entities.append((entity, role, len(entities)))
        return document, terms, entities


@dataclass
class _Uses:
    """An alias as `keep_spellings` reads it: its id and how often imports met it."""

    pk: int
    uses: int


def alias_counts():
    """How many spellings are kept beyond the names themselves (for reports)."""
    return {
        "term": TermAlias.objects.exclude(name=F("term__name")).count(),
        "entity": EntityAlias.objects.exclude(name=F("entity__name")).count(),
    }
