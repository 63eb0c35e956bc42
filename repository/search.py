"""Full-text search of incidents, the same on PostgreSQL and on SQLite.

The reader's words are matched as words, in any order, stemmed (English), the last one also
as a prefix ("recogn" finds "recognition") while it may still be being typed. A word, or a
run of up to three words, that is a spelling of a term or an entity ("Open AI" for "OpenAI")
or one side of a search synonym ("Uighur" for "Uyghur", `SearchSynonym`) also finds the other
spellings of it. Results are ranked by relevance: a match in the headline counts most, then
the summary, then the narrative, then the names of the incident's terms and entities. A word
that no published incident holds (`SearchWord`) gets "Did you mean …?" (`correction`): the
nearest known word, with how many incidents the corrected search finds.

PostgreSQL keeps a weighted vector per incident (`Incident.search_vector`, GIN-indexed);
SQLite keeps an FTS5 table (porter stemmer) whose rowid is the incident's id. Both are
written by `index_refresh`, which publishing and merging call, and which adds the new words
to the table of known words. A query is built from the reader's words only (letters and
digits), never from their syntax, so no input can make it fail.
"""

# The SQL below is built from this module's constants and %s placeholders only.
# ruff: noqa: S608, S611

import re
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, FloatField, Func, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Length
from django.utils.html import escape
from django.utils.safestring import mark_safe

from .documents import fold
from .models import EntityAlias, Incident, SearchSynonym, SearchWord, TermAlias

FTS_TABLE = "repository_incident_fts"
# bm25 weights of the FTS5 columns: headline, summary, narrative, terms and entities.
FTS_WEIGHTS = (20.0, 5.0, 1.0, 0.5)
# ts_rank weights of PostgreSQL's classes D (terms and entities), C (narrative), B, A.
PG_WEIGHTS = [0.05, 0.1, 0.4, 1.0]

WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 12  # more words than this are left out of the search
MAX_SPAN = 3  # the longest run of words looked up as a term's or entity's name
MAX_ALTERNATIVES = 10  # other spellings added for one word or run of words
PREFIX_MIN_LENGTH = 3  # a shorter last word is matched as a whole word only
SNIPPET_WORDS = 30


