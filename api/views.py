"""The open read API (/api/v1/): incidents, their revisions, the taxonomy, entities and a
change feed. Read-only and public: no session, no CSRF, CORS open for reads (settings).

Every list is cursor-paginated (pagination.py); every 200 carries an ETag, and answers
about one incident a Last-Modified, with 304 for a current copy (conditional.py); errors
have one JSON shape (errors.py); each client address is rate-limited (throttling.py).
"""

from datetime import UTC, datetime, time

from django.db import connection
from django.db.models import Count
from django.http import HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from repository import documents, schemas, search, snapshots
from repository.filters import SORTS, IncidentFilter
from repository.models import Entity, Incident, IncidentEntity, Revision, Term, Vocabulary

from . import openapi
from .conditional import conditional
from .pagination import KeyField, after, decode_cursor, encode_cursor, keyset_page, page_size, page_url

CHANGES_PAGE_SIZE = 100
CHANGES_MAX_PAGE_SIZE = 500
INCIDENT_FIELDS = (
    "slug",
    "number",
    "created_at",
    "updated_at",
    "occurred_start",
    "current_revision__number",
    "current_revision__document",
)
PAGE_SIZE_PARAMETER = OpenApiParameter(
    "page_size", OpenApiTypes.INT, description="Results per page (1 to 100; 25 if not given)."
)
CURSOR_PARAMETER = OpenApiParameter(
    "cursor", OpenApiTypes.STR, description="The page to read, from the previous page's `next`."
)


class ReadView(APIView):
    # GET, HEAD and OPTIONS only; conditional answers on 200 (a comment: a docstring here
    # would become every endpoint's description in the OpenAPI document).

    http_method_names = ["get", "head", "options"]
    last_modified = None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in ("GET", "HEAD") and response.status_code == 200 and hasattr(response, "render"):
            response.render()
            response = conditional(request, response, self.last_modified)
        return response


def _absolute(request, name, *args):
    return request.build_absolute_uri(reverse(name, args=args))


