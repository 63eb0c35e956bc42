"""The search index on every database: on SQLite an FTS5 table (porter stemmer), on
PostgreSQL the stored vector recomputed with the names of terms and entities (weight D)."""

from django.db import migrations

FTS_TABLE = "repository_incident_fts"


def create_index(apps, schema_editor):
    from repository.search import index_refresh

    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
            "headline, summary, narrative, names, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    index_refresh(using=connection, words=False)  # the table of words comes in 0017


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("repository", "0008_curation_events")]

    operations = [migrations.RunPython(create_index, drop_index)]
