"""Template helpers for public pages: safe Markdown, and shareable filter URLs."""

import markdown as markdown_lib
import nh3
from django import template
from django.utils.safestring import mark_safe

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
