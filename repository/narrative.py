"""A narrative's Markdown as the page shows it: rendered, then sanitised by nh3.

Publishing stores the result on the incident (`Incident.narrative_html`), so a page never
renders Markdown while a reader waits; the `markdown` template filter uses the same function.
"""

import markdown as markdown_lib
import nh3

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


def render_html(text):
    """Markdown rendered, then sanitized by nh3: whatever the text, no script survives.

    nh3 drops the tags it does not allow but keeps their text (clean_content_tags is empty):
    nothing that was written disappears, it is only shown as text. Empty text gives ""."""
    if not text:
        return ""
    return nh3.clean(
        _render(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        clean_content_tags=set(),
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
