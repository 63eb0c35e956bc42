"""Pairs of published incidents that may describe the same event, proposed for editors to merge.

Three rules, across sources and within one:

- **a shared source**: the same web address, after `repository.addresses.normalize_url`, as
  the source or a reference of both (system pages left out: they describe a product, not
  an event; an address cited by more than MAX_URL_SHARE incidents is a general source, not
  one event's), and headlines at least SOURCE_SIMILARITY alike: in the AIAAIC sheet two
  unrelated rows that link to one page are a slip in one row's link, not one event (they
  are counted and listed by the command, not proposed);
- **a similar headline**: the share of their words, each weighted by how rare it is
  (IDF-weighted Jaccard), at least HEADLINE_SIMILARITY, when their periods are within a year
  (or unknown), or at least HEADLINE_SIMILARITY_ALONE whatever the dates;
- **a shared organisation** (deployer or developer), periods within a year of each other,
  and headlines at least ORGANISATION_SIMILARITY alike, so that "two Google incidents in
  2021" is not enough on its own.

A system or dataset entry and an incident about it are not the same event: pairs whose
types are both known, differ, and include "system" or "data" are left out.

Headlines are compared only when they share one of their rarest words: each headline's
words are ordered rarest first and the shortest prefix is kept whose remaining weight is
under the lowest threshold times the headline's weight. Two headlines that reach that
threshold always share a prefix word (prefix filtering), so an inverted index of prefix
words finds every such pair without comparing all pairs.

Each new pair becomes one pending merge proposal (`Submission.Kind.MERGE`); a pair proposed
before, in any state and through earlier merges, is never proposed again.
"""

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction

from repository.addresses import normalize_url
from repository.models import Entity, Incident, IncidentEntity, Reference

from ..models import ModerationEvent, Submission

# Chosen by reading the pairs they propose on the AIAAIC 2024 sheet (see docs/editors.md).
HEADLINE_SIMILARITY = 0.6
HEADLINE_SIMILARITY_ALONE = 0.85
ORGANISATION_SIMILARITY = 0.45
SOURCE_SIMILARITY = 0.2
LOWEST_SIMILARITY = min(HEADLINE_SIMILARITY, ORGANISATION_SIMILARITY)  # the blocking's bound
WITHIN_DAYS = 365
MAX_URL_SHARE = 4
# A prefix word carried by more headlines than this is too common to pair them by.
MAX_POSTINGS = 2_000
PROGRESS_EVERY = 1_000
BATCH = 500
ENTRY_TYPES = {Incident.Type.SYSTEM, Incident.Type.DATA}
ORGANISATION_ROLES = [IncidentEntity.Role.DEPLOYER, IncidentEntity.Role.DEVELOPER]

WORD = re.compile(r"[^\W_]+")
STOPWORDS = {
    "a", "an", "and", "are", "as", "at", "be", "been", "by", "for", "from", "has", "have", "in",
    "into", "is", "it", "its", "of", "on", "or", "over", "s", "t", "that", "the", "their", "this",
    "to", "was", "were", "with", "after", "about", "against", "amid", "says", "said", "new",
}  # fmt: skip


def _stem(word):
    """A crude English stem, enough for headlines: kills, killing, killed -> kill."""
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def headline_words(headline):
    """The words of a headline that carry meaning: folded, stemmed, stopwords dropped."""
    text = unicodedata.normalize("NFKD", headline or "").casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return frozenset(_stem(word) for word in WORD.findall(text) if word not in STOPWORDS)


def within_a_year(a, b):
    """Whether two periods (start, end) are within WITHIN_DAYS of each other; None if unknown."""
    (start_a, end_a), (start_b, end_b) = a, b
    if start_a is None or start_b is None:
        return None
    if end_a is not None and start_b > end_a:
        return (start_b - end_a).days <= WITHIN_DAYS
    if end_b is not None and start_a > end_b:
        return (start_a - end_b).days <= WITHIN_DAYS
    return True


def _entries_apart(type_a, type_b):
    return bool(type_a and type_b and type_a != type_b and {type_a, type_b} & ENTRY_TYPES)


@dataclass
class Corpus:
    """What the rules read of every published, unmerged incident, loaded in four queries."""

    number: dict = field(default_factory=dict)
    type: dict = field(default_factory=dict)
    period: dict = field(default_factory=dict)
    words: dict = field(default_factory=dict)
    organisations: dict = field(default_factory=lambda: defaultdict(set))
    urls: dict = field(default_factory=lambda: defaultdict(set))  # normalized address -> incident ids

    @classmethod
    def load(cls):
        corpus = cls()
        rows = (
            Incident.objects.unmerged()
            .filter(current_revision__isnull=False)
            .values_list("pk", "number", "type", "headline", "occurred_start", "occurred_end", "source_url")
        )
        for pk, number, kind, headline, start, end, source_url in rows.iterator(chunk_size=5_000):
            corpus.number[pk] = number
            corpus.type[pk] = kind
            corpus.period[pk] = (start, end)
            corpus.words[pk] = headline_words(headline)
            corpus._add_url(source_url, pk)
        references = Reference.objects.exclude(category=Reference.Category.SYSTEM).values_list(
            "incident_id", "url"
        )
        for pk, url in references.iterator(chunk_size=10_000):
            if pk in corpus.number:
                corpus._add_url(url, pk)
        links = IncidentEntity.objects.filter(role__in=ORGANISATION_ROLES).values_list(
            "incident_id", "entity_id"
        )
        for pk, entity_id in links.iterator(chunk_size=10_000):
            if pk in corpus.number:
                corpus.organisations[pk].add(entity_id)
        return corpus

    def _add_url(self, url, pk):
        key = normalize_url(url)
        if "/" in key:  # a page, not a whole site
            self.urls[key].add(pk)


