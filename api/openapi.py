"""The OpenAPI 3.1 description's shared parts: the components every endpoint refers to, and
the query parameters of the incident list that come from the taxonomy (one per vocabulary).

The incident is described by the same JSON Schema the site publishes for its dataset
(/export/incident-snapshot.schema.json#item, whose `document` is
/export/incident-document.schema.json): its rules are inlined here, and the component links
to the published files.
"""

from repository import schemas
from repository.filters import ENTITY_FACETS, MAX_VALUES_PER_FACET


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def page_of(name, description, **more):
    """A page of a list; `more` are further properties of the page (optional ones)."""
    return {
        "type": "object",
        "description": description,
        "required": ["next", "results"],
        "properties": {
            "next": {
                "type": ["string", "null"],
                "format": "uri",
                "description": "The next page's address (the same query with a cursor), or null on the last page.",
            },
            "results": {"type": "array", "items": ref(name)},
            **more,
        },
    }


DID_YOU_MEAN = {
    "type": ["object", "null"],
    "description": "With a search (`q`) whose words include some that no published incident holds, "
    "on the first page: the same search with each of them replaced by the nearest known word, when "
    "that finds more incidents, and how many; otherwise null. Absent without a search.",
    "required": ["q", "count", "url"],
    "properties": {
        "q": {"type": "string", "description": "The corrected search text."},
        "count": {"type": "integer", "description": "How many incidents it finds."},
        "url": {"type": "string", "format": "uri", "description": "This list with it."},
    },
}


def error_response(description):
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


ERROR_RESPONSES = {
    "400": "A query parameter is not valid: `fields` names each one with its messages.",
    "404": "Nothing is published at this address.",
    "405": "The API only reads: GET, HEAD and OPTIONS.",
    "429": "Too many requests from this address; `Retry-After` says how many seconds to wait.",
}