# English stop words (Snowball's list, as PostgreSQL's 'english' configuration drops them): left
# out of a search that has other words, so that SQLite, which keeps them, matches alike.
_STOP_WORDS_TEXT = """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing a an
    the and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def words_of(text):
    return WORD.findall(text or "")


def source_of(text):
    """The words of a search text that `Search.parse` reads (a parsed search's `source`)."""
    return " ".join(words_of(text)[: MAX_WORDS * 2])


@dataclass(frozen=True)
class Group:
    """What one of the reader's words (or a run of them, when it names a term or an entity or
    is a search synonym) requires: all of `words`, or any one of the `alternatives` (other
    spellings, as phrases)."""

    words: tuple
    prefix: bool = False  # the last of `words` also matches as a prefix
    alternatives: tuple = ()

    @property
    def text(self):
        return " ".join(self.words)

    @property
    def own(self):
        """Whether the words themselves are searched: not when they are only stop words that
        another spelling stands for ("IT" for "information technology"), which PostgreSQL cannot
        find and SQLite would find everywhere."""
        return not self.alternatives or any(word.casefold() not in STOP_WORDS for word in self.words)


@dataclass
class Search:
    groups: list = field(default_factory=list)
    source: str = ""  # the words of the text parsed, to know when it can be reused

    @classmethod
    def parse(cls, text):
        """The reader's search text as groups of words, every one required; None without words.

        Looks up the other spellings of terms and entities and the search synonyms among the
        words, stop words included ("IT"): three queries."""
        words = words_of(text)[: MAX_WORDS * 2]
        if not words:
            return None
        spellings = _alternative_spellings(words)
        groups, start = [], 0
        while start < len(words):
            for size in range(min(MAX_SPAN, len(words) - start), 0, -1):
                span = words[start : start + size]
                others = spellings.get(fold(" ".join(span)))
                if others or size == 1:
                    break
            groups.append(Group(words=tuple(span), alternatives=tuple(others or ())))
            start += size
        kept = [g for g in groups if g.alternatives or g.words[0].casefold() not in STOP_WORDS]
        groups = (kept or groups)[:MAX_WORDS]
        # The last word is matched as a prefix too, while it may still be being typed.
        last = groups[-1]
        groups[-1] = Group(last.words, len(last.words[-1]) >= PREFIX_MIN_LENGTH, last.alternatives)
        return cls(groups, source=source_of(text))

    @property
    def text(self):
        return " ".join(group.text for group in self.groups)

    def without(self, index):
        """The same search without one group (the no-results page's suggestions)."""
        groups = [group for n, group in enumerate(self.groups) if n != index]
        if not groups:
            return None
        # The last word left is matched as a prefix, as it is when the reader types it.
        last = groups[-1]
        groups[-1] = Group(last.words, len(last.words[-1]) >= PREFIX_MIN_LENGTH, last.alternatives)
        search = Search(groups)
        search.source = search.text
        return search

    # The database's query.

    def tsquery(self):
        """A query for PostgreSQL's to_tsquery: quoted lexemes only, so always valid."""

        def word(text, prefix=False):
            return f"('{text}' | '{text}':*)" if prefix else f"'{text}'"

        parts = []
        for group in self.groups:
            own = [word(w, group.prefix and n == len(group.words) - 1) for n, w in enumerate(group.words)]
            options = ["(" + " & ".join(own) + ")"] if group.own else []
            options += ["(" + " <-> ".join(word(w) for w in phrase) + ")" for phrase in group.alternatives]
            parts.append("(" + " | ".join(options) + ")")
        return " & ".join(parts)

    def fts_match(self):
        """A query for SQLite's FTS5 MATCH: every word double-quoted, so always valid."""

        def word(text, prefix=False):
            return f'("{text}" OR "{text}"*)' if prefix else f'"{text}"'

        parts = []
        for group in self.groups:
            own = [word(w, group.prefix and n == len(group.words) - 1) for n, w in enumerate(group.words)]
            options = ["(" + " AND ".join(own) + ")"] if group.own else []
            options += ['"' + " ".join(phrase) + '"' for phrase in group.alternatives]
            parts.append("(" + " OR ".join(options) + ")")
        return " AND ".join(parts)

    def apply(self, queryset):
        """The incidents that match, annotated with `rank` (higher is better)."""
        if connection.vendor == "postgresql":
            return self.ranked(queryset.filter(search_vector=self._query()))
        match = self.fts_match()
        return self.ranked(
            queryset.filter(
                pk__in=RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [match])
            )
        )

    def ranked(self, queryset):
        """`queryset` annotated with `rank` for this search, for incidents known to match."""
        if connection.vendor == "postgresql":
            return queryset.annotate(rank=SearchRank(F("search_vector"), self._query(), weights=PG_WEIGHTS))
        return queryset.annotate(rank=FtsRank(F("pk"), match=self.fts_match()))

    def _query(self):
        return SearchQuery(self.tsquery(), search_type="raw", config="english")


class FtsRank(Func):
    """SQLite: bm25 of an incident's FTS5 row for the query, negated (higher is better)."""

    arity = 1
    output_field = FloatField()

    def __init__(self, expression, *, match):
        super().__init__(expression)
        self.match = match

    def as_sql(self, compiler, connection, **extra_context):
        pk_sql, pk_params = compiler.compile(self.source_expressions[0])
        weights = ", ".join(str(weight) for weight in FTS_WEIGHTS)
        sql = (
            f"(SELECT -bm25({FTS_TABLE}, {weights}) FROM {FTS_TABLE} "
            f"WHERE {FTS_TABLE} MATCH %s AND {FTS_TABLE}.rowid = {pk_sql})"
        )
        return sql, [self.match, *pk_params]


def _alternative_spellings(words):
    """{folded run of words: [other spellings as word tuples]} for the runs of up to MAX_SPAN
    words that a term or an entity is known by, or that a search synonym names: one query for
    terms, one for entities, one for synonyms."""
    keys = {}
    for size in range(1, MAX_SPAN + 1):
        for start in range(len(words) - size + 1):
            key = fold(" ".join(words[start : start + size]))
            if len(key) >= 2:
                keys[key] = True
    if not keys:
        return {}
    found = {}

    def add(key, name):
        others = found.setdefault(key, [])
        phrase = tuple(words_of(name))
        if phrase and phrase not in others:
            others.append(phrase)

    for model, owner in ((TermAlias, "term_id"), (EntityAlias, "entity_id")):
        rows = model.objects.filter(
            **{f"{owner}__in": model.objects.filter(key__in=list(keys)).values(owner)}
        ).values_list(owner, "key", "name")
        by_owner = {}
        for owner_id, key, name in rows:
            keys_names = by_owner.setdefault(owner_id, ({}, {}))
            keys_names[0][key] = True
            keys_names[1][name] = key
        for owner_keys, names in by_owner.values():
            for key in owner_keys:
                if key not in keys:
                    continue
                for name, name_key in names.items():
                    if name_key != key:
                        add(key, name)
    synonyms = SearchSynonym.objects.filter(Q(key__in=list(keys)) | Q(other_key__in=list(keys)))
    for spelling, key, other, other_key in synonyms.values_list("spelling", "key", "other", "other_key"):
        if key in keys:
            add(key, other)
        if other_key in keys:
            add(other_key, spelling)
    return {key: others[:MAX_ALTERNATIVES] for key, others in found.items() if others}


