"""Existing incidents a new report may duplicate: same source, similar headline, or the
same deployer or developer in the same years. Used before a report is sent and on review."""

import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.postgres.lookups import TrigramSimilar
from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection
from django.db.models import F, Q, Value

from repository import documents
from repository.addresses import address_key, normalize_url
from repository.models import EntityAlias, Incident, IncidentEntity, Reference
from repository.periods import parse_period

from .dedupe import headline_words
from .models import Submission

LIMIT = 8
CANDIDATE_FIELDS = ("pk", "headline", "slug", "summary", "occurred", "number")
# Headlines at least this alike (pg_trgm's similarity, and its `%` operator's default threshold).
HEADLINE_SIMILARITY = 0.3
FALLBACK_WORDS = 3  # SQLite: the report's longest words a compared headline must share one of
FALLBACK_SCAN = 500  # SQLite: at most this many headlines compared, the newest
MAX_NAMES = 10  # organisation names compared per report
PARTIAL_NAME = 4  # a name this long or longer also matches as a whole word of another ("Dahua")
STOPWORDS = {
    "about", "after", "against", "with", "from", "into", "over", "that", "this", "their", "were",
    "have", "been", "when", "says", "said", "uses", "used", "using", "show", "shows", "more",
}  # fmt: skip


@dataclass
class Candidate:
    incident: Incident
    reasons: list = field(default_factory=list)


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
    """Unmerged incidents whose headline is at least HEADLINE_SIMILARITY alike (trigrams),
    most alike first. PostgreSQL finds them through the headline's trigram index (pg_trgm's
    `%` operator, whose default threshold is HEADLINE_SIMILARITY); SQLite compares in Python
    the FALLBACK_SCAN newest headlines sharing one of the report's longest words."""
    if not trigrams(headline):
        return []
    incidents = Incident.objects.unmerged().exclude(pk__in=exclude).only(*CANDIDATE_FIELDS)
    if connection.vendor == "postgresql":
        return list(
            incidents.filter(TrigramSimilar(F("headline"), Value(headline)))
            .annotate(similarity=TrigramSimilarity("headline", Value(headline)))
            .filter(similarity__gte=HEADLINE_SIMILARITY)
            .order_by("-similarity", "-number")[:LIMIT]
        )
    words = sorted(set(_words(headline)), key=len, reverse=True)[:FALLBACK_WORDS]
    if not words:
        return []
    sharing = Q()
    for word in words:
        sharing |= Q(headline__icontains=word)
    scored = []
    for incident in incidents.filter(sharing).order_by("-number")[:FALLBACK_SCAN]:
        incident.similarity = similarity(headline, incident.headline)
        if incident.similarity >= HEADLINE_SIMILARITY:
            scored.append(incident)
    scored.sort(key=lambda incident: (-incident.similarity, -incident.number))
    return scored[:LIMIT]


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
    if organisations:
        involved = {}  # incident id -> the given names it shares
        for incident_id, entity_id in IncidentEntity.objects.filter(
            entity_id__in=organisations,
            role__in=[IncidentEntity.Role.DEPLOYER, IncidentEntity.Role.DEVELOPER],
        ).values_list("incident_id", "entity_id"):
            involved.setdefault(incident_id, {})[organisations[entity_id][0]] = organisations[entity_id][1]
        # All the named organisations when two or more are given (one alone is too common).
        needed = min(2, len({documents.fold(name) for name in names}))
        involved = {pk: shared for pk, shared in involved.items() if len(shared) >= needed}
        overlapping = Q(occurred_end__gte=period.first_day) | Q(occurred_end__isnull=True)
        if period.last_day is not None:
            overlapping &= Q(occurred_start__lte=period.last_day)
        same = (
            Incident.objects.unmerged()
            .filter(pk__in=involved, occurred_start__isnull=False)
            .filter(overlapping)
            .exclude(pk__in=exclude)
            .only(*CANDIDATE_FIELDS)
            .order_by("-occurred_start")[:LIMIT]
        )
        for incident in same:
            shared = involved[incident.pk]
            spelled = "; ".join(
                given if documents.fold(given) == documents.fold(entity) else f"{given} ({entity})"
                for given, entity in sorted(shared.items())
            )
            add([incident], f"names the same deployer or developer in the same period: {spelled}")
    ranked = sorted(candidates.values(), key=lambda c: (-len(c.reasons), -c.incident.number))
    return ranked[:LIMIT]


LOOKALIKE_HEADLINE = 0.6  # share of meaningful headline words two pending reports have in common
LOOKALIKE_MAX_POSTING = 50  # a word in more pending reports than this says nothing


def _lookalike_keys(headline, source_url, references):
    """What two pending reports are compared on: their headline's words and their pages."""
    urls = [source_url or ""]
    for items in (references or {}).values() if isinstance(references, dict) else []:
        urls += [item.get("url", "") for item in items if isinstance(item, dict)]
    pages = {key for key in map(normalize_url, filter(None, urls)) if "/" in key}
    return headline_words(headline if isinstance(headline, str) else ""), pages


def lookalike_groups():
    """Pending reports of new incidents that look like one incident (a shared source page once
    normalised, or headlines sharing most of their words), as {submission id: sorted group of
    ids}. One query, whatever the number of reports."""
    rows = Submission.objects.filter(
        state=Submission.State.PENDING, kind=Submission.Kind.NEW_INCIDENT
    ).values_list("pk", "proposed__headline", "proposed__source_url", "proposed__references")
    parent = {}

    def find(pk):
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    def join(a, b):
        parent[find(a)] = find(b)

    words, by_page, by_word = {}, defaultdict(list), defaultdict(list)
    for pk, headline, source_url, references in rows:
        parent[pk] = pk
        words[pk], pages = _lookalike_keys(headline, source_url, references)
        for page in pages:
            by_page[page].append(pk)
        for word in words[pk]:
            by_word[word].append(pk)
    for pks in by_page.values():
        for other in pks[1:]:
            join(pks[0], other)
    compared = set()
    for pks in by_word.values():
        if len(pks) > LOOKALIKE_MAX_POSTING:
            continue
        for i, a in enumerate(pks):
            for b in pks[i + 1 :]:
                if (a, b) in compared:
                    continue
                compared.add((a, b))
                union = words[a] | words[b]
                if len(union) >= 2 and len(words[a] & words[b]) / len(union) >= LOOKALIKE_HEADLINE:
                    join(a, b)
    groups = defaultdict(list)
    for pk in parent:
        groups[find(pk)].append(pk)
    return {pk: sorted(group) for group in groups.values() if len(group) > 1 for pk in group}
