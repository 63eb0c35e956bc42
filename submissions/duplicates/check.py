"""Existing incidents a new report may duplicate: same source, similar headline, or the
same deployer or developer in the same years. Used before a report is sent and on review."""

import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, Value, When

from repository import documents
from repository.addresses import address_key
from repository.models import EntityAlias, Incident, IncidentEntity, Reference
from repository.periods import parse_period

from .similarity import headline_likeness
from .words import STOPWORDS

LIMIT = 8
CANDIDATE_FIELDS = ("pk", "headline", "slug", "summary", "occurred", "number")
CANDIDATE_COLUMNS = ("id", "headline", "slug", "summary", "occurred", "number")  # their columns
HEADLINE_SIMILARITY = 0.3  # headlines at least this alike (pg_trgm's similarity; its own default)
WORDS = 8  # the report's longest meaningful words, one of which a compared headline shares
WORD_CAP = 40  # headlines compared per word (a word in more headlines is a common word)
ORGANISATION_ROLES = [IncidentEntity.Role.DEPLOYER, IncidentEntity.Role.DEVELOPER]
MAX_NAMES = 10  # organisation names compared per report
PARTIAL_NAME = 4  # a name this long or longer also matches as a whole word of another ("Dahua")


@dataclass
class Candidate:
    incident: Incident
    reasons: list = field(default_factory=list)
    likeness: float = 0.0  # how alike the headlines are (similarity.headline_likeness)


def _same_source(urls, exclude):
    """Unmerged incidents whose source or a reference is one of these addresses, once scheme,
    `www.`, tracking parameters, fragments, AMP paths and trailing slashes are set aside.
    Two indexed lookups: references by `url_key`, then incidents by `source_key` or id."""
    keys = {address_key(url) for url in urls} - {""}
    if not keys:
        return []
    cited_by = set(
        Reference.objects.filter(url_key__in=keys).order_by().values_list("incident_id", flat=True).distinct()
    )
    return list(
        Incident.objects.unmerged()
        .filter(Q(source_key__in=keys) | Q(pk__in=cited_by))
        .exclude(pk__in=exclude)
        .only(*CANDIDATE_FIELDS)
        .order_by("-number")[:LIMIT]
    )


def _organisations(names):
    """{entity id: (the name given, the entity's name)} for the names a report gives: through
    the entities' aliases, and a name of PARTIAL_NAME letters or more as a whole word of one
    ("Dahua" finds "Zhejiang Dahua Technology")."""
    names = names[:MAX_NAMES]
    by_key = {documents.fold(name): name for name in names}
    partial = {
        name: re.compile(rf"(?<![^\W_]){re.escape(documents.fold_text(name).strip())}(?![^\W_])")
        for name in names
        if len(re.sub(r"[\W_]", "", name)) >= PARTIAL_NAME
    }
    lookup = Q(key__in=by_key)
    for name in partial:
        lookup |= Q(name__icontains=name.strip())
    matched = {}
    for entity_id, entity_name, alias_name, key in EntityAlias.objects.filter(lookup).values_list(
        "entity_id", "entity__name", "name", "key"
    ):
        if key in by_key:
            matched.setdefault(entity_id, (by_key[key], entity_name))
            continue
        folded = documents.fold_text(alias_name)
        for name, pattern in partial.items():
            if pattern.search(folded):
                matched.setdefault(entity_id, (name, entity_name))
                break
    return matched


def _words(headline):
    return [w for w in re.findall(r"[^\W_]+", headline.casefold()) if len(w) >= 4 and w not in STOPWORDS][:12]