# The search index.


# Where the names of an incident's terms and entities, and their other spellings, come from:
# (the link table's alias, the tables, the name).
_NAME_SOURCES = (
    ("it", "repository_incidentterm it JOIN repository_term t ON t.id = it.term_id", "t.name"),
    ("it", "repository_incidentterm it JOIN repository_termalias ta ON ta.term_id = it.term_id", "ta.name"),
    ("ie", "repository_incidententity ie JOIN repository_entity e ON e.id = ie.entity_id", "e.name"),
    (
        "ie",
        "repository_incidententity ie JOIN repository_entityalias ea ON ea.entity_id = ie.entity_id",
        "ea.name",
    ),
)


def _names(condition):
    """SQL for rows of (incident_id, name), without repeats: the names of the terms and
    entities of the incidents whose id meets `condition` (SQL, `{id}` standing for the id)."""
    return " UNION ".join(
        f"SELECT {link}.incident_id AS incident_id, {name} AS name FROM {tables} "
        f"WHERE {condition.format(id=f'{link}.incident_id')}"
        for link, tables, name in _NAME_SOURCES
    )


# SQLite: the names of the incident `i`, as one text.
_SQLITE_NAMES = f"COALESCE((SELECT group_concat(n.name, ' ') FROM ({_names('{id} = i.id')}) n), '')"


# PostgreSQL: the names of all the target incidents are gathered in one pass over their links,
# in alphabetical order, then each incident's vector is written from its own text and them.
_PG_REFRESH = """WITH target(id) AS (
    SELECT i.id FROM repository_incident i WHERE i.merged_into_id IS NULL {where}
), names(incident_id, text) AS (
    SELECT n.incident_id, string_agg(n.name, ' ' ORDER BY n.name) FROM ({names}
    ) n GROUP BY n.incident_id
)
UPDATE repository_incident i SET search_vector =
    setweight(to_tsvector('english', i.headline), 'A') ||
    setweight(to_tsvector('english', i.summary), 'B') ||
    setweight(to_tsvector('english', i.narrative), 'C') ||
    setweight(to_tsvector('english', COALESCE(names.text, '')), 'D'){also}
FROM target LEFT JOIN names ON names.incident_id = target.id WHERE i.id = target.id"""


def index_refresh(*, incident_ids=None, using=None, also=(), words=True):
    """Bring the search index of these incidents (all, with None) up to date with their text,
    terms and entities; merged incidents leave it. With `words`, the table of known words too
    (`words_refresh`). On PostgreSQL, `also` are more columns of
    the same rows to set in the same statement (SQL assignments over the incident `i`, without
    parameters): each write of an incident's row costs as much again in its indexes."""
    conn = connection if using is None else using
    ids = None if incident_ids is None else [int(pk) for pk in incident_ids]
    if ids is not None and not ids:
        return
    if conn.vendor not in ("postgresql", "sqlite"):
        return
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            also = "".join(f", {assignment}" for assignment in also)
            if ids is None:
                where, among, params = "", "{id} IN (SELECT id FROM target)", []
            else:
                # The links are read by the ids themselves, not by a join on `target`: the
                # index on each link table's incident is used whatever statistics the planner
                # has of a table filled in the same transaction (a join was planned as a scan
                # of all the entity links, for each chunk of an import).
                among = "{id} = ANY(%s::bigint[])"
                where, params = f"AND {among.format(id='i.id')}", [ids] * (1 + len(_NAME_SOURCES))
            cursor.execute(_PG_REFRESH.format(where=where, names=_names(among), also=also), params)
        else:
            for start in range(0, len(ids) if ids is not None else 1, 500):
                chunk = None if ids is None else ids[start : start + 500]
                if chunk is None:
                    cursor.execute(f"DELETE FROM {FTS_TABLE}")
                    where, params = "", []
                else:
                    marks = ", ".join("%s" for _ in chunk)
                    cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({marks})", chunk)
                    where, params = f"AND i.id IN ({marks})", chunk
                cursor.execute(
                    f"INSERT INTO {FTS_TABLE} (rowid, headline, summary, narrative, names) "
                    f"SELECT i.id, i.headline, i.summary, i.narrative, {_SQLITE_NAMES} "
                    f"FROM repository_incident i WHERE i.merged_into_id IS NULL {where}",
                    params,
                )
    if words:
        words_refresh(incident_ids=ids, using=conn)


