"""Mend incidents that cite one source twice under two spellings of its address
(`http://latimes.com/a/?utm_source=x` and `https://www.latimes.com/a`): one reference is kept
(the first, with any title, publisher or date it lacked taken from the other), in the
published references and in the current revision's document. Earlier revisions stay as they
were published."""

from collections import defaultdict

from django.db import migrations
from django.db.models import Count

from repository.addresses import address_key

CATEGORIES = ("system", "legal", "research", "investigations", "news")
DETAILS = ("title", "publisher", "published")


def references_once(references):
    """A document's references with each source once, by normalised address; None if it
    already was so."""
    seen, mended, changed = {}, {}, False
    for category in CATEGORIES:
        mended[category] = []
        for reference in references.get(category) or []:
            key = address_key(reference.get("url", "")) or reference.get("url", "")
            if key in seen:
                kept = seen[key]
                for detail in DETAILS:
                    if not kept.get(detail) and reference.get(detail):
                        kept[detail] = reference[detail]
                changed = True
                continue
            seen[key] = reference = dict(reference)
            mended[category].append(reference)
    for category, items in references.items():  # anything this migration does not know stays
        mended.setdefault(category, items)
    return mended if changed else None


def mend(apps, schema_editor):
    Incident = apps.get_model("repository", "Incident")
    Reference = apps.get_model("repository", "Reference")
    Revision = apps.get_model("repository", "Revision")

    twice = (
        Reference.objects.exclude(url_key="")
        .values("incident_id", "url_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("incident_id", flat=True)
    )
    incident_ids = set(twice)
    for incident_id in incident_ids:
        by_key = defaultdict(list)
        for reference in Reference.objects.filter(incident_id=incident_id).order_by("position", "id"):
            by_key[reference.url_key or reference.url].append(reference)
        for kept, *others in by_key.values():
            if not others:
                continue
            for detail in DETAILS:
                if not getattr(kept, detail):
                    setattr(
                        kept, detail, next((getattr(o, detail) for o in others if getattr(o, detail)), "")
                    )
            kept.save(update_fields=list(DETAILS))
            Reference.objects.filter(pk__in=[other.pk for other in others]).delete()

    revisions = Revision.objects.filter(
        pk__in=Incident.objects.filter(current_revision__isnull=False).values("current_revision_id")
    ).only("document")
    for revision in revisions.iterator(chunk_size=500):
        document = revision.document or {}
        mended = references_once(document.get("references") or {})
        if mended is not None:
            revision.document = {**document, "references": mended}
            revision.save(update_fields=["document"])


class Migration(migrations.Migration):
    dependencies = [
        ("repository", "0016_fk_indexes_in_composites"),
    ]

    operations = [migrations.RunPython(mend, migrations.RunPython.noop, elidable=True)]
