"""Search synonyms: the pairs of spellings a search treats as one, kept by editors."""

from django.db import transaction

from .. import freshness
from ..documents import clean_name, fold
from ..models import SearchSynonym


class SynonymRefused(ValueError):
    """A pair that cannot be a synonym: empty, the same spelling twice, or known already."""


def search_synonym_add(*, spelling, other, editor):
    """Search `spelling` and `other` together from now on; cached result pages are renewed."""
    spelling, other = clean_name(spelling), clean_name(other)
    if not any(ch.isalnum() for ch in spelling) or not any(ch.isalnum() for ch in other):
        raise SynonymRefused("Both spellings need a letter or a digit.")
    if spelling.casefold() == other.casefold():
        raise SynonymRefused("The two spellings are the same.")
    with transaction.atomic():
        synonym = SearchSynonym(spelling=spelling, other=other, created_by=editor)
        ordered = sorted([spelling, other], key=lambda name: (fold(name), name))
        if SearchSynonym.objects.filter(spelling__iexact=ordered[0], other__iexact=ordered[1]).exists():
            raise SynonymRefused(f"“{spelling}” and “{other}” are searched together already.")
        synonym.save()
        freshness.changed()
    return synonym


def search_synonym_remove(*, synonym):
    """Search the two spellings apart again; cached result pages are renewed."""
    with transaction.atomic():
        SearchSynonym.objects.filter(pk=synonym.pk).delete()
        freshness.changed()
