"""Browsing incidents: the FilterSet behind /incidents/ and the facet counts beside it.

Every vocabulary is a facet, and so are deployers, developers, systems and harmed parties. Selecting
values narrows the results (values within a facet and across facets must all hold), so a
facet count is how many of the current results a value would leave.
"""

from dataclasses import dataclass, field

import django_filters
from django import forms
from django.db.models import Count, Exists, F, OuterRef, Q, Window
from django.db.models.functions import RowNumber

from .models import Entity, Incident, IncidentEntity, IncidentTerm, Term
from .periods import MAX_YEAR, MIN_YEAR
from .search import Search, search_words

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

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        for name, value in data.items():
            if name != "sort":
                queryset = self.filters[name].filter(queryset, value)
        return self.apply_sort(queryset, data.get("sort") or "", searching=bool(data.get("q", "").strip()))

    def with_terms(self, queryset, name, slugs):
        vocabulary = next(v for v in self.vocabularies if v.slug == name)
        for slug in slugs:
            queryset = queryset.filter(
                Exists(
                    IncidentTerm.objects.filter(
                        incident=OuterRef("pk"), term__vocabulary_id=vocabulary.id
                    ).filter(Q(term__slug=slug) | Q(term__parent__slug=slug))
                )
            )
        return queryset

    def with_entities(self, queryset, name, slugs):
        for slug in slugs:
            queryset = queryset.filter(
                Exists(IncidentEntity.objects.filter(incident=OuterRef("pk"), role=name, entity__slug=slug))
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
        if self.text_search is None or self.text_search.text != " ".join(search_words(text)):
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


def _ranked(queryset, partition, expanded, limit_field):
    """Keep the top values per facet: FACET_LIMIT, or more for the one facet expanded."""
    ranked = queryset.annotate(
        rank=Window(RowNumber(), partition_by=[F(partition)], order_by=[F("n").desc(), F("label").asc()])
    )
    limit = Q(rank__lte=FACET_LIMIT + 1)
    if expanded:
        limit |= Q(**{limit_field: expanded}, rank__lte=FACET_EXPANDED_LIMIT + 1)
    return ranked.filter(limit)


def facets_for(incidents, vocabularies, selected, expanded=""):
    """The facets beside a result set: two queries, whatever the number of terms."""
    ids = incidents.order_by().values("pk")
    by_vocabulary = {v.id: v for v in vocabularies}
    expanded_vocabulary = next((v.id for v in vocabularies if v.slug == expanded), None)
    facets = {}
    for role, label in ENTITY_FACETS:
        facets[role] = Facet(role, label, expanded=role == expanded)
    for vocabulary in vocabularies:
        facets[vocabulary.slug] = Facet(
            vocabulary.slug, vocabulary.label, vocabulary.group, expanded=vocabulary.slug == expanded
        )

    term_counts = (
        IncidentTerm.objects.filter(incident__in=ids)
        .values("term__vocabulary_id", "term__slug", label=F("term__name"))
        .annotate(n=Count("incident_id"))
        .order_by()
    )
    term_rows = _ranked(term_counts, "term__vocabulary_id", expanded_vocabulary, "term__vocabulary_id")
    for row in term_rows:
        vocabulary = by_vocabulary[row["term__vocabulary_id"]]
        facets[vocabulary.slug].values.append(
            FacetValue(
                row["term__slug"],
                row["label"],
                row["n"],
                row["term__slug"] in selected.get(vocabulary.slug, []),
            )
        )
    entity_counts = (
        IncidentEntity.objects.filter(incident__in=ids)
        .values("role", "entity__slug", label=F("entity__name"))
        .annotate(n=Count("incident_id"))
        .order_by()
    )
    expanded_role = expanded if expanded in dict(ENTITY_FACETS) else None
    for row in _ranked(entity_counts, "role", expanded_role, "role"):
        facets[row["role"]].values.append(
            FacetValue(
                row["entity__slug"],
                row["label"],
                row["n"],
                row["entity__slug"] in selected.get(row["role"], []),
            )
        )
    for facet in facets.values():
        facet.values.sort(key=lambda value: (-value.count, value.name))
        limit = FACET_EXPANDED_LIMIT if facet.expanded else FACET_LIMIT
        facet.truncated = len(facet.values) > limit
        facet.values = facet.values[:limit]
    return list(facets.values())


def selected_labels(vocabularies, selected):
    """The chosen filter values with their names, for the 'remove' chips: one query each kind."""
    by_slug = {v.slug: v for v in vocabularies}
    term_wanted = Q()
    entity_wanted = Q()
    for name, slugs in selected.items():
        if name in by_slug:
            term_wanted |= Q(vocabulary_id=by_slug[name].id, slug__in=slugs)
        else:
            entity_wanted |= Q(slug__in=slugs)
    names = {}
    if term_wanted:
        for term in Term.objects.filter(term_wanted).values("vocabulary_id", "slug", "name"):
            vocabulary = next(v for v in vocabularies if v.id == term["vocabulary_id"])
            names[(vocabulary.slug, term["slug"])] = term["name"]
    if entity_wanted:
        entity_names = dict(Entity.objects.filter(entity_wanted).values_list("slug", "name"))
        for name, slugs in selected.items():
            if name not in by_slug:
                for slug in slugs:
                    if slug in entity_names:
                        names[(name, slug)] = entity_names[slug]
    labels = dict(ENTITY_FACETS) | {v.slug: v.label for v in vocabularies}
    return [
        {"name": name, "slug": slug, "label": labels[name], "value": names.get((name, slug), slug)}
        for name, slugs in selected.items()
        for slug in slugs
    ]