# The words the incidents hold, for "Did you mean …?".

WORD_TABLE = "repository_searchword"
WORD_MIN_LENGTH, WORD_MAX_LENGTH = 3, 40
_PG_WORDS = f"""INSERT INTO {WORD_TABLE} (word, incidents)
SELECT word, ndoc FROM ts_stat(%s) WHERE word ~ '^[[:alpha:]]{{{WORD_MIN_LENGTH},{WORD_MAX_LENGTH}}}$'
ON CONFLICT (word) DO NOTHING"""
# ts_stat reads the vectors of a query given as text: only these constants and integer ids.
_PG_WORD_VECTORS = (
    "SELECT to_tsvector('simple', i.headline || ' ' || i.summary || ' ' || i.narrative) "
    "FROM repository_incident i WHERE i.merged_into_id IS NULL"
)


def _word_list(text):
    return {
        word
        for word in (token.casefold() for token in words_of(text))
        if word.isalpha() and WORD_MIN_LENGTH <= len(word) <= WORD_MAX_LENGTH
    }


def words_refresh(*, incident_ids=None, using=None):
    """Add the words of these incidents' headlines, summaries and narratives to the table of
    known words (SearchWord), each counted over these incidents when it is new; with None,
    empty the table and count every word over all the incidents again.

    Words are kept as written (lower case, letters only, 3 to 40 of them), not stemmed, so
    that a misspelt word is compared with what readers would type. A word that publishing no
    longer uses stays until the next full count; suggestions are counted before they are shown."""
    conn = connection if using is None else using
    ids = None if incident_ids is None else [int(pk) for pk in incident_ids]
    if ids is not None and not ids:
        return
    with conn.cursor() as cursor:
        if ids is None:
            cursor.execute(f"DELETE FROM {WORD_TABLE}")
        if conn.vendor == "postgresql":
            for start in range(0, len(ids) if ids is not None else 1, 5000):
                vectors = _PG_WORD_VECTORS
                if ids is not None:
                    vectors += " AND i.id IN (" + ", ".join(map(str, ids[start : start + 5000])) + ")"
                cursor.execute(_PG_WORDS, [vectors])
            return
        counts = {}
        for start in range(0, len(ids) if ids is not None else 1, 500):
            chunk = None if ids is None else ids[start : start + 500]
            sql = "SELECT headline, summary, narrative FROM repository_incident WHERE merged_into_id IS NULL"
            if chunk is not None:
                sql += " AND id IN (" + ", ".join("%s" for _ in chunk) + ")"
            cursor.execute(sql, chunk or [])
            while rows := cursor.fetchmany(500):
                for texts in rows:
                    for word in _word_list(" ".join(texts)):
                        counts[word] = counts.get(word, 0) + 1
        pairs = list(counts.items())
        for start in range(0, len(pairs), 500):
            cursor.executemany(
                f"INSERT OR IGNORE INTO {WORD_TABLE} (word, incidents) VALUES (%s, %s)",
                pairs[start : start + 500],
            )


# Highlighting.


@lru_cache(maxsize=4096)
def _stem(word):
    return _STEMMER.stemWord(word.casefold())


_STEMMER = snowballstemmer.stemmer("english")
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_MARKS = re.compile(r"[*_`|]+|^[ \t]*[#>]+", re.MULTILINE)
_TOKEN = re.compile(r"[^\W_]+|[\W_]+")


