from django.urls import path

from . import version_views, views, views_stats, views_synonyms

app_name = "repository"
urlpatterns = [
    path("", views.home, name="home"),
    path("incidents/", views.incident_list, name="incident_list"),
    path("incidents/<slug:slug>/", views.incident_detail, name="incident"),
    path("incidents/<slug:slug>/history/", views.incident_history, name="incident_history"),
    path("incidents/<slug:slug>/document.json", views.document_json, name="incident_document"),
    path("incidents/<slug:slug>/v/<int:number>/", version_views.incident_version, name="incident_version"),
    path(
        "incidents/<slug:slug>/v/<int:number>/cite.<slug:extension>",
        version_views.incident_citation,
        name="incident_citation",
    ),
    path("taxonomy/<slug:vocabulary>/", views.vocabulary_detail, name="vocabulary"),
    path("taxonomy/<slug:vocabulary>/<slug:term>/", views.term_detail, name="term"),
    path("entities/<slug:slug>/", views.entity_detail, name="entity"),
    path("id/<slug:scheme>/<str:value>", views.external_id_resolve, name="external_id"),
    path("stats/", views_stats.stats, name="stats"),
    path("stats/<slug:chart>.csv", views_stats.stats_csv, name="stats_csv"),
    path("moderation/search/synonyms/", views_synonyms.synonyms, name="synonyms"),
    path("moderation/search/synonyms/<int:pk>/remove/", views_synonyms.synonym_remove, name="synonym_remove"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("export/", views.export_list, name="export"),
    path("export/<int:pk>/download/", views.export_download, name="export_download"),
    path("export/<slug:name>.schema.json", views.schema_json, name="schema"),
]
