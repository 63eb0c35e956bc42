from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_editors_group(sender, **kwargs):
    from .services import editors_group_ensure

    editors_group_ensure()


class SubmissionsConfig(AppConfig):
    name = "submissions"
    verbose_name = "Submissions and moderation"

    def ready(self):
        from . import checks  # noqa: F401 - registers the deployment checks

        # After migrations have created the "moderate" permission.
        post_migrate.connect(_ensure_editors_group, sender=self)