def _item(row):
    """An incident row (values) as an item of the JSON snapshot."""
    return snapshots.dataset_item(
        slug=row["slug"],
        number=row["number"],
        document=row["current_revision__document"],
        revision=row["current_revision__number"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        merged_into=None,
    )


def _sort_of(data, queryset):
    """The sort IncidentFilter applied, by the same rule (filters.IncidentFilter.apply_sort):
    relevance when a search ranked the results."""
    key = data.get("sort") or ""
    searching = bool((data.get("q") or "").strip())
    if key == "relevance" or (not key and searching):
        return "relevance" if searching and "rank" in queryset.query.annotations else "occurred"
    return key if key in SORTS else "occurred"


def _keys(sort):
    """The key fields of each sort's order (None: the relevance sort pages by offset)."""
    nulls_first = connection.vendor == "postgresql"  # where -occurred_start puts NULLs
    return {
        "occurred": [
            KeyField("occurred_start", descending=True, nullable=True, nulls_first=nulls_first, kind="date"),
            KeyField("number", descending=True),
        ],
        "oldest": [
            KeyField("occurred_start", nullable=True, nulls_first=False, kind="date"),
            KeyField("number"),
        ],
        "newest": [
            KeyField("created_at", descending=True, kind="datetime"),
            KeyField("number", descending=True),
        ],
        "relevance": None,
    }[sort]


class ApiRoot(ReadView):
    @extend_schema(
        operation_id="api_root",
        summary="What this API offers",
        description="The address of each list, of the OpenAPI description, of these docs and of the "
        "incident's JSON Schema.",
        responses={200: {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}},
    )
    def get(self, request):
        return Response(
            {
                "incidents": _absolute(request, "api:incidents"),
                "changes": _absolute(request, "api:changes"),
                "vocabularies": _absolute(request, "api:vocabularies"),
                "entities": _absolute(request, "api:entities"),
                "schema": _absolute(request, "api:schema"),
                "docs": _absolute(request, "api:docs"),
                "incident_schema": schemas.item_schema_url(),
            }
        )


class IncidentList(ReadView):
    @extend_schema(
        operation_id="incidents_list",
        summary="Incidents, filtered as on /incidents/",
        description=(
            "The published incidents (merged ones left out), filtered and sorted by the same query "
            "parameters as the browse page /incidents/: a browse URL's query string gives the same "
            "incidents in the same order. Besides those listed, every vocabulary's slug and the roles "
            "deployer, developer, system and harmed take slugs of terms or entities. Each result is an "
            "item of the JSON dataset snapshot (its document included)."
        ),
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Full-text search of headlines and text."),
            OpenApiParameter("type", OpenApiTypes.STR, enum=[t.value for t in Incident.Type]),
            OpenApiParameter(
                "occurred_from", OpenApiTypes.INT, description="Occurred in or after this year."
            ),
            OpenApiParameter("occurred_to", OpenApiTypes.INT, description="Occurred in or before this year."),
            OpenApiParameter(
                "sort",
                OpenApiTypes.STR,
                enum=list(SORTS),
                description="occurred (default; relevance with a search), oldest, newest, relevance.",
            ),
            CURSOR_PARAMETER,
            PAGE_SIZE_PARAMETER,
        ],
        responses={
            200: openapi.page_of("IncidentItem", "A page of incidents.", did_you_mean=openapi.DID_YOU_MEAN)
        },
    )
    def get(self, request):
        vocabularies = list(Vocabulary.objects.all())
        filterset = IncidentFilter(
            request.query_params, queryset=Incident.objects.unmerged(), vocabularies=vocabularies
        )
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        sort = _sort_of(filterset.form.cleaned_data, filterset.qs)
        fields = _keys(sort)
        rows, cursor = keyset_page(
            filterset.qs.values(*INCIDENT_FIELDS),
            request,
            sort=sort,
            fields=fields,
            size=page_size(request),
            key_of=lambda row: [row[field.name] for field in fields],
        )
        body = {"next": page_url(request, cursor), "results": [_item(row) for row in rows]}
        if filterset.text_search:
            body["did_you_mean"] = None
            if not request.query_params.get("cursor"):
                correction = search.correction(filterset, filterset.qs.count)
                if correction:
                    body["did_you_mean"] = {
                        "q": correction.text,
                        "count": correction.count,
                        "url": request.build_absolute_uri(f"{request.path}?{correction.query}"),
                    }
        return Response(body)


def _incident(slug, *fields):
    return get_object_or_404(
        Incident.objects.select_related("current_revision", "merged_into").only(
            "slug",
            "number",
            "created_at",
            "updated_at",
            "merged_into__slug",
            "current_revision__number",
            "current_revision__document",
            *fields,
        ),
        slug=slug,
    )


class IncidentDetail(ReadView):
    @extend_schema(
        operation_id="incidents_retrieve",
        summary="One incident",
        description="The incident's current document with its number, revision and times: the body of "
        "/incidents/<slug>/document.json. A merged incident's address redirects (301) to its survivor's.",
        responses={200: openapi.ref("IncidentItem"), 301: None},
    )
    def get(self, request, slug):
        incident = _incident(slug)
        if incident.merged_into_id:
            return HttpResponsePermanentRedirect(reverse("api:incident", args=[incident.merged_into.slug]))
        self.last_modified = incident.updated_at
        revision = incident.current_revision
        item = snapshots.dataset_item(
            slug=incident.slug,
            number=incident.number,
            document=revision.document,
            revision=revision.number,
            created_at=incident.created_at,
            updated_at=incident.updated_at,
            merged_into=None,
        )
        return Response({"$schema": schemas.item_schema_url(), **item})


def _revision(revision):
    return {
        "number": revision["number"],
        "created_at": revision["created_at"].isoformat(),
        "summary": revision["summary"],
        "credit": revision["credit"],
        "document": documents.published(revision["document"]),
    }


