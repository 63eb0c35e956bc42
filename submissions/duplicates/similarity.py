"""The one headline similarity every matching rule uses: a blend of the cosine of the
headlines' words (weighted by rarity when the caller knows how rare each word is: TF-IDF),
rapidfuzz's token-set ratio (word order and extra words set aside) and its character ratio
("Face" in "Facial"). rapidfuzz is a small C++ extension with no dependencies of its own."""

import math

from rapidfuzz import fuzz

from repository.documents import fold_text

from .words import headline_words

WORD_WEIGHT = 0.5
TOKEN_WEIGHT = 0.3
CHARACTER_WEIGHT = 0.2


def folded(headline):
    """A headline as the fuzzy ratios compare it: lower case, no accents, spaces collapsed."""
    return " ".join(fold_text(headline or "").split())


def cosine(vector_a, vector_b, norm_a=None, norm_b=None):
    """The cosine of two weighted word vectors ({word: weight})."""
    if len(vector_a) > len(vector_b):
        vector_a, vector_b, norm_a, norm_b = vector_b, vector_a, norm_b, norm_a
    dot = sum(value * vector_b[word] for word, value in vector_a.items() if word in vector_b)
    if not dot:
        return 0.0
    norm_a = norm_a or math.sqrt(sum(value * value for value in vector_a.values()))
    norm_b = norm_b or math.sqrt(sum(value * value for value in vector_b.values()))
    return dot / (norm_a * norm_b)


def blend(words_cosine, folded_a, folded_b):
    """(likeness, token-set ratio, character ratio), each 0 to 1."""
    tokens = fuzz.token_set_ratio(folded_a, folded_b) / 100
    characters = fuzz.ratio(folded_a, folded_b) / 100
    return (
        WORD_WEIGHT * words_cosine + TOKEN_WEIGHT * tokens + CHARACTER_WEIGHT * characters,
        tokens,
        characters,
    )


def headline_likeness(a, b):
    """How alike two headlines are, 0 to 1, every word weighing the same (no corpus to say
    which words are rare)."""
    words_a, words_b = headline_words(a), headline_words(b)
    words_part = (
        cosine(dict.fromkeys(words_a, 1.0), dict.fromkeys(words_b, 1.0)) if words_a and words_b else 0.0
    )
    return blend(words_part, folded(a), folded(b))[0]
