"""The ids of the terms each incident is under, as a GIN-indexed array on PostgreSQL, filled
from the ancestor links (`repository.ancestry`); SQLite keeps an unused column."""

from django.db import migrations

import repository.models

FILL = """UPDATE repository_incident i SET under_term_ids = ARRAY(
    SELECT u.term_id FROM repository_incidentunderterm u WHERE u.incident_id = i.id ORDER BY u.term_id
)"""


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FILL)
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS repository_incident_under_terms "
            "ON repository_incident USING gin (under_term_ids)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS repository_incident_under_terms")


class Migration(migrations.Migration):
    dependencies = [
        ("repository", "0013_term_ancestors"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="under_term_ids",
            field=repository.models.TermIdsField(editable=False, null=True, size=None),
        ),
        migrations.RunPython(fill, drop_index),
    ]