REVISION_FIELDS = ("number", "created_at", "summary", "credit", "document")


class RevisionList(ReadView):
    @extend_schema(
        operation_id="revisions_list",
        summary="An incident's published revisions, newest first",
        description="Every published revision with what changed and its public credit. A merged "
        "incident keeps its history here; its last revision says where it went.",
        parameters=[CURSOR_PARAMETER, PAGE_SIZE_PARAMETER],
        responses={200: openapi.page_of("Revision", "A page of revisions, newest first.")},
    )
    def get(self, request, slug):
        incident = get_object_or_404(Incident.objects.only("id", "updated_at"), slug=slug)
        self.last_modified = incident.updated_at
        fields = [KeyField("number", descending=True)]
        rows, cursor = keyset_page(
            Revision.objects.filter(incident=incident).order_by("-number").values(*REVISION_FIELDS),
            request,
            sort="revisions",
            fields=fields,
            size=page_size(request),
            key_of=lambda row: [row["number"]],
        )
        return Response({"next": page_url(request, cursor), "results": [_revision(row) for row in rows]})


class RevisionDetail(ReadView):
    @extend_schema(
        operation_id="revisions_retrieve",
        summary="One published revision of an incident",
        responses={200: openapi.ref("Revision")},
    )
    def get(self, request, slug, number):
        revision = get_object_or_404(
            Revision.objects.values(*REVISION_FIELDS), incident__slug=slug, number=number
        )
        self.last_modified = revision["created_at"]
        return Response(_revision(revision))


def _vocabulary(request, vocabulary):
    return {
        "slug": vocabulary.slug,
        "label": vocabulary.label,
        "group": vocabulary.group,
        "order": vocabulary.order,
        "description": vocabulary.description,
        "hierarchical": bool(vocabulary.parent_separator),
        "terms": _absolute(request, "api:terms", vocabulary.slug),
    }


class VocabularyList(ReadView):
    @extend_schema(
        operation_id="vocabularies_list",
        summary="The vocabularies of the taxonomy",
        description="All of them, in the order pages show them (not paginated: they are few).",
        responses={
            200: {
                "type": "object",
                "properties": {"results": {"type": "array", "items": openapi.ref("Vocabulary")}},
            }
        },
    )
    def get(self, request):
        return Response({"results": [_vocabulary(request, v) for v in Vocabulary.objects.all()]})


class VocabularyDetail(ReadView):
    @extend_schema(
        operation_id="vocabularies_retrieve",
        summary="One vocabulary",
        responses={200: openapi.ref("Vocabulary")},
    )
    def get(self, request, vocabulary):
        return Response(_vocabulary(request, get_object_or_404(Vocabulary, slug=vocabulary)))


def _term(request, vocabulary_slug, row):
    return {
        "slug": row["slug"],
        "name": row["name"],
        "parent": row["parent__slug"],
        "incident_count": row["incident_count"],
        "url": _absolute(request, "repository:term", vocabulary_slug, row["slug"]),
    }


class TermList(ReadView):
    @extend_schema(
        operation_id="terms_list",
        summary="A vocabulary's terms, by slug",
        description="Merged terms are left out (their pages redirect to the term they joined).",
        parameters=[CURSOR_PARAMETER, PAGE_SIZE_PARAMETER],
        responses={200: openapi.page_of("Term", "A page of terms.")},
    )
    def get(self, request, vocabulary):
        vocabulary = get_object_or_404(Vocabulary.objects.only("id", "slug"), slug=vocabulary)
        terms = (
            Term.objects.filter(vocabulary=vocabulary, merged_into__isnull=True)
            .annotate(incident_count=Count("incident_terms"))
            .order_by("slug")
            .values("slug", "name", "parent__slug", "incident_count")
        )
        rows, cursor = keyset_page(
            terms,
            request,
            sort="terms",
            fields=[KeyField("slug", kind="str")],
            size=page_size(request),
            key_of=lambda row: [row["slug"]],
        )
        return Response(
            {
                "next": page_url(request, cursor),
                "results": [_term(request, vocabulary.slug, row) for row in rows],
            }
        )


