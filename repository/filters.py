"""Browsing incidents: the FilterSet behind /incidents/ and the facet counts beside it.

Every vocabulary is a facet, and so are deployers, developers, systems and harmed parties. Selecting
values narrows the results (values within a facet and across facets must all hold), so a
facet count is how many of the current results a value would leave.
"""

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import django_filters
from django import forms
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q

from . import freshness
from .models import Entity, Incident, IncidentEntity, IncidentUnderTerm, Term
from .periods import MAX_YEAR, MIN_YEAR
from .search import Search, source_of, words_of

FACET_LIMIT = 8
FACET_EXPANDED_LIMIT = 100
MAX_VALUES_PER_FACET = 10
ENTITY_FACETS = [
    (IncidentEntity.Role.DEPLOYER, "Deployer"),
    (IncidentEntity.Role.DEVELOPER, "Developer"),
    (IncidentEntity.Role.SYSTEM, "System"),
    (IncidentEntity.Role.HARMED, "Harmed parties"),
]
SORTS = {
    "occurred": ("Occurred, latest first", ["-occurred_start", "-number"]),
    "oldest": ("Occurred, earliest first", [F("occurred_start").asc(nulls_last=True), "number"]),
    "newest": ("Newest additions", ["-created_at", "-number"]),
    "relevance": ("Relevance (with a search)", None),
}


