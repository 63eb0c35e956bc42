from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_editors_group(sender, **kwargs):
    from .services import editors_group_ensure

    editors_group_ensure()


class SubmissionsConfig(AppConfig):
    name = "submissions"
    verbose_name = "Submissions and moderation"

    def ready(self):
        from repository.signals import import_changes_proposed, import_identities_doubted, incidents_imported

        from . import checks  # noqa: F401 - registers the deployment checks
        from .imported import changes_propose, identities_doubt
        from .receivers import queue_duplicates_find

        # After migrations have created the "moderate" permission.
        post_migrate.connect(_ensure_editors_group, sender=self)
        incidents_imported.connect(queue_duplicates_find, dispatch_uid="submissions.duplicates_after_import")
        import_changes_proposed.connect(changes_propose, dispatch_uid="submissions.import_changes_proposed")
        import_identities_doubted.connect(
            identities_doubt, dispatch_uid="submissions.import_identities_doubted"
        )
