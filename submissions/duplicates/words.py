"""The one word list and the one way of reading a headline's words, for every matching rule."""

import re

from repository.documents import fold_text

WORD = re.compile(r"[^\W_]+")

# Words that say nothing about which event a headline is about.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "after",
        "against",
        "amid",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "over",
        "s",
        "t",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "with",
        "says",
        "said",
        "new",
        "when",
        "uses",
        "used",
        "using",
        "show",
        "shows",
        "more",
    ]
)


def stem(word):
    """A crude English stem, enough for headlines: kills, killing, killed -> kill."""
    if len(word) <= 4 or word.isdigit():
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text):
    """The words of a text that carry meaning, in order: folded, stemmed, stopwords dropped."""
    return [stem(word) for word in WORD.findall(fold_text(text or "")) if word not in STOPWORDS]


def headline_words(headline):
    """The set of a headline's meaningful words."""
    return frozenset(words(headline))
