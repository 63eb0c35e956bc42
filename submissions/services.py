"""State changes of submissions: one guarded function per transition.

Each checks the current state, runs in a transaction, changes the row with a conditional
update (so that of two editors acting at once exactly one wins), writes the audit event,
and queues follow-up work for after the commit.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from repository import documents
from repository.models import Incident, Revision, SourceMetadata, Vocabulary
from repository.provenance import Origin
from repository.services import (
    MergeRefused,
    StaleRevision,
    incident_merge,
    incident_merge_undo,
    incident_publish,
    source_metadata_request,
)

from . import grouping, notifications
from .models import (
    EditorProfile,
    ModerationEvent,
    Submission,
    SubmissionVersion,
    claim_cutoff,
    claim_free_for,
)
from .names import names_identity, names_resolve, names_unknown, new_name_token


class TransitionError(Exception):
    """The action is not possible now; the message says why, for the person who tried."""


class ConflictError(TransitionError):
    """The incident changed after the proposal was made: the editor must resolve it."""


def _event(submission, *, action, actor=None, from_state="", to_state="", note="", data=None):
    return ModerationEvent.objects.create(
        submission=submission,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data or {},
    )


def _locked(submission):
    """The submission's row, locked until the transaction ends."""
    return (
        Submission.objects.select_for_update(of=("self",)).select_related("claimed_by").get(pk=submission.pk)
    )


def _who(user):
    return user.get_username() if user else "someone"


def _check_can_act(submission, editor):
    if submission.state == Submission.State.NEEDS_CHANGES:
        raise TransitionError("This submission was sent back to its contributor for changes.")
    if submission.state != Submission.State.PENDING:
        raise TransitionError(
            f"This submission is already {submission.get_state_display().lower()}"
            + (f" (by {_who(submission.decided_by)})." if submission.decided_by_id else ".")
        )
    holder = submission.claim_holder
    if holder is not None and holder.pk != editor.pk:
        raise TransitionError(f"{_who(holder)} has claimed this submission.")


def _taken_over(submission, editor, previous):
    """Record that `editor` acts on a submission whose claim by someone else had expired."""
    claimed_by_id, claimed_at = previous
    if claimed_by_id is None or claimed_by_id == editor.pk:
        return None
    who = get_user_model().objects.filter(pk=claimed_by_id).values_list("username", flat=True).first()
    return _event(
        submission,
        action=ModerationEvent.Action.CLAIM,
        actor=editor,
        note=f"Took over {who or 'someone'}'s expired claim.",
        data={"took_over_from": who, "claimed_at": claimed_at.isoformat()},
    )


def _claim_before(submission):
    """(claimed_by_id, claimed_at) as the row is now, to tell a take-over."""
    return Submission.objects.filter(pk=submission.pk).values_list("claimed_by", "claimed_at").get()


def submission_create(
    *,
    kind,
    proposed,
    incident=None,
    insight="",
    name="",
    email="",
    credit=False,
    reported=False,
    keep_as_written=(),
):
    """Record a contributor's proposal. Raises DocumentError on an invalid document.
    `reported`: a report of an incident that the contributor found already here, sent as more
    on it (its submission event says so, and so does the contributor's email on approval).
    `keep_as_written`: [(path, name)] the contributor chose to keep as written rather than as
    the taxonomy spells it (on the form's confirmation step)."""
    sent, proposed = proposed, documents.normalize(proposed)
    base_revision = None
    if kind == Submission.Kind.IMPROVEMENT:
        if incident is None or incident.current_revision_id is None:
            raise TransitionError("An improvement needs a published incident.")
        base_revision = incident.current_revision
    base = base_revision.document if base_revision else None
    # As sent: a source the incident cites under another spelling is one the document drops.
    flagged = grouping.sources_already_known(
        base=base, sent=sent, incident_id=incident.pk if base_revision else None
    )
    proposed, names = names_resolve(proposed=proposed, base=base, keep=keep_as_written)
    with transaction.atomic():
        submission = Submission.objects.create(
            kind=kind,
            incident=incident if kind == Submission.Kind.IMPROVEMENT else None,
            base_revision=base_revision,
            proposed=proposed,
            names=names,
            sources_flagged=flagged,
            insight=insight.strip(),
            name=name.strip(),
            email=email.strip(),
            credit=bool(credit and name.strip()),
        )
        _queue_fields(submission)
        submission.save(update_fields=["effect", "effect_kind", "source_keys", "group_key"])
        _event(
            submission,
            action=ModerationEvent.Action.SUBMIT,
            to_state=Submission.State.PENDING,
            data={"reported": True} if reported else None,
        )
        notifications.notifications_for_submission(submission=submission)
        _fetch_metadata(submission, base_revision)
    return submission


