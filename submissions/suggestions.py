"""What the contribution forms suggest as a contributor types.

- A vocabulary's terms are few (hundreds at most): each classification field is sent with
  every spelling of its vocabulary (term names and aliases) in a native <datalist>. The lists
  come from one query and are kept in the cache, as HTML, under the published-data token
  (repository/freshness.py), so a publish or a taxonomy curation makes them fresh and a page
  neither asks the database for them nor renders them otherwise.
- Organisations and systems are many: a capped lookup (`entities_matching`) answers what a
  small script asks for as the contributor types, one query whatever the taxonomy's size.
"""

from django.db.models import Case, IntegerField, Value, When
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from repository import documents, freshness
from repository.models import Entity, EntityAlias, TermAlias

LOOKUP_LIMIT = 10  # names a lookup answers at most
LOOKUP_MIN_LENGTH = 2  # folded characters before a lookup searches
LOOKUP_MAX_LENGTH = 100
CACHE_SECONDS = 6 * 3600  # a bound for when the cache could not be told of a change
CACHE_VERSION = 1


def _term_spellings():
    """{vocabulary_id: [(term name, other spelling or ""), …]}: each term of each vocabulary,
    then each of its other spellings (suggested as the term itself), in one query."""
    spellings = {}
    rows = (
        TermAlias.objects.filter(term__merged_into__isnull=True)
        .order_by("vocabulary_id", "term__name", "term_id", "name")
        .values_list("vocabulary_id", "term_id", "term__name", "name")
    )
    for vocabulary_id, term_id, term_name, spelling in rows:
        options = spellings.setdefault(vocabulary_id, {})
        options.setdefault(term_id, [(term_name, "")])
        if documents.fold(spelling) != documents.fold(term_name):  # not just another case or spacing
            options[term_id].append((term_name, spelling))
    return {
        vocabulary_id: [option for term in options.values() for option in term]
        for vocabulary_id, options in spellings.items()
    }


def _options_html(options):
    """A datalist's <option>s for [(term name, other spelling or "")], escaped (without their
    optional end tags: a vocabulary may have hundreds)."""
    return format_html_join(
        "",
        '<option value="{}"{}>',
        ((value, format_html(' label="{}"', label) if label else "") for value, label in options),
    )


def vocabulary_options(vocabularies):
    """{vocabulary slug: its datalist's <option>s as HTML}: each term, and each of its other
    spellings as a label of it. From the cache while nothing was published since (made once
    for every vocabulary, as HTML, so that a page neither queries nor renders them), else one
    query."""
    key = f"suggestions:v{CACHE_VERSION}:terms:{freshness.token()}"
    options = freshness.cache_get(key)
    if options is None:
        options = {
            vocabulary_id: str(_options_html(pairs)) for vocabulary_id, pairs in _term_spellings().items()
        }
        freshness.cache_set(key, options, CACHE_SECONDS)
    # Built escaped by format_html_join above.
    return {vocabulary.slug: mark_safe(options.get(vocabulary.id, "")) for vocabulary in vocabularies}


def lookup_key(text):
    """The folded form a lookup searches for, or "" when too short or too long to search."""
    text = str(text or "")[:LOOKUP_MAX_LENGTH]
    key = documents.fold(text) if text.strip() else ""
    return key if len(key) >= LOOKUP_MIN_LENGTH else ""


def entities_matching(*, kind, text, limit=LOOKUP_LIMIT):
    """Up to `limit` entities of `kind` with a spelling containing `text` (folded): one spelt
    so first, then those starting with it, then the others, each by use. [{"name", "alias"}],
    "alias" the spelling matched when it is not the entity's name. One query."""
    key = lookup_key(text)
    if not key or kind not in Entity.Kind.values:
        return []
    rows = (
        EntityAlias.objects.filter(key__contains=key, entity__kind=kind, entity__merged_into__isnull=True)
        .annotate(
            starts=Case(
                When(key=key, then=Value(0)),
                When(key__startswith=key, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("starts", "-uses", "entity__name", "entity_id")
        .values_list("entity_id", "entity__name", "name")[: limit * 3]
    )
    found, seen = [], set()
    for entity_id, name, spelling in rows:
        if entity_id in seen:
            continue
        seen.add(entity_id)
        found.append(
            {"name": name, "alias": spelling if documents.fold(spelling) != documents.fold(name) else ""}
        )
        if len(found) == limit:
            break
    return found
