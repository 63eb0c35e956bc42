"""The transitions an editor makes on one proposal (POST only, but for the edit form): claim,
release, approve, resolve a conflict, merge, reject, ask for changes, note, fill in fetched
metadata, edit; and revert an incident to an earlier revision. Each is one service call; after
a decision the editor lands on the next pending item of the queue's current filter."""

from urllib.parse import urlsplit

from django.contrib import messages
from django.db.models import Q
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from repository import documents
from repository.models import Incident, Revision, Vocabulary
from repository.services import IncidentMerged, incident_revert

from .. import services
from ..filters import SubmissionFilter
from ..forms import (
    AskChangesForm,
    DocumentForm,
    MergeForm,
    NoteForm,
    PairDismissForm,
    RejectForm,
    whole_number,
)
from ..models import Submission, claim_free_for
from .common import back_to_review, document_form, editor_required, next_param, with_next


def next_pending(request, queue_url, after):
    """The pending submission after `after` in the queue's order under `queue_url`'s filter,
    else the first one before it; skipping those another editor holds a live claim on."""
    query = QueryDict(urlsplit(queue_url).query, mutable=True)
    query["state"] = Submission.State.PENDING
    waiting = (
        SubmissionFilter(query, queryset=Submission.objects.all(), request=request)
        .qs.filter(state=Submission.State.PENDING)
        .filter(claim_free_for(request.user))
        .exclude(pk=after.pk)
    )
    later = Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, pk__gt=after.pk)
    return waiting.filter(later).first() or waiting.first()


def _after_decision(request, submission):
    """Land on the next pending item of the queue's current filter, or on the queue."""
    queue_url = next_param(request) or reverse("submissions:queue")
    following = next_pending(request, queue_url, submission)
    if following is None:
        messages.info(request, "Nothing else waits in this view of the queue.")
        return redirect(queue_url)
    return redirect(with_next(following.get_absolute_url(), queue_url))


def _act(request, pk, action, success, decision=False):
    """Run one transition for the submission; after a decision go on to the next item in the
    queue, otherwise (or when it failed) back to its review page."""
    submission = get_object_or_404(Submission, pk=pk)
    try:
        action(submission)
    except services.TransitionError as exc:
        messages.error(request, str(exc))
    except documents.DocumentError as exc:
        messages.error(request, "; ".join(f"{path}: {' '.join(m)}" for path, m in exc.message_dict.items()))
    else:
        messages.success(request, success)
        if decision:
            return _after_decision(request, submission)
    return back_to_review(request, pk)


def _revision_id(request):
    return whole_number(request.POST.get("expected_revision", ""))


@require_POST
@editor_required
def claim(request, pk):
    return _act(
        request, pk, lambda s: services.submission_claim(submission=s, editor=request.user), "Claimed."
    )


@require_POST
@editor_required
def release(request, pk):
    return _act(
        request,
        pk,
        lambda s: services.submission_release(submission=s, editor=request.user),
        "Released.",
        decision=True,
    )


@require_POST
@editor_required
def approve(request, pk):
    def action(submission):
        services.submission_approve(
            submission=submission,
            editor=request.user,
            expected_revision=_revision_id(request),
            note=request.POST.get("note", "")[:1000],
            confirmed_new=set(request.POST.getlist("confirm_new")),
        )

    return _act(request, pk, action, "Approved and published.", decision=True)


@require_POST
@editor_required
def resolve(request, pk):
    """Approve with the editor's choice, per field, between base, current and proposed."""
    choices = {
        key.removeprefix("choice_"): value for key, value in request.POST.items() if key.startswith("choice_")
    }

    def action(submission):
        services.submission_resolve(
            submission=submission,
            editor=request.user,
            choices=choices,
            expected_revision=_revision_id(request),
            note=request.POST.get("note", "")[:1000],
            confirmed_new=set(request.POST.getlist("confirm_new")),
        )

    return _act(request, pk, action, "Approved with your choices and published.", decision=True)