def _queue_fields(submission):
    """What the queue shows of a proposal, worked out now rather than on each view: what it
    does, the sources it adds and the look-alikes it is grouped with."""
    base = submission.base_revision.document if submission.base_revision_id else None
    labels = dict(Vocabulary.objects.values_list("slug", "label"))
    submission.effect_kind, submission.effect = grouping.proposal_effect(
        kind=submission.kind, base=base, proposed=submission.proposed, labels=labels
    )
    submission.source_keys = (
        grouping.added_source_keys(base=base, proposed=submission.proposed)
        if submission.kind == Submission.Kind.IMPROVEMENT
        else []
    )
    submission.group_key = grouping.group_key_for(submission)


def _names_resolved(submission, proposed):
    """The proposal's names as the taxonomy spells them, and every match still in it (an
    earlier one the contributor or an editor has not removed since, and the new ones)."""
    base = submission.base_revision.document if submission.base_revision_id else None
    proposed, found = names_resolve(proposed=proposed, base=base)
    kept = [
        match
        for match in submission.names
        if match["name"] in documents.get_path(proposed, match["path"])
        and all((match["path"], match["given"]) != (new["path"], new["given"]) for new in found)
    ]
    return proposed, kept + found


def _check_new_names(document, base, confirmed_new):
    """Refuse to create a term or entity the editor has not confirmed as new (when the caller
    asks for confirmations: `confirmed_new` a collection of `new_name_token`s, else None)."""
    if confirmed_new is None:
        return
    unconfirmed = [
        name
        for path, name in names_unknown(document=document, base=base)
        if new_name_token(path, name) not in confirmed_new
    ]
    if unconfirmed:
        listed = ", ".join(f"“{name}”" for name in unconfirmed)
        raise TransitionError(
            f"Approving would create {listed}: confirm that each is new, or edit the proposal to name "
            "what exists."
        )


def _fetch_metadata(submission, base_revision):
    """Look up title, publisher and date of each web address the proposal adds (after commit)."""
    before = base_revision.document if base_revision else documents.empty_document()
    known = {ref["url"] for refs in before["references"].values() for ref in refs}
    added = [ref["url"] for refs in submission.proposed["references"].values() for ref in refs]
    source_metadata_request(urls=[url for url in added if url not in known])


def submission_claim(*, submission, editor):
    """Claim a pending submission: unclaimed, or claimed by someone whose claim expired
    (CLAIM_EXPIRES_MINUTES), which is recorded as a take-over. Claiming again renews one's own."""
    with transaction.atomic():
        now = timezone.now()
        previous = _claim_before(submission)
        claimed = (
            Submission.objects.filter(pk=submission.pk, state=Submission.State.PENDING)
            .filter(Q(claimed_by__isnull=True) | Q(claimed_at__lt=claim_cutoff(now)))
            .update(claimed_by=editor, claimed_at=now, updated_at=now)
        )
        current = Submission.objects.select_related("claimed_by", "decided_by").get(pk=submission.pk)
        if not claimed:
            if current.claimed_by_id == editor.pk:
                return current  # already ours: nothing to record
            _check_can_act(current, editor)
            raise TransitionError("This submission could not be claimed.")
        if previous[0] is not None and previous[0] != editor.pk:
            _taken_over(current, editor, previous)
        else:
            _event(current, action=ModerationEvent.Action.CLAIM, actor=editor)
    return current


