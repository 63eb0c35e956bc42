"""Permanent versions of an incident page and their citations.

`/incidents/<slug>/v/<n>/` shows the text of revision n as it was published, for good: a
citation points here, and later edits or a merge never change what it shows.
"""

from django.db.models import F
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from . import citations, reading
from .models import Incident, Revision


def _incident(slug):
    """The incident (merged or not) with its current version's number and its survivor's
    address, in one query."""
    return get_object_or_404(
        Incident.objects.only(
            "pk", "slug", "number", "headline", "created_at", "current_revision_id"
        ).annotate(
            current_number=F("current_revision__number"),
            survivor_slug=F("merged_into__slug"),
            survivor_number=F("merged_into__number"),
            survivor_headline=F("merged_into__headline"),
        ),
        slug=slug,
    )


@require_safe
def incident_version(request, slug, number):
    incident = _incident(slug)
    revision = get_object_or_404(Revision, incident=incident, number=number)
    context = {
        "incident": incident,
        "revision": revision,
        "is_current": incident.current_number == revision.number,
        **reading.version_context(incident, revision),
    }
    return render(request, "repository/incident_version.html", context)


@require_safe
def incident_citation(request, slug, number, extension):
    """One version's citation as a file to download: .txt, .bib, .ris or .json (CSL-JSON)."""
    fmt = citations.FORMATS.get(extension)
    if fmt is None:
        raise Http404("No such citation format.")
    incident = get_object_or_404(
        Incident.objects.only("pk", "slug", "number", "headline", "created_at"), slug=slug
    )
    revision = get_object_or_404(
        Revision.objects.only("pk", "number", "document", "created_at"), incident=incident, number=number
    )
    citation = citations.citation_for(incident=incident, revision=revision)
    response = HttpResponse(citations.render(citation, extension), content_type=fmt.content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=citation.filename(extension)
    )
    return response