def trigrams(text):
    """The trigrams of a text as PostgreSQL's pg_trgm makes them: each word in lower case,
    two spaces before it and one after."""
    grams = set()
    for word in re.findall(r"[^\W_]+", text.lower()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def similarity(a, b):
    """pg_trgm's similarity(): the share of their trigrams two texts have in common."""
    a, b = trigrams(a), trigrams(b)
    return len(a & b) / len(a | b) if a and b else 0.0


def _similar_headlines(headline, exclude):
    """Unmerged incidents whose headline is at least HEADLINE_SIMILARITY alike (pg_trgm's
    trigram similarity), most alike first.

    Only headlines sharing a word with the report's are compared: for each of its WORDS
    longest meaningful words, at most WORD_CAP headlines containing it (all of them for a
    rare word, which a duplicate nearly always shares: a name, a place, a product). On
    PostgreSQL each word is looked up through the headlines' trigram index (a GIN index of
    pg_trgm), so the work is bounded whatever the number of incidents; SQLite, with no such
    index, reads the table for each word and compares at most as many headlines, with the
    same measure in Python. One query either way."""
    words = sorted(dict.fromkeys(_words(headline)), key=len, reverse=True)[:WORDS]
    if not words or not trigrams(headline):
        return []
    table = connection.ops.quote_name(Incident._meta.db_table)
    like = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
    eligible = "merged_into_id IS NULL"
    excluded = [pk for pk in exclude if pk is not None]
    if excluded:
        eligible += f" AND id NOT IN ({', '.join(['%s'] * len(excluded))})"
    # Only names from the model go into the text; every value is a parameter. Each word's
    # headlines are read once, with the columns a candidate shows.
    columns = ", ".join(CANDIDATE_COLUMNS)
    sharing = " UNION ".join(
        f"SELECT * FROM (SELECT {columns} FROM {table} WHERE {eligible} AND headline {like} %s LIMIT %s) AS w{n}"  # noqa: S608
        for n in range(len(words))
    )
    query = (
        f"SELECT *, similarity(headline, %s) AS similarity FROM ({sharing}) AS candidates "  # noqa: S608
        "WHERE similarity(headline, %s) >= %s ORDER BY similarity DESC, number DESC LIMIT %s"
    )
    params = [headline]
    for word in words:
        params += [*excluded, f"%{word}%", WORD_CAP]
    params += [headline, HEADLINE_SIMILARITY, LIMIT]
    if connection.vendor == "sqlite":  # pg_trgm's similarity(), in Python
        connection.ensure_connection()
        connection.connection.create_function("similarity", 2, similarity, deterministic=True)
    return list(Incident.objects.raw(query, params))


def _same_organisations(names, organisations, period, exclude):
    """[(incident, {given name: its organisation's name})] for up to LIMIT unmerged incidents
    in an overlapping period whose deployers or developers include the organisations named:
    all of them when two or more names are given (one alone is too common), most recent
    first. The links are counted in the database, so an organisation named by thousands of
    incidents costs no more than a rare one."""
    if not organisations:
        return []
    given = defaultdict(list)  # given name -> the entities it matched
    for entity_id, (name, _) in organisations.items():
        given[name].append(entity_id)
    needed = min(2, len({documents.fold(name) for name in names}))
    if len(given) < needed:
        return []
    links = IncidentEntity.objects.filter(entity_id__in=organisations, role__in=ORGANISATION_ROLES)
    if needed > 1:
        name_of = Case(
            *(When(entity_id__in=ids, then=Value(n)) for n, ids in enumerate(given.values())),
            output_field=IntegerField(),
        )
        links = (
            links.order_by()
            .values("incident_id")
            .annotate(names=Count(name_of, distinct=True))
            .filter(names__gte=needed)
        )
    overlapping = Q(occurred_end__gte=period.first_day) | Q(occurred_end__isnull=True)
    if period.last_day is not None:
        overlapping &= Q(occurred_start__lte=period.last_day)
    same = list(
        Incident.objects.unmerged()
        .filter(pk__in=links.values("incident_id"), occurred_start__isnull=False)
        .filter(overlapping)
        .exclude(pk__in=exclude)
        .only(*CANDIDATE_FIELDS)
        .order_by("-occurred_start")[:LIMIT]
    )
    if not same:
        return []
    shared = defaultdict(dict)  # incident id -> {given name: organisation's name}
    for incident_id, entity_id in IncidentEntity.objects.filter(
        incident__in=same, entity_id__in=organisations, role__in=ORGANISATION_ROLES
    ).values_list("incident_id", "entity_id"):
        name, entity_name = organisations[entity_id]
        shared[incident_id][name] = entity_name
    return [(incident, shared[incident.pk]) for incident in same]


def find_duplicates(document, exclude=()):
    """Up to LIMIT candidates, each with the reasons it may be the same incident."""
    candidates = {}

    def add(incidents, reason):
        for incident in incidents:
            candidates.setdefault(incident.pk, Candidate(incident)).reasons.append(reason)

    urls = [ref["url"] for refs in document["references"].values() for ref in refs]
    if document.get("source_url"):
        urls.append(document["source_url"])
    add(_same_source(urls, exclude), "cites the same source")

    add(_similar_headlines(document["headline"], exclude), "has a similar headline")

    names = document["entities"]["deployer"] + document["entities"]["developer"]
    period = parse_period(document["occurred"]) if document["occurred"] else None
    organisations = _organisations(names) if names and period else {}
    for incident, shared in _same_organisations(names, organisations, period, exclude):
        spelled = "; ".join(
            given if documents.fold(given) == documents.fold(entity) else f"{given} ({entity})"
            for given, entity in sorted(shared.items())
        )
        add([incident], f"names the same deployer or developer in the same period: {spelled}")
    for candidate in candidates.values():
        candidate.likeness = headline_likeness(document["headline"], candidate.incident.headline)
    # The most reasons first, then the headline most alike (the one similarity), then the newest.
    ranked = sorted(
        candidates.values(), key=lambda c: (-len(c.reasons), -round(c.likeness, 2), -c.incident.number)
    )
    return ranked[:LIMIT]
