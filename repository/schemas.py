"""The JSON Schemas (draft 2020-12) of the incident document and of a JSON dataset snapshot.

The files live in `schema/` next to this module and are published at
`/export/<name>.schema.json`. Their `$id` is set to that address on the site (SITE_URL)
when they are served or used, so that the snapshot schema's reference to the document
schema resolves wherever they are read. `import_dataset` checks each item it reads
against them before `documents.normalize` does.
"""

import copy
import functools
import json
from pathlib import Path

import jsonschema_rs
from django.conf import settings
from django.urls import reverse
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

DIRECTORY = Path(__file__).parent / "schema"
DOCUMENT = "incident-document"
SNAPSHOT = "incident-snapshot"
NAMES = (DOCUMENT, SNAPSHOT)
CONTENT_TYPE = "application/schema+json"


@functools.cache
def _load(name):
    return json.loads((DIRECTORY / f"{name}.schema.json").read_text(encoding="utf-8"))


def schema_url(name):
    """The public address of a schema: SITE_URL/export/<name>.schema.json."""
    return settings.SITE_URL + reverse("repository:schema", args=[name])


def schema(name):
    """A schema by name (DOCUMENT or SNAPSHOT), its `$id` set to its address. KeyError if unknown."""
    if name not in NAMES:
        raise KeyError(name)
    contents = copy.deepcopy(_load(name))
    return {"$schema": contents.pop("$schema"), "$id": schema_url(name)} | {
        key: value for key, value in contents.items() if key != "$id"
    }


def item_schema_url():
    """The address of the schema of one snapshot item (also `document.json`'s `$schema`)."""
    return schema_url(SNAPSHOT) + "#item"


def _published_validator(ref):
    resources = [schema(name) for name in NAMES]
    registry = Registry().with_resources(
        (contents["$id"], Resource.from_contents(contents)) for contents in resources
    )
    return Draft202012Validator({"$ref": ref}, registry=registry)


def published_item_validator():
    """A validator of one snapshot item, reading the schemas as published (references resolved
    through a registry, as any other reader of them would)."""
    return _published_validator(item_schema_url())


def published_document_validator():
    """A validator of one incident document, reading the schema as published."""
    return _published_validator(schema_url(DOCUMENT))


ANNOTATIONS = {"$schema", "$id", "$anchor", "$defs", "title", "description"}
# Keywords whose keys are names (of properties), not keywords.
NAMED_SUBSCHEMAS = {"properties", "patternProperties", "dependentSchemas"}


def _inlined(node, resolve):
    """A schema with each `$ref` replaced by what it names, and its annotations dropped."""
    if isinstance(node, list):
        return [_inlined(value, resolve) for value in node]
    if not isinstance(node, dict):
        return node
    node = {
        key: {name: _inlined(sub, resolve) for name, sub in value.items()}
        if key in NAMED_SUBSCHEMAS
        else _inlined(value, resolve)
        for key, value in node.items()
        if key not in ANNOTATIONS
    }
    ref = node.pop("$ref", None)
    if ref is None:
        return node
    target = resolve(ref)
    if not node:
        return target
    if set(node) & set(target):
        return {**node, "allOf": [target]}
    return {**target, **node}


@functools.cache
def _inlined_item():
    document, snapshot = _load(DOCUMENT), _load(SNAPSHOT)
    cache = {}

    def resolve(ref):
        if ref not in cache:
            if ref.startswith("#/$defs/"):
                cache[ref] = _inlined(document["$defs"][ref.removeprefix("#/$defs/")], resolve)
            elif ref == f"{DOCUMENT}.schema.json":
                cache[ref] = _inlined(document, resolve)
            else:
                raise ValueError(f"Cannot inline the reference {ref!r}.")
        return cache[ref]

    return _inlined(snapshot["$defs"]["item"], resolve)


class ItemValidator:
    """A validator of one snapshot item (slug, number, document, …) for bulk work: the same
    rules as the published schemas, references inlined. Whether an item is valid, the common
    case, is decided by jsonschema-rs (the schema compiled, in Rust: about a hundred times
    faster than jsonschema on a restore's items); how an invalid one breaks the schema is
    told by jsonschema, as `first_error` tells it for the published schemas. Formats are
    annotations only in both, as draft 2020-12 has them by default."""

    def __init__(self):
        schema = _inlined_item()
        self.compiled = jsonschema_rs.Draft202012Validator(schema, validate_formats=False)
        self.explaining = Draft202012Validator(schema)

    def is_valid(self, instance):
        return self.compiled.is_valid(instance)

    def iter_errors(self, instance):
        if self.compiled.is_valid(instance):
            return iter(())
        return self.explaining.iter_errors(instance)


def item_validator():
    """An ItemValidator (one per import: compiling the schema takes a few milliseconds)."""
    return ItemValidator()


def first_error(validator, instance, limit=200):
    """The most relevant way `instance` breaks the schema, as 'path: message', or ''."""
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return ""
    where = ".".join(str(part) for part in error.absolute_path) or "the item"
    message = error.message
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return f"{where}: {message}"
