"""/api/: the API's documentation as a page of the site, rendered on the server from the
OpenAPI description (no script, so it passes the site's Content-Security-Policy and reads
without JavaScript). Machines read /api/v1/schema/."""

from django.shortcuts import render
from django.views.decorators.http import require_safe
from drf_spectacular.generators import SchemaGenerator

from repository import schemas

from .errors import MESSAGES

METHOD_ORDER = ("get", "head", "options")


def _type(schema):
    if not schema:
        return ""
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    kind = schema.get("type", "")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    return kind if isinstance(kind, str) else " or ".join(kind)


def operations(spec):
    """The operations of an OpenAPI description, for the page: path, method, texts, parameters."""
    found = []
    for path, methods in spec.get("paths", {}).items():
        for method in METHOD_ORDER:
            operation = methods.get(method)
            if operation is None:
                continue
            found.append(
                {
                    "anchor": operation.get("operationId", ""),
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [
                        {
                            "name": parameter["name"],
                            "in": parameter["in"],
                            "type": _type(parameter.get("schema")),
                            "description": parameter.get("description", ""),
                        }
                        for parameter in operation.get("parameters", [])
                    ],
                    "responses": sorted(operation.get("responses", {})),
                }
            )
    return found


@require_safe
def docs(request):
    spec = SchemaGenerator().get_schema(request=None, public=True)
    return render(
        request,
        "api/docs.html",
        {
            "spec": spec,
            "operations": operations(spec),
            "item_schema_url": schemas.item_schema_url(),
            "document_schema_url": schemas.schema_url(schemas.DOCUMENT),
            "error_messages": sorted(MESSAGES.items()),
        },
    )
