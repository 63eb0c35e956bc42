"""A trigram index on entity spellings (PostgreSQL only): serves the contribution forms'
lookup of organisations and systems (submissions/suggestions.py), whose `key LIKE '%dahua%'`
would otherwise read every spelling."""

from django.db import migrations


def create_index(apps, schema_editor):
    # pg_trgm is there already (0012_trigram); IF NOT EXISTS keeps this safe to run again.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS repository_entityalias_key_trgm "
            "ON repository_entityalias USING gin (key gin_trgm_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS repository_entityalias_key_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("repository", "0018_merge_imports_sources_search"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index),
    ]
