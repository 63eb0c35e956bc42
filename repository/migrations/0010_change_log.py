# The change feed and the feed of updated incidents read these indexes.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('repository', '0009_search_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='incident',
            index=models.Index(fields=['-updated_at', '-number'], name='repository_incident_updated'),
        ),
        migrations.AddIndex(
            model_name='revision',
            index=models.Index(fields=['created_at', 'id'], name='repository_revision_published'),
        ),
    ]