def _other_spellings(aliases, name):
    return [alias.name for alias in sorted(aliases, key=lambda a: (-a.uses, a.name)) if alias.name != name]


class TermDetail(ReadView):
    @extend_schema(
        operation_id="terms_retrieve",
        summary="One term, with its other spellings",
        description="A merged term's address redirects (301) to the term it joined.",
        responses={200: openapi.ref("Term"), 301: None},
    )
    def get(self, request, vocabulary, term):
        term = get_object_or_404(
            Term.objects.select_related("parent", "merged_into")
            .prefetch_related("aliases")
            .annotate(incident_count=Count("incident_terms")),
            vocabulary__slug=vocabulary,
            slug=term,
        )
        if term.merged_into_id:
            return HttpResponsePermanentRedirect(
                reverse("api:term", args=[vocabulary, term.merged_into.slug])
            )
        row = {
            "slug": term.slug,
            "name": term.name,
            "parent__slug": term.parent.slug if term.parent else None,
            "incident_count": term.incident_count,
        }
        return Response(
            _term(request, vocabulary, row) | {"aliases": _other_spellings(term.aliases.all(), term.name)}
        )


def _entity(request, entity):
    return {
        "slug": entity["slug"],
        "name": entity["name"],
        "kind": entity["kind"],
        "description": entity["description"],
        "url": _absolute(request, "repository:entity", entity["slug"]),
    }


class EntityList(ReadView):
    @extend_schema(
        operation_id="entities_list",
        summary="Organisations and systems, by slug",
        description="Merged entities are left out (their pages redirect to the entity they joined).",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, enum=[k.value for k in Entity.Kind]),
            CURSOR_PARAMETER,
            PAGE_SIZE_PARAMETER,
        ],
        responses={200: openapi.page_of("Entity", "A page of entities.")},
    )
    def get(self, request):
        entities = Entity.objects.filter(merged_into__isnull=True)
        kind = request.query_params.get("kind", "")
        if kind:
            if kind not in Entity.Kind.values:
                raise ValidationError({"kind": [f"One of: {', '.join(Entity.Kind.values)}."]})
            entities = entities.filter(kind=kind)
        rows, cursor = keyset_page(
            entities.order_by("slug").values("slug", "name", "kind", "description"),
            request,
            sort=f"entities{kind}",
            fields=[KeyField("slug", kind="str")],
            size=page_size(request),
            key_of=lambda row: [row["slug"]],
        )
        return Response(
            {"next": page_url(request, cursor), "results": [_entity(request, row) for row in rows]}
        )


class EntityDetail(ReadView):
    @extend_schema(
        operation_id="entities_retrieve",
        summary="One organisation or system, with its other spellings and roles",
        description="A merged entity's address redirects (301) to the entity it joined.",
        responses={200: openapi.ref("Entity"), 301: None},
    )
    def get(self, request, slug):
        entity = get_object_or_404(
            Entity.objects.select_related("merged_into").prefetch_related("aliases"), slug=slug
        )
        if entity.merged_into_id:
            return HttpResponsePermanentRedirect(reverse("api:entity", args=[entity.merged_into.slug]))
        roles = dict(
            IncidentEntity.objects.filter(entity=entity)
            .values_list("role")
            .annotate(n=Count("incident_id", distinct=True))
            .order_by()
        )
        row = {
            "slug": entity.slug,
            "name": entity.name,
            "kind": entity.kind,
            "description": entity.description,
        }
        return Response(
            _entity(request, row)
            | {"aliases": _other_spellings(entity.aliases.all(), entity.name), "roles": roles}
        )