@require_POST
@editor_required
def merge(request, pk):
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("target", ["Choose an incident."])))
        return back_to_review(request, pk)

    def action(submission):
        services.submission_merge(
            submission=submission,
            editor=request.user,
            target=form.cleaned_data["target"],
            note=request.POST.get("note", "")[:1000],
            confirmed_new=set(request.POST.getlist("confirm_new")),
        )

    return _act(
        request,
        pk,
        action,
        f"Merged into “{form.cleaned_data['target'].headline}” and published.",
        decision=True,
    )


def _merge_confirmation(request, submission, choice):
    """What merging the pair keeping `choice` does: the survivor (and why the older one is the
    default), what moves to it from the other, the proposals that follow, and what stays."""
    incidents = Incident.objects.select_related("current_revision").in_bulk(
        [submission.incident_id, submission.other_incident_id]
    )
    survivor = incidents[choice]
    merged = next(incident for pk, incident in incidents.items() if pk != choice)
    older = min(incidents.values(), key=lambda incident: incident.number)
    labels = dict(Vocabulary.objects.values_list("slug", "label"))
    kept, other = survivor.current_revision.document, merged.current_revision.document
    pending = (
        Submission.objects.filter(state=Submission.State.PENDING)
        .filter(Q(incident=merged) | Q(other_incident=merged))
        .exclude(pk=submission.pk)
        .only("pk", "kind", "created_at")
        .order_by("created_at", "pk")
    )
    return render(
        request,
        "submissions/merge_confirm.html",
        {
            "submission": submission,
            "survivor": survivor,
            "merged": merged,
            "is_default": survivor.pk == older.pk,
            "older": older,
            "moves": documents.diff(kept, documents.merge(kept, other), labels),
            "pending": list(pending),
            "note": request.POST.get("note", "")[:1000],
            "expected": {
                pk: request.POST.get(f"expected_revision_{pk}", "") for pk in (survivor.pk, merged.pk)
            },
            "next": request.POST.get("next", ""),
        },
    )


@require_POST
@editor_required
def merge_incidents(request, pk):
    """Decide a merge proposal: the incident chosen survives, the other redirects to it. Posted
    twice: first for the confirmation page, then confirmed."""
    if request.POST.get("confirmed") != "yes":
        submission = get_object_or_404(Submission, pk=pk)
        choice = request.POST.get("survivor", "")
        pair = (submission.incident_id, submission.other_incident_id)
        if submission.is_merge and submission.is_pending and choice.isdigit() and int(choice) in pair:
            return _merge_confirmation(request, submission, int(choice))

    def action(submission):
        if not submission.is_merge:
            raise services.TransitionError("Only a merge proposal merges two incidents.")
        pair = (submission.incident_id, submission.other_incident_id)
        choice = request.POST.get("survivor", "")
        if not choice.isdigit() or int(choice) not in pair:
            raise services.TransitionError("Choose which of the two incidents survives.")
        expected = {
            incident_id: int(value)
            for incident_id in pair
            if (value := request.POST.get(f"expected_revision_{incident_id}", "")).isdigit()
        }
        services.submission_merge_incidents(
            submission=submission,
            editor=request.user,
            survivor=Incident.objects.get(pk=int(choice)),
            expected_revisions=expected,
            note=request.POST.get("note", "")[:1000],
        )

    return _act(
        request,
        pk,
        action,
        "Merged: the incident you kept carries both now; the other one leads to it.",
        decision=True,
    )


