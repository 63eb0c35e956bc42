"""What an import leaves for editors to decide: a source's change to a value an editor (or
another source) gave since, as an improvement proposal; a row whose id named an incident of
another story, as a merge proposal with the evidence. The importers send signals
(`repository.signals`); these receivers turn them into pending proposals. Neither may fail
the import that sent them: a proposal that cannot be made is left out."""

import logging

from django.db import transaction
from django.db.models import Q

from repository import documents
from repository.models import Incident

from .duplicates import merge_proposals_create
from .models import ModerationEvent, Submission
from .services import _queue_fields

logger = logging.getLogger(__name__)


def changes_propose(sender, proposals=(), **kwargs):
    """One pending improvement per incident and change, based on its published revision; the
    same change proposed again (the export imported again) is not repeated."""
    wanted = {proposal["incident_id"]: proposal for proposal in proposals}
    incidents = Incident.objects.select_related("current_revision", "merged_into").in_bulk(list(wanted))
    pending = {}
    for incident_id, proposed in Submission.objects.filter(
        kind=Submission.Kind.IMPROVEMENT,
        incident_id__in=list(wanted),
        state__in=(Submission.State.PENDING, Submission.State.NEEDS_CHANGES),
    ).values_list("incident_id", "proposed"):
        pending.setdefault(incident_id, []).append(proposed)
    created = []
    for incident_id, proposal in wanted.items():
        incident = incidents.get(incident_id)
        if incident is None or incident.merged_into_id or incident.current_revision_id is None:
            continue
        try:
            proposed = documents.normalize(proposal["document"])
        except documents.DocumentError:
            logger.warning(
                "An imported change to incident %s is no valid document: not proposed.", incident_id
            )
            continue
        if proposed in pending.get(incident_id, []) or proposed == incident.current_revision.document:
            continue
        with transaction.atomic():
            submission = Submission(
                kind=Submission.Kind.IMPROVEMENT,
                incident=incident,
                base_revision=incident.current_revision,
                proposed=proposed,
                insight=proposal.get("note", ""),
            )
            _queue_fields(submission)
            submission.save()
            ModerationEvent.objects.create(
                submission=submission,
                action=ModerationEvent.Action.SUBMIT,
                to_state=Submission.State.PENDING,
                note="Proposed by an import: " + proposal.get("note", ""),
            )
        created.append(submission)
    return created


def identities_doubt(sender, doubts=(), **kwargs):
    """One pending merge proposal per pair of incidents an import doubted, unless the pair was
    proposed already (whatever was decided of it)."""
    created = []
    for doubt in doubts:
        pair = {doubt["incident_id"], doubt["other_incident_id"]}
        numbers = dict(
            Incident.objects.filter(pk__in=pair, merged_into__isnull=True).values_list("pk", "number")
        )
        if len(numbers) != 2:
            continue
        first, second = sorted(pair, key=numbers.__getitem__)
        if Submission.objects.filter(
            Q(incident_id=first, other_incident_id=second) | Q(incident_id=second, other_incident_id=first),
            kind=Submission.Kind.MERGE,
        ).exists():
            continue
        reasons = [{**reason, "rule": reason.get("rule", "import")} for reason in doubt["reasons"]]
        [submission] = merge_proposals_create([(first, second, reasons, None)], proposer="an import")
        created.append(submission)
    return created
