import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.urls import reverse

from submissions.services import editor_create

USERNAME = "demo-editor"


# The quick starts' own SQLite files next to manage.py: `make run`'s and `make real-data`'s.
QUICK_START_FILES = ("db.sqlite3", "db-real.sqlite3")


def quick_start_database():
    """True only for a quick start's own SQLite file (db.sqlite3 or db-real.sqlite3 next to
    manage.py)."""
    if connection.vendor != "sqlite":
        return False
    name = str(connection.settings_dict.get("NAME") or "")
    files = {(Path(settings.BASE_DIR) / file).resolve() for file in QUICK_START_FILES}
    return bool(name) and Path(name).resolve() in files


class Command(BaseCommand):
    help = (
        f"Create the demo editor '{USERNAME}' for the quick start (`make run`, `make real-data`) and print its "
        "password, once. Does nothing on any other database, or if the demo editor exists."
    )

    def handle(self, *args, **options):
        login_url = settings.SITE_URL + reverse("login")
        if not settings.DEBUG or not quick_start_database():
            self.stdout.write(
                "No demo editor: this is not a quick start's database (db.sqlite3 or db-real.sqlite3 "
                "with DEBUG on). "
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