class Matcher:
    """Marks the words of a text that the search matched, over escaped text, with <mark>."""

    def __init__(self, search):
        self.exact, self.prefixes = set(), set()
        for group in search.groups:
            for n, word in enumerate(group.words if group.own else ()):
                stem = _stem(word)
                self.exact.add(stem)
                if group.prefix and n == len(group.words) - 1:
                    self.prefixes.add(stem)
                    self.prefixes.add(word.casefold())
            for phrase in group.alternatives:
                self.exact.update(_stem(word) for word in phrase)

    def matches(self, word):
        stem = _stem(word)
        if stem in self.exact:
            return True
        lowered = word.casefold()
        return any(stem.startswith(p) or lowered.startswith(p) for p in self.prefixes)

    def mark(self, text):
        """`text` escaped, its matched words in <mark>: safe to show as HTML."""
        out = []
        for token in _TOKEN.findall(text or ""):
            if token[0].isalnum() and self.matches(token):
                out.append(f"<mark>{escape(token)}</mark>")
            else:
                out.append(escape(token))
        return mark_safe("".join(out))  # every piece of text above is escaped

    def snippet(self, text, size=SNIPPET_WORDS):
        """About `size` words of `text` around its first match, marked; None without a match."""
        text = _MARKDOWN_MARKS.sub(" ", _MARKDOWN_LINK.sub(r"\1", text or ""))
        words = text.split()
        first = next(
            (n for n, word in enumerate(words) if any(self.matches(w) for w in words_of(word))),
            None,
        )
        if first is None:
            return None
        start = max(0, first - size // 3)
        end = min(len(words), start + size)
        start = max(0, min(start, end - size))
        marked = self.mark(" ".join(words[start:end]))
        before = "… " if start > 0 else ""
        after = " …" if end < len(words) else ""
        return mark_safe(f"{before}{marked}{after}")  # `marked` is escaped text


def mark_results(incidents, search):
    """Give each incident of a result page `marked_headline` and `snippet` (None when neither
    its summary nor its narrative matched): one query, for the narratives the listing defers."""
    narratives = dict(
        Incident.objects.filter(pk__in=[incident.pk for incident in incidents]).values_list("pk", "narrative")
    )
    matcher = Matcher(search)
    for incident in incidents:
        incident.marked_headline = matcher.mark(incident.headline)
        incident.snippet = matcher.snippet(incident.summary) or matcher.snippet(
            narratives.get(incident.pk, "")
        )


# The no-results page's way out.

MAX_SUGGESTIONS = 6  # count queries at most, one per word or filter that could be dropped


@dataclass
class Suggestion:
    label: str  # what to drop: 'the word “police”', 'Country: UK'
    query: str  # the browse query string without it
    count: int


def suggestions(filterset, chips, limit=MAX_SUGGESTIONS):
    """For a search or filters that found nothing: which one word or filter to drop, and how
    many incidents each would give, most first (those that give none are left out).

    `chips` are the chosen facet values (filters.selected_labels). At most `limit` count
    queries; the search text is not parsed again."""
    base = filterset.data.copy()
    for name in ("page", "more"):
        base.pop(name, None)
    cleaned = getattr(filterset.form, "cleaned_data", {})
    search = filterset.text_search
    candidates = []  # (label, query data, search to reuse)
    if search is not None:
        if len(search.groups) > 1:
            for index, group in enumerate(search.groups):
                smaller = search.without(index)
                data = base.copy()
                data["q"] = smaller.text
                plural = "s" if len(group.words) > 1 else ""
                candidates.append((f"the word{plural} “{group.text}”", data, smaller))
        else:
            data = base.copy()
            data.pop("q", None)
            candidates.append((f"the search “{search.text}”", data, None))
    for chip in chips:
        data = base.copy()
        data.setlist(chip["name"], [slug for slug in data.getlist(chip["name"]) if slug != chip["slug"]])
        candidates.append((f"{chip['label']}: {chip['value']}", data, search))
    simple = {
        "type": lambda value: f"Type: {dict(filterset.form.fields['type'].choices).get(value, value)}",
        "occurred_from": lambda value: f"Occurred from {int(value)}",
        "occurred_to": lambda value: f"Occurred to {int(value)}",
    }
    for name, label in simple.items():
        if cleaned.get(name) not in (None, ""):
            data = base.copy()
            data.pop(name, None)
            candidates.append((label(cleaned[name]), data, search))
    found = []
    for label, data, reused in candidates[:limit]:
        narrower = type(filterset)(data, queryset=filterset.queryset, vocabularies=filterset.vocabularies)
        narrower.text_search = reused
        narrower.resolved = filterset.resolved  # the chosen values' ids, looked up once
        count = narrower.qs.count()
        if count:
            found.append(Suggestion(label, data.urlencode(), count))
    return sorted(found, key=lambda suggestion: -suggestion.count)


# "Did you mean …?"

MAX_CORRECTED_WORDS = 3  # unknown words looked up, one query each
CANDIDATES = 20  # similar words a lookup returns, the closest chosen among them
SQLITE_CANDIDATES = 5000  # SQLite: the words compared in Python, the most used first


@dataclass
class Correction:
    text: str  # the search text corrected
    query: str  # the browse query string with it
    count: int
    words: list  # (word as typed, word suggested), for the page to show what changed

    @property
    def marked(self):
        """The corrected text, escaped, its suggested words in <strong>: safe as HTML."""
        suggested = {word for _, word in self.words}
        return mark_safe(  # every word is escaped
            " ".join(
                f"<strong>{escape(word)}</strong>" if word in suggested else escape(word)
                for word in self.text.split()
            )
        )


def distance(a, b, bound=3):
    """Edits (insertion, deletion, substitution, transposition of two letters) from `a` to
    `b`; `bound` when they are at least that far apart."""
    if abs(len(a) - len(b)) >= bound:
        return bound
    previous, current = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous, current = previous, current, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) >= bound:
            return bound
    return min(current[-1], bound)


