import getpass
import os
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from submissions.services import editor_create


class Command(BaseCommand):
    help = (
        "Create an editor (or make an existing user one). The password comes from the "
        "DJANGO_EDITOR_PASSWORD environment variable, or is asked for."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", required=True)

    def handle(self, *args, username, email, **options):
        password = os.environ.get("DJANGO_EDITOR_PASSWORD")
        exists = get_user_model().objects.filter(username=username).exists()
        if password is None and not exists:
            if not sys.stdin.isatty():
                raise CommandError("Set DJANGO_EDITOR_PASSWORD, or run this in a terminal to be asked.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        if password is not None:
            try:
                validate_password(password, get_user_model()(username=username, email=email))
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        user, created = editor_create(username=username, email=email, password=password)
        verb = "Created editor" if created else "Made an editor of"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {user.get_username()}; they sign in at /accounts/login/.")
        )