CHANGE_KEYS = [KeyField("created_at", kind="datetime"), KeyField("id")]
CHANGE_FIELDS = (
    "id",
    "number",
    "created_at",
    "summary",
    "credit",
    "document",
    "incident__slug",
    "incident__number",
    "incident__created_at",
    "incident__merged_into__slug",
    "incident__current_revision_id",
)


def _since(request):
    """The Q-able start of the change feed: ("after", key values), ("from", datetime) or None."""
    raw = request.query_params.get("since", "").strip()
    if not raw:
        return None
    when = None
    try:
        when = parse_datetime(raw.replace(" ", "+"))  # a "+" in a query string arrives as a space
    except ValueError:
        when = None
    if when is None:
        try:
            day = parse_date(raw)
        except ValueError:
            day = None
        if day is not None:
            when = datetime.combine(day, time.min)
    if when is not None:
        return "from", when if when.tzinfo else when.replace(tzinfo=UTC)
    try:
        return "after", decode_cursor(raw, "changes", CHANGE_KEYS)
    except ValidationError:
        raise ValidationError(
            {"since": ["An ISO 8601 date or time (2026-01-31T12:00:00Z), or an entry's cursor."]}
        ) from None


def _change(row):
    merged = (
        row["incident__merged_into__slug"] is not None and row["id"] == row["incident__current_revision_id"]
    )
    return {
        "cursor": encode_cursor("changes", values=[row["created_at"], row["id"]]),
        "kind": "merge" if merged else "revision",
        "at": row["created_at"].isoformat(),
        "summary": row["summary"],
        "credit": row["credit"],
        "item": snapshots.dataset_item(
            slug=row["incident__slug"],
            number=row["incident__number"],
            document=row["document"],
            revision=row["number"],
            created_at=row["incident__created_at"],
            updated_at=row["created_at"],
            merged_into=row["incident__merged_into__slug"] if merged else None,
        ),
    }


class Changes(ReadView):
    @extend_schema(
        operation_id="changes_list",
        summary="Everything published, in order: the change feed for mirrors",
        description=(
            "Every published revision of every incident, oldest first, each with the incident's "
            "document as that revision left it; a merge is the merged incident's last entry (kind "
            "`merge`, a tombstone whose `item.merged_into` names the incident that stands for it now). "
            "Nothing published is ever withdrawn or deleted: an incident leaves the lists only by a "
            "merge. Start with `since` a date or time (entries at or after it) or with no `since` "
            "(from the beginning), then follow `next`, which carries the last entry's cursor; when "
            "`more` is false, poll `next` later. Each entry's `item` is an item of the JSON dataset "
            "snapshot, so `import_dataset` (or any reader of that schema) applies it."
        ),
        parameters=[
            OpenApiParameter(
                "since",
                OpenApiTypes.STR,
                description="An ISO 8601 date or date-time, or the `cursor` of the last entry read.",
            ),
            OpenApiParameter(
                "page_size", OpenApiTypes.INT, description="Entries per page (1 to 500; 100 if not given)."
            ),
        ],
        responses={200: openapi.ref("ChangePage")},
    )
    def get(self, request):
        size = page_size(request, default=CHANGES_PAGE_SIZE, maximum=CHANGES_MAX_PAGE_SIZE)
        since = _since(request)
        revisions = Revision.objects.order_by("created_at", "id")
        if since is not None:
            how, value = since
            if how == "from":
                revisions = revisions.filter(created_at__gte=value)
            else:
                revisions = revisions.filter(after(CHANGE_KEYS, value))
        rows = list(revisions.values(*CHANGE_FIELDS)[: size + 1])
        more = len(rows) > size
        entries = [_change(row) for row in rows[:size]]
        query = request.query_params.copy()
        if entries:
            query["since"] = entries[-1]["cursor"]
        next_url = request.build_absolute_uri(request.path + ("?" + query.urlencode() if query else ""))
        return Response({"entries": entries, "next": next_url, "more": more})
