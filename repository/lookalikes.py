"""Spelling variants ("look-alikes") of one name among terms, organisations and systems: which
names probably mean the same, grouped into clusters, and which spelling to suggest keeping.

Two names are look-alikes when they
- fold alike (case, accents and punctuation aside: "ChatGPT", "Chatgpt"), or are two rows of
  one name (two systems "ChatGPT" that nothing told apart);
- are an acronym and its words ("UK", "United Kingdom"; "Federal Bureau of Investigation (FBI)"
  with "FBI" and with "Federal Bureau of Investigation");
- are a short name and its extension ("US", "USA"), or one or two letters apart
  ("Accuracy/reliability", "Accuracy/reliablity");
- are the same words but for abbreviated ones ("S Korea", "South Korea"; "Govt agency",
  "Government agency");
- are one name with and without a company form ("Humana", "Humana Inc"; "NEC Corp", "NEC
  Corporation") or a leading "The";
- are a combined name and one of its parts ("Meta/Facebook", "Meta").
A combined name and its part, and an acronym or short form that fits several names ("DPD" of
two police departments), only relate two names: each such pair is a cluster of its own and
never joins others, which would chain unrelated names together. Numbers tell versions apart
("GPT-3", "GPT-3.5"; "GPT-4", "GPT-4o"), and a word in brackets two of a kind ("Department
for Education (UK)", "(US)"). Placeholders ("Multiple", "Unclear/unknown":
`documents.is_placeholder`) are never variants.

Every rule finds its pairs through keys (a name's fold, its initials, its words without a
company form, its word initials with one whole word, its one-letter deletions): names meet
only when they share a key, so the work grows with the number of names, never with their
pairs. Used by the import report (merge candidates) and by the editors' variants list.
"""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .canonical import is_canonical
from .documents import fold, fold_text, is_placeholder

# Company forms: a name with and without one is one organisation ("Humana", "Humana Inc").
COMPANY_FORMS = frozenset(
    {"inc", "incorporated", "ltd", "limited", "llc", "llp", "plc", "corp", "corporation", "co", "company",
     "gmbh", "ag", "sa", "sas", "sarl", "nv", "bv", "pty", "pvt", "srl", "spa", "oy", "oyj", "kk"}
)  # fmt: skip
# The largest group of names one key may gather before it is taken for a common word, not a
# spelling (a key shared by dozens of names says nothing about any two of them).
MAX_GROUP = 8

STOP_WORDS = {"of", "the", "and", "for", "de", "&"}


def _initials(name):
    words = [word for word in re.findall(r"[A-Za-z0-9]+", name) if word.casefold() not in STOP_WORDS]
    if len(words) < 2 or any(len(word) < 3 for word in words):
        return ""
    return "".join(word[0] for word in words).casefold()


def _deletions(key):
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


def _words(name):
    """A name's words, folded (case and accents aside), without a leading "the"."""
    words = re.findall(r"[a-z0-9+#]+", fold_text(name))
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return words


def _core(words):
    """The words without trailing company forms ("Humana Inc" -> "humana")."""
    words = list(words)
    while len(words) > 1 and words[-1] in COMPANY_FORMS:
        words.pop()
    return "".join(words)


PARENTHESES = re.compile(r"^(.*?)\s*\(([^()]+)\)\s*$")


def _qualified(a, b):
    """True for one name with two different words in brackets ("Department for Education (UK)",
    "Department for Education (US)"): two of a kind told apart, not a misspelling."""
    match_a, match_b = PARENTHESES.match(a), PARENTHESES.match(b)
    return bool(match_a and match_b and fold(match_a[1]) == fold(match_b[1]))


def _acronym_of(inner, outer):
    """True when `inner` ("FBI", "DoJ") is the initials of `outer`'s words, with or without
    the small words ("Federal Bureau of Investigation", "Department of Justice")."""
    words = re.findall(r"[A-Za-z0-9]+", outer)
    key = fold(inner)
    if len(words) < 2 or not 2 <= len(key) <= 8:
        return False
    every = "".join(word[0] for word in words).casefold()
    major = "".join(word[0] for word in words if word.casefold() not in STOP_WORDS).casefold()
    return key in (every, major)


def _name_keys(name):
    """The keys under which a name meets its look-alikes: its fold without a company form or
    a leading "the", and for "Words (ACRONYM)" the words and the acronym on their own."""
    keys = {_core(_words(name)) or fold(name)}
    match = PARENTHESES.match(name)
    if match and _acronym_of(match[2], match[1]):
        keys |= {_core(_words(match[1])), fold(match[2])}
    return keys - {""}