def submission_release(*, submission, editor, note=""):
    with transaction.atomic():
        released = Submission.objects.filter(pk=submission.pk, claimed_by=editor).update(
            claimed_by=None, claimed_at=None, updated_at=timezone.now()
        )
        current = Submission.objects.select_related("claimed_by", "decided_by").get(pk=submission.pk)
        if not released:
            if current.claimed_by_id is None:
                raise TransitionError("This submission is not claimed.")
            if current.claim_expired:
                raise TransitionError(
                    f"This submission is not claimed: {_who(current.claimed_by)}'s claim expired."
                )
            raise TransitionError(f"Only {_who(current.claimed_by)}, who claimed it, can release it.")
        _event(current, action=ModerationEvent.Action.RELEASE, actor=editor, note=note)
    return current


def submission_edit(*, submission, editor, proposed, note=""):
    """An editor's change to the proposal before deciding. The earlier proposal is kept."""
    if submission.kind == Submission.Kind.MERGE:
        raise TransitionError("A merge proposal has no document to edit: merge the two incidents or dismiss.")
    proposed = documents.normalize(proposed)
    with transaction.atomic():
        current = _locked(submission)
        _check_can_act(current, editor)
        proposed, names = _names_resolved(current, proposed)
        if proposed == current.proposed:
            return current
        before = current.proposed
        current.proposed, current.names = proposed, names
        _queue_fields(current)
        current.save(
            update_fields=[
                "proposed",
                "names",
                "effect",
                "effect_kind",
                "source_keys",
                "group_key",
                "updated_at",
            ]
        )
        changes = documents.diff(before, proposed)
        _event(
            current,
            action=ModerationEvent.Action.EDIT,
            actor=editor,
            note=note or documents.change_summary(changes),
            data={"before": before},
        )
    return current


def _decide(submission, editor, **fields):
    """Take the decision on a pending submission: exactly one caller can.

    The conditional update locks the row until the transaction ends; a second editor
    deciding at the same moment waits, then finds it decided and is told. An approval
    passes no state here and sets it once the revision exists.
    """
    now = timezone.now()
    previous = _claim_before(submission)
    decided = (
        Submission.objects.filter(pk=submission.pk, state=Submission.State.PENDING, decided_at__isnull=True)
        .filter(claim_free_for(editor, now))
        .update(decided_by=editor, decided_at=now, updated_at=now, **fields)
    )
    if not decided:
        current = Submission.objects.select_related("claimed_by", "decided_by").get(pk=submission.pk)
        _check_can_act(current, editor)
        raise TransitionError("This submission could not be decided.")
    current = Submission.objects.select_related("incident", "base_revision").get(pk=submission.pk)
    _taken_over(current, editor, previous)
    return current


def _contributors_version(submission):
    """The proposal as the contributor last sent it: before the first edit an editor made
    after that (the edit event keeps the document it replaced), else as it stands."""
    events = list(
        submission.events.filter(
            action__in=[
                ModerationEvent.Action.SUBMIT,
                ModerationEvent.Action.RESUBMIT,
                ModerationEvent.Action.EDIT,
            ]
        )
        .order_by("-pk")
        .values("action", "data")
    )
    version = submission.proposed
    for event in events:  # newest first: stop at the contributor's last sending
        if event["action"] != ModerationEvent.Action.EDIT:
            break
        before = (event["data"] or {}).get("before")
        if isinstance(before, dict):
            version = before
    return version


