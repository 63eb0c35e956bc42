"""Links from the site's pages to the machine-readable forms of what they show."""

from django import template
from django.urls import reverse

register = template.Library()

PAGE_ONLY = ("page", "more")  # what changes the page shown, not the incidents


def _with_query(path, query, drop):
    query = query.copy()
    for name in drop:
        query.pop(name, None)
    text = query.urlencode()
    return path + (f"?{text}" if text else "")


@register.simple_tag
def browse_feed_url(query):
    """The Atom feed of a browse page's incidents: the same filters (newest additions first)."""
    return _with_query(reverse("feeds:incidents"), query, (*PAGE_ONLY, "sort"))


@register.simple_tag
def browse_api_url(query):
    """The API's list of a browse page's incidents: the same filters and sort."""
    return _with_query(reverse("api:incidents"), query, PAGE_ONLY)