@require_POST
@editor_required
def reject(request, pk):
    """Reject a submission, or dismiss a merge pair for good (with a pair's own reasons)."""
    is_pair = Submission.objects.filter(pk=pk, kind=Submission.Kind.MERGE).exists()
    form = (PairDismissForm if is_pair else RejectForm)(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return back_to_review(request, pk)

    def action(submission):
        services.submission_reject(
            submission=submission,
            editor=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            duplicate_of=form.cleaned_data["duplicate_of"],
        )

    return _act(
        request,
        pk,
        action,
        "Dismissed: this pair will not be proposed again." if is_pair else "Rejected.",
        decision=True,
    )


@require_POST
@editor_required
def ask_changes(request, pk):
    """Send the proposal back to its contributor with a note; then on to the next item."""
    form = AskChangesForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what should change: the contributor reads this note.")
        return back_to_review(request, pk)

    def action(submission):
        services.submission_ask_changes(
            submission=submission, editor=request.user, note=form.cleaned_data["note"]
        )

    return _act(request, pk, action, "Sent back to the contributor for changes.", decision=True)


@require_POST
@editor_required
def note(request, pk):
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A note needs some text.")
        return back_to_review(request, pk)
    return _act(
        request,
        pk,
        lambda s: services.submission_note(submission=s, editor=request.user, note=form.cleaned_data["note"]),
        "Note added.",
    )


@require_POST
@editor_required
def fill_metadata(request, pk):
    """Fill the added references' blank titles, publishers and dates with what was fetched."""
    return _act(
        request,
        pk,
        lambda s: services.submission_fill_metadata(submission=s, editor=request.user),
        "Filled in what was fetched.",
    )


@require_http_methods(["GET", "POST"])
@editor_required
def edit(request, pk):
    submission = get_object_or_404(Submission.objects.select_related("incident"), pk=pk)
    if not submission.is_pending or submission.is_merge:
        messages.error(request, "Only a pending proposal of a document can be edited.")
        return back_to_review(request, pk)
    form = document_form(
        request, DocumentForm, vocabularies=list(Vocabulary.objects.all()), document=submission.proposed
    )
    if request.method == "POST" and not form.rows_added and form.is_valid():
        try:
            proposed = form.to_document()
        except documents.DocumentError as exc:
            for path, problems in exc.message_dict.items():
                form.add_error(None, f"{path}: {' '.join(problems)}")
        else:
            return _act(
                request,
                pk,
                lambda s: services.submission_edit(
                    submission=s,
                    editor=request.user,
                    proposed=proposed,
                    note=request.POST.get("edit_note", "")[:1000],
                ),
                "Proposal updated. Review it, then decide.",
            )
    return render(
        request,
        "submissions/edit.html",
        {"submission": submission, "form": form, "next_url": next_param(request)},
    )


@require_POST
@editor_required
def revert(request, slug, number):
    incident = get_object_or_404(Incident, slug=slug)
    revision = get_object_or_404(Revision, incident=incident, number=number)
    try:
        result = incident_revert(
            incident=incident, revision=revision, editor=request.user, expected_revision=_revision_id(request)
        )
    except services.StaleRevision:
        messages.error(request, "The incident changed meanwhile; look at its history again before reverting.")
    except IncidentMerged:
        messages.error(
            request, "This incident was merged into another; its history can no longer be reverted."
        )
    else:
        if result.revision is None:
            messages.info(request, f"Revision {number} is what is published already; nothing changed.")
        else:
            messages.success(request, f"Reverted to revision {number} as revision {result.revision.number}.")
    return redirect("repository:incident_history", slug=incident.slug)


@require_http_methods(["GET", "HEAD", "POST"])
@editor_required
def merge_incidents_undo(request, pk):
    """Undo the merge a merge proposal made: first a confirmation of what comes back, then,
    confirmed, both incidents as they were and the proposal pending again."""
    submission = get_object_or_404(Submission.objects.select_related("incident", "other_incident"), pk=pk)
    event = services.submission_merge_to_undo(submission)
    if request.method != "POST" or request.POST.get("confirmed") != "yes":
        sides = {
            submission.incident.number: submission.incident,
            submission.other_incident.number: submission.other_incident,
        }
        merged = sides.get(event.data["merged"]) if event else None
        pending = (
            Submission.objects.filter(state=Submission.State.PENDING, incident=merged).exclude(
                pk=submission.pk
            )
            if merged
            else Submission.objects.none()
        )
        return render(
            request,
            "submissions/merge_undo.html",
            {
                "submission": submission,
                "event": event,
                "survivor": sides.get(event.data["survivor"]) if event else None,
                "merged": merged,
                "pending": list(pending.only("pk", "kind", "created_at").order_by("created_at", "pk")),
            },
        )

    def action(current):
        services.submission_merge_incidents_undo(
            submission=current, editor=request.user, note=request.POST.get("note", "")[:1000]
        )

    return _act(
        request, pk, action, "Merge undone: both incidents are back as they were, each with a new revision."
    )