def _publish_approval(submission, editor, document, incident, expected_revision, action, note, data=None):
    """The second half of an approval or a merge: publish, record, tell the contributor."""
    summary = _summary(submission, note, merged=action == ModerationEvent.Action.MERGE)
    try:
        result = incident_publish(
            document=document,
            incident=incident,
            author=editor,
            summary=summary,
            credit=submission.public_name,
            expected_revision=expected_revision,
            # What the contributor proposed is their proposal's; what the editor changed in
            # it, or chose instead, is the editor's.
            origin=Origin.decision("editor"),
            attribute=[(_contributors_version(submission), Origin.decision("proposal"))],
        )
    except StaleRevision:
        raise ConflictError(
            "The incident changed while you were reviewing. Review the changes again."
        ) from None
    incident = result.incident
    revision = result.revision or incident.current_revision  # unchanged: it is what is published
    Submission.objects.filter(pk=submission.pk).update(
        state=Submission.State.APPROVED,
        incident=incident,
        revision=revision,
        claimed_by=None,
        claimed_at=None,
    )
    _event(
        submission,
        action=action,
        actor=editor,
        from_state=Submission.State.PENDING,
        to_state=Submission.State.APPROVED,
        note=note,
        data={"revision": revision.number, "incident": incident.slug, **(data or {})},
    )
    submission.refresh_from_db()
    notifications.notification_for_decision(submission=submission)
    return submission


def submission_approve(
    *, submission, editor, document=None, expected_revision=None, note="", confirmed_new=None
):
    """Publish the proposal (or the editor's resolution of it) as a new revision.

    For an improvement, `expected_revision` is the incident revision the editor reviewed
    against. When the incident moved on since the proposal's base, the proposal merges with
    the newer changes field by field and item by item (DESIGN.md, "Submission states"); a
    field or item both sides changed differently is a ConflictError until the editor resolves
    it. An improvement of an incident merged since goes to the survivor, only as the editor
    resolved it against the survivor's document.
    `confirmed_new` (from the review page) names the new terms and entities the editor
    confirmed; any other new one refuses the approval.
    """
    if submission.kind == Submission.Kind.MERGE:
        raise TransitionError("Choose which of the two incidents survives, then merge them.")
    with transaction.atomic():
        current = _decide(submission, editor)
        data = {}
        if current.kind == Submission.Kind.IMPROVEMENT:
            incident = current.incident
            expected = expected_revision or current.base_revision_id
            if incident.merged_into_id is not None:
                survivor = Incident.objects.get(pk=incident.merged_into_id)
                if expected_revision is None:
                    raise ConflictError(
                        f"Incident #{incident.number} was merged into incident #{survivor.number}: "
                        "review the proposal against that one."
                    )
                data = {"proposed_on": incident.number}
                incident = survivor
        else:
            incident, expected = None, None
        published = incident.current_revision if incident is not None else None
        if (
            document is None
            and incident is not None
            and incident.current_revision_id != current.base_revision_id
        ):
            # The incident moved on: the proposal's changes merge with the newer ones, unless
            # both sides changed one field or item differently.
            document = _merged(current, published.document)
            expected = expected_revision or incident.current_revision_id
        document = document if document is not None else current.proposed
        _check_new_names(document, published.document if published else None, confirmed_new)
        return _publish_approval(
            current, editor, document, incident, expected, ModerationEvent.Action.APPROVE, note, data
        )


RESOLVE_CHOICES = ("base", "current", "proposed", "combined")


def submission_resolve(*, submission, editor, choices, expected_revision, note="", confirmed_new=None):
    """Approve an improvement whose incident moved on since its base, as the editor chose.

    `choices` maps a field's path to one of RESOLVE_CHOICES (anything else is ignored);
    `expected_revision` is the incident revision the editor chose against: if the incident
    changed again meanwhile, nothing is published and the editor reviews it again.
    """
    if submission.kind != Submission.Kind.IMPROVEMENT:
        raise TransitionError("Only an improvement can have a conflict to resolve.")
    incident = Incident.objects.select_related("current_revision").get(pk=submission.incident_id)
    if incident.merged_into_id:  # reviewed against the survivor
        incident = Incident.objects.select_related("current_revision").get(pk=incident.merged_into_id)
    if expected_revision != incident.current_revision_id:
        raise ConflictError("The incident changed while you were choosing. Review it again.")
    current = incident.current_revision.document if incident.current_revision else documents.empty_document()
    _, rows = submission_merge_rows(submission=submission, current=current)
    chosen = {row.path: choices[row.path] for row in rows if choices.get(row.path) in RESOLVE_CHOICES}
    return submission_approve(
        submission=submission,
        editor=editor,
        document=documents.resolve(current, rows, chosen),
        expected_revision=expected_revision,
        note=note,
        confirmed_new=confirmed_new,
    )


