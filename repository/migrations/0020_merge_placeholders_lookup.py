# Joins the placeholders" release and the organisation lookup"s trigram index.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("repository", "0019_entityalias_key_trigram"),
        ("repository", "0019_placeholders_released"),
    ]

    operations = []
