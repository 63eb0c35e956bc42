"""Mend open proposals that hold one source twice under two spellings of its address: the
first is kept, with the title, publisher or date it lacked taken from the other."""

import importlib

from django.db import migrations

OPEN = ("pending", "needs_changes")


def mend(apps, schema_editor):
    references_once = importlib.import_module(
        "repository.migrations.0017_references_one_source_once"
    ).references_once
    Submission = apps.get_model("submissions", "Submission")
    for submission in Submission.objects.filter(state__in=OPEN).only("proposed").iterator(chunk_size=500):
        document = submission.proposed or {}
        mended = references_once(document.get("references") or {})
        if mended is not None:
            submission.proposed = {**document, "references": mended}
            submission.save(update_fields=["proposed"])


class Migration(migrations.Migration):
    dependencies = [
        ("submissions", "0006_submission_names"),
        ("repository", "0017_references_one_source_once"),
    ]

    operations = [migrations.RunPython(mend, migrations.RunPython.noop, elidable=True)]