def submission_merge_rows(*, submission, current):
    """The proposal seen three ways against `current` (the incident's document now), its
    list items told apart by their normalised address or what their name resolves to."""
    base = submission.base_revision.document
    identity = names_identity(base, current, submission.proposed)
    return base, documents.three_way(base, current, submission.proposed, identity=identity)


def _merged(submission, current):
    """The proposal merged into `current`, or ConflictError naming what both sides changed."""
    _, rows = submission_merge_rows(submission=submission, current=current)
    conflicts = [row.label for row in rows if row.conflict]
    if conflicts:
        raise ConflictError(
            f"The incident changed since this proposal was made, and both changed {', '.join(conflicts)}: "
            "choose which version to keep."
        )
    return documents.resolve(current, rows, {})


def submission_merge_incidents(*, submission, editor, survivor, expected_revisions=None, note=""):
    """Approve a merge proposal: `survivor`, one of its two incidents, absorbs the other.

    `expected_revisions` maps each incident's id to the revision the editor reviewed; a
    change since is a ConflictError. The merge itself is `repository.services.incident_merge`.
    """
    if submission.kind != Submission.Kind.MERGE:
        raise TransitionError("Only a merge proposal merges two incidents.")
    with transaction.atomic():
        current = _decide(submission, editor)
        pair = (current.incident_id, current.other_incident_id)
        if survivor.pk not in pair:
            raise TransitionError("Choose which of the two incidents survives.")
        incidents = Incident.objects.in_bulk(pair)
        merged = incidents[pair[1] if survivor.pk == pair[0] else pair[0]]
        try:
            result = incident_merge(
                survivor=incidents[survivor.pk],
                merged=merged,
                editor=editor,
                note=note,
                expected_revisions=expected_revisions,
            )
        except MergeRefused as exc:
            raise TransitionError(str(exc)) from None
        except StaleRevision:
            raise ConflictError(
                "One of the two incidents changed while you were reviewing. Review them again."
            ) from None
        Submission.objects.filter(pk=current.pk).update(
            state=Submission.State.APPROVED,
            revision=result.survivor_revision,
            claimed_by=None,
            claimed_at=None,
        )
        _event(
            current,
            action=ModerationEvent.Action.MERGE,
            actor=editor,
            from_state=Submission.State.PENDING,
            to_state=Submission.State.APPROVED,
            note=note.strip(),
            data={
                "survivor": result.survivor.number,
                "merged": result.merged.number,
                "revision": result.survivor_revision.number,
                # What its undo needs: the merged incident's last revision and the incidents
                # that pointed at it.
                "merged_revision": result.merged_revision.pk,
                "repointed": result.repointed,
            },
        )
        current.refresh_from_db()
    return current


def submission_merge_to_undo(submission):
    """The merge event of an approved merge proposal that can be offered for undo, or None
    (not a merge proposal, not merged, merged before undo was recorded, or undone since)."""
    if submission.kind != Submission.Kind.MERGE or submission.state != Submission.State.APPROVED:
        return None
    event = (
        submission.events.filter(action=ModerationEvent.Action.MERGE).order_by("-created_at", "-pk").first()
    )
    if event is None or "merged_revision" not in event.data or submission.revision_id is None:
        return None
    return event