class SlugListField(forms.Field):
    """Repeated query parameters (?country=uk&country=usa) as a list of slugs."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "invalid": "Not a known value.",
        "too_many": f"Choose at most {MAX_VALUES_PER_FACET} values.",
    }

    def to_python(self, value):
        if not value:
            return []
        values = [value] if isinstance(value, str) else list(value)
        slugs = []
        for item in values:
            item = str(item).strip().lower()
            if item and item not in slugs:
                slugs.append(item)
        return slugs

    def validate(self, value):
        if len(value) > MAX_VALUES_PER_FACET:
            raise forms.ValidationError(self.error_messages["too_many"], code="too_many")
        validator = forms.SlugField().run_validators
        for item in value:
            try:
                validator(item)
            except forms.ValidationError:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class SlugListFilter(django_filters.Filter):
    field_class = SlugListField


class IncidentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search headlines and text"}),
    )
    type = django_filters.ChoiceFilter(choices=Incident.Type.choices, empty_label="Any type")
    occurred_from = django_filters.NumberFilter(
        method="occurred_after", label="Occurred from", min_value=MIN_YEAR, max_value=MAX_YEAR
    )
    occurred_to = django_filters.NumberFilter(
        method="occurred_before", label="to", min_value=MIN_YEAR, max_value=MAX_YEAR
    )
    sort = django_filters.ChoiceFilter(
        choices=[(key, label) for key, (label, _) in SORTS.items()],
        empty_label=None,
        label="Sort by",
    )

    class Meta:
        model = Incident
        fields = []

    def __init__(self, data=None, *args, vocabularies, **kwargs):
        self.vocabularies = list(vocabularies)
        self.text_search = None  # the parsed search text, once filtered (repository.search)
        super().__init__(data, *args, **kwargs)
        dynamic = [(v.slug, v.label, "with_terms") for v in self.vocabularies]
        dynamic += [(role, label, "with_entities") for role, label in ENTITY_FACETS]
        for name, label, method in dynamic:
            facet_filter = SlugListFilter(label=label, field_name=name)
            facet_filter.parent = self
            facet_filter.method = method
            self.filters[name] = facet_filter

    @property
    def form(self):
        """The form; with a search and no sort chosen, its sort is "relevance", as applied:
        the page shows it and a click on Apply keeps it."""
        form = super().form
        data = form.data
        if self.is_bound and words_of(data.get("q") or "") and not data.get("sort"):
            form.data = data.copy()
            form.data["sort"] = "relevance"
        return form

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        for name, value in data.items():
            if name != "sort":
                queryset = self.filters[name].filter(queryset, value)
        return self.apply_sort(queryset, data.get("sort") or "", searching=bool(data.get("q", "").strip()))

    def known(self, ids):
        """The results, ordered (and ranked) as `qs`, found by their ids alone: once the
        facets' statement has returned them, the page need not evaluate the filter again."""
        incidents = Incident.objects.filter(pk__in=ids)
        if self.text_search:
            incidents = self.text_search.ranked(incidents)
        data = self.form.cleaned_data
        return self.apply_sort(incidents, data.get("sort") or "", searching=bool(data.get("q", "").strip()))

    def with_terms(self, queryset, name, slugs):
        ids = []
        for slug in slugs:
            term = self.resolved.get((name, slug))
            if term is None:
                return queryset.none()
            ids.append(term[0])
        if not ids:
            return queryset
        # The term or any term below it (`ancestry`): one index, no OR across a join.
        if connection.vendor == "postgresql":
            # The incident's own array of them: its GIN index combines with the search's and
            # the other facets' into one bitmap, so that the work follows the results.
            return queryset.filter(under_term_ids__contains=ids)
        for pk in ids:  # the id itself, so that the planner knows how common the term is
            queryset = queryset.filter(
                Exists(IncidentUnderTerm.objects.filter(incident=OuterRef("pk"), term_id=pk))
            )
        return queryset

    @cached_property
    def resolved(self):
        """The chosen facet values that exist, {(filter name, slug): (id, name)}."""
        return resolve_selected(self.vocabularies, self.selected())

    def narrows(self):
        """True when something in the query filters the incidents (a sort alone does not)."""
        if not self.is_bound:
            return False
        self.form.is_valid()
        return any(
            value not in (None, "", []) for name, value in self.form.cleaned_data.items() if name != "sort"
        )

    def with_entities(self, queryset, name, slugs):
        for slug in slugs:
            entity = self.resolved.get((name, slug))
            if entity is None:
                return queryset.none()
            queryset = queryset.filter(
                Exists(IncidentEntity.objects.filter(incident=OuterRef("pk"), role=name, entity_id=entity[0]))
            )
        return queryset

    def occurred_after(self, queryset, name, year):
        # Periods that reach into or past the year; open ranges go on.
        return queryset.filter(
            Q(occurred_end__year__gte=int(year)) | Q(occurred_end__isnull=True, occurred_start__isnull=False)
        )

    def occurred_before(self, queryset, name, year):
        return queryset.filter(occurred_start__year__lte=int(year))

    def search(self, queryset, name, text):
        """Words in any order, stemmed, ranked (repository.search); `text_search` keeps the
        parsed search for the page (highlighting) and may be set beforehand to reuse one."""
        if self.text_search is None or self.text_search.source != source_of(text):
            self.text_search = Search.parse(text)
        return self.text_search.apply(queryset) if self.text_search else queryset

    def apply_sort(self, queryset, key, searching):
        if key == "relevance" or (not key and searching):
            if searching and "rank" in queryset.query.annotations:
                return queryset.order_by("-rank", "-occurred_start", "-number")
            key = "occurred"
        return queryset.order_by(*SORTS.get(key, SORTS["occurred"])[1])

    def selected(self):
        """{filter name: [slugs]} of the facet values in the query."""
        if not self.is_bound:
            return {}
        self.form.is_valid()
        names = [v.slug for v in self.vocabularies] + [role for role, _ in ENTITY_FACETS]
        return {name: self.form.cleaned_data.get(name) for name in names if self.form.cleaned_data.get(name)}


@dataclass
class FacetValue:
    slug: str
    name: str
    count: int
    selected: bool = False


@dataclass
class Facet:
    name: str  # the query parameter
    label: str
    group: str = ""
    values: list = field(default_factory=list)
    expanded: bool = False
    truncated: bool = False


class Facets(list):
    """The facets beside a result set, `total`: how many results there are, and `ids`: the
    results' ids when there are few (None otherwise), for the page to start from."""

    total = 0
    ids = None


