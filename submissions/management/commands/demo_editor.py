import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.urls import reverse

from submissions.services import editor_create

USERNAME = "demo-editor"


def quick_start_database():
    """True only for the quick start's own SQLite file (db.sqlite3 next to manage.py)."""
    if connection.vendor != "sqlite":
        return False
    name = str(connection.settings_dict.get("NAME") or "")
    return bool(name) and Path(name).resolve() == (Path(settings.BASE_DIR) / "db.sqlite3").resolve()


class Command(BaseCommand):
    help = (
        f"Create the demo editor '{USERNAME}' for the quick start (`make run`) and print its "
        "password, once. Does nothing on any other database, or if the demo editor exists."
    )

    def handle(self, *args, **options):
        login_url = settings.SITE_URL + reverse("login")
        if not settings.DEBUG or not quick_start_database():
            self.stdout.write(
                "No demo editor: this is not the quick start's database (db.sqlite3 with DEBUG on). "
                "Create editors with `manage.py createeditor`."
            )
            return
        if get_user_model().objects.filter(username=USERNAME).exists():
            self.stdout.write(
                f"Sign in to moderate at {login_url} as {USERNAME}; its password was shown when "
                "it was created (`make clean` starts afresh)."
            )
            return
        password = secrets.token_urlsafe(12)
        editor_create(username=USERNAME, email="demo-editor@example.invalid", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo editor created. Sign in to moderate at {login_url} as {USERNAME} with the "
                f"password {password} (shown only this once)."
            )
        )
