from django.urls import path

from .views import accounts, actions, contribute, queue, taxonomy

app_name = "submissions"
urlpatterns = [
    path("incidents/<slug:slug>/improve/", contribute.improve, name="improve"),
    path("submit/", contribute.report, name="report"),
    path("lookup/names/", contribute.lookup_names, name="lookup_names"),
    path("submissions/<str:token>/", contribute.status, name="status"),
    path("moderation/", queue.queue, name="queue"),
    path("moderation/bulk/", queue.bulk, name="bulk"),
    path("moderation/stats/", queue.stats, name="stats"),
    path("transparency/", queue.transparency, name="transparency"),
    path("moderation/settings/", accounts.editor_settings, name="editor_settings"),
    path("moderation/links/", queue.broken_links, name="broken_links"),
    path("moderation/taxonomy/", taxonomy.index, name="taxonomy"),
    path("moderation/taxonomy/variants/", taxonomy.variants, name="taxonomy_variants"),
    path("moderation/taxonomy/log/", taxonomy.log, name="taxonomy_log"),
    path("moderation/taxonomy/log/<int:pk>/undo/", taxonomy.undo, name="taxonomy_undo"),
    path("moderation/taxonomy/terms/<int:pk>/", taxonomy.term_page, name="taxonomy_term"),
    *[
        path(
            f"moderation/taxonomy/terms/<int:pk>/{action}/",
            taxonomy.term_action,
            {"action": action},
            name=f"taxonomy_term_{action}",
        )
        for action in ("rename", "merge", "move")
    ],
    path("moderation/taxonomy/entities/<int:pk>/", taxonomy.entity_page, name="taxonomy_entity"),
    *[
        path(
            f"moderation/taxonomy/entities/<int:pk>/{action}/",
            taxonomy.entity_action,
            {"action": action},
            name=f"taxonomy_entity_{action}",
        )
        for action in ("rename", "merge", "split")
    ],
    path("moderation/<int:pk>/", queue.review, name="review"),
    path("moderation/<int:pk>/claim/", actions.claim, name="claim"),
    path("moderation/<int:pk>/release/", actions.release, name="release"),
    path("moderation/<int:pk>/edit/", actions.edit, name="edit"),
    path("moderation/<int:pk>/fill-metadata/", actions.fill_metadata, name="fill_metadata"),
    path("moderation/<int:pk>/approve/", actions.approve, name="approve"),
    path("moderation/<int:pk>/resolve/", actions.resolve, name="resolve"),
    path("moderation/<int:pk>/merge/", actions.merge, name="merge"),
    path("moderation/<int:pk>/merge-incidents/", actions.merge_incidents, name="merge_incidents"),
    path(
        "moderation/<int:pk>/merge-incidents/undo/", actions.merge_incidents_undo, name="merge_incidents_undo"
    ),
    path("moderation/<int:pk>/reject/", actions.reject, name="reject"),
    path("moderation/<int:pk>/ask-changes/", actions.ask_changes, name="ask_changes"),
    path("moderation/<int:pk>/note/", actions.note, name="note"),
    path("moderation/incidents/<slug:slug>/revert/<int:number>/", actions.revert, name="revert"),
]