def components():
    item = schemas._inlined_item()
    document_url = schemas.schema_url(schemas.DOCUMENT)
    return {
        "IncidentItem": {
            **item,
            "description": (
                "An incident: its permanent slug and number, the number of its current revision, "
                "when it was first published and last changed, the survivor's slug if it was merged, "
                "and its document (headline, period, classification terms by vocabulary, entities by "
                f"role, references by section, external ids). The JSON Schema of this item is "
                f"{schemas.item_schema_url()} and that of its document {document_url}; both are inlined here."
            ),
            "externalDocs": {"description": "The incident document's JSON Schema", "url": document_url},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status", "code", "message"],
                    "properties": {
                        "status": {"type": "integer", "description": "The HTTP status, repeated."},
                        "code": {
                            "type": "string",
                            "description": "A stable word to test: invalid, invalid_cursor, not_found, "
                            "method_not_allowed, not_acceptable, throttled.",
                        },
                        "message": {"type": "string", "description": "For people; may change."},
                        "fields": {
                            "type": "object",
                            "description": "400 only: each refused query parameter and its messages.",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        },
                        "retry_after": {"type": "integer", "description": "429 only: seconds to wait."},
                    },
                }
            },
        },
        "Revision": {
            "type": "object",
            "required": ["number", "created_at", "summary", "credit", "document"],
            "properties": {
                "number": {"type": "integer", "minimum": 1},
                "created_at": {"type": "string", "format": "date-time"},
                "summary": {"type": "string", "description": "What changed."},
                "credit": {
                    "type": "string",
                    "description": "Public credit, when the contributor asked for it.",
                },
                "document": {
                    **item["properties"]["document"],
                    "description": f"The incident document as published then ({document_url}).",
                },
            },
        },
        "Vocabulary": {
            "type": "object",
            "required": ["slug", "label", "group", "order", "description", "hierarchical", "terms"],
            "properties": {
                "slug": {"type": "string", "description": "Also the incident list's parameter for it."},
                "label": {"type": "string"},
                "group": {
                    "type": "string",
                    "description": "Shown above related vocabularies, e.g. External harms.",
                },
                "order": {"type": "integer"},
                "description": {"type": "string"},
                "hierarchical": {"type": "boolean", "description": "Whether terms may have a parent."},
                "terms": {"type": "string", "format": "uri", "description": "Its terms."},
            },
        },
        "Term": {
            "type": "object",
            "required": ["slug", "name", "parent", "incident_count", "url"],
            "properties": {
                "slug": {"type": "string"},
                "name": {"type": "string", "description": "The name documents use for it."},
                "parent": {"type": ["string", "null"], "description": "The parent term's slug."},
                "incident_count": {"type": "integer", "description": "Incidents carrying the term itself."},
                "aliases": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Other spellings (term detail only).",
                },
                "url": {"type": "string", "format": "uri", "description": "Its page on the site."},
            },
        },
        "Entity": {
            "type": "object",
            "required": ["slug", "name", "kind", "description", "url"],
            "properties": {
                "slug": {"type": "string"},
                "name": {"type": "string", "description": "The name documents use for it."},
                "kind": {"enum": ["organisation", "system"]},
                "description": {"type": "string"},
                "aliases": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Other spellings (entity detail only).",
                },
                "roles": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                    "description": "Entity detail only: the number of incidents per role "
                    "(deployer, developer, system, harmed).",
                },
                "url": {"type": "string", "format": "uri", "description": "Its page on the site."},
            },
        },
        "Change": {
            "type": "object",
            "required": ["cursor", "kind", "at", "summary", "credit", "item"],
            "properties": {
                "cursor": {
                    "type": "string",
                    "description": "Pass as `since` to read what came after this entry.",
                },
                "kind": {
                    "enum": ["revision", "merge"],
                    "description": "revision: a published revision of the incident; merge: the incident was "
                    "merged (a tombstone), `item.merged_into` names the survivor.",
                },
                "at": {"type": "string", "format": "date-time"},
                "summary": {"type": "string"},
                "credit": {"type": "string"},
                "item": {
                    **ref("IncidentItem"),
                    "description": "The incident as this entry left it (an item of the JSON dataset snapshot: "
                    "import_dataset applies it).",
                },
            },
        },
        "ChangePage": {
            "type": "object",
            "required": ["entries", "next", "more"],
            "properties": {
                "entries": {"type": "array", "items": ref("Change")},
                "next": {
                    "type": "string",
                    "format": "uri",
                    "description": "Where to read on: after the last entry (or the same `since` when there "
                    "was none). Poll it later to stay in step.",
                },
                "more": {"type": "boolean", "description": "Whether `next` has entries already."},
            },
        },
    }


def add_components_and_facets(result, generator, request, public):
    """drf-spectacular post-processing hook: the shared components, the error answers of every
    operation, and the incident list's facet parameters (every vocabulary, every role)."""
    from repository.models import Vocabulary

    result.setdefault("components", {}).setdefault("schemas", {}).update(components())
    facets = [(v.slug, f"{v.label} (vocabulary `{v.slug}`)") for v in Vocabulary.objects.all()]
    facets += [(role, f"{label} (entity role)") for role, label in ENTITY_FACETS]
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status_code, description in ERROR_RESPONSES.items():
                if status_code == "404" and "{" not in path and status_code not in responses:
                    continue
                queried = any(parameter["in"] == "query" for parameter in operation.get("parameters", []))
                if status_code == "400" and not queried:
                    continue  # no query parameter to get wrong
                responses.setdefault(status_code, error_response(description))
            if operation.get("operationId") == "incidents_list":
                operation.setdefault("parameters", []).extend(
                    {
                        "name": name,
                        "in": "query",
                        "required": False,
                        "style": "form",
                        "explode": True,
                        "description": f"{label}: slugs of values the incidents must all have "
                        f"(repeat for several, at most {MAX_VALUES_PER_FACET}); a term also matches its children.",
                        "schema": {"type": "array", "items": {"type": "string"}},
                    }
                    for name, label in facets
                )
    return result
