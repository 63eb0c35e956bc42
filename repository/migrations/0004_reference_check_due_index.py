"""An index for picking the references due for a link check (services.references_check_due).

It serves both of its queries: `checked_at IS NULL ORDER BY id` (never checked) and
`checked_at < cutoff ORDER BY checked_at, id` (checked longest ago), each with a LIMIT, so
a beat run reads one batch whatever the size of the table. Kept out of Reference.Meta so
that the model's declaration is left as it was; both SQLite and PostgreSQL accept the SQL.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("repository", "0003_datasetsnapshot_sourcemetadata")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS repository_reference_check_due "
            "ON repository_reference (checked_at, id)",
            "DROP INDEX IF EXISTS repository_reference_check_due",
        ),
    ]
