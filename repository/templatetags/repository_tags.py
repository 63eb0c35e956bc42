"""Template helpers for public pages: safe Markdown, and shareable filter URLs."""

import json

import markdown as markdown_lib
import nh3
from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from repository import citations

register = template.Library()

ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "strong", "em", "b", "i", "a", "ul", "ol", "li",
    "blockquote", "code", "pre", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def _render(text):
    """Markdown without raw HTML: a tag someone typed is shown as text, so an unclosed one
    (<style>, <!--, <plaintext>) cannot swallow the text after it."""
    md = markdown_lib.Markdown(output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md.convert(text or "")


@register.filter
def markdown(text):
    """Markdown rendered, then sanitized by nh3: whatever the text, no script survives.

    nh3 drops the tags it does not allow but keeps their text (clean_content_tags is empty):
    nothing that was written disappears, it is only shown as text."""
    clean = nh3.clean(
        _render(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        clean_content_tags=set(),
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    return mark_safe(clean)  # sanitized just above


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