def allowed_edits(word):
    return 1 if len(word) <= 5 else 2


def closest_word(word):
    """The known word (SearchWord) nearest to `word` in spelling, within `allowed_edits`, the
    most used of the nearest; None when none is near. One query: on PostgreSQL the words
    nearest by trigrams (pg_trgm, a GiST index), on SQLite a bounded set of the words that begin
    with the same letter and are about as long, the most used first."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The nearest by trigrams, however far: a walk of the GiST index (KNN).
            cursor.execute(
                f"SELECT word, incidents FROM {WORD_TABLE} ORDER BY word <-> %s LIMIT %s",
                [word, CANDIDATES],
            )
            rows = cursor.fetchall()
    else:
        spread = allowed_edits(word)
        rows = (
            SearchWord.objects.filter(word__startswith=word[0])
            .annotate(length=Length("word"))
            .filter(length__gte=len(word) - spread, length__lte=len(word) + spread)
            .order_by("-incidents", "word")
            .values_list("word", "incidents")[:SQLITE_CANDIDATES]
        )
    limit = allowed_edits(word)
    best = None
    for candidate, incidents in rows:
        edits = distance(word, candidate, limit + 1)
        if candidate != word and edits <= limit and candidate not in STOP_WORDS:
            key = (edits, -incidents, candidate)
            if best is None or key < best[0]:
                best = (key, candidate)
    return best[1] if best else None


def correction(filterset, count):
    """For a search whose words include some that no published incident holds: the same
    search with each of them (up to MAX_CORRECTED_WORDS) replaced by the nearest known word,
    and how many incidents it gives, when that is more than `count`, the results as they are
    (a callable, asked only when there is a correction to weigh). None otherwise.

    One query when every word is known; else one per unknown word, three to parse the
    corrected search, one to count it (and `count`'s)."""
    search = filterset.text_search
    if search is None:
        return None
    singles = {}
    for index, group in enumerate(search.groups):
        word = group.words[0].casefold()
        if (
            len(group.words) == 1
            and not group.alternatives
            and word.isalpha()
            and len(word) >= WORD_MIN_LENGTH
        ):
            singles[index] = word
    if not singles:
        return None
    known = set(SearchWord.objects.filter(word__in=set(singles.values())).values_list("word", flat=True))
    unknown = [(index, word) for index, word in singles.items() if word not in known]
    replaced = {}
    for index, word in unknown[:MAX_CORRECTED_WORDS]:
        nearest = closest_word(word)
        if nearest:
            replaced[index] = nearest
    if not replaced:
        return None
    text = " ".join(replaced.get(index, group.text) for index, group in enumerate(search.groups))
    corrected = Search.parse(text)
    data = filterset.data.copy()
    for name in ("page", "more", "cursor"):
        data.pop(name, None)
    data["q"] = text
    better = type(filterset)(data, queryset=filterset.queryset, vocabularies=filterset.vocabularies)
    better.text_search = corrected
    better.resolved = filterset.resolved  # the chosen values' ids, looked up once
    found = better.qs.count()
    if found <= (count() if callable(count) else count):
        return None
    words = [(search.groups[index].text, word) for index, word in replaced.items()]
    return Correction(text, data.urlencode(), found, words)
