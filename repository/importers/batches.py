"""Import batches: every run of an importer, listed, and undone.

Undoing a batch publishes, for each incident the batch changed, a new revision with the
document it had before the batch; an incident the batch created is removed again (its
revisions with it). It is refused, as a curation undo is, when anything it touched changed
since: an incident with a newer revision, one merged since, or one created by the batch
that something else now refers to (a submission, a merge proposal). The statements the
batch's file made (`SourceRecord`) are dropped with it, so the source's view of those
incidents is what the other statements say (the AIID importer keeps one record per incident:
dropped too, so its next import compares with the site's document, as a first import does).
"""

from django.db import transaction
from django.db.models import Count, Max, Min, ProtectedError
from django.utils import timezone

from .. import freshness
from ..models import ImportBatch, Incident, Revision, SourceRecord
from ..provenance import Origin
from ..services import PublishItem, Taxonomy, incident_search_refresh, incidents_publish
from .common import imported_on_commit

CHUNK = 200


class UndoRefused(Exception):
    """The batch cannot be undone (undone already, or something it touched changed since)."""


def import_batches_list(*, limit=50):
    """The newest batches, each with how many incidents its revisions touch."""
    batches = ImportBatch.objects.annotate(incidents=Count("revisions__incident", distinct=True))
    return list(batches.order_by("-started_at", "-id")[:limit])


def _refuse_if(condition, text):
    if condition:
        raise UndoRefused(text)


def import_batch_undo(*, batch, editor=None):
    """Undo an import batch (see the module's docstring). Returns (incidents published back,
    incidents removed). Raises UndoRefused, and then changes nothing."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        _refuse_if(batch.undone_at is not None, f"Import {batch.pk} was undone already.")
        spans = {
            row["incident_id"]: row
            for row in Revision.objects.filter(import_batch=batch)
            .values("incident_id")
            .annotate(first=Min("number"), last=Max("number"))
        }
        incidents = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("current_revision")
            .in_bulk(list(spans))
        )
        changed = sorted(
            incident.number
            for pk, incident in incidents.items()
            if incident.merged_into_id is not None
            or incident.current_revision is None
            or incident.current_revision.number != spans[pk]["last"]
        )
        _refuse_if(
            changed,
            f"Import {batch.pk} cannot be undone: {len(changed):,} of its incidents changed since "
            f"(#{', #'.join(map(str, changed[:10]))}{' …' if len(changed) > 10 else ''}).",
        )
        created = [pk for pk, span in spans.items() if span["first"] == 1]
        updated = [pk for pk, span in spans.items() if span["first"] > 1]
        summary = f"Undid import {batch.pk}"[:300]
        for start in range(0, len(updated), CHUNK):
            ids = updated[start : start + CHUNK]
            before = {
                revision.incident_id: revision.document
                for revision in Revision.objects.filter(
                    incident_id__in=ids, number__in={spans[pk]["first"] - 1 for pk in ids}
                )
                if revision.number == spans[revision.incident_id]["first"] - 1
            }
            items = [
                PublishItem(
                    document=before[pk],
                    incident=incidents[pk],
                    summary=summary,
                    author=editor,
                    expected_revision=incidents[pk].current_revision_id,
                    normalized=True,
                    origin=Origin.decision("editor"),
                    restore=before[pk],  # what the undo brings back keeps its origin
                )
                for pk in ids
            ]
            incidents_publish(items=items, taxonomy=Taxonomy(), refresh_search=True)
        # What the run's file said goes with it; so does a record kept without its batch (the
        # AIID importer's, one per incident; the sheet's from before statements).
        SourceRecord.objects.filter(import_batch=batch).delete()
        SourceRecord.objects.filter(
            incident_id__in=list(spans), source=batch.source, import_batch__isnull=True
        ).delete()
        if created:
            try:
                with transaction.atomic():
                    Incident.objects.filter(pk__in=created).update(current_revision=None)
                    Revision.objects.filter(incident_id__in=created).delete()
                    Incident.objects.filter(pk__in=created).delete()
            except ProtectedError as exc:
                numbers = sorted(
                    {
                        incidents[pk].number
                        for obj in exc.protected_objects
                        for pk in (getattr(obj, "incident_id", None), getattr(obj, "other_incident_id", None))
                        if pk in incidents
                    }
                )
                named = f": #{', #'.join(map(str, numbers[:10]))}" if numbers else ""
                raise UndoRefused(
                    f"Import {batch.pk} cannot be undone: incidents it created are referred to since "
                    f"(by submissions or merge proposals{named}); an editor must decide about them first."
                ) from None
            incident_search_refresh(incident_ids=created)
            freshness.changed()
        batch.undone_at, batch.undone_by = timezone.now(), editor
        batch.save(update_fields=["undone_at", "undone_by"])
        imported_on_commit(incident_ids=updated, source=batch.source)
    return len(updated), len(created)
