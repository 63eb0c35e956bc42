"""Atom feeds: new incidents, updated incidents, and the incidents of any browse URL.

- /feeds/new/: the latest incidents published, newest first.
- /feeds/updated/: the latest changes to incidents; each revision is its own entry (its id
  names the revision), so a reader sees every update.
- /feeds/incidents/?<the query string of /incidents/>: a saved search: the incidents that
  browse URL shows (the same FilterSet), newest additions first, whatever its sort.
"""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from repository.filters import IncidentFilter, selected_labels
from repository.models import Incident, Vocabulary

FEED_ITEMS = 50
# Everything an entry shows, and nothing else (no narrative, no search vector).
ENTRY_FIELDS = ("slug", "number", "headline", "summary", "occurred", "created_at", "updated_at")


def _site():
    return settings.SITE_URL


class IncidentFeed(Feed):
    feed_type = Atom1Feed
    title_template = None
    description_template = None

    def items(self, obj=None):
        return Incident.objects.unmerged().only(*ENTRY_FIELDS).order_by("-created_at", "-number")[:FEED_ITEMS]

    def item_title(self, item):
        return item.headline

    def item_description(self, item):
        return item.summary

    def item_link(self, item):
        return reverse("repository:incident", args=[item.slug])

    def item_guid(self, item):
        return _site() + reverse("repository:incident", args=[item.slug])

    def item_guid_is_permalink(self, item):
        return True

    def item_pubdate(self, item):
        return item.created_at

    def item_updateddate(self, item):
        return item.updated_at

    def item_author_name(self, item):
        return settings.SITE_NAME

    def feed_guid(self, obj=None):
        return _site() + self.link(obj)


class NewIncidentsFeed(IncidentFeed):
    title = f"{settings.SITE_NAME}: new incidents"
    subtitle = "The latest incidents published, newest first."

    def link(self, obj=None):
        return reverse("feeds:new")


class UpdatedIncidentsFeed(IncidentFeed):
    title = f"{settings.SITE_NAME}: updated incidents"
    subtitle = "The latest published changes to incidents, one entry per change."

    def link(self, obj=None):
        return reverse("feeds:updated")

    def items(self, obj=None):
        return (
            Incident.objects.unmerged()
            .only(*ENTRY_FIELDS, "current_revision__number", "current_revision__summary")
            .select_related("current_revision")
            .order_by("-updated_at", "-number")[:FEED_ITEMS]
        )

    def item_title(self, item):
        return f"{item.headline} (revision {item.current_revision.number})"

    def item_description(self, item):
        return item.current_revision.summary or item.summary

    def item_guid(self, item):
        # One entry per revision: /incidents/<slug>/history/#r<n> names the change.
        history = reverse("repository:incident_history", args=[item.slug])
        return f"{_site()}{history}#r{item.current_revision.number}"

    def item_guid_is_permalink(self, item):
        return False

    def item_pubdate(self, item):
        return item.updated_at


class BrowseFeed(IncidentFeed):
    """The incidents of /incidents/?<query>, as a feed: a search a reader subscribes to."""

    subtitle = "The incidents of a search on the site, newest additions first."

    def get_object(self, request, *args, **kwargs):
        query = request.GET.copy()
        for name in ("page", "more", "sort"):
            query.pop(name, None)
        vocabularies = list(Vocabulary.objects.all())
        filterset = IncidentFilter(query, queryset=Incident.objects.unmerged(), vocabularies=vocabularies)
        return {"filterset": filterset, "vocabularies": vocabularies, "query": query.urlencode()}

    def title(self, obj):
        filterset = obj["filterset"]
        parts = [
            f"{chip['label']}: {chip['value']}"
            for chip in selected_labels(obj["vocabularies"], filterset.selected(), filterset.resolved)
        ]
        data = filterset.form.cleaned_data if filterset.is_valid() else {}
        if data.get("q"):
            parts.insert(0, f"“{data['q']}”")
        if data.get("type"):
            parts.append(f"Type: {dict(Incident.Type.choices)[data['type']]}")
        if data.get("occurred_from") is not None:
            parts.append(f"from {int(data['occurred_from'])}")
        if data.get("occurred_to") is not None:
            parts.append(f"to {int(data['occurred_to'])}")
        return f"{settings.SITE_NAME}: incidents" + (f" ({', '.join(parts)})" if parts else "")

    def link(self, obj):
        query = obj["query"]
        return reverse("repository:incident_list") + (f"?{query}" if query else "")

    def feed_url(self, obj):
        query = obj["query"]
        return reverse("feeds:incidents") + (f"?{query}" if query else "")

    def feed_guid(self, obj):
        return _site() + self.feed_url(obj)

    def items(self, obj):
        return obj["filterset"].qs.only(*ENTRY_FIELDS).order_by("-created_at", "-number")[:FEED_ITEMS]