def submission_merge_incidents_undo(*, submission, editor, note=""):
    """Undo the merge an approved merge proposal made (`repository.services.incident_merge_undo`):
    both incidents as they were, each with a new revision, and the proposal pending again.
    Raises TransitionError, saying why, when the merge cannot be undone (either incident
    changed since)."""
    with transaction.atomic():
        current = Submission.objects.select_for_update().get(pk=submission.pk)
        event = submission_merge_to_undo(current)
        if event is None:
            raise TransitionError("Only a merge this proposal made can be undone here.")
        try:
            incident_merge_undo(
                survivor_revision=Revision.objects.get(pk=current.revision_id),
                merged_revision=Revision.objects.get(pk=event.data["merged_revision"]),
                repointed=event.data.get("repointed", []),
                editor=editor,
                note=note,
            )
        except MergeRefused as exc:
            raise TransitionError(str(exc)) from None
        Submission.objects.filter(pk=current.pk).update(
            state=Submission.State.PENDING,
            revision=None,
            decided_by=None,
            decided_at=None,
            updated_at=timezone.now(),
        )
        _event(
            current,
            action=ModerationEvent.Action.UNMERGE,
            actor=editor,
            from_state=Submission.State.APPROVED,
            to_state=Submission.State.PENDING,
            note=note.strip(),
            data={"survivor": event.data["survivor"], "merged": event.data["merged"]},
        )
        current.refresh_from_db()
    return current


def submission_merge(*, submission, editor, target, expected_revision=None, note="", confirmed_new=None):
    """Add a new-incident report's facts and references to an existing incident."""
    if submission.kind != Submission.Kind.NEW_INCIDENT:
        raise TransitionError("Only a report of a new incident can be merged into another incident.")
    with transaction.atomic():
        target = Incident.objects.select_related("current_revision").get(pk=target.pk)
        if target.merged_into_id is not None:  # its facts live in its survivor now
            target = Incident.objects.select_related("current_revision").get(pk=target.merged_into_id)
        current = _decide(submission, editor)
        base = target.current_revision.document if target.current_revision else documents.empty_document()
        document, _ = names_resolve(proposed=documents.merge(base, current.proposed), base=base)
        _check_new_names(document, base, confirmed_new)
        return _publish_approval(
            current,
            editor,
            document,
            target,
            expected_revision or target.current_revision_id,
            ModerationEvent.Action.MERGE,
            note,
        )


def submission_reject(*, submission, editor, reason, note="", duplicate_of=None):
    """Reject with a reason; a duplicate may name the incident it duplicates (its survivor,
    if that incident was merged), which the contributor's status page then links to."""
    if reason not in Submission.Reason.values:
        raise TransitionError("Choose a reason for the rejection.")
    if (submission.kind == Submission.Kind.MERGE) != (reason in Submission.PAIR_REASONS):
        raise TransitionError(
            "Dismiss a merge pair with one of its own reasons."
            if submission.kind == Submission.Kind.MERGE
            else "That reason is for dismissing a merge pair."
        )
    if duplicate_of is not None:
        if reason != Submission.Reason.DUPLICATE:
            raise TransitionError("Name the incident it duplicates only when rejecting it as a duplicate.")
        duplicate_of = duplicate_of.merged_into or duplicate_of
    with transaction.atomic():
        fitting = dict(submission.reject_reasons)
        if reason not in fitting:
            raise TransitionError(
                f"'{Submission.Reason(reason).label}' is not a reason for this kind of proposal; "
                f"choose one of: {', '.join(fitting.values())}."
            )
        current = _decide(
            submission,
            editor,
            state=Submission.State.REJECTED,
            reason=reason,
            decision_note=note.strip(),
            duplicate_of=duplicate_of,
            claimed_by=None,
            claimed_at=None,
        )
        _event(
            current,
            action=ModerationEvent.Action.REJECT,
            actor=editor,
            from_state=Submission.State.PENDING,
            to_state=Submission.State.REJECTED,
            note=note.strip(),
            data={"reason": reason, **({"duplicate_of": duplicate_of.number} if duplicate_of else {})},
        )
        notifications.notification_for_decision(submission=current)
    return current


@dataclass
class BulkResult:
    done: list = field(default_factory=list)  # the submissions changed
    failed: list = field(default_factory=list)  # (submission, why) for the others