def _abbreviates(short, long):
    """True when the word `short` is an abbreviation of the word `long`, at most four letters
    and shorter by two at least (not a plural): its start ("s" of "south", "univ" of
    "university"), or its first two letters and then some of its letters in order ("govt" of
    "government", "intl" of "international")."""
    if len(short) > 4 or len(long) < max(4, len(short) + 2) or short.isdigit():
        return False
    if long.startswith(short):
        return True
    if len(short) < 3 or short[:2] != long[:2]:
        return False
    rest = iter(long[2:])
    return all(letter in rest for letter in short[2:])


def _same_but_abbreviated(a, b):
    if len(a) != len(b) or a == b:
        return False
    return all(x == y or _abbreviates(x, y) or _abbreviates(y, x) for x, y in zip(a, b, strict=True))


def _abbreviation_pairs(by_key):
    """Pairs of names of the same words but for abbreviated ones ("S Korea", "South Korea"),
    met through keys of their word initials and one whole word (of four letters or more, or a
    number)."""
    groups = defaultdict(set)
    words_of = {}
    for key, name in by_key.items():
        words = _words(name)
        if len(words) < 2:
            continue
        words_of[key] = words
        initials = "".join(word[0] for word in words)
        for word in words:
            if len(word) >= 4 or word.isdigit():
                groups[(initials, word)].add(key)
    pairs = set()
    for group in groups.values():
        if 1 < len(group) <= MAX_GROUP:
            group = sorted(group)
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    if _same_but_abbreviated(words_of[a], words_of[b]):
                        pairs.add(tuple(sorted((by_key[a], by_key[b]))))
    return pairs


def _shared_key_pairs(by_key):
    """Pairs of names that share a key of `_name_keys` (a company form, "The", an acronym
    in brackets)."""
    groups = defaultdict(set)
    for key, name in by_key.items():
        for name_key in _name_keys(name):
            groups[name_key].add(key)
    pairs = set()
    for group in groups.values():
        if 1 < len(group) <= MAX_GROUP:
            group = sorted(group)
            pairs |= {
                tuple(sorted((by_key[a], by_key[b]))) for i, a in enumerate(group) for b in group[i + 1 :]
            }
    return pairs


def _numbers(key):
    return re.findall(r"\d+", key)


def _candidates(names):
    """{(a, b): joins} for the look-alike pairs among `names`: `joins` when the two spell one
    name (their clusters join). A part of a combined name ("Meta" of "Meta/Facebook") never
    joins, and a short name's initials or extension ("UK" and "United Kingdom", "US" and
    "USA") only when neither has another partner ("DPD" and four police departments of D…,
    or "MPS" of "Ministry of Public Security" and of "Metropolitan Police Service (MPS)",
    would chain unrelated names together)."""
    by_key = {}
    for name in names:
        if not is_placeholder(name):
            by_key.setdefault(fold(name), name)
    pairs = {}

    def add(a, b, joins):
        pair = tuple(sorted((a, b)))
        pairs[pair] = pairs.get(pair, False) or joins

    short_pairs = set()
    keys = list(by_key)
    short = {key: by_key[key] for key in keys if 2 <= len(key) <= 5}
    for key in keys:
        initials = _initials(by_key[key])
        if initials and initials in short and initials != key:
            short_pairs.add(tuple(sorted((short[initials], by_key[key]))))
    extended = defaultdict(list)  # a key without its last one or two characters -> the keys
    for other in keys:
        for extra in (1, 2):
            if len(other) - extra >= 2:
                extended[other[:-extra]].append(other)
    for key, name in short.items():
        for other in extended.get(key, ()):
            # "GPT-3" is not "GPT-3.5", nor "GPT-4" "GPT-4o": a version, not a spelling
            if _numbers(key) == _numbers(other) and not key[-1].isdigit():
                short_pairs.add(tuple(sorted((name, by_key[other]))))
    variants = defaultdict(set)
    for key in keys:
        if len(key) >= 7:
            variants[key].add(key)
            for deleted in _deletions(key):
                variants[deleted].add(key)
    for group in variants.values():
        if 1 < len(group) <= 5:
            group = sorted(group)
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    # "USD 23m" is not "USD 30m", "Ministry (UK)" is not "Ministry (US)"
                    if _numbers(a) == _numbers(b) and not _qualified(by_key[a], by_key[b]):
                        add(by_key[a], by_key[b], True)
    for key, name in by_key.items():
        if "/" in name:
            for part in name.split("/"):
                part_key = fold(part)
                if part_key in by_key and part_key != key:
                    add(name, by_key[part_key], False)
    for a, b in _shared_key_pairs(by_key) | _abbreviation_pairs(by_key):
        add(a, b, True)
    partners = Counter(name for pair in short_pairs | set(pairs) for name in pair)
    for a, b in short_pairs:
        add(a, b, partners[a] == 1 and partners[b] == 1)
    return pairs


