"""Pairs of published incidents that may describe the same event, proposed for editors to merge.

How a run goes (`duplicates_find`):

1. **Look-alikes form groups.** Incidents whose headlines have the same meaningful words
   (numbers set aside: "variant 2", "variant 3"), the same start
   year and the same kind of record are one group: sixty variants of one story are one group,
   not 1,770 pairs. Each member is scored with the group's oldest and, when the score is
   enough, proposed with it; the oldest takes part in PER_INCIDENT such proposals at a time,
   the next are proposed once those are decided.
2. **Candidates come from blocking, never from all pairs.** For each group, the other groups
   that share one of its rarest words (an inverted index of words held by at most
   max_postings groups), an organisation in the same year (blocks of at most ORG_BLOCK
   groups), a cited page (at most MAX_URL_SHARE groups) or an external id. The best
   CANDIDATES of them by shared word weight are scored in full.
3. **A score from the evidence** (`Scorer.score`): a weighted blend of the headlines' word
   TF-IDF cosine (headline and the start of the summary), rapidfuzz's token-set ratio and its
   character-level ratio, plus points for a period overlap, a shared organisation, a shared
   source and a shared external id, and minus points for periods far apart or organisations
   named on both sides with none in common. Each piece of evidence is kept as a reason.
4. **Only a clear best.** A pair is proposed when its score is at least PROPOSE, and it is
   the clear best candidate of one of its two groups (MARGIN ahead of the next group), or
   strong evidence (a shared source or external id) backs it.
5. **Caps.** At most one proposal per pair of groups, and at most PER_INCIDENT pending
   proposals per incident, the strongest first.

The rule for a whole system and one incident of it: a record about a system or a dataset as
a whole (type System or Data) is the same as another record only if that one is also about
the system or dataset as a whole; a record of one incident, issue or harm involving it is
related, never a duplicate, and is not proposed. A record whose type is unknown counts as an
incident (other databases list incidents).

A pair proposed before, in any state and through earlier merges, is never proposed again.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models.functions import Left

from repository.addresses import normalize_url
from repository.documents import fold_text
from repository.models import Entity, ExternalId, Incident, IncidentEntity, Reference

from ..models import ModerationEvent, Submission
from .similarity import blend, cosine, folded
from .words import WORD, headline_words, words

# The blend and the points, tuned on half of the labelled set (scripts/make_duplicate_labels.py).
# The headlines' likeness is similarity.blend: TF-IDF cosine of the words of headline and
# summary, rapidfuzz's token-set and character ratios of the folded headlines.
PERIOD_POINTS = 0.08  # periods overlap
NEAR_POINTS = 0.04  # periods within WITHIN_DAYS of each other
APART_POINTS = -0.45  # both periods known, more than WITHIN_DAYS apart
ORGANISATION_POINTS = 0.12  # a deployer or developer in common
OTHER_ORGANISATION_POINTS = -0.1  # both name organisations, none in common
SOURCE_POINTS = 0.3  # the same page cited by both
EXTERNAL_ID_POINTS = 0.3  # the same id in another database
NUMBERS_POINTS = -0.2  # each headline has a number the other lacks ("GPT-3", "GPT-4")
NAMES_POINTS = -0.2  # each headline names someone the other does not ("Sony warns", "Reddit warns")
SENTENCE_CASE = 0.6  # a headline with at most this share of capitalised words is in sentence case
PROPOSE = 0.6  # the lowest score proposed
TEXT_PROPOSE = 0.5  # and the lowest headline likeness, unless a shared source or id backs it
# Two records from one database (both with an AIAAIC id, say): a database rarely lists one
# event twice, and most such pairs are one organisation's other event (even citing one
# article); they need more, whatever backs them.
SAME_DATABASE_PROPOSE = 0.9
MARGIN = 0.1  # how far the best candidate must lead the next to be clear
SOURCE_SIMILARITY = 0.1  # a shared source with headlines' words less alike than this is a wrong link
SUMMARY_WORDS = 40  # the summary's first words read, weighted SUMMARY_SHARE of a headline word
SUMMARY_SHARE = 0.5

# The bounds.
PER_INCIDENT = 3  # pending merge proposals per incident
CANDIDATES = 12  # candidates per group scored in full
PROBE_WORDS = 4  # a group's rarest words that find candidates
MIN_POSTINGS = 50  # a word held by more groups than max(MIN_POSTINGS, groups // 200) finds none
ORG_BLOCK = 150  # an organisation-and-year block larger than this finds no candidates
ORG_YEARS = 3  # a period's first years that go into organisation blocks
MAX_URL_SHARE = 4  # an address cited by more groups is a general source, not one event's
MAX_ID_SHARE = 4
WITHIN_DAYS = 365
PROGRESS_EVERY = 1_000
BATCH = 500
ENTRY_TYPES = {Incident.Type.SYSTEM, Incident.Type.DATA}
ORGANISATION_ROLES = [IncidentEntity.Role.DEPLOYER, IncidentEntity.Role.DEVELOPER]


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


def overlap(a, b):
    (start_a, end_a), (start_b, end_b) = a, b
    if start_a is None or start_b is None:
        return None
    return start_a <= (end_b or start_b.max) and start_b <= (end_a or start_a.max)


def is_entry(kind):
    """A record about a system or a dataset as a whole (unknown: an incident)."""
    return kind in ENTRY_TYPES


def _years(period):
    start, end = period
    if start is None:
        return []
    last = end.year if end is not None else start.year
    return list(range(start.year, min(last, start.year + ORG_YEARS - 1) + 1))


def _period_text(period):
    start, end = period
    if start is None:
        return "unknown"
    if end is None:
        return f"{start.year}–"
    return str(start.year) if start.year == end.year else f"{start.year}–{end.year}"


@dataclass
class Corpus:
    """What the scorer reads of every published, unmerged incident: loaded in five queries
    (`load`), or built in memory (`add`) for the labelled set."""

    number: dict = field(default_factory=dict)
    type: dict = field(default_factory=dict)
    period: dict = field(default_factory=dict)
    headline: dict = field(default_factory=dict)  # folded
    words: dict = field(default_factory=dict)  # the headline's
    summary_words: dict = field(default_factory=dict)
    organisations: dict = field(default_factory=lambda: defaultdict(set))
    urls: dict = field(default_factory=lambda: defaultdict(set))  # normalized address -> incident ids
    external_ids: dict = field(default_factory=lambda: defaultdict(set))  # (scheme, value) -> ids
    schemes: dict = field(default_factory=lambda: defaultdict(set))  # id -> the databases it came from
    # The capitalised words of a headline written in sentence case (names, most of them), and
    # the words seen in lower case inside a headline (so "Facial" first in one is no name).
    capitalised: dict = field(default_factory=dict)
    lowercase: set = field(default_factory=set)

    @classmethod
    def load(cls):
        corpus = cls()
        rows = (
            Incident.objects.unmerged()
            .filter(current_revision__isnull=False)
            .annotate(summary_start=Left("summary", 400))
            .values_list(
                "pk",
                "number",
                "type",
                "headline",
                "summary_start",
                "occurred_start",
                "occurred_end",
                "source_url",
            )
        )
        for pk, number, kind, headline, summary, start, end, source_url in rows.iterator(chunk_size=5_000):
            corpus.add(pk, number=number, kind=kind, headline=headline, summary=summary, period=(start, end))
            corpus.add_url(pk, source_url)
        references = Reference.objects.exclude(category=Reference.Category.SYSTEM).values_list(
            "incident_id", "url"
        )
        for pk, url in references.iterator(chunk_size=10_000):
            if pk in corpus.number:
                corpus.add_url(pk, url)
        links = IncidentEntity.objects.filter(role__in=ORGANISATION_ROLES).values_list(
            "incident_id", "entity_id"
        )
        for pk, entity_id in links.iterator(chunk_size=10_000):
            if pk in corpus.number:
                corpus.organisations[pk].add(entity_id)
        for pk, scheme, value in ExternalId.objects.values_list("incident_id", "scheme", "value").iterator(
            chunk_size=10_000
        ):
            if pk in corpus.number:
                corpus.add_external_id(pk, scheme, value)
        return corpus

    def add(self, pk, *, number, kind, headline, summary="", period=(None, None), organisations=()):
        self.number[pk] = number
        self.type[pk] = kind
        self.period[pk] = period
        self.headline[pk] = folded(headline)
        self.words[pk] = headline_words(headline)
        tokens = WORD.findall(headline or "")
        capitals = [token for token in tokens if token[:1].isupper()]
        for token in tokens[1:]:
            if token.islower():
                self.lowercase.add(fold_text(token))
        if capitals and len(capitals) <= SENTENCE_CASE * len(tokens):
            self.capitalised[pk] = frozenset(fold_text(token) for token in capitals)
        if summary:
            self.summary_words[pk] = frozenset(words(summary)[:SUMMARY_WORDS])
        if organisations:
            self.organisations[pk].update(organisations)

    def add_url(self, pk, url):
        key = normalize_url(url or "")
        if "/" in key:  # a page, not a whole site
            self.urls[key].add(pk)

    def add_external_id(self, pk, scheme, value):
        self.external_ids[(scheme, value.strip().casefold())].add(pk)
        self.schemes[pk].add(scheme)


@dataclass
class Finding:
    first: int
    second: int
    score: float
    reasons: list = field(default_factory=list)
    strong: bool = False  # a shared source or external id backs it
    # A pair of groups: ([members of first's group], [members of second's]), representatives
    # first; the pair proposed is the first of their members with room under the cap.
    sides: tuple = ()


@dataclass
class DuplicatesResult:
    incidents: int = 0  # incidents compared with the rest
    groups: int = 0  # groups of look-alikes (an incident alone is a group of one)
    pairs_examined: int = 0  # pairs scored in full
    proposed: int = 0
    known: int = 0  # pairs found that were proposed before (pending or decided)
    capped: int = 0  # pairs left out because an incident had PER_INCIDENT proposals
    unclear: int = 0  # pairs left out because another candidate was about as strong
    common_sources: int = 0  # addresses cited too widely to pair incidents by
    common_words: int = 0  # words too common to find candidates by
    # Pairs sharing a source with unrelated headlines, [(number, number, address)]: a wrong link, likely.
    unrelated_sources: list = field(default_factory=list)
    submissions: list = field(default_factory=list)


class Finder:
    """The groups, the candidates and the scores of one corpus."""

    def __init__(self, corpus):
        self.corpus = corpus
        self._group()
        reps = self.members.keys()
        count = len(reps)
        frequency = Counter()
        for rep in reps:
            frequency.update(corpus.words[rep] | corpus.summary_words.get(rep, frozenset()))
        self.frequency = frequency
        self.idf = {word: math.log((count + 1) / (n + 1)) + 1 for word, n in frequency.items()}
        self.rare = math.log(count + 1) + 1  # a word no group's representative has
        self.max_postings = max(MIN_POSTINGS, count // 200)
        self.norm = {rep: self._norm(rep) for rep in reps}
        self.probe = {rep: self._probe_words(rep) for rep in reps}
        # Group-level evidence: the union of the members'.
        self.organisations = {}
        for rep, members in self.members.items():
            organisations = set()
            for pk in members:
                organisations |= corpus.organisations.get(pk, set())
            if organisations:
                self.organisations[rep] = organisations
        self._leaders = {}  # group -> its clear best candidate's group, or None
        self._index()

    # Groups -------------------------------------------------------------------------------

    def _group(self):
        corpus = self.corpus
        by_key = defaultdict(list)
        self.group = {}
        for pk in sorted(corpus.number, key=corpus.number.__getitem__):
            key_words = tuple(sorted(word for word in corpus.words[pk] if not word.isdigit()))
            if len(key_words) < 2:
                self.group[pk] = pk
                continue
            start = corpus.period[pk][0]
            key = (is_entry(corpus.type[pk]), start.year if start else None, key_words)
            by_key[key].append(pk)
        self.members = {pk: [pk] for pk, rep in self.group.items()}
        for members in by_key.values():
            rep = members[0]  # the oldest (lowest number)
            self.members[rep] = members
            for pk in members:
                self.group[pk] = rep

    # Scoring ------------------------------------------------------------------------------

    def _vector(self, pk):
        idf = self.idf  # a look-alike's words are its group's, bar numbers and common words
        rare = self.rare
        vector = {word: idf.get(word, rare) for word in self.corpus.words[pk]}
        for word in self.corpus.summary_words.get(pk, ()):
            vector[word] = vector.get(word, 0.0) + SUMMARY_SHARE * idf.get(word, rare)
        return vector

    def _norm(self, pk):
        return math.sqrt(sum(value * value for value in self._vector(pk).values())) or 1.0

    def _probe_words(self, pk):
        usable = [word for word in self.corpus.words[pk] if self.frequency[word] <= self.max_postings]
        return sorted(usable, key=lambda word: (self.frequency[word], word))[:PROBE_WORDS]

    def word_cosine(self, a, b):
        return cosine(self._vector(a), self._vector(b), self.norm.get(a), self.norm.get(b))

    def score(self, a, b):
        """(score, reasons, strong) of two groups' representatives; score 0 for a pair the
        rules keep apart (a whole system and one incident of it)."""
        if a > b:
            a, b = b, a
        corpus = self.corpus
        if is_entry(corpus.type[a]) != is_entry(corpus.type[b]):
            return 0.0, [], False
        words_part = self.word_cosine(a, b)
        text, tokens, characters = blend(words_part, corpus.headline[a], corpus.headline[b])
        reasons = [
            {
                "rule": "headline",
                "score": round(text, 2),
                "words": round(words_part, 2),
                "tokens": round(tokens, 2),
                "characters": round(characters, 2),
            }
        ]
        points = 0.0
        strong = False
        period_a, period_b = corpus.period[a], corpus.period[b]
        if overlap(period_a, period_b):
            points += PERIOD_POINTS
            reasons.append(
                {
                    "rule": "period",
                    "points": PERIOD_POINTS,
                    "periods": [_period_text(period_a), _period_text(period_b)],
                }
            )
        elif within_a_year(period_a, period_b):
            points += NEAR_POINTS
            reasons.append(
                {
                    "rule": "near",
                    "points": NEAR_POINTS,
                    "periods": [_period_text(period_a), _period_text(period_b)],
                }
            )
        elif within_a_year(period_a, period_b) is False:
            points += APART_POINTS
            reasons.append(
                {
                    "rule": "apart",
                    "points": APART_POINTS,
                    "periods": [_period_text(period_a), _period_text(period_b)],
                }
            )
        numbers_a = {word for word in corpus.words[a] if any(ch.isdigit() for ch in word)}
        numbers_b = {word for word in corpus.words[b] if any(ch.isdigit() for ch in word)}
        if numbers_a - numbers_b and numbers_b - numbers_a:
            points += NUMBERS_POINTS
            reasons.append(
                {
                    "rule": "numbers",
                    "points": NUMBERS_POINTS,
                    "numbers": [sorted(numbers_a), sorted(numbers_b)],
                }
            )
        names_a, names_b = self.names(a), self.names(b)
        if names_a - names_b and names_b - names_a:
            points += NAMES_POINTS
            reasons.append(
                {
                    "rule": "names",
                    "points": NAMES_POINTS,
                    "names": [sorted(names_a - names_b), sorted(names_b - names_a)],
                }
            )
        mine, theirs = self.organisations.get(a, set()), self.organisations.get(b, set())
        if mine & theirs:
            points += ORGANISATION_POINTS
            reasons.append(
                {"rule": "organisation", "points": ORGANISATION_POINTS, "entities": sorted(mine & theirs)}
            )
        elif mine and theirs:
            points += OTHER_ORGANISATION_POINTS
            reasons.append({"rule": "other_organisations", "points": OTHER_ORGANISATION_POINTS})
        url = self.shared_urls.get((a, b))
        if url is not None and words_part >= SOURCE_SIMILARITY:
            points += SOURCE_POINTS
            strong = True
            reasons.append({"rule": "source", "points": SOURCE_POINTS, "url": url})
        shared_id = self.shared_ids.get((a, b))
        if shared_id is not None:
            points += EXTERNAL_ID_POINTS
            strong = True
            reasons.append({"rule": "external_id", "points": EXTERNAL_ID_POINTS, "id": list(shared_id)})
        return round(max(0.0, min(1.0, text + points)), 3), reasons, strong

    # Candidates ---------------------------------------------------------------------------

    def _shared(self, index, limit):
        """{(a, b): key} for groups sharing a key held by at most `limit` groups."""
        pairs = {}
        too_common = 0
        for key, ids in index.items():
            groups = sorted({self.group[pk] for pk in ids})
            if len(groups) < 2:
                continue
            if len(groups) > limit:
                too_common += 1
                continue
            for i, a in enumerate(groups):
                for b in groups[i + 1 :]:
                    pairs.setdefault((a, b), key)
        return pairs, too_common

    def candidates(self, rep):
        """Up to CANDIDATES other groups for `rep`, by shared word weight, plus every group
        sharing a source or an external id with it: [(other, score, reasons, strong)], best first."""
        found = Counter()
        for word in self.probe[rep]:
            weight = self.idf[word]
            for other in self.postings.get(word, ()):
                found[other] += weight
        for year in _years(self.corpus.period[rep]):
            for organisation in self.organisations.get(rep, ()):
                block = self.blocks.get((organisation, year), ())
                if len(block) <= ORG_BLOCK:
                    for other in block:
                        found[other] += 1.0
        found.pop(rep, None)
        chosen = {other for other, _ in found.most_common(CANDIDATES)} | self.strong_with.get(rep, set())
        chosen.discard(rep)
        scored = [(other, *self.score(rep, other)) for other in chosen]
        scored.sort(key=lambda item: (-item[1], self.corpus.number[item[0]]))
        return scored

    def _index(self):
        """The blocking: shared sources and ids, the inverted index of words, organisation blocks."""
        corpus = self.corpus
        self.shared_urls, self.common_sources = self._shared(corpus.urls, MAX_URL_SHARE)
        self.shared_ids, _ = self._shared(corpus.external_ids, MAX_ID_SHARE)
        self.strong_with = defaultdict(set)
        for a, b in (*self.shared_urls, *self.shared_ids):
            self.strong_with[a].add(b)
            self.strong_with[b].add(a)
        self.postings = defaultdict(list)
        self.too_common = set()
        for rep in self.members:
            for word in corpus.words[rep]:
                if self.frequency[word] <= self.max_postings:
                    self.postings[word].append(rep)
                else:
                    self.too_common.add(word)
        self.blocks = defaultdict(list)
        for rep, organisations in self.organisations.items():
            for year in _years(corpus.period[rep]):
                for organisation in organisations:
                    self.blocks[(organisation, year)].append(rep)

    def find(self, targets=None, progress=None):
        """The findings {(a, b): Finding}, a < b, and the counts, for every pair (or the pairs
        touching `targets`)."""
        corpus = self.corpus
        result = DuplicatesResult(incidents=len(corpus.number) if targets is None else len(targets))
        result.groups = len(self.members)
        result.common_sources = self.common_sources
        result.common_words = len(self.too_common)
        target_reps = None if targets is None else {self.group[pk] for pk in targets if pk in self.group}
        probes = sorted(self.members) if target_reps is None else sorted(target_reps)
        findings = {}
        for done, rep in enumerate(probes, start=1):
            ranked = self.candidates(rep)
            result.pairs_examined += len(ranked)
            leader = self.clear_best(rep, ranked)
            for other, score, reasons, strong in ranked:
                if score < PROPOSE:
                    break
                # After an import, a target may also be the clear best of an incident it finds.
                led = (
                    target_reps is not None
                    and self.eligible(other, rep, score, reasons)
                    and (self.clear_best(other) == rep)
                )
                backed = strong and (score >= SAME_DATABASE_PROPOSE or not self.one_database(rep, other))
                if backed or other == leader or led:
                    self._add(findings, rep, other, score, reasons, strong)
            if leader is None and ranked and ranked[0][1] >= PROPOSE and not ranked[0][3]:
                result.unclear += 1
            if progress and (done % PROGRESS_EVERY == 0 or done == len(probes)):
                progress(done, len(probes))
        for a, b in self.shared_urls:
            if target_reps is not None and a not in target_reps and b not in target_reps:
                continue
            score, reasons, _strong = self.score(a, b)
            if not any(reason["rule"] == "source" for reason in reasons) and score > 0:
                result.unrelated_sources.append(
                    (corpus.number[a], corpus.number[b], self.shared_urls[(a, b)])
                )
        # Within a group: each look-alike with the group's oldest, which takes PER_INCIDENT
        # of them at a time (the next come once those are decided).
        for rep in probes:
            members = self.members[rep]
            for member in members[1:]:
                self._add_lookalikes(findings, rep, member, len(members))
        return findings, result

    def eligible(self, a, b, score, reasons):
        """Whether the pair may be proposed as a clear best: score, headlines, databases."""
        if score < PROPOSE or reasons[0]["score"] < TEXT_PROPOSE:
            return False
        return score >= SAME_DATABASE_PROPOSE or not self.one_database(a, b)

    def clear_best(self, rep, ranked=None):
        """The group `rep`'s clear best candidate, or None."""
        if rep in self._leaders:
            return self._leaders[rep]
        ranked = self.candidates(rep) if ranked is None else ranked
        leader = None
        if ranked:
            other, score, reasons, _strong = ranked[0]
            if (
                self.eligible(rep, other, score, reasons)
                and score - self._runner_up(other, ranked[1:]) >= MARGIN
            ):
                leader = other
        self._leaders[rep] = leader
        return leader

    def _runner_up(self, leader, rest):
        """The score of the next candidate that is not itself the leader's look-alike: when the
        two best candidates are one event, either is a clear answer."""
        for other, score, _reasons, _strong in rest:
            if self.score(leader, other)[0] < PROPOSE:
                return score
        return 0.0

    def _add(self, findings, a, b, score, reasons, strong):
        pair = (a, b) if a < b else (b, a)
        if pair not in findings:
            sides = (self.members[pair[0]], self.members[pair[1]])
            findings[pair] = Finding(
                pair[0], pair[1], score, [dict(reason) for reason in reasons], strong, sides
            )

    def _add_lookalikes(self, findings, a, b, size):
        """A look-alike with its group's oldest: scored like any pair, proposed when the score
        is enough (no clear best among look-alikes: they are all alike)."""
        score, reasons, strong = self.score(a, b)
        if score < PROPOSE or (score < SAME_DATABASE_PROPOSE and self.one_database(a, b)):
            return
        pair = (a, b) if a < b else (b, a)
        reasons = [{"rule": "lookalike", "members": size}, *(dict(reason) for reason in reasons)]
        findings.setdefault(pair, Finding(pair[0], pair[1], score, reasons, strong))

    def names(self, pk):
        """The names a sentence-case headline gives: its capitalised words never seen in lower
        case inside a headline."""
        corpus = self.corpus
        return {word for word in corpus.capitalised.get(pk, ()) if word not in corpus.lowercase}

    def one_database(self, a, b):
        schemes = self.corpus.schemes
        return bool(schemes.get(a, set()) & schemes.get(b, set()))

    def ranked(self, pk):
        """The incidents that may be `pk`, best first: [(incident id, score)]: its look-alikes,
        then its group's scored candidates (for measuring the top-3 rate)."""
        rep = self.group[pk]
        mates = [(other, 1.0) for other in self.members[rep] if other != pk]
        return mates + [(other, score) for other, score, _reasons, _strong in self.candidates(rep)]


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


