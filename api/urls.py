from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView

from . import docs, errors, views

app_name = "api"
urlpatterns = [
    path("", docs.docs, name="docs"),
    path("v1/", views.ApiRoot.as_view(), name="root"),
    path("v1/schema/", SpectacularJSONAPIView.as_view(), name="schema"),
    path("v1/incidents/", views.IncidentList.as_view(), name="incidents"),
    path("v1/incidents/<slug:slug>/", views.IncidentDetail.as_view(), name="incident"),
    path("v1/incidents/<slug:slug>/revisions/", views.RevisionList.as_view(), name="revisions"),
    path(
        "v1/incidents/<slug:slug>/revisions/<int:number>/",
        views.RevisionDetail.as_view(),
        name="revision",
    ),
    path("v1/vocabularies/", views.VocabularyList.as_view(), name="vocabularies"),
    path("v1/vocabularies/<slug:vocabulary>/", views.VocabularyDetail.as_view(), name="vocabulary"),
    path("v1/vocabularies/<slug:vocabulary>/terms/", views.TermList.as_view(), name="terms"),
    path("v1/vocabularies/<slug:vocabulary>/terms/<slug:term>/", views.TermDetail.as_view(), name="term"),
    path("v1/entities/", views.EntityList.as_view(), name="entities"),
    path("v1/entities/<slug:slug>/", views.EntityDetail.as_view(), name="entity"),
    path("v1/changes/", views.Changes.as_view(), name="changes"),
    # Anything else under /api/: the API's JSON 404, not the site's HTML page.
    re_path(r"^.*$", errors.not_found),
]
