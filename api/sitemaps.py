"""sitemap.xml: an index of paginated sitemaps of the incident, term and entity pages, and
robots.txt naming it.

Each section lists at most SITEMAP_LIMIT addresses per page (/sitemap-<section>.xml?p=2 …);
the index at /sitemap.xml (django.contrib.sitemaps' view) names every page. Merged
incidents, terms and entities are left out (their addresses redirect). A section's page is
written by `section` below rather than by Django's template: at five to ten thousand addresses the
template loop and a URL reversal per address took seconds.
"""

import io
import re
from functools import cached_property

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.contrib.sites.requests import RequestSite
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db.models import Max
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.http import http_date
from django.utils.xmlutils import SimplerXMLGenerator
from django.views.decorators.http import require_safe

from repository.models import Entity, Incident, Term

PLACEHOLDER = "sitemap-placeholder"


class _Paginated(Sitemap):
    url_name = ""

    @property
    def limit(self):
        return settings.SITEMAP_LIMIT

    arity = 1  # slugs in the address

    @cached_property
    def _parts(self):
        """The section's address split around its slugs, reversed once per page."""
        path = reverse(self.url_name, args=[f"{PLACEHOLDER}{n}" for n in range(self.arity)])
        return re.split(rf"{PLACEHOLDER}\d", path)

    def location(self, item):
        parts = self._parts
        return parts[0] + "".join(
            value + part for value, part in zip(self.slugs(item), parts[1:], strict=True)
        )


class IncidentSitemap(_Paginated):
    changefreq = "weekly"
    priority = 0.8
    url_name = "repository:incident"

    def slugs(self, item):
        return [item["slug"]]

    def items(self):
        return Incident.objects.unmerged().order_by("number").values("slug", "updated_at")

    def lastmod(self, item):
        return item["updated_at"]

    def get_latest_lastmod(self):
        # For the index: one aggregate, not every incident read to find the latest.
        return Incident.objects.unmerged().aggregate(latest=Max("updated_at"))["latest"]


class TermSitemap(_Paginated):
    changefreq = "weekly"
    priority = 0.5
    url_name = "repository:term"
    arity = 2

    def slugs(self, item):
        return [item["vocabulary__slug"], item["slug"]]

    def items(self):
        return Term.objects.filter(merged_into__isnull=True).order_by("id").values("slug", "vocabulary__slug")


class EntitySitemap(_Paginated):
    changefreq = "weekly"
    priority = 0.5
    url_name = "repository:entity"

    def slugs(self, item):
        return [item["slug"]]

    def items(self):
        return Entity.objects.filter(merged_into__isnull=True).order_by("id").values("slug")


SITEMAPS = {"incidents": IncidentSitemap, "terms": TermSitemap, "entities": EntitySitemap}


@require_safe
def section(request, section):
    """One page of a section (?p=N), as the sitemap protocol asks: loc, lastmod, changefreq,
    priority; Last-Modified when every address has a lastmod."""
    if section not in SITEMAPS:
        raise Http404(f"No sitemap section {section!r}.")
    site = SITEMAPS[section]()
    try:
        urls = site.get_urls(page=request.GET.get("p", 1), site=RequestSite(request), protocol=request.scheme)
    except (EmptyPage, PageNotAnInteger):
        raise Http404("No such page of this sitemap.") from None
    out = io.StringIO()
    xml = SimplerXMLGenerator(out, "utf-8", short_empty_elements=True)
    xml.startDocument()
    xml.startElement("urlset", {"xmlns": "http://www.sitemaps.org/schemas/sitemap/0.9"})
    for url in urls:
        xml.startElement("url", {})
        xml.addQuickElement("loc", url["location"])
        if url["lastmod"]:
            xml.addQuickElement("lastmod", url["lastmod"].date().isoformat())
        xml.addQuickElement("changefreq", url["changefreq"])
        xml.addQuickElement("priority", url["priority"])
        xml.endElement("url")
    xml.endElement("urlset")
    xml.endDocument()
    response = HttpResponse(out.getvalue(), content_type="application/xml")
    if getattr(site, "latest_lastmod", None):
        response.headers["Last-Modified"] = http_date(site.latest_lastmod.timestamp())
    return response


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