def pending_counts():
    """{incident id: pending merge proposals it takes part in}."""
    counts = Counter()
    pending = Submission.objects.filter(kind=Submission.Kind.MERGE, state=Submission.State.PENDING)
    for a, b in pending.values_list("incident_id", "other_incident_id").iterator(chunk_size=10_000):
        counts[a] += 1
        counts[b] += 1
    return counts


def _percent(value):
    return f"{round(100 * (value or 0))}%"


def _points(reason):
    points = reason.get("points")
    return "" if points is None else f" ({points:+.2f})"


def reason_text(reason):
    """How a reason reads to an editor."""
    rule = reason.get("rule")
    if rule == "source":
        return f"Both cite the same source: {reason.get('url', '')}" + _points(reason)
    if rule == "headline":
        if "words" in reason:
            return (
                f"Headlines {_percent(reason.get('score'))} alike (words {_percent(reason.get('words'))}, "
                f"word order aside {_percent(reason.get('tokens'))}, "
                f"characters {_percent(reason.get('characters'))})"
            )
        return f"Similar headlines ({_percent(reason.get('score'))} of their weighted words shared)"
    if rule == "organisation":
        names = reason.get("names") or [str(pk) for pk in reason.get("entities", [])]
        if "points" not in reason:  # as proposals said it before the score
            return (
                f"Both name {', '.join(names)} as deployer or developer, occurred within a year of each "
                f"other, and their headlines are {_percent(reason.get('score'))} alike"
            )
        return f"Both name {', '.join(names)} as deployer or developer" + _points(reason)
    if rule == "other_organisations":
        return "Each names organisations the other does not" + _points(reason)
    if rule == "period":
        return f"Their periods overlap ({' and '.join(reason.get('periods', []))})" + _points(reason)
    if rule == "near":
        return f"Their periods are within a year ({' and '.join(reason.get('periods', []))})" + _points(
            reason
        )
    if rule == "apart":
        return (
            f"Their periods are more than a year apart ({' and '.join(reason.get('periods', []))})"
            + _points(reason)
        )
    if rule == "numbers":
        mine, theirs = (reason.get("numbers") or [[], []])[:2]
        return f"Their headlines give other numbers ({', '.join(mine)} and {', '.join(theirs)})" + _points(
            reason
        )
    if rule == "names":
        mine, theirs = (reason.get("names") or [[], []])[:2]
        return (
            f"Each headline names what the other does not ({', '.join(mine)} and {', '.join(theirs)})"
            + _points(reason)
        )
    if rule == "external_id":
        scheme, value = (reason.get("id") or ["", ""])[:2]
        return f"Both carry the same {scheme} id: {value}" + _points(reason)
    if rule == "lookalike":
        return (
            f"Look-alike headlines: one of {reason.get('members', 2)} incidents with the same headline words"
        )
    return reason.get("text") or str(reason)


