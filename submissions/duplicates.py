"""Existing incidents a new report may duplicate: same source, similar headline, or the
same deployer or developer in the same years. Used before a report is sent and on review."""

import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, Count, F, IntegerField, Q, Value, When

from repository import documents
from repository.addresses import normalize_url
from repository.models import Incident, IncidentEntity
from repository.periods import parse_period

from .dedupe import headline_words
from .models import Submission

LIMIT = 8
STOPWORDS = {
    "about", "after", "against", "with", "from", "into", "over", "that", "this", "their", "were",
    "have", "been", "when", "says", "said", "uses", "used", "using", "show", "shows", "more",
}  # fmt: skip


@dataclass
class Candidate:
    incident: Incident
    reasons: list = field(default_factory=list)


def url_variants(url):
    """The address as written and with the usual variations (scheme, trailing slash, www)."""
    bare = re.sub(r"^https?://(www\.)?", "", url.strip()).rstrip("/")
    return {
        f"{scheme}://{www}{bare}{slash}"
        for scheme in ("http", "https")
        for www in ("", "www.")
        for slash in ("", "/")
    }


def _words(headline):
    return [w for w in re.findall(r"[^\W_]+", headline.casefold()) if len(w) >= 4 and w not in STOPWORDS][:12]


def _similar_headlines(headline, exclude):
    words = _words(headline)
    if len(words) < 2:
        return []
    incidents = (
        Incident.objects.unmerged()
        .exclude(pk__in=exclude)
        .only("pk", "headline", "slug", "occurred", "number")
    )
    if connection.vendor == "postgresql":
        query = SearchQuery(words[0], config="english")
        for word in words[1:]:
            query |= SearchQuery(word, config="english")
        found = (
            incidents.filter(search_vector=query)
            .annotate(rank=SearchRank(F("search_vector"), query))
            .filter(rank__gte=0.2)
            .order_by("-rank")[:LIMIT]
        )
        return list(found)
    score = sum(
        (
            Case(When(headline__icontains=word, then=Value(1)), default=Value(0), output_field=IntegerField())
            for word in words
        ),
        Value(0),
    )
    needed = max(2, (len(words) + 1) // 2)
    return list(
        incidents.annotate(score=score).filter(score__gte=needed).order_by("-score", "-number")[:LIMIT]
    )


def find_duplicates(document, exclude=()):
    """Up to LIMIT candidates, each with the reasons it may be the same incident."""
    candidates = {}

    def add(incidents, reason):
        for incident in incidents:
            candidates.setdefault(incident.pk, Candidate(incident)).reasons.append(reason)

    urls = [ref["url"] for refs in document["references"].values() for ref in refs]
    if document.get("source_url"):
        urls.append(document["source_url"])
    if urls:
        variants = set().union(*(url_variants(url) for url in urls))
        cited = (
            Incident.objects.unmerged()
            .filter(Q(references__url__in=variants) | Q(source_url__in=variants))
            .exclude(pk__in=exclude)
            .distinct()[:LIMIT]
        )
        add(cited, "cites the same source")

    add(_similar_headlines(document["headline"], exclude), "has a similar headline")

    names = document["entities"]["deployer"] + document["entities"]["developer"]
    period = parse_period(document["occurred"]) if document["occurred"] else None
    if names and period:
        keys = {documents.fold(name) for name in names}
        # All the named organisations when two or more are given (one alone is too common).
        involved = (
            IncidentEntity.objects.filter(
                entity__aliases__key__in=keys,
                role__in=[IncidentEntity.Role.DEPLOYER, IncidentEntity.Role.DEVELOPER],
            )
            .values("incident_id")
            .annotate(matched=Count("entity_id", distinct=True))
            .filter(matched__gte=min(2, len(keys)))
            .values("incident_id")
        )
        overlapping = Q(occurred_end__gte=period.first_day) | Q(occurred_end__isnull=True)
        if period.last_day is not None:
            overlapping &= Q(occurred_start__lte=period.last_day)
        same = (
            Incident.objects.unmerged()
            .filter(pk__in=involved, occurred_start__isnull=False)
            .filter(overlapping)
            .exclude(pk__in=exclude)
            .order_by("-occurred_start")[:LIMIT]
        )
        add(same, "names the same deployer or developer in the same period")
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
