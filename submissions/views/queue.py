"""The editors' queue, the review page of one proposal, the queue's figures (for editors, and
counts only for everyone) and the list of broken links."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from repository import documents
from repository.models import Reference, Vocabulary

from .. import services
from ..duplicates import find_duplicates, reason_text
from ..filters import SubmissionFilter
from ..forms import AskChangesForm, BulkForm, MergeForm, NoteForm, PairDismissForm, RejectForm
from ..grouping import group_members
from ..models import ModerationEvent, Submission
from ..names import names_unknown, new_name_token
from ..stats import queue_figures
from .common import current_document, editor_required, next_param, queue_url_checked

QUEUE_PAGE_SIZE = 50


@require_safe
@editor_required
def queue(request):
    base = Submission.objects.all()
    submissions = SubmissionFilter(request.GET, queryset=base, request=request)
    page = Paginator(
        submissions.qs.select_related("incident", "other_incident", "claimed_by"), QUEUE_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    counts = dict(base.values_list("state").annotate(n=Count("id")).order_by())
    rows = list(page.object_list)
    groups = group_members([submission.group_key for submission in rows if submission.is_pending])
    for submission in rows:
        mates = groups.get(submission.group_key, []) if submission.is_pending else []
        submission.lookalikes = [pk for pk in mates if pk != submission.pk]
    return render(
        request,
        "submissions/queue.html",
        {
            "filter": submissions,
            "page": page,
            "queue_url": queue_url_checked(request.get_full_path()),
            "bulk_form": BulkForm(),
            "counts": [(state, label, counts.get(state, 0)) for state, label in Submission.State.choices],
        },
    )


@require_POST
@editor_required
def bulk(request):
    """Reject the selected submissions for one reason, or release them: each through the same
    service as one at a time; those that cannot be (decided meanwhile) are named with why."""
    queue_url = next_param(request) or reverse("submissions:queue")
    form = BulkForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(queue_url)
    data = form.cleaned_data
    chosen = list(Submission.objects.filter(pk__in=data["ids"]).order_by("created_at", "id"))
    if data["action"] == "reject":
        result = services.submissions_reject(
            submissions=chosen, editor=request.user, reason=data["reason"], note=data["note"]
        )
        done = "Rejected"
    else:
        result = services.submissions_release(submissions=chosen, editor=request.user)
        done = "Released"
    missing = sorted(set(data["ids"]) - {submission.pk for submission in chosen})
    if result.done:
        messages.success(request, f"{done} {_numbers(result.done)}.")
    for submission, why in result.failed:
        messages.error(request, f"Not {done.lower()}: #{submission.pk}: {why}")
    if missing:
        messages.error(request, f"Not found: {', '.join(f'#{pk}' for pk in missing)}.")
    return redirect(queue_url)


def _numbers(submissions):
    return ", ".join(f"#{submission.pk}" for submission in submissions)


@require_safe
@editor_required
def stats(request):
    return render(request, "submissions/stats.html", {"figures": queue_figures(with_editors=True)})


@require_safe
def transparency(request):
    """The queue's figures for everyone: counts only, no editor's name."""
    return render(request, "submissions/transparency.html", {"figures": queue_figures()})


def _external_id_text(item):
    """'AIAAIC0563' (the value names its source), 'AI Incident Database 12'."""
    label = documents.external_id_label(item["scheme"])
    return item["value"] if item["value"].upper().startswith(label.upper()) else f"{label} {item['value']}"


def _merge_side(incident, labels):
    """One incident of a merge proposal as the review page shows it, from its document."""
    document = current_document(incident)
    references = [
        (documents.CATEGORY_LABELS[category], reference)
        for category in documents.CATEGORIES
        for reference in document["references"][category]
    ]
    return {
        "incident": incident,
        "document": document,
        "organisations": [
            (documents.ROLE_LABELS[role], document["entities"][role]) for role in ("deployer", "developer")
        ],
        "terms": [(labels.get(slug, slug), names) for slug, names in document["terms"].items()],
        "references": references,
        "external_ids": [_external_id_text(item) for item in document["external_ids"]],
    }


def _merge_review_context(submission, labels):
    """Both incidents side by side, why they may be one, and what the survivor would gain."""
    sides = sorted(
        [_merge_side(submission.incident, labels), _merge_side(submission.other_incident, labels)],
        key=lambda side: side["incident"].number,
    )
    survivor, other = sides
    return {
        "submission": submission,
        "sides": sides,
        "reasons": [reason.get("text") or reason_text(reason) for reason in submission.reasons],
        "merged_already": [side["incident"] for side in sides if side["incident"].merged_into_id],
        # What the older incident, the default survivor, would gain from the other.
        "gains": documents.diff(
            survivor["document"], documents.merge(survivor["document"], other["document"]), labels
        ),
        "waiting": Submission.objects.filter(
            kind=Submission.Kind.IMPROVEMENT,
            state=Submission.State.PENDING,
            incident__in=[side["incident"].pk for side in sides],
        ).count(),
    }


def _review_context(submission):
    """What the review page shows: the diff, or the three-way view when the incident moved on."""
    vocabularies = list(Vocabulary.objects.all())
    labels = {v.slug: v.label for v in vocabularies}
    if submission.is_merge:
        return _merge_review_context(submission, labels)
    context = {"submission": submission, "labels": labels}
    proposed = submission.proposed
    if submission.kind == Submission.Kind.IMPROVEMENT:
        incident = submission.incident
        # An incident merged since: the proposal is reviewed against its survivor.
        target = incident.merged_into or incident
        base = submission.base_revision.document
        current = current_document(target)
        stale = target.current_revision_id != submission.base_revision_id
        context.update(
            incident=incident,
            merged_into=incident.merged_into,
            stale=stale,
            current_revision=target.current_revision_id,
        )
        if stale and submission.is_pending:
            _, rows = services.submission_merge_rows(submission=submission, current=current)
            for row in rows:
                row.label = documents.path_label(row.path, labels)
            context["merge_rows"] = rows
            context["conflicts"] = [row for row in rows if row.conflict]
        context["changes"] = documents.diff(base, proposed, labels)
    else:
        context["changes"] = documents.diff(None, proposed, labels)
        context["candidates"] = find_duplicates(
            proposed, exclude=[submission.incident_id] if submission.incident_id else []
        )
    published = (
        current_document(submission.incident.merged_into or submission.incident)
        if submission.incident_id
        else None
    )
    unknown = names_unknown(document=proposed, base=published)
    context["new"] = {
        "terms": [
            (labels.get(path[6:], path[6:]), name) for path, name in unknown if path.startswith("terms.")
        ],
        "entities": sorted({name for path, name in unknown if path.startswith("entities.")}),
    }
    context["new_names"] = [
        (new_name_token(path, name), documents.path_label(path, labels), name) for path, name in unknown
    ]
    context["matched_names"] = [
        {**match, "label": documents.path_label(match["path"], labels)} for match in submission.names
    ]
    added = [
        (category, reference)
        for change in context["changes"]
        if change.path.startswith("references.")
        for category in [change.path.split(".", 1)[1]]
        for reference in change.added
    ]
    fetched = services.source_metadata_fetched([reference["url"] for _, reference in added])
    context["added_references"] = [
        (category, reference, fetched.get(reference["url"])) for category, reference in added
    ]
    context["can_fill"] = any(
        meta and services.reference_filled(reference, meta) != reference
        for _, reference, meta in context["added_references"]
    )
    return context


@require_safe
@editor_required
def review(request, pk):
    submission = get_object_or_404(
        Submission.objects.select_related(
            "incident__current_revision",
            "incident__merged_into__current_revision",
            "other_incident__current_revision",
            "other_incident__merged_into",
            "base_revision",
            "claimed_by",
            "decided_by",
            "revision__incident",
        ).prefetch_related(Prefetch("events", queryset=ModerationEvent.objects.select_related("actor"))),
        pk=pk,
    )
    context = _review_context(submission)
    if submission.changes_asked_at is not None:  # sent back at least once: its versions
        versions = list(submission.versions.all())
        labels = context.get("labels") or {}
        context["versions"] = versions
        if versions:
            context["version_changes"] = documents.diff(versions[-1].proposed, submission.proposed, labels)
    context.update(
        ask_changes_form=AskChangesForm(),
        reject_form=PairDismissForm() if submission.is_merge else RejectForm(submission=submission),
        merge_form=MergeForm(),
        note_form=NoteForm(),
        next_url=next_param(request),
    )
    return render(request, "submissions/review.html", context)


@require_safe
@editor_required
def broken_links(request):
    """References whose last check failed, worst first, for editors to mend."""
    references = (
        Reference.objects.filter(checked_at__isnull=False)
        .filter(Q(status_code__gte=400) | Q(status_code__isnull=True))
        .select_related("incident")
        .order_by("incident__headline", "position")
    )
    page = Paginator(references, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "submissions/broken_links.html", {"page": page})