def _lock():
    """One finder writes proposals at a time (PostgreSQL; SQLite writes one at a time anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('submissions_duplicates_find'))")


def merge_proposals_create(proposals, proposer="the duplicate finder"):
    """Store pending merge proposals, each with its SUBMIT event.

    `proposals`: (incident id, incident id, reasons, score) tuples; the incident with the
    lower number comes first (the default survivor). `reasons` is a list of dicts, each with a
    "text" an editor reads (filled in from its "rule" when missing); `score` is 0 to 1, or None
    when the proposer has none. The pair must not have been proposed before (a database
    constraint says so). Returns the created submissions."""
    proposals = list(proposals)
    names = dict(
        Entity.objects.filter(
            pk__in={
                pk for *_ids, reasons, _score in proposals for r in reasons for pk in r.get("entities", [])
            }
        ).values_list("pk", "name")
    )
    numbers = dict(
        Incident.objects.filter(pk__in={pk for a, b, *_rest in proposals for pk in (a, b)}).values_list(
            "pk", "number"
        )
    )
    submissions = []
    for a, b, reasons, score in proposals:
        first, second = sorted((a, b), key=lambda pk: numbers.get(pk, pk))
        for reason in reasons:
            if reason.get("entities"):
                reason["names"] = [names.get(pk, str(pk)) for pk in reason["entities"]]
            if not reason.get("text"):
                reason["text"] = reason_text(reason)
        submissions.append(
            Submission(
                kind=Submission.Kind.MERGE,
                incident_id=first,
                other_incident_id=second,
                reasons=reasons,
                score=score,
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
                    note=f"Proposed by {proposer}"
                    + ("" if submission.score is None else f" (score {submission.score:.2f})")
                    + ": "
                    + "; ".join(reason["text"] for reason in submission.reasons),
                )
                for submission in batch
            ]
        )
        created += batch
    return created


def select(findings, known, pending, result, group=None):
    """The findings to propose, strongest first, within the caps: new pairs only (for a pair
    of groups, none of their pairs proposed before), and at most PER_INCIDENT pending
    proposals per incident (counting those pending already). `group`: {incident id: its
    group's representative}."""
    group = group or {}
    known_groups = set()
    for a, b in known:
        if a in group and b in group:
            known_groups.add(frozenset((group[a], group[b])))
    counts = Counter(pending)
    chosen = []
    for pair, finding in sorted(findings.items(), key=lambda item: (-item[1].score, item[0])):
        if pair in known or (finding.sides and frozenset(pair) in known_groups):
            result.known += 1
            continue
        choices = (
            ((a, b) for a in finding.sides[0] for b in finding.sides[1]) if finding.sides else iter([pair])
        )
        free = next(
            ((a, b) for a, b in choices if counts[a] < PER_INCIDENT and counts[b] < PER_INCIDENT), None
        )
        if free is None:
            result.capped += 1
            continue
        a, b = free
        counts[a] += 1
        counts[b] += 1
        finding.first, finding.second = a, b
        chosen.append(finding)
    return chosen


def duplicates_find(*, incident_ids=None, progress=None):
    """Propose, as pending merge proposals, the pairs of incidents that may be one.

    With `incident_ids`, only pairs with at least one of those incidents (or their look-alike
    groups) are looked for (after an import). Pairs proposed before are counted as known,
    never proposed again. Returns a DuplicatesResult.
    """
    corpus = Corpus.load()
    targets = None if incident_ids is None else {pk for pk in incident_ids if pk in corpus.number}
    finder = Finder(corpus)
    findings, result = finder.find(targets, progress)
    group = finder.group
    del corpus, finder
    with transaction.atomic():
        _lock()
        chosen = select(findings, known_pairs(), pending_counts(), result, group)
        result.submissions = merge_proposals_create(
            (finding.first, finding.second, finding.reasons, finding.score) for finding in chosen
        )
        result.proposed = len(result.submissions)
    return result
