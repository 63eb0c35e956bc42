"""Indexed matching for the duplicate check: references' normalised addresses, and (on
PostgreSQL) a trigram index on headlines through the pg_trgm extension."""

from django.db import migrations, models

from repository.addresses import address_key

CHUNK = 5_000


def backfill_url_keys(apps, schema_editor):
    """The normalised address of every reference stored before the field existed."""
    Reference = apps.get_model("repository", "Reference")
    connection = schema_editor.connection
    rows = Reference.objects.order_by().values_list("id", "url").iterator(chunk_size=CHUNK)
    chunk = []

    def flush():
        if not chunk:
            return
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s, %s)"] * len(chunk))
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE repository_reference AS r SET url_key = v.key "
                    f"FROM (VALUES {values}) AS v(id, key) WHERE r.id = v.id",
                    [item for pair in chunk for item in pair],
                )
        else:
            Reference.objects.bulk_update(
                [Reference(id=pk, url_key=key) for pk, key in chunk], ["url_key"], batch_size=500
            )
        chunk.clear()

    for pk, url in rows:
        key = address_key(url)
        if key:
            chunk.append((pk, key))
        if len(chunk) >= CHUNK:
            flush()
    flush()


def create_trigram_index(apps, schema_editor):
    # Serves the duplicate check's "has a similar headline" (PostgreSQL only; SQLite compares
    # a bounded set of headlines in Python). pg_trgm is a trusted extension: a database's
    # owner may create it; IF NOT EXISTS keeps this working where it is installed already.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS repository_incident_headline_trgm "
            "ON repository_incident USING gin (headline gin_trgm_ops)"
        )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS repository_incident_headline_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("repository", "0011_narrative_html"),
    ]

    operations = [
        migrations.AddField(
            model_name="reference",
            name="url_key",
            field=models.CharField(blank=True, editable=False, max_length=500),
        ),
        migrations.RunPython(backfill_url_keys, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="reference",
            index=models.Index(fields=["url_key"], name="repository_reference_url_key"),
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