FACETS_CACHE_TIMEOUT = 24 * 60 * 60  # a bound for when a token's renewal is lost, not a freshness
# Counting costs time with the number of results: from this many on, a result set's facets are
# kept until the next publication; fewer are counted afresh (quick, and too many to keep).
FACETS_CACHED_FROM = 2000
# Up to this many results, the facets' statement also returns their ids: the page of results
# then starts from them instead of evaluating the filter again.
MATCHES_RETURNED_UP_TO = 2000

# One statement for every facet: the results are found once (`matches`), then counted per
# term (each incident under a term or a term below it, `IncidentUnderTerm`) and per entity
# and role, and only the top values of each facet are kept (more for the one expanded).
_FACETS = """WITH matches(id) AS {materialized} ({ids})
SELECT kind, vocabulary_id, role, slug, name, n FROM (
    SELECT 't' AS kind, t.vocabulary_id AS vocabulary_id, CAST(NULL AS VARCHAR(20)) AS role,
        t.slug AS slug, t.name AS name, c.n AS n,
        ROW_NUMBER() OVER (PARTITION BY t.vocabulary_id ORDER BY c.n DESC, t.name) AS position
    FROM (
        SELECT u.term_id, COUNT(*) AS n FROM {under} u
        {join_terms} GROUP BY u.term_id
    ) c JOIN {term} t ON t.id = c.term_id
    UNION ALL
    SELECT 'e', NULL, c.role, e.slug, e.name, c.n,
        ROW_NUMBER() OVER (PARTITION BY c.role ORDER BY c.n DESC, e.name)
    FROM (
        SELECT l.role, l.entity_id, COUNT(*) AS n FROM {link} l
        {join_entities} GROUP BY l.role, l.entity_id
    ) c JOIN {entity} e ON e.id = c.entity_id
    UNION ALL
    SELECT 'n', NULL, NULL, NULL, NULL, (SELECT COUNT(*) FROM matches), 1
    UNION ALL
    SELECT 'i', NULL, NULL, NULL, NULL, id, 1 FROM matches WHERE (SELECT COUNT(*) FROM matches) <= {ids_limit}
) facets
WHERE position <= CASE WHEN vocabulary_id = %s OR role = %s THEN {expanded_limit} ELSE {limit} END"""


def _facet_rows(ids, params, expanded_vocabulary, expanded_role, unfiltered=False):
    """(kind, vocabulary id, role, slug, name, count) rows, and the total as a row of kind 'n'.

    `unfiltered`: the results are every incident that stands on its own, and only those have
    links (a merged incident loses its rows), so every link counts without a join."""
    sql = _FACETS.format(
        join_terms="" if unfiltered else "JOIN matches m ON m.id = u.incident_id",
        join_entities="" if unfiltered else "JOIN matches m ON m.id = l.incident_id",
        # PostgreSQL evaluates the filter once and reads the rows it kept three times.
        materialized="MATERIALIZED" if connection.vendor == "postgresql" else "",
        ids=ids,
        under=IncidentUnderTerm._meta.db_table,
        term=Term._meta.db_table,
        link=IncidentEntity._meta.db_table,
        entity=Entity._meta.db_table,
        ids_limit=-1 if unfiltered else MATCHES_RETURNED_UP_TO,  # nothing to spare unfiltered
        expanded_limit=FACET_EXPANDED_LIMIT + 1,
        limit=FACET_LIMIT + 1,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, expanded_vocabulary or -1, expanded_role or ""])
        return [tuple(row) for row in cursor.fetchall()]


