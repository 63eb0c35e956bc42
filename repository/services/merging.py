"""Merging two incidents that describe one event: one survives with the union of their facts.

The merged incident keeps its row, number, slug and revisions, and points at its survivor
(`merged_into`): its pages redirect there and its history says so. Its terms, entities,
references and external ids move to the survivor, so that it no longer counts anywhere.
Only an editor merges (submissions decides merge proposals through this one function).
"""

from dataclasses import dataclass

from django.db import transaction

from .. import documents, freshness
from ..models import (
    ExternalId,
    Incident,
    IncidentEntity,
    IncidentTerm,
    IncidentUnderTerm,
    Reference,
    Revision,
)
from .publishing import StaleRevision, incident_publish, incident_search_refresh

HEADLINE_IN_SUMMARY = 120
LINK_HEALTH_FIELDS = ["checked_at", "status_code", "final_url", "check_error"]


class MergeRefused(Exception):
    """The merge is not possible; the message says why, for the editor who tried."""


@dataclass
class MergeResult:
    survivor: Incident
    merged: Incident
    survivor_revision: Revision
    merged_revision: Revision


def _short(headline):
    headline = " ".join(headline.split())
    if len(headline) <= HEADLINE_IN_SUMMARY:
        return headline
    return headline[: HEADLINE_IN_SUMMARY - 1].rsplit(" ", 1)[0] + "…"


def _with_note(text, note):
    note = " ".join((note or "").split()).rstrip(".:;")
    return f"{text}, “{note}”" if note else text


def _number_of(incident_id):
    return Incident.objects.values_list("number", flat=True).get(pk=incident_id)


def _keep_link_health(survivor, merged):
    """The survivor's new copies of the merged incident's references keep their last check."""
    checked = {ref.url: ref for ref in merged.references.filter(checked_at__isnull=False)}
    if not checked:
        return
    mended = []
    for reference in survivor.references.filter(url__in=list(checked), checked_at__isnull=True):
        for field in LINK_HEALTH_FIELDS:
            setattr(reference, field, getattr(checked[reference.url], field))
        mended.append(reference)
    Reference.objects.bulk_update(mended, LINK_HEALTH_FIELDS)


def incident_merge(*, survivor, merged, editor, note="", expected_revisions=None):
    """Merge incident `merged` into incident `survivor`, in one transaction.

    The survivor gets a revision whose document is the union of both (`documents.merge`:
    references, terms, entities and external ids joined, its blank fields filled from the
    merged one); the merged incident gets a last revision with the same document, points at
    the survivor, and loses its relational rows (its revisions stay). Incidents merged into
    `merged` earlier now point at the survivor: there are no chains.

    `expected_revisions` maps incident ids to the revision ids the editor saw; raises
    StaleRevision when one moved on, MergeRefused for a merge that cannot be.
    Returns a MergeResult.
    """
    if survivor.pk == merged.pk:
        raise MergeRefused("An incident cannot be merged into itself.")
    expected_revisions = expected_revisions or {}
    with transaction.atomic():
        # Both rows locked, in id order, so that two merges of overlapping pairs cannot deadlock.
        locked = {
            incident.pk: incident
            for incident in Incident.objects.select_for_update(of=("self",))
            .select_related("current_revision")
            .filter(pk__in=[survivor.pk, merged.pk])
            .order_by("pk")
        }
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        if merged.merged_into_id is not None:
            raise MergeRefused(
                f"Incident #{merged.number} was already merged into incident "
                f"#{_number_of(merged.merged_into_id)}."
            )
        if survivor.merged_into_id is not None:
            raise MergeRefused(
                f"Incident #{survivor.number} was merged into incident "
                f"#{_number_of(survivor.merged_into_id)}: merge into that one."
            )
        for incident in (survivor, merged):
            if incident.current_revision_id is None:
                raise MergeRefused(f"Incident #{incident.number} has no published revision.")
            wanted = expected_revisions.get(incident.pk)
            if wanted is not None and wanted != incident.current_revision_id:
                raise StaleRevision(incident.current_revision_id)

        union = documents.merge(survivor.current_revision.document, merged.current_revision.document)
        summary = _with_note(
            f"Merged incident #{merged.number} ({_short(merged.headline)}) into this one", note
        )
        result = incident_publish(
            document=union,
            incident=survivor,
            author=editor,
            summary=summary,
            expected_revision=survivor.current_revision_id,
        )
        survivor = result.incident
        survivor_revision = result.revision
        if survivor_revision is None:
            # The merged incident added nothing: the survivor's history still says so.
            survivor_revision = Revision.objects.create(
                incident=survivor,
                number=survivor.current_revision.number + 1,
                document=survivor.current_revision.document,
                summary=f"{summary}: No changes"[:300],
                author=editor,
            )
            survivor.current_revision = survivor_revision
            survivor.save(update_fields=["current_revision", "updated_at"])
        _keep_link_health(survivor, merged)

        merged_revision = Revision.objects.create(
            incident=merged,
            number=merged.current_revision.number + 1,
            document=survivor_revision.document,
            summary=_with_note(f"Merged into incident #{survivor.number}", note)[:300],
            author=editor,
        )
        Incident.objects.filter(merged_into=merged).update(merged_into=survivor)
        merged.merged_into = survivor
        merged.current_revision = merged_revision
        merged.search_vector = None
        merged.under_term_ids = None  # it loses its links below
        merged.save(
            update_fields=["merged_into", "current_revision", "search_vector", "under_term_ids", "updated_at"]
        )
        for rows in (IncidentTerm, IncidentUnderTerm, IncidentEntity, Reference, ExternalId):
            rows.objects.filter(incident=merged).delete()
        # The survivor's text grew; the merged incident leaves the index.
        incident_search_refresh(incident_ids=[survivor.pk, merged.pk])
        freshness.changed()
    return MergeResult(survivor, merged, survivor_revision, merged_revision)
