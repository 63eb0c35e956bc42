"""Terms and entities named as placeholders ("Multiple", "Unclear/unknown") become what the
incidents' documents keep as written, in their placeholders.

The incidents carrying them are published again through the one publishing path (a new
revision each, with the search index, change feed and caches it keeps), which the historical
models of a migration cannot do. So the check runs on the historical models, and only a
database that holds such names calls the service; an empty or clean database does nothing.
"""

from django.db import migrations

# `documents.PLACEHOLDER_KEYS` as of this migration.
PLACEHOLDER_KEYS = [
    "unknown",
    "unclear",
    "unclearunknown",
    "unknownunclear",
    "multiple",
    "various",
    "na",
    "none",
    "notknown",
    "undisclosed",
    "unnamed",
    "tbc",
]


def release(apps, schema_editor):
    TermAlias = apps.get_model("repository", "TermAlias")
    EntityAlias = apps.get_model("repository", "EntityAlias")
    IncidentTerm = apps.get_model("repository", "IncidentTerm")
    IncidentEntity = apps.get_model("repository", "IncidentEntity")
    terms = TermAlias.objects.filter(key__in=PLACEHOLDER_KEYS).values("term_id")
    entities = EntityAlias.objects.filter(key__in=PLACEHOLDER_KEYS).values("entity_id")
    if not (
        IncidentTerm.objects.filter(term_id__in=terms).exists()
        or IncidentEntity.objects.filter(entity_id__in=entities).exists()
    ):
        return
    from repository.services import placeholders_release

    placeholders_release()


class Migration(migrations.Migration):
    dependencies = [("repository", "0018_merge_imports_sources_search")]

    operations = [migrations.RunPython(release, migrations.RunPython.noop)]