def facets_for(incidents, vocabularies, selected, expanded="", *, unfiltered=False):
    """The facets beside a result set, in one query whatever the number of terms.

    A term's count is how many results are under it: carrying it or a term below it, which
    is what choosing it would leave. The counts of the whole repository (`unfiltered`) and of
    any large result set are cached until the next publication (`freshness`)."""
    by_vocabulary = {v.id: v for v in vocabularies}
    expanded_vocabulary = next((v.id for v in vocabularies if v.slug == expanded), None)
    expanded_role = expanded if expanded in dict(ENTITY_FACETS) else None
    if expanded_vocabulary is None and expanded_role is None:
        expanded = ""
    facets = Facets()
    by_name = {}
    for role, label in ENTITY_FACETS:
        by_name[role] = Facet(role, label, expanded=role == expanded)
    for vocabulary in vocabularies:
        by_name[vocabulary.slug] = Facet(
            vocabulary.slug, vocabulary.label, vocabulary.group, expanded=vocabulary.slug == expanded
        )

    try:
        ids, params = incidents.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        rows = [("n", None, None, None, None, 0)]
    else:
        digest = hashlib.sha256(repr((ids, params, expanded)).encode()).hexdigest()
        key = f"facets:{freshness.token()}:{digest}"
        rows = freshness.cache_get(key)  # None from an unreachable cache: count afresh
        if rows is None:
            rows = _facet_rows(ids, params, expanded_vocabulary, expanded_role, unfiltered)
            total = next(row[-1] for row in rows if row[0] == "n")
            if unfiltered or total >= FACETS_CACHED_FROM:
                freshness.cache_set(key, rows, FACETS_CACHE_TIMEOUT)
    ids = []
    for kind, vocabulary_id, role, slug, name, count in rows:
        if kind == "n":
            facets.total = count
            continue
        if kind == "i":
            ids.append(count)
            continue
        if kind == "t":
            vocabulary = by_vocabulary.get(vocabulary_id)
            if vocabulary is None:
                continue
            role = vocabulary.slug
        by_name[role].values.append(FacetValue(slug, name, count, slug in selected.get(role, [])))
    if ids:
        facets.ids = ids
    for facet in by_name.values():
        facet.values.sort(key=lambda value: (-value.count, value.name))
        limit = FACET_EXPANDED_LIMIT if facet.expanded else FACET_LIMIT
        facet.truncated = len(facet.values) > limit
        facet.values = facet.values[:limit]
        facets.append(facet)
    return facets


def resolve_selected(vocabularies, selected):
    """{(filter name, slug): (id, name)} of the chosen values that exist: one query each kind."""
    by_slug = {v.slug: v for v in vocabularies}
    term_wanted = Q()
    entity_wanted = Q()
    for name, slugs in selected.items():
        if name in by_slug:
            term_wanted |= Q(vocabulary_id=by_slug[name].id, slug__in=slugs)
        else:
            entity_wanted |= Q(slug__in=slugs)
    resolved = {}
    if term_wanted:
        slugs_of = {v.id: v.slug for v in vocabularies}
        for term in Term.objects.filter(term_wanted).values("id", "vocabulary_id", "slug", "name"):
            resolved[(slugs_of[term["vocabulary_id"]], term["slug"])] = (term["id"], term["name"])
    if entity_wanted:
        entities = {
            slug: (pk, name)
            for pk, slug, name in Entity.objects.filter(entity_wanted).values_list("pk", "slug", "name")
        }
        for name, slugs in selected.items():
            if name not in by_slug:
                for slug in slugs:
                    if slug in entities:
                        resolved[(name, slug)] = entities[slug]
    return resolved


def selected_labels(vocabularies, selected, resolved=None):
    """The chosen filter values with their names, for the 'remove' chips (`resolved` as
    `resolve_selected` gives it, or one query each kind)."""
    if resolved is None:
        resolved = resolve_selected(vocabularies, selected)
    labels = dict(ENTITY_FACETS) | {v.slug: v.label for v in vocabularies}
    return [
        {
            "name": name,
            "slug": slug,
            "label": labels[name],
            "value": resolved[(name, slug)][1] if (name, slug) in resolved else slug,
        }
        for name, slugs in selected.items()
        for slug in slugs
    ]
