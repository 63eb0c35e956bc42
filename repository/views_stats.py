"""/stats/: charts of the repository, or of any browse URL's results, and their numbers as CSV."""

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from . import charts
from .filters import IncidentFilter
from .models import Incident, Vocabulary


def _figures(request, terms=True):
    """The browse page's filters on the query string, and the charts' numbers for them."""
    vocabularies = list(Vocabulary.objects.all())
    filterset = IncidentFilter(request.GET, queryset=Incident.objects.unmerged(), vocabularies=vocabularies)
    return filterset, charts.figures(filterset, vocabularies, terms=terms)


def _query(request):
    """The query string, without what does not change the results (for links and downloads)."""
    query = request.GET.copy()
    for name in charts.NOT_FILTERS:
        query.pop(name, None)
    return query.urlencode()


def _described(filterset):
    """The filters other than facet values (search, type, years), as the page names them."""
    applied = charts.applied_filters(filterset)
    described = []
    if applied.get("q"):
        described.append({"label": "Search", "value": applied["q"]})
    if applied.get("type"):
        described.append({"label": "Type", "value": Incident.Type(applied["type"]).label})
    if applied.get("occurred_from") is not None:
        described.append({"label": "Occurred from", "value": int(applied["occurred_from"])})
    if applied.get("occurred_to") is not None:
        described.append({"label": "Occurred until", "value": int(applied["occurred_to"])})
    return described


def _browse_url(request):
    """A function giving the browse URL of the results narrowed to one term."""
    base = reverse("repository:incident_list")

    def url(name, slug):
        query = request.GET.copy()
        for other in charts.NOT_FILTERS:
            query.pop(other, None)
        values = query.getlist(name)
        if slug not in values:
            query.setlist(name, [*values, slug])
        return f"{base}?{query.urlencode()}"

    return url


@require_safe
def stats(request):
    filterset, numbers = _figures(request)
    year_chart = charts.year_chart(numbers["years"])
    years = [year for year, _ in year_chart.rows]
    browse_url = _browse_url(request)
    term_charts = [charts.term_chart(vocabulary, years, browse_url) for vocabulary in numbers["vocabularies"]]
    return render(
        request,
        "repository/stats.html",
        {
            "filter": filterset,
            "filtered": bool(charts.applied_filters(filterset)),
            "chips": _described(filterset) + numbers["chips"],
            "year_chart": year_chart,
            "term_charts": term_charts,
            "query": _query(request),
        },
    )


@require_safe
def stats_csv(request, chart):
    """One chart's numbers: /stats/years.csv, /stats/<vocabulary>.csv, with the page's query."""
    if chart != "years" and chart not in charts.CHART_VOCABULARIES:
        raise Http404("No such chart.")
    _, numbers = _figures(request, terms=chart != "years")
    if chart == "years":
        content, name = charts.years_csv(numbers["years"]), "incidents-per-year.csv"
    else:
        vocabulary = next((v for v in numbers["vocabularies"] if v["slug"] == chart), None)
        if vocabulary is None:
            raise Http404("No such chart.")
        years = [year for year, _ in numbers["years"]["years"]]
        content, name = charts.terms_csv(vocabulary, years), f"top-{chart}-per-year.csv"
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
