from django.urls import path

from repository.caching import public_page

from . import feeds

app_name = "feeds"
urlpatterns = [
    path("new/", public_page(feeds.NewIncidentsFeed()), name="new"),
    path("updated/", public_page(feeds.UpdatedIncidentsFeed()), name="updated"),
    path("incidents/", public_page(feeds.BrowseFeed()), name="incidents"),
]
