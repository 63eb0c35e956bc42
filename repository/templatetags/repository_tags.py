"""Template helpers for public pages: safe Markdown, and shareable filter URLs."""

from django import template
from django.utils.safestring import mark_safe

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
