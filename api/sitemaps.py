"""sitemap.xml: an index of paginated sitemaps of the incident, term and entity pages, and
robots.txt naming it.

Each section lists at most SITEMAP_LIMIT addresses per page (/sitemap-<section>.xml?p=2 …);
the index at /sitemap.xml names every page. Merged incidents, terms and entities are left
out (their addresses redirect)."""

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.db.models import Max
from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from repository.models import Entity, Incident, Term


class _Paginated(Sitemap):
    @property
    def limit(self):
        return settings.SITEMAP_LIMIT


class IncidentSitemap(_Paginated):
    changefreq = "weekly"
    priority = 0.8

    def items(self):
        return Incident.objects.unmerged().only("slug", "updated_at").order_by("number")

    def lastmod(self, item):
        return item.updated_at

    def get_latest_lastmod(self):
        # For the index: one aggregate, not every incident read to find the latest.
        return Incident.objects.unmerged().aggregate(latest=Max("updated_at"))["latest"]


class TermSitemap(_Paginated):
    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return (
            Term.objects.filter(merged_into__isnull=True)
            .select_related("vocabulary")
            .only("slug", "vocabulary__slug")
            .order_by("id")
        )


class EntitySitemap(_Paginated):
    changefreq = "weekly"
    priority = 0.5

    def items(self):
        return Entity.objects.filter(merged_into__isnull=True).only("slug").order_by("id")


SITEMAPS = {"incidents": IncidentSitemap, "terms": TermSitemap, "entities": EntitySitemap}

# Pages with no value in a search engine: forms, the editors' side, sign-in, the API and its
# documentation (software reads those through the links they publish), feeds of searches.
DISALLOWED = [
    "/moderation/",
    "/accounts/",
    "/admin/",
    "/submit/",
    "/submissions/",
    "/incidents/*/improve/",
    "/api/",
    "/feeds/incidents/",
    "/export/*/download/",
]


@require_safe
def robots_txt(request):
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Disallow: {path}" for path in DISALLOWED]
    lines += ["", f"Sitemap: {request.build_absolute_uri(reverse('sitemap'))}", ""]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
