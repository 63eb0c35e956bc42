from django.urls import path

from . import curation, views

app_name = "submissions"
urlpatterns = [
    path("incidents/<slug:slug>/improve/", views.improve, name="improve"),
    path("submit/", views.report, name="report"),
    path("submissions/<str:token>/", views.status, name="status"),
    path("moderation/", views.queue, name="queue"),
    path("moderation/bulk/", views.bulk, name="bulk"),
    path("moderation/stats/", views.stats, name="stats"),
    path("transparency/", views.transparency, name="transparency"),
    path("moderation/settings/", views.editor_settings, name="editor_settings"),
    path("moderation/links/", views.broken_links, name="broken_links"),
    path("moderation/taxonomy/", curation.index, name="taxonomy"),
    path("moderation/taxonomy/variants/", curation.variants, name="taxonomy_variants"),
    path("moderation/taxonomy/log/", curation.log, name="taxonomy_log"),
    path("moderation/taxonomy/log/<int:pk>/undo/", curation.undo, name="taxonomy_undo"),
    path("moderation/taxonomy/terms/<int:pk>/", curation.term_page, name="taxonomy_term"),
    *[
        path(
            f"moderation/taxonomy/terms/<int:pk>/{action}/",
            curation.term_action,
            {"action": action},
            name=f"taxonomy_term_{action}",
        )
        for action in ("rename", "merge", "move")
    ],
    path("moderation/taxonomy/entities/<int:pk>/", curation.entity_page, name="taxonomy_entity"),
    *[
        path(
            f"moderation/taxonomy/entities/<int:pk>/{action}/",
            curation.entity_action,
            {"action": action},
            name=f"taxonomy_entity_{action}",
        )
        for action in ("rename", "merge", "split")
    ],
    path("moderation/<int:pk>/", views.review, name="review"),
    path("moderation/<int:pk>/claim/", views.claim, name="claim"),
    path("moderation/<int:pk>/release/", views.release, name="release"),
    path("moderation/<int:pk>/edit/", views.edit, name="edit"),
    path("moderation/<int:pk>/fill-metadata/", views.fill_metadata, name="fill_metadata"),
    path("moderation/<int:pk>/approve/", views.approve, name="approve"),
    path("moderation/<int:pk>/resolve/", views.resolve, name="resolve"),
    path("moderation/<int:pk>/merge/", views.merge, name="merge"),
    path("moderation/<int:pk>/merge-incidents/", views.merge_incidents, name="merge_incidents"),
    path("moderation/<int:pk>/reject/", views.reject, name="reject"),
    path("moderation/<int:pk>/ask-changes/", views.ask_changes, name="ask_changes"),
    path("moderation/<int:pk>/note/", views.note, name="note"),
    path("moderation/incidents/<slug:slug>/revert/<int:number>/", views.revert, name="revert"),
]