@dataclass
class Finding:
    first: int
    second: int
    reasons: list = field(default_factory=list)


@dataclass
class DuplicatesResult:
    incidents: int = 0  # incidents compared with the rest
    pairs_examined: int = 0
    proposed: int = 0
    known: int = 0  # pairs found that were proposed before (pending or decided)
    common_sources: int = 0  # addresses cited too widely to pair incidents by
    common_words: int = 0  # prefix words too common to pair headlines by
    # Pairs sharing a source with unrelated headlines, [(number, number, address)]: a wrong link, likely.
    unrelated_sources: list = field(default_factory=list)
    submissions: list = field(default_factory=list)


class Finder:
    def __init__(self, corpus):
        self.corpus = corpus
        count = len(corpus.words)
        frequency = Counter(word for words in corpus.words.values() for word in words)
        self.weight = {word: math.log((count + 1) / n) for word, n in frequency.items()}
        self.frequency = frequency
        self.total = {pk: sum(self.weight[word] for word in words) for pk, words in corpus.words.items()}
        self.prefix = {pk: self._prefix(words) for pk, words in corpus.words.items()}

    def _prefix(self, words):
        ordered = sorted(words, key=lambda word: (self.frequency[word], word))
        rest = sum(self.weight[word] for word in ordered)
        bound = LOWEST_SIMILARITY * rest
        for position, word in enumerate(ordered, start=1):
            rest -= self.weight[word]
            if rest < bound:
                return ordered[:position]
        return ordered

    def similarity(self, a, b):
        """The weighted share of words: weight of the words both have / weight of either's."""
        shared = sum(self.weight[word] for word in self.corpus.words[a] & self.corpus.words[b])
        union = self.total[a] + self.total[b] - shared
        return shared / union if union else 0.0

    def headline_pairs(self, targets, result, progress=None):
        """((a, b), similarity), a < b, for the pairs sharing a prefix word and at least
        LOWEST_SIMILARITY alike, with `targets` on at least one side. Every candidate pair
        counts in `result.pairs_examined`."""
        words, weight, total = self.corpus.words, self.weight, self.total
        postings = defaultdict(list)
        every = targets is None
        if not every:
            for pk, prefix in self.prefix.items():
                for word in prefix:
                    postings[word].append(pk)
        probes = list(self.prefix) if every else [pk for pk in targets if pk in self.prefix]
        probed = set()  # incremental: a pair of two targets is looked at once
        too_common = set()
        for done, pk in enumerate(probes, start=1):
            found = set()
            for word in self.prefix[pk]:
                posting = postings[word]
                if len(posting) > MAX_POSTINGS:
                    too_common.add(word)
                    continue
                found.update(posting)
                if every:
                    posting.append(pk)
            found.discard(pk)
            if not every:
                found -= probed
                probed.add(pk)
            result.pairs_examined += len(found)
            mine, my_total = words[pk], total[pk]
            # A pair can be no more alike than the lighter headline's weight over the heavier's.
            low, high = my_total * LOWEST_SIMILARITY, my_total / LOWEST_SIMILARITY
            for other in found:
                other_total = total[other]
                if other_total < low or other_total > high:
                    continue
                shared = 0.0
                for word in mine & words[other]:
                    shared += weight[word]
                score = shared / (my_total + other_total - shared)
                if score >= LOWEST_SIMILARITY:
                    yield ((pk, other) if pk < other else (other, pk)), score
            if progress and (done % PROGRESS_EVERY == 0 or done == len(probes)):
                progress(done, len(probes))
        result.common_words = len(too_common)

    def url_pairs(self, targets, result):
        """Pairs sharing a cited address, with the address: {(a, b): url}."""
        pairs = {}
        for key, ids in self.corpus.urls.items():
            if len(ids) < 2:
                continue
            if targets is not None and not ids & targets:
                continue
            if len(ids) > MAX_URL_SHARE:
                result.common_sources += 1
                continue
            ordered = sorted(ids)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    if targets is None or a in targets or b in targets:
                        pairs.setdefault((a, b), key)
        return pairs

    def find(self, targets=None, progress=None):
        """The findings, and the counts, for every pair (or the pairs touching `targets`)."""
        result = DuplicatesResult(incidents=len(self.corpus.words) if targets is None else len(targets))
        findings = {}
        shared_urls = self.url_pairs(targets, result)
        for pair in shared_urls:
            result.pairs_examined += 1
            self._examine(pair, self.similarity(*pair), shared_urls, findings, result)
        for pair, score in self.headline_pairs(targets, result, progress):
            if pair not in shared_urls:
                self._examine(pair, score, shared_urls, findings, result)
        return findings, result

    def _examine(self, pair, score, shared_urls, findings, result):
        corpus = self.corpus
        a, b = pair
        if _entries_apart(corpus.type[a], corpus.type[b]):
            return
        reasons = []
        if pair in shared_urls:
            if score >= SOURCE_SIMILARITY:
                reasons.append({"rule": "source", "url": shared_urls[pair], "score": round(score, 2)})
            else:
                result.unrelated_sources.append((corpus.number[a], corpus.number[b], shared_urls[pair]))
        close = within_a_year(corpus.period[a], corpus.period[b])
        if score >= HEADLINE_SIMILARITY_ALONE or (score >= HEADLINE_SIMILARITY and close is not False):
            reasons.append({"rule": "headline", "score": round(score, 2)})
        shared = corpus.organisations.get(a, set()) & corpus.organisations.get(b, set())
        if shared and close and score >= ORGANISATION_SIMILARITY:
            reasons.append({"rule": "organisation", "score": round(score, 2), "entities": sorted(shared)})
        if reasons:
            findings[pair] = Finding(a, b, reasons)


