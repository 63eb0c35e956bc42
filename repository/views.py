from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import charts, documents, freshness, provenance, reading, schemas, search, snapshots
from .caching import public_page
from .filters import IncidentFilter, facets_for, selected_labels
from .models import (
    DatasetSnapshot,
    Entity,
    Incident,
    IncidentEntity,
    IncidentTerm,
    IncidentUnderTerm,
    Reference,
    Revision,
    Term,
    Vocabulary,
)

LIST_VOCABULARIES = ("country", "sector")  # shown under each headline in lists


def _paginate(request, queryset, per_page=None, count=None):
    """A page of the queryset; `count`, when known already, spares counting the rows again."""
    paginator = Paginator(queryset, per_page or settings.INCIDENTS_PER_PAGE)
    if count is not None:
        paginator.count = count
    return paginator.get_page(request.GET.get("page"))


COUNTS_CACHE_TIMEOUT = 24 * 60 * 60  # a bound for when a token's renewal is lost, not a freshness


def _published_count(name, compute):
    """An aggregate over the published record, computed once per publication (`freshness`)."""
    key = f"counts:{freshness.token()}:{name}"
    value = freshness.cache_get(key)  # None from an unreachable cache: count afresh
    if value is None:
        value = compute()
        freshness.cache_set(key, value, COUNTS_CACHE_TIMEOUT)
    return value


def _listing(incidents):
    """Incidents as lists show them: headline, occurred, type, countries, sectors, deployers."""
    return incidents.defer("narrative", "narrative_html", "search_vector").prefetch_related(
        Prefetch(
            "incident_terms",
            queryset=IncidentTerm.objects.filter(term__vocabulary__slug__in=LIST_VOCABULARIES)
            .select_related("term__vocabulary")
            .order_by("term__vocabulary__order", "position"),
            to_attr="listed_terms",
        ),
        Prefetch(
            "incident_entities",
            queryset=IncidentEntity.objects.filter(role=IncidentEntity.Role.DEPLOYER).select_related(
                "entity"
            ),
            to_attr="deployers",
        ),
    )


def _to_survivor(incident, view_name):
    """A merged incident's address answers with a permanent redirect to its survivor's."""
    slug = Incident.objects.values_list("slug", flat=True).get(pk=incident.merged_into_id)
    return redirect(reverse(view_name, args=[slug]), permanent=True)


@require_safe
@public_page
def home(request):
    latest = _listing(Incident.objects.unmerged().order_by("-created_at", "-number"))[:10]
    counts = _published_count(
        "home",
        lambda: {
            "incidents": Incident.objects.unmerged().count(),
            "entities": Entity.objects.filter(merged_into__isnull=True).count(),
            "countries": Term.objects.filter(
                Exists(IncidentTerm.objects.filter(term=OuterRef("pk"))), vocabulary__slug="country"
            ).count(),
        },
    )
    year_chart = charts.year_chart(charts.repository_years())
    return render(
        request, "repository/home.html", {"latest": latest, "counts": counts, "year_chart": year_chart}
    )


@require_safe
@public_page
def incident_list(request):
    vocabularies = list(Vocabulary.objects.all())
    filterset = IncidentFilter(request.GET, queryset=Incident.objects.unmerged(), vocabularies=vocabularies)
    incidents = filterset.qs
    selected = filterset.selected()
    expanded = request.GET.get("more", "")
    facets = facets_for(incidents, vocabularies, selected, expanded, unfiltered=not filterset.narrows())
    if facets.ids is not None:  # few results: their ids are known, the page starts from them
        incidents = filterset.known(facets.ids)
    page = _paginate(request, _listing(incidents), count=facets.total)
    chips = selected_labels(vocabularies, selected, filterset.resolved)
    page.object_list = list(page.object_list)
    if filterset.text_search and page.object_list:
        search.mark_results(page.object_list, filterset.text_search)
    correction = search.correction(filterset, facets.total) if filterset.text_search else None
    return render(
        request,
        "repository/incident_list.html",
        {
            "filter": filterset,
            "page": page,
            "facets": facets,
            "chips": chips,
            # A correction is the way out of a misspelt search; dropping a word, of any other.
            "suggestions": search.suggestions(filterset, chips)
            if not page.paginator.count and correction is None
            else [],
            "correction": correction,
        },
    )


