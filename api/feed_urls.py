from django.urls import path

from . import feeds

app_name = "feeds"
urlpatterns = [
    path("new/", feeds.NewIncidentsFeed(), name="new"),
    path("updated/", feeds.UpdatedIncidentsFeed(), name="updated"),
    path("incidents/", feeds.BrowseFeed(), name="incidents"),
]
