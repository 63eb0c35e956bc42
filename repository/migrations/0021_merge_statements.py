# Joins the source statements with the placeholders' release and the lookup's index.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("repository", "0019_source_statements"),
        ("repository", "0020_merge_placeholders_lookup"),
    ]

    operations = []
