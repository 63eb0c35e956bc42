"""Helpers of the browse page's filters."""

from django import template

register = template.Library()


@register.filter
def with_values(facets):
    """The facets that have values to show, so that an empty group gets no heading."""
    return [facet for facet in facets if facet.values]


@register.simple_tag
def active_filter_count(filterset, chips):
    """How many filters narrow the results: the chosen facet values, the search, type, years."""
    cleaned = getattr(filterset.form, "cleaned_data", {})
    fields = ("q", "type", "occurred_from", "occurred_to")
    return len(chips) + sum(1 for name in fields if cleaned.get(name) not in (None, ""))
