"""Template helpers for public pages: safe Markdown, and shareable filter URLs."""

import json

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from repository import citations

from ..narrative import render_html

register = template.Library()


@register.filter
def markdown(text):
    """Markdown rendered, then sanitized by nh3 (repository/narrative.py): no script survives.

    Incident pages show the narrative as publishing stored it (Incident.narrative_html)."""
    return mark_safe(render_html(text))  # sanitized by render_html


@register.simple_tag
def query_toggle(query, name, value):
    """The current query string with `name=value` added, or removed if present; page reset."""
    query = query.copy()
    values = query.getlist(name)
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    query.setlist(name, values)
    query.pop("page", None)
    return "?" + query.urlencode()


@register.simple_tag
def query_set(query, name, value):
    """The current query string with `name` set to `value` (removed when empty)."""
    query = query.copy()
    if value in ("", None):
        query.pop(name, None)
    else:
        query[name] = value
    if name != "page":
        query.pop("page", None)
    return "?" + query.urlencode()


# JSON in an HTML <script> data block: "<", ">" and "&" as JSON escapes (as Django's
# json_script does), so no text can close the element or open a comment inside it.
_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def json_for_script(data):
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_SCRIPT_ESCAPES)


@register.filter
def json_ld(data):
    """A schema.org JSON-LD block. It is data, not script: the CSP lets it be (browsers never
    run a script element whose type is not JavaScript)."""
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(json_for_script(data)))


@register.simple_tag
def dataset_json_ld(snapshots):
    """The export page's schema.org Dataset, with one distribution per snapshot file."""
    return json_ld(citations.dataset_json_ld(list(snapshots)))