def known_pairs():
    """Every pair proposed before, in any state, seen through later merges: {(a, b)}, a < b."""
    survivors = dict(Incident.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id"))
    pairs = set()
    proposed = Submission.objects.filter(kind=Submission.Kind.MERGE).values_list(
        "incident_id", "other_incident_id"
    )
    for a, b in proposed.iterator(chunk_size=10_000):
        a, b = survivors.get(a, a), survivors.get(b, b)
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    return pairs


def reason_text(reason, entity_names=None):
    """How a reason reads to an editor."""
    rule = reason.get("rule")
    if rule == "source":
        return f"Both cite the same source: {reason.get('url', '')}"
    if rule == "headline":
        return f"Similar headlines ({round(100 * reason.get('score', 0))}% of their weighted words shared)"
    if rule == "organisation":
        names = reason.get("names") or [str(pk) for pk in reason.get("entities", [])]
        return (
            f"Both name {', '.join(names)} as deployer or developer, occurred within a year of each "
            f"other, and their headlines are {round(100 * reason.get('score', 0))}% alike"
        )
    return str(reason)


def _lock():
    """One finder writes proposals at a time (PostgreSQL; SQLite writes one at a time anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('submissions_duplicates_find'))")


def _propose(findings, corpus):
    """Create one pending merge proposal per finding, with its SUBMIT event."""
    names = dict(
        Entity.objects.filter(
            pk__in={pk for finding in findings for r in finding.reasons for pk in r.get("entities", [])}
        ).values_list("pk", "name")
    )
    submissions = []
    for finding in findings:
        # The older incident (lower number) first: the default survivor.
        first, second = sorted((finding.first, finding.second), key=corpus.number.__getitem__)
        for reason in finding.reasons:
            if reason.get("entities"):
                reason["names"] = [names.get(pk, str(pk)) for pk in reason["entities"]]
            reason["text"] = reason_text(reason)
        submissions.append(
            Submission(
                kind=Submission.Kind.MERGE,
                incident_id=first,
                other_incident_id=second,
                reasons=finding.reasons,
                proposed={},
                effect="merge pair",
                effect_kind=Submission.Effect.MERGE,
            )
        )
    created = []
    for start in range(0, len(submissions), BATCH):
        batch = Submission.objects.bulk_create(submissions[start : start + BATCH])
        ModerationEvent.objects.bulk_create(
            [
                ModerationEvent(
                    submission=submission,
                    action=ModerationEvent.Action.SUBMIT,
                    to_state=Submission.State.PENDING,
                    note="Proposed by the duplicate finder: "
                    + "; ".join(reason["text"] for reason in submission.reasons),
                )
                for submission in batch
            ]
        )
        created += batch
    return created


def duplicates_find(*, incident_ids=None, progress=None):
    """Propose, as pending merge proposals, the pairs of incidents that may be one.

    With `incident_ids`, only pairs with at least one of those incidents are looked for (after
    an import). Pairs proposed before are counted as known, never proposed again.
    Returns a DuplicatesResult.
    """
    corpus = Corpus.load()
    targets = None if incident_ids is None else {pk for pk in incident_ids if pk in corpus.number}
    findings, result = Finder(corpus).find(targets, progress)
    with transaction.atomic():
        _lock()
        known = known_pairs()
        new = [finding for pair, finding in sorted(findings.items()) if pair not in known]
        result.known = len(findings) - len(new)
        result.submissions = _propose(new, corpus)
        result.proposed = len(result.submissions)
    return result