@require_safe
@public_page
def incident_detail(request, slug):
    incident = get_object_or_404(
        Incident.objects.defer("search_vector").select_related("current_revision"), slug=slug
    )
    if incident.merged_into_id:
        return _to_survivor(incident, "repository:incident")
    links = list(
        incident.incident_terms.select_related("term__vocabulary").order_by(
            "term__vocabulary__order", "position"
        )
    )
    entities = list(incident.incident_entities.select_related("entity"))
    references = list(incident.references.all())
    placeholders = (
        incident.current_revision.document.get("placeholders", {}) if incident.current_revision else {}
    )
    classification = []
    for role, label in IncidentEntity.Role.choices:
        values = [link.entity for link in entities if link.role == role]
        if values or placeholders.get(role):
            classification.append({"label": label, "values": values, "unknown": placeholders.get(role, "")})
    # A vocabulary the source named no one thing of ("Country: Multiple") is shown as written,
    # beside its terms if any: its placeholder, in the vocabularies' order.
    shown = {link.term.vocabulary.slug for link in links}
    unknown_only = [slug for slug in placeholders if slug not in documents.ROLES and slug not in shown]
    vocabularies = [link.term.vocabulary for link in links]
    if unknown_only:
        vocabularies += list(Vocabulary.objects.filter(slug__in=unknown_only))
    seen = {}
    for vocabulary in vocabularies:
        seen.setdefault(vocabulary.slug, vocabulary)
    for vocabulary in sorted(seen.values(), key=lambda v: (v.order, v.label)):
        label = f"{vocabulary.group} ({vocabulary.label.lower()})" if vocabulary.group else vocabulary.label
        values = [link.term for link in links if link.term.vocabulary_id == vocabulary.id]
        classification.append(
            {
                "label": label,
                "vocabulary": vocabulary.id,
                "values": values,
                "unknown": placeholders.get(vocabulary.slug, ""),
            }
        )
    sections = [
        {"label": label, "references": [ref for ref in references if ref.category == category]}
        for category, label in Reference.Category.choices
    ]
    external_ids = reading.external_records(incident.external_ids.all(), incident.source_url)
    return render(
        request,
        "repository/incident_detail.html",
        {
            "incident": incident,
            "classification": classification,
            "sections": sections,
            "external_ids": external_ids,
            # Where each section's values came from, from the current revision (already read).
            "provenance": provenance.section_lines(incident.current_revision.document)
            if incident.current_revision
            else {},
            **reading.incident_page_context(
                incident, entity_links=entities, term_links=links, references=references
            ),
        },
    )


@require_safe
@public_page
def external_id_resolve(request, scheme, value):
    """/id/<scheme>/<value>: the incident an external id names, or a list when several do."""
    if scheme == "aiaaic":
        value = documents.aiaaic_id(value) or value
    incidents = list(
        _listing(
            Incident.objects.unmerged()
            .filter(external_ids__scheme=scheme, external_ids__value=value)
            .distinct()
        )
    )
    if len(incidents) == 1:
        return redirect(incidents[0])
    return render(
        request,
        "repository/external_id.html",
        {
            "scheme": scheme,
            "value": value,
            "label": documents.external_id_label(scheme),
            "incidents": incidents,
        },
        status=200 if incidents else 404,
    )


@require_safe
@public_page
def incident_history(request, slug):
    """The published revisions, newest first, each with what changed since the one before.

    A merged incident's history stays here, saying where the incident went."""
    incident = get_object_or_404(
        Incident.objects.defer("search_vector", "narrative", "narrative_html")
        .select_related("merged_into")
        .defer(
            "merged_into__search_vector",
            "merged_into__narrative",
            "merged_into__narrative_html",
            "merged_into__summary",
        ),
        slug=slug,
    )
    page = _paginate(request, incident.revisions.order_by("-number"), per_page=10)
    revisions = list(page.object_list)
    if revisions:
        labels = {v.slug: v.label for v in Vocabulary.objects.all()}
        older = Revision.objects.filter(incident=incident, number=revisions[-1].number - 1).first()
        for revision, before in zip(revisions, [*revisions[1:], older], strict=True):
            revision.changes = documents.diff(before.document if before else None, revision.document, labels)
            revision.provenance = provenance.change_line(revision.document, revision.changes)
    return render(request, "repository/incident_history.html", {"incident": incident, "page": page})


@require_safe
@public_page
def vocabulary_detail(request, vocabulary):
    vocabulary = get_object_or_404(Vocabulary, slug=vocabulary)
    # The terms by number of incidents (under each, as its page lists them), counted once per
    # publication; then a page of them.
    ranked = _published_count(f"vocabulary:{vocabulary.pk}", lambda: _ranked_terms(vocabulary))
    page = _paginate(request, ranked, per_page=100)
    by_id = Term.objects.select_related("vocabulary").in_bulk([pk for pk, _ in page.object_list])
    terms = []
    for pk, incident_count in page.object_list:
        if pk in by_id:
            by_id[pk].incident_count = incident_count
            terms.append(by_id[pk])
    page.object_list = terms
    return render(request, "repository/vocabulary_detail.html", {"vocabulary": vocabulary, "page": page})


def _ranked_terms(vocabulary):
    """[(term id, incidents under it)] of the vocabulary's terms, most used first."""
    counts = dict(
        IncidentUnderTerm.objects.filter(term__vocabulary=vocabulary)
        .values_list("term_id")
        .annotate(n=Count("incident_id"))
        .order_by()
    )
    terms = Term.objects.filter(vocabulary=vocabulary, merged_into__isnull=True).values_list("pk", "name")
    return [(pk, counts.get(pk, 0)) for pk, name in sorted(terms, key=lambda t: (-counts.get(t[0], 0), t[1]))]