def _each(submissions, transition):
    """Run one transition per submission, each in its own transaction: one that fails (another
    editor decided it meanwhile) is reported and leaves the others done."""
    result = BulkResult()
    for submission in submissions:
        try:
            result.done.append(transition(submission))
        except TransitionError as exc:
            result.failed.append((submission, str(exc)))
    return result


def submissions_reject(*, submissions, editor, reason, note=""):
    """Reject many (spam, say) for one reason, each exactly as `submission_reject` would."""
    if reason not in Submission.Reason.values:
        raise TransitionError("Choose a reason for the rejection.")
    return _each(
        submissions,
        lambda submission: submission_reject(submission=submission, editor=editor, reason=reason, note=note),
    )


def submissions_release(*, submissions, editor):
    """Release many of one's claims, each exactly as `submission_release` would."""
    return _each(submissions, lambda submission: submission_release(submission=submission, editor=editor))


def source_metadata_fetched(urls):
    """What was fetched for each of these addresses, by address (those never fetched absent)."""
    if not urls:
        return {}
    return {row.url: row for row in SourceMetadata.objects.filter(url__in=urls)}


def reference_filled(reference, meta):
    """The reference with its blank title, publisher and date taken from what was fetched."""
    if meta is None or meta.status != SourceMetadata.Status.FETCHED:
        return reference
    return {
        **reference,
        "title": reference["title"] or meta.title,
        "publisher": reference["publisher"] or meta.publisher,
        "published": reference["published"] or meta.published,
    }


def submission_fill_metadata(*, submission, editor):
    """Fill the proposed references' blank titles, publishers and dates with what was fetched,
    as an edit of the proposal by `editor`."""
    proposed = submission.proposed
    urls = [ref["url"] for refs in proposed["references"].values() for ref in refs]
    fetched = source_metadata_fetched(urls)
    references = {
        category: [reference_filled(ref, fetched.get(ref["url"])) for ref in refs]
        for category, refs in proposed["references"].items()
    }
    return submission_edit(
        submission=submission,
        editor=editor,
        proposed={**proposed, "references": references},
        note="Filled in the fetched titles, publishers and dates",
    )


def submission_ask_changes(*, submission, editor, note):
    """Send a proposal back to its contributor with a note saying what to change. Their status
    page shows the note and lets them revise it; they get an email when they left one."""
    note = note.strip()
    if not note:
        raise TransitionError("Say what should change: the contributor reads this note.")
    if submission.kind == Submission.Kind.MERGE:
        raise TransitionError("A merge proposal has no contributor to ask.")
    with transaction.atomic():
        now = timezone.now()
        previous = _claim_before(submission)
        asked = (
            Submission.objects.filter(pk=submission.pk, state=Submission.State.PENDING)
            .filter(claim_free_for(editor, now))
            .update(
                state=Submission.State.NEEDS_CHANGES,
                decision_note=note,
                changes_asked_at=now,
                claimed_by=None,
                claimed_at=None,
                updated_at=now,
            )
        )
        current = Submission.objects.select_related("claimed_by", "decided_by").get(pk=submission.pk)
        if not asked:
            _check_can_act(current, editor)
            raise TransitionError("This submission could not be sent back.")
        _taken_over(current, editor, previous)
        _event(
            current,
            action=ModerationEvent.Action.ASK_CHANGES,
            actor=editor,
            from_state=Submission.State.PENDING,
            to_state=Submission.State.NEEDS_CHANGES,
            note=note,
        )
        notifications.notification_for_changes(submission=current)
    return current


