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
from ..provenance import Origin
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
    # Incidents merged into `merged` earlier, pointed at the survivor by this merge.
    repointed: list


def _short(headline):
    return documents.shorten(" ".join(headline.split()), HEADLINE_IN_SUMMARY)


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
            # What the merged incident brings keeps where it came from.
            origin=Origin.decision("merge"),
            inherit=[merged.current_revision.document],
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
        repointed = list(Incident.objects.filter(merged_into=merged).values_list("pk", flat=True))
        Incident.objects.filter(pk__in=repointed).update(merged_into=survivor)
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
    return MergeResult(survivor, merged, survivor_revision, merged_revision, repointed)


def _revision_before(revision):
    return Revision.objects.get(incident_id=revision.incident_id, number=revision.number - 1)


def incident_merge_undo(*, survivor_revision, merged_revision, repointed=(), editor, note=""):
    """Undo the merge that wrote these two revisions (`MergeResult.survivor_revision` and
    `.merged_revision`), in one transaction: the survivor is published back as it was before
    (a new revision), the merged incident comes back with its own document, links and history
    (a new revision of its pre-merge document), and the incidents the merge pointed from it to
    the survivor (`repointed`) point at it again. Pending proposals on it, which were reviewed
    against the survivor, are reviewed against it again.

    Refused (MergeRefused, saying why) when either incident changed since: a newer revision of
    either, the merged incident no longer merged into the survivor, or the survivor merged away.
    Returns (survivor's new revision, merged incident's new revision)."""
    with transaction.atomic():
        pair = [survivor_revision.incident_id, merged_revision.incident_id]
        locked = {
            incident.pk: incident
            for incident in Incident.objects.select_for_update(of=("self",))
            .filter(pk__in=pair)
            .order_by("pk")
        }
        survivor, merged = locked[pair[0]], locked[pair[1]]
        if merged.merged_into_id != survivor.pk:
            raise MergeRefused(
                f"Incident #{merged.number} is no longer merged into incident #{survivor.number}: "
                "the merge cannot be undone."
            )
        if survivor.merged_into_id is not None:
            raise MergeRefused(
                f"Incident #{survivor.number} was merged into incident "
                f"#{_number_of(survivor.merged_into_id)} since: the merge cannot be undone."
            )
        for incident, revision in ((survivor, survivor_revision), (merged, merged_revision)):
            if incident.current_revision_id != revision.pk:
                raise MergeRefused(
                    f"Incident #{incident.number} changed since the merge: it cannot be undone. "
                    "Undo the later changes first, or edit the incidents by hand."
                )
        merged_before = _revision_before(merged_revision).document
        if documents.same_values(merged_before, merged_revision.document):
            # Publishing it again would write nothing, and its links would stay gone.
            raise MergeRefused(
                f"Incident #{merged.number} already held everything of incident #{survivor.number}: "
                "its merge cannot be undone here."
            )
        summary = _with_note(f"Undid the merge of incident #{merged.number} into this one", note)[:300]
        # The survivor first: it gives back the external ids and references it took.
        before = _revision_before(survivor_revision).document
        result = incident_publish(
            document=before,
            incident=survivor,
            author=editor,
            summary=summary,
            expected_revision=survivor_revision.pk,
            origin=Origin.decision("merge"),
            restore=before,
        )
        survivor_back = result.revision
        if survivor_back is None:  # the merge changed nothing in it: its history still says so
            survivor_back = Revision.objects.create(
                incident=survivor,
                number=survivor_revision.number + 1,
                document=before,
                summary=summary,
                author=editor,
            )
            Incident.objects.filter(pk=survivor.pk).update(current_revision=survivor_back)
        Incident.objects.filter(pk=merged.pk).update(merged_into=None)
        merged.refresh_from_db()
        merged_back = incident_publish(
            document=merged_before,
            incident=merged,
            author=editor,
            summary=_with_note(f"Merge into incident #{survivor.number} undone", note)[:300],
            expected_revision=merged_revision.pk,
            origin=Origin.decision("merge"),
            restore=merged_before,
        ).revision
        Incident.objects.filter(pk__in=list(repointed), merged_into=survivor).update(merged_into=merged)
        incident_search_refresh(incident_ids=pair)
        freshness.changed()
    return survivor_back, merged_back
