from django.db import migrations, models


def backfill(apps, schema_editor):
    """Render every stored narrative once, as publishing now does (in chunks)."""
    from repository.narrative import render_html

    Incident = apps.get_model("repository", "Incident")
    pending = Incident.objects.exclude(narrative="").order_by("pk").only("pk", "narrative")
    last = 0
    while True:
        chunk = list(pending.filter(pk__gt=last)[:1000])
        if not chunk:
            return
        for incident in chunk:
            incident.narrative_html = render_html(incident.narrative)
        Incident.objects.bulk_update(chunk, ["narrative_html"], batch_size=500)
        last = chunk[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("repository", "0010_change_log"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="narrative_html",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