def merge_candidates(names):
    """Pairs of names in one vocabulary (or of organisations, or of systems) that probably
    mean the same (the rules are in this module's description), sorted. Placeholders are
    left out."""
    return sorted(_candidates(names))


def variant_pairs(names):
    """[(a, b, joins)]: the merge candidates among `names` (`joins` as in `_candidates`) plus
    the names that fold alike (case and punctuation aside: two rows of one name, as an older
    database may hold), sorted."""
    pairs = _candidates(names)
    by_key = {}
    for name in dict.fromkeys(names):
        if not is_placeholder(name):
            by_key.setdefault(fold(name), []).append(name)
    for group in by_key.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                pairs[tuple(sorted((a, b)))] = True
    return sorted((a, b, joins) for (a, b), joins in pairs.items())


def _rank(scope, item):
    """The order in which spellings are preferred (the first is kept): the vocabulary's
    canonical name, then the most used, then the longest (a full name over its acronym), then
    the first alphabetically, then the oldest row."""
    return (
        not is_canonical(scope, item["name"]),
        -item["count"],
        -len(item["name"]),
        item["name"],
        item.get("pk") or 0,
    )


def merge_direction(scope, one, other):
    """Which way to suggest merging two probable variants (dicts with `name` and `count`, the
    incidents carrying each): (merged, survivor, why). Towards the vocabulary's canonical name
    when exactly one of them is; otherwise towards the one more incidents carry; on a tie,
    towards the longer name (a full name over its acronym), then the first alphabetically."""
    survivor, merged = sorted((one, other), key=lambda item: _rank(scope, item))
    if is_canonical(scope, one["name"]) != is_canonical(scope, other["name"]):
        return merged, survivor, f"“{survivor['name']}” is the usual name"
    if one["count"] != other["count"]:
        return merged, survivor, f"“{survivor['name']}” is used more"
    if survivor["name"] == merged["name"]:
        return merged, survivor, "one name on two rows: the older row"
    return merged, survivor, "as many uses each: the longer name"


@dataclass
class Cluster:
    """Names that probably mean one thing: `preferred` (the suggested survivor) and `merges`,
    each (variant, preferred, why) in the suggested direction. Items are dicts with `pk`,
    `name` and `count` (the incidents carrying it)."""

    preferred: dict
    merges: list = field(default_factory=list)
    related: bool = False  # two names related, not two spellings of one (`_candidates`)

    @property
    def members(self):
        return [self.preferred] + [merged for merged, _survivor, _why in self.merges]

    @property
    def count(self):
        return sum(item["count"] for item in self.members)


def clusters(scope, rows, pairs=None):
    """The look-alike clusters among `rows` [(pk, name, incidents carrying it)] of one
    vocabulary (its slug) or kind of entity: the rows of one name, joined by the pairs that
    spell one name; a pair that only relates two names ("UK" and "United Kingdom", "Meta" and
    "Meta/Facebook") is a cluster of its own, of the most used row of each name. `pairs` are
    `variant_pairs` of the names, computed when not given. Placeholders are never in a
    cluster. Spellings of one name first, then related names, each the most used first."""
    items = [{"pk": pk, "name": name, "count": count} for pk, name, count in rows if not is_placeholder(name)]
    if pairs is None:
        pairs = variant_pairs([item["name"] for item in items])
    by_name = defaultdict(list)
    for item in items:
        by_name[item["name"]].append(item)
    parent = {}

    def root(name):
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    related = []
    for a, b, joins in pairs:
        if a not in by_name or b not in by_name:
            continue
        if joins:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[ra] = rb
        else:
            related.append((a, b))
    groups = defaultdict(list)
    for name, named in by_name.items():
        groups[root(name)].extend(named)
    found = [(members, False) for members in groups.values() if len(members) > 1]
    for a, b in related:
        if root(a) != root(b):
            best = [min(by_name[name], key=lambda item: _rank(scope, item)) for name in (a, b)]
            found.append((best, True))
    result = []
    for members, is_related in found:
        members = sorted(members, key=lambda item: _rank(scope, item))
        preferred = members[0]
        merges = [merge_direction(scope, item, preferred) for item in members[1:]]
        result.append(Cluster(preferred, merges, is_related))
    result.sort(
        key=lambda cluster: (
            cluster.related,
            -cluster.count,
            cluster.preferred["name"].casefold(),
            cluster.preferred["pk"],
        )
    )
    return result