def submission_resubmit(*, submission, proposed, insight=""):
    """The contributor's revision after an editor asked for changes: the earlier proposal is
    kept as a numbered version, and the submission goes back to the queue."""
    proposed = documents.normalize(proposed)
    with transaction.atomic():
        current = _locked(submission)
        if current.state != Submission.State.NEEDS_CHANGES:
            raise TransitionError(
                f"It can no longer be revised: it is {current.get_state_display().lower()}."
            )
        number = current.versions.count() + 1
        SubmissionVersion.objects.create(
            submission=current, number=number, proposed=current.proposed, insight=current.insight
        )
        proposed, current.names = _names_resolved(current, proposed)
        changes = documents.diff(current.proposed, proposed)
        current.proposed = proposed
        current.insight = insight.strip() or current.insight
        current.state = Submission.State.PENDING
        current.decision_note = ""
        _queue_fields(current)
        current.save(
            update_fields=[
                *["proposed", "names", "insight", "state", "decision_note", "updated_at"],
                *["effect", "effect_kind", "source_keys", "group_key"],
            ]
        )
        _event(
            current,
            action=ModerationEvent.Action.RESUBMIT,
            from_state=Submission.State.NEEDS_CHANGES,
            to_state=Submission.State.PENDING,
            note=documents.change_summary(changes) if changes else "No field changed",
            data={"version": number + 1},
        )
        notifications.notification_for_revision(submission=current, version=number + 1)
        _fetch_metadata(current, current.base_revision)
    return current


def submissions_expire_changes(*, now=None):
    """Proposals sent back NEEDS_CHANGES_EXPIRE_DAYS ago and never revised expire, each with
    its event. Returns how many expired."""
    now = now or timezone.now()
    days = settings.NEEDS_CHANGES_EXPIRE_DAYS
    due = Submission.objects.filter(
        state=Submission.State.NEEDS_CHANGES, changes_asked_at__lt=now - timedelta(days=days)
    )
    expired = 0
    for pk in list(due.order_by("changes_asked_at").values_list("pk", flat=True)[:1000]):
        with transaction.atomic():
            if due.filter(pk=pk).update(state=Submission.State.EXPIRED, updated_at=now):
                ModerationEvent.objects.create(
                    submission_id=pk,
                    action=ModerationEvent.Action.EXPIRE,
                    from_state=Submission.State.NEEDS_CHANGES,
                    to_state=Submission.State.EXPIRED,
                    note=f"Not revised within {days} days of the request for changes.",
                )
                expired += 1
    return expired


def submission_withdraw(*, submission):
    """The contributor takes back a proposal that is still pending."""
    with transaction.atomic():
        withdrawn = Submission.objects.filter(pk=submission.pk, state=Submission.State.PENDING).update(
            state=Submission.State.WITHDRAWN, claimed_by=None, claimed_at=None, updated_at=timezone.now()
        )
        current = Submission.objects.get(pk=submission.pk)
        if not withdrawn:
            raise TransitionError(
                f"It can no longer be withdrawn: it is {current.get_state_display().lower()}."
            )
        _event(
            current,
            action=ModerationEvent.Action.WITHDRAW,
            from_state=Submission.State.PENDING,
            to_state=Submission.State.WITHDRAWN,
        )
    return current


def submission_note(*, submission, editor, note):
    if not note.strip():
        raise TransitionError("A note needs some text.")
    return _event(submission, action=ModerationEvent.Action.NOTE, actor=editor, note=note.strip())


def _summary(submission, note, merged=False):
    if merged:
        text = f"Merged report #{submission.pk}"
    elif submission.kind == Submission.Kind.NEW_INCIDENT:
        text = f"Published report #{submission.pk}"
    else:
        text = f"Approved proposal #{submission.pk}"
    note = note.strip().rstrip(".:;")
    return f"{text}, “{note}”" if note else text


EDITORS_GROUP = "Editors"


def editors_group_ensure():
    """The Editors group, carrying the permission to moderate (created after migrations)."""
    group, _ = Group.objects.get_or_create(name=EDITORS_GROUP)
    permission = Permission.objects.get(codename="moderate", content_type__app_label="submissions")
    group.permissions.add(permission)
    return group


def editor_create(*, username, email, password=None):
    """Create an editor, or make an existing user one. Returns (user, created)."""
    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
        if email:
            user.email = email
        if password:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        user.groups.add(editors_group_ensure())
    return user, created


def editor_settings_save(*, editor, notify):
    """How `editor` wants to hear of new submissions; the profile is created on first save."""
    profile, _ = EditorProfile.objects.update_or_create(user=editor, defaults={"notify": notify})
    return profile
