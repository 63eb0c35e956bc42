"""The starting taxonomy (editors may relabel and extend it) and PostgreSQL's search index."""

from django.db import migrations

VOCABULARIES = [
    # slug, label, group, description
    ("country", "Country", "", "Where it happened or whom it affected."),
    ("sector", "Sector", "", "The sector of the deployer or of those affected."),
    ("purpose", "Purpose", "", "What the system was used for."),
    ("technology", "Technology", "", "The kinds of technology involved."),
    ("issue", "Issue", "", "The ethical and legal issues it raises."),
    ("transparency", "Transparency", "", "Where openness and accountability fell short."),
    ("news-trigger", "News trigger", "", "What brought it to public attention."),
    ("harm-individual", "Individual", "External harms", ""),
    ("harm-societal", "Societal", "External harms", ""),
    ("harm-environmental", "Environmental", "External harms", ""),
    ("harm-strategic", "Strategic/reputational", "Internal harms", ""),
    ("harm-operational", "Operational", "Internal harms", ""),
    ("harm-financial", "Financial", "Internal harms", ""),
    ("harm-legal", "Legal/regulatory", "Internal harms", ""),
    ("consequence", "Consequence", "", "What followed for those responsible."),
    ("response", "Response", "", "How those responsible answered."),
]


def create_vocabularies(apps, schema_editor):
    Vocabulary = apps.get_model("repository", "Vocabulary")
    for order, (slug, label, group, description) in enumerate(VOCABULARIES, start=1):
        Vocabulary.objects.get_or_create(
            slug=slug,
            defaults={"label": label, "group": group, "order": order * 10, "description": description},
        )


def create_search_index(apps, schema_editor):
    # Serves the full-text search of /incidents/?q=… (PostgreSQL only; SQLite scans).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS repository_incident_search "
            "ON repository_incident USING gin (search_vector)"
        )


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS repository_incident_search")


class Migration(migrations.Migration):
    dependencies = [("repository", "0001_initial")]

    operations = [
        migrations.RunPython(create_vocabularies, migrations.RunPython.noop),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