@require_safe
@public_page
def term_detail(request, vocabulary, term):
    term = get_object_or_404(
        Term.objects.select_related("vocabulary", "parent", "merged_into__vocabulary"),
        vocabulary__slug=vocabulary,
        slug=term,
    )
    if term.merged_into_id:
        return redirect(term.merged_into, permanent=True)
    children = list(
        term.children.filter(merged_into__isnull=True).select_related("vocabulary").order_by("name")
    )
    # Its incidents and those of the terms below it (`ancestry`).
    incidents = Incident.objects.unmerged().filter(
        Exists(IncidentUnderTerm.objects.filter(incident=OuterRef("pk"), term=term))
    )
    count = _published_count(f"term:{term.pk}", incidents.count)
    page = _paginate(request, _listing(incidents), count=count)
    return render(
        request,
        "repository/term_detail.html",
        {
            "term": term,
            "vocabulary": term.vocabulary,
            "children": children,
            "page": page,
            "aliases": _other_spellings(term.aliases.all(), term.name),
        },
    )


def _other_spellings(aliases, name):
    """The spellings other than the name, most used first (one query)."""
    return [alias.name for alias in aliases.exclude(name=name).order_by("-uses", "name")]


@require_safe
@public_page
def entity_detail(request, slug):
    entity = get_object_or_404(Entity.objects.select_related("merged_into"), slug=slug)
    if entity.merged_into_id:
        return redirect(entity.merged_into, permanent=True)
    role_counts = _published_count(
        f"entity:{entity.pk}",
        lambda: dict(
            entity.incident_entities.values_list("role")
            .annotate(n=Count("incident_id", distinct=True))
            .order_by()
        ),
    )
    roles = [
        {"role": role, "label": label, "count": role_counts[role]}
        for role, label in IncidentEntity.Role.choices
        if role in role_counts
    ]
    chosen = request.GET.get("role", "")
    links = IncidentEntity.objects.filter(incident=OuterRef("pk"), entity=entity)
    if chosen in role_counts:
        links = links.filter(role=chosen)
    else:
        chosen = ""
    matching = Incident.objects.unmerged().filter(Exists(links))
    count = _published_count(f"entity:{entity.pk}:incidents:{chosen}", matching.count)
    incidents = _listing(matching).prefetch_related(
        Prefetch(
            "incident_entities",
            queryset=IncidentEntity.objects.filter(entity=entity),
            to_attr="entity_roles",
        )
    )
    page = _paginate(request, incidents, count=count)
    return render(
        request,
        "repository/entity_detail.html",
        {
            "entity": entity,
            "roles": roles,
            "chosen": chosen,
            "page": page,
            "aliases": _other_spellings(entity.aliases.all(), entity.name),
        },
    )


@never_cache
@require_safe
def healthz(request):
    """Liveness: this process answers. Touches nothing else (see readyz)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """Readiness: the database, the cache and the broker, each with a short timeout.

    503 when the database is down; 200 with status "degraded" and the names of what is down
    when only the cache or the broker is (contributions are still stored then).
    """
    from config.health import readiness

    status, report = readiness()
    return JsonResponse(report, status=status)


@require_safe
@public_page
def document_json(request, slug):
    """The incident's current document (the one shape), for machines: an item of the JSON
    snapshot, with the address of its schema."""
    incident = get_object_or_404(
        Incident.objects.defer("search_vector").select_related("current_revision", "merged_into"), slug=slug
    )
    if incident.merged_into_id:
        return _to_survivor(incident, "repository:incident_document")
    revision = incident.current_revision
    item = snapshots.dataset_item(
        slug=incident.slug,
        number=incident.number,
        document=revision.document if revision else documents.empty_document(),
        revision=revision.number if revision else None,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        merged_into=incident.merged_into.slug if incident.merged_into else None,
    )
    return JsonResponse(
        {"$schema": schemas.item_schema_url(), **item}, json_dumps_params={"ensure_ascii": False}
    )


@require_safe
@public_page(scopes=())  # changes only with a release
def schema_json(request, name):
    """A published JSON Schema: the incident document's, or the JSON snapshot's."""
    try:
        schema = schemas.schema(name)
    except KeyError:
        raise Http404("No such schema.") from None
    return JsonResponse(
        schema, content_type=schemas.CONTENT_TYPE, json_dumps_params={"ensure_ascii": False, "indent": 2}
    )


@require_safe
@public_page(scopes=(freshness.SNAPSHOTS,))
def export_list(request):
    """The dataset snapshots, newest first, for download."""
    return render(request, "repository/export.html", {"snapshots": DatasetSnapshot.objects.all()})


@require_safe
def export_download(request, pk):
    """One snapshot's file, found through its row: the URL carries an id, never a path."""
    snapshot = get_object_or_404(DatasetSnapshot, pk=pk)
    try:
        file = snapshots.snapshot_path(snapshot.file_name).open("rb")
    except (OSError, ValueError):
        raise Http404("This snapshot's file is no longer there.") from None
    response = FileResponse(
        file,
        as_attachment=True,
        filename=snapshot.file_name,
        content_type=snapshots.CONTENT_TYPES[snapshot.format],
    )
    response["Cache-Control"] = "public, max-age=86400, immutable"  # a snapshot never changes
    return response
