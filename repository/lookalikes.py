"""Spelling variants ("look-alikes") of one name among terms, organisations and systems: which
names probably mean the same, and which way to suggest merging them.

Used by the import report (merge candidates) and by the editors' variants list.
"""

import re
from collections import defaultdict

from .canonical import is_canonical
from .documents import fold

STOP_WORDS = {"of", "the", "and", "for", "de", "&"}


def _initials(name):
    words = [word for word in re.findall(r"[A-Za-z0-9]+", name) if word.casefold() not in STOP_WORDS]
    if len(words) < 2 or any(len(word) < 3 for word in words):
        return ""
    return "".join(word[0] for word in words).casefold()


def _deletions(key):
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


def merge_candidates(names):
    """Pairs of names in one vocabulary (or of organisations) that probably mean the same:
    an acronym and its words ("UK", "United Kingdom"), a short name and its extension
    ("US", "USA"), one or two letters apart ("Accuracy/reliability", "Accuracy/reliablity"),
    and a combined name and its parts ("Meta/Facebook", "Meta")."""
    by_key = {}
    for name in names:
        by_key.setdefault(fold(name), name)
    pairs = set()
    keys = list(by_key)
    short = {key: by_key[key] for key in keys if 2 <= len(key) <= 5}
    for key in keys:
        initials = _initials(by_key[key])
        if initials and initials in short and initials != key:
            pairs.add(tuple(sorted((short[initials], by_key[key]))))
    extended = defaultdict(list)  # a key without its last one or two characters -> the keys
    for other in keys:
        for extra in (1, 2):
            if len(other) - extra >= 2:
                extended[other[:-extra]].append(other)
    for key, name in short.items():
        for other in extended.get(key, ()):
            pairs.add(tuple(sorted((name, by_key[other]))))
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
                    if re.findall(r"\d+", a) == re.findall(r"\d+", b):  # "USD 23m" is not "USD 30m"
                        pairs.add(tuple(sorted((by_key[a], by_key[b]))))
    for key, name in by_key.items():
        if "/" in name:
            for part in name.split("/"):
                part_key = fold(part)
                if part_key in by_key and part_key != key:
                    pairs.add(tuple(sorted((name, by_key[part_key]))))
    return sorted(pairs)


def variant_pairs(names):
    """The merge candidates among `names` plus the names that fold alike (case and
    punctuation aside: two rows of one name, as an older database may hold)."""
    pairs = set(merge_candidates(names))
    by_key = {}
    for name in dict.fromkeys(names):
        by_key.setdefault(fold(name), []).append(name)
    for group in by_key.values():
        pairs |= {(a, b) for i, a in enumerate(group) for b in group[i + 1 :] if a != b}
    return sorted(pairs)


def merge_direction(scope, one, other):
    """Which way to suggest merging two probable variants (dicts with `name` and `count`, the
    incidents carrying each): (merged, survivor, why). Towards the vocabulary's canonical name
    when exactly one of them is; otherwise towards the one more incidents carry; on a tie,
    towards the longer name (a full name over its acronym), then the first alphabetically."""
    one_canonical, other_canonical = is_canonical(scope, one["name"]), is_canonical(scope, other["name"])
    if one_canonical != other_canonical:
        merged, survivor = (other, one) if one_canonical else (one, other)
        return merged, survivor, f"“{survivor['name']}” is the usual name"
    if one["count"] != other["count"]:
        merged, survivor = (one, other) if one["count"] < other["count"] else (other, one)
        return merged, survivor, f"“{survivor['name']}” is used more"
    merged, survivor = sorted((one, other), key=lambda v: (-len(v["name"]), v["name"]))[::-1]
    return merged, survivor, "as many uses each: the longer name"
