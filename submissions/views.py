from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from repository import documents
from repository.models import Incident, Reference, Revision, SourceMetadata, Vocabulary
from repository.services import IncidentMerged, incident_revert

from . import services
from .dedupe import reason_text
from .duplicates import find_duplicates, lookalike_groups
from .filters import SubmissionFilter
from .forms import (
    AddSourceForm,
    AskChangesForm,
    BulkForm,
    DocumentForm,
    DuplicateChoiceForm,
    EditorPasswordResetForm,
    EditorSettingsForm,
    ImproveForm,
    MergeForm,
    NewIncidentForm,
    NoteForm,
    RejectForm,
    ReviseForm,
    new_names,
    whole_number,
)
from .models import EditorProfile, ModerationEvent, Submission, claim_free_for
from .ratelimit import rate_limited
from .stats import queue_figures

QUEUE_PAGE_SIZE = 50


# Pages for one person (an editor's, a contributor's private status page): never stored by a
# browser or a shared cache.
private_no_store = cache_control(private=True, no_store=True)


def editor_required(view):
    """Sign-in first (anonymous visitors go to the login page), then the moderate permission."""
    return private_no_store(
        login_required(permission_required("submissions.moderate", raise_exception=True)(view))
    )


def _bot(request):
    return render(
        request,
        "submissions/rejected_request.html",
        {"message": "Your submission could not be accepted."},
        status=400,
    )


def _current_document(incident):
    return incident.current_revision.document if incident.current_revision else documents.empty_document()


def _document_form(request, form_class, **kwargs):
    """The full form as sent, or, when "Add another reference" was pressed, what was typed
    shown again with one more reference row (focused) and no errors: nothing is sent yet."""
    rows = whole_number(request.POST.get("reference_rows", "")) or 1
    if request.method == "POST" and "more_rows" in request.POST:
        form = form_class(initial=request.POST.dict(), reference_rows=rows + 1, **kwargs)
        form.fields[f"ref_url_{form.reference_rows}"].widget.attrs["autofocus"] = True
        form.rows_added = True
        return form
    form = form_class(request.POST or None, reference_rows=rows, **kwargs)
    form.rows_added = False
    return form


# Editors' password reset: choosing a new password also ends a sign-in lockout ------------


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response


password_reset = private_no_store(
    rate_limited("password-reset")(auth_views.PasswordResetView.as_view(form_class=EditorPasswordResetForm))
)
password_reset_confirm = private_no_store(PasswordResetConfirm.as_view())
login = private_no_store(auth_views.LoginView.as_view(redirect_authenticated_user=True))


# Contributors ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@rate_limited("submit")
def improve(request, slug):
    incident = get_object_or_404(Incident.objects.select_related("current_revision"), slug=slug)
    if incident.merged_into_id:
        survivor = Incident.objects.values_list("slug", flat=True).get(pk=incident.merged_into_id)
        return redirect("submissions:improve", slug=survivor)
    document = _current_document(incident)
    sending_source = request.method == "POST" and request.POST.get("form") == "source"
    source_form = AddSourceForm(request.POST if sending_source else None, document=document)
    if sending_source:
        if source_form.is_bot():
            return _bot(request)
        if source_form.is_valid():
            submission = services.submission_create(
                kind=Submission.Kind.IMPROVEMENT,
                incident=incident,
                proposed=source_form.to_document(),
                insight=source_form.cleaned_data["note"],
            )
            return redirect(submission.get_status_url() + "?sent=1")
    vocabularies = list(Vocabulary.objects.all())
    if sending_source:
        form = ImproveForm(vocabularies=vocabularies, document=document)
    else:
        form = _document_form(request, ImproveForm, vocabularies=vocabularies, document=document)
    if request.method == "POST" and not sending_source and not form.rows_added:
        if form.is_bot():
            return _bot(request)
        if form.is_valid():
            data = form.cleaned_data
            submission = services.submission_create(
                kind=Submission.Kind.IMPROVEMENT,
                incident=incident,
                proposed=form.proposed,
                insight=data["insight"],
                name=data["name"],
                email=data["email"],
                credit=data["credit"],
            )
            return redirect(submission.get_status_url() + "?sent=1")
    return render(
        request,
        "submissions/improve.html",
        {"incident": incident, "form": form, "source_form": source_form},
    )


@require_http_methods(["GET", "POST"])
@rate_limited("submit")
def report(request):
    vocabularies = list(Vocabulary.objects.filter(slug__in=NewIncidentForm.REPORT_VOCABULARIES))
    form = NewIncidentForm(request.POST or None, vocabularies=vocabularies)
    if request.method != "POST":
        return render(request, "submissions/report.html", {"form": form})
    if form.is_bot():
        return _bot(request)
    if not form.is_valid() or request.POST.get("step") == "edit":
        # Invalid, or the contributor went back from the duplicate step: the report as typed.
        return render(request, "submissions/report.html", {"form": form})
    document = form.to_document()
    candidates = find_duplicates(document)
    if candidates and request.POST.get("step") != "send":
        # Show what it may duplicate before it is sent.
        choice = DuplicateChoiceForm(candidates=[c.incident for c in candidates])
        return render(
            request,
            "submissions/report_duplicates.html",
            {"form": form, "candidates": candidates, "choice": choice},
        )
    choice = DuplicateChoiceForm(request.POST, candidates=[c.incident for c in candidates])
    if candidates and not choice.is_valid():
        return render(
            request,
            "submissions/report_duplicates.html",
            {"form": form, "candidates": candidates, "choice": choice},
        )
    data = form.cleaned_data
    duplicate_of = choice.cleaned_data.get("duplicate_of") if candidates else None
    contributor = {"name": data["name"], "email": data["email"], "credit": data["credit"]}
    if duplicate_of is not None:
        submission = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=duplicate_of,
            proposed=documents.merge(_current_document(duplicate_of), document),
            insight=data["narrative"],
            **contributor,
        )
    else:
        submission = services.submission_create(
            kind=Submission.Kind.NEW_INCIDENT, proposed=document, **contributor
        )
    return redirect(submission.get_status_url() + "?sent=1")


@require_http_methods(["GET", "POST"])
@private_no_store
def status(request, token):
    submission = get_object_or_404(
        Submission.objects.select_related("incident", "revision", "base_revision", "duplicate_of"),
        token=token,
    )
    revise = None
    if submission.state == Submission.State.NEEDS_CHANGES:
        revise = ReviseForm(
            request.POST if request.POST.get("action") == "resubmit" else None,
            vocabularies=list(Vocabulary.objects.all()),
            document=submission.proposed,
        )
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "resubmit" and revise is not None:
            if revise.is_bot():
                return _bot(request)
            if revise.is_valid():
                return _resubmit(request, submission, revise)
        elif action == "withdraw":
            try:
                services.submission_withdraw(submission=submission)
                messages.success(request, "Your proposal is withdrawn; editors will not review it.")
            except services.TransitionError as exc:
                messages.error(request, str(exc))
            return redirect(submission.get_status_url())
        elif action == "resubmit":
            messages.error(request, "It can no longer be revised.")
            return redirect(submission.get_status_url())
        else:
            return HttpResponseBadRequest("Unknown action.")
    return render(
        request,
        "submissions/status.html",
        {
            "submission": submission,
            "sent": request.GET.get("sent") == "1",
            "status_url": request.build_absolute_uri(submission.get_status_url()),
            "changes": _proposed_changes(submission),
            "form": revise,
            "changes_expire_at": submission.changes_asked_at
            and submission.changes_asked_at + timedelta(days=settings.NEEDS_CHANGES_EXPIRE_DAYS),
        },
    )


def _proposed_changes(submission):
    """What the contributor proposed, as the review page shows it: the diff against its base."""
    if submission.is_merge:
        return []
    labels = dict(Vocabulary.objects.values_list("slug", "label"))
    base = submission.base_revision.document if submission.base_revision_id else None
    return documents.diff(base, submission.proposed, labels)


def _resubmit(request, submission, form):
    try:
        services.submission_resubmit(
            submission=submission, proposed=form.proposed, insight=form.cleaned_data["insight"]
        )
    except services.TransitionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Thank you: your revision is with the editors again.")
    return redirect(submission.get_status_url())


# Editors ---------------------------------------------------------------------------------


@require_safe
@editor_required
def queue(request):
    base = Submission.objects.all()
    submissions = SubmissionFilter(request.GET, queryset=base, request=request)
    page = Paginator(
        submissions.qs.select_related("incident", "other_incident", "claimed_by"), QUEUE_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    counts = dict(base.values_list("state").annotate(n=Count("id")).order_by())
    groups = lookalike_groups()
    for submission in page.object_list:
        submission.lookalikes = [pk for pk in groups.get(submission.pk, []) if pk != submission.pk]
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
    queue_url = _next_param(request) or reverse("submissions:queue")
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
    document = _current_document(incident)
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
        current = _current_document(target)
        stale = target.current_revision_id != submission.base_revision_id
        context.update(
            incident=incident,
            merged_into=incident.merged_into,
            stale=stale,
            current_revision=target.current_revision_id,
        )
        if stale and submission.is_pending:
            context["merge_rows"] = documents.three_way(base, current, proposed, labels)
        context["changes"] = documents.diff(base, proposed, labels)
    else:
        context["changes"] = documents.diff(None, proposed, labels)
        context["candidates"] = find_duplicates(
            proposed, exclude=[submission.incident_id] if submission.incident_id else []
        )
    new = new_names(proposed)
    context["new"] = {
        "terms": [(labels.get(slug, slug), name) for slug, name in new["terms"]],
        "entities": new["entities"],
    }
    added = [
        (category, reference)
        for change in context["changes"]
        if change.path.startswith("references.")
        for category in [change.path.split(".", 1)[1]]
        for reference in change.added
    ]
    fetched = _fetched_metadata([reference["url"] for _, reference in added])
    context["added_references"] = [
        (category, reference, fetched.get(reference["url"])) for category, reference in added
    ]
    context["can_fill"] = any(
        meta and _fill_reference(reference, meta) != reference
        for _, reference, meta in context["added_references"]
    )
    return context


def _fetched_metadata(urls):
    if not urls:
        return {}
    return {row.url: row for row in SourceMetadata.objects.filter(url__in=urls)}


def _fill_reference(reference, meta):
    """The reference with its blank title, publisher and date taken from what was fetched."""
    if meta is None or meta.status != SourceMetadata.Status.FETCHED:
        return reference
    return {
        **reference,
        "title": reference["title"] or meta.title,
        "publisher": reference["publisher"] or meta.publisher,
        "published": reference["published"] or meta.published,
    }


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
    dismissal = {"reason": Submission.Reason.NOT_DUPLICATE} if submission.is_merge else None
    if submission.changes_asked_at is not None:  # sent back at least once: its versions
        versions = list(submission.versions.all())
        labels = context.get("labels") or {}
        context["versions"] = versions
        if versions:
            context["version_changes"] = documents.diff(versions[-1].proposed, submission.proposed, labels)
    context.update(
        ask_changes_form=AskChangesForm(),
        reject_form=RejectForm(initial=dismissal),
        merge_form=MergeForm(),
        note_form=NoteForm(),
        next_url=_next_param(request),
    )
    return render(request, "submissions/review.html", context)


def queue_url_checked(value):
    """The queue's address with its filter, if `value` is one; None for anything else.

    Only a local address of the queue itself is followed, so a `next` parameter can never send
    an editor to another site or page. The page number is dropped: the filter is what counts.
    """
    if not isinstance(value, str) or not value or any(c in value for c in "\\\r\n\t"):
        return None
    parts = urlsplit(value)
    queue = reverse("submissions:queue")
    if parts.scheme or parts.netloc or parts.fragment or parts.path != queue:
        return None
    query = QueryDict(parts.query, mutable=True)
    query.pop("page", None)
    return f"{queue}?{query.urlencode()}" if query else queue


def _next_param(request):
    return queue_url_checked(request.POST.get("next") or request.GET.get("next"))


def _with_next(url, queue_url):
    return f"{url}?{urlencode({'next': queue_url})}" if queue_url else url


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
    queue_url = _next_param(request) or reverse("submissions:queue")
    following = next_pending(request, queue_url, submission)
    if following is None:
        messages.info(request, "Nothing else waits in this view of the queue.")
        return redirect(queue_url)
    return redirect(_with_next(following.get_absolute_url(), queue_url))


def _back_to_review(request, pk):
    return redirect(_with_next(reverse("submissions:review", args=[pk]), _next_param(request)))


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
    return _back_to_review(request, pk)


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
        )

    return _act(request, pk, action, "Approved and published.", decision=True)


@require_POST
@editor_required
def resolve(request, pk):
    """Approve with the editor's choice, per field, between base, current and proposed."""

    def action(submission):
        if submission.kind != Submission.Kind.IMPROVEMENT:
            raise services.TransitionError("Only an improvement can have a conflict to resolve.")
        incident = Incident.objects.select_related("current_revision").get(pk=submission.incident_id)
        if incident.merged_into_id:  # reviewed against the survivor
            incident = Incident.objects.select_related("current_revision").get(pk=incident.merged_into_id)
        expected = _revision_id(request)
        if expected != incident.current_revision_id:
            raise services.ConflictError("The incident changed while you were choosing. Review it again.")
        rows = documents.three_way(
            submission.base_revision.document, _current_document(incident), submission.proposed
        )
        choices = {
            row.path: request.POST.get(f"choice_{row.path}")
            for row in rows
            if request.POST.get(f"choice_{row.path}") in ("base", "current", "proposed", "combined")
        }
        document = documents.resolve(_current_document(incident), rows, choices)
        services.submission_approve(
            submission=submission,
            editor=request.user,
            document=document,
            expected_revision=expected,
            note=request.POST.get("note", "")[:1000],
        )

    return _act(request, pk, action, "Approved with your choices and published.", decision=True)


@require_POST
@editor_required
def merge(request, pk):
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("target", ["Choose an incident."])))
        return _back_to_review(request, pk)

    def action(submission):
        services.submission_merge(
            submission=submission,
            editor=request.user,
            target=form.cleaned_data["target"],
            note=request.POST.get("note", "")[:1000],
        )

    return _act(
        request,
        pk,
        action,
        f"Merged into “{form.cleaned_data['target'].headline}” and published.",
        decision=True,
    )


@require_POST
@editor_required
def merge_incidents(request, pk):
    """Decide a merge proposal: the incident chosen survives, the other redirects to it."""

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
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return _back_to_review(request, pk)

    def action(submission):
        services.submission_reject(
            submission=submission,
            editor=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            duplicate_of=form.cleaned_data["duplicate_of"],
        )

    return _act(request, pk, action, "Rejected.", decision=True)


@require_POST
@editor_required
def ask_changes(request, pk):
    """Send the proposal back to its contributor with a note; then on to the next item."""
    form = AskChangesForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what should change: the contributor reads this note.")
        return _back_to_review(request, pk)

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
        return _back_to_review(request, pk)
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

    def action(submission):
        proposed = submission.proposed
        urls = [ref["url"] for refs in proposed["references"].values() for ref in refs]
        fetched = _fetched_metadata(urls)
        references = {
            category: [_fill_reference(ref, fetched.get(ref["url"])) for ref in refs]
            for category, refs in proposed["references"].items()
        }
        services.submission_edit(
            submission=submission,
            editor=request.user,
            proposed={**proposed, "references": references},
            note="Filled in the fetched titles, publishers and dates",
        )

    return _act(request, pk, action, "Filled in what was fetched.")


@require_http_methods(["GET", "POST"])
@editor_required
def edit(request, pk):
    submission = get_object_or_404(Submission.objects.select_related("incident"), pk=pk)
    if not submission.is_pending or submission.is_merge:
        messages.error(request, "Only a pending proposal of a document can be edited.")
        return _back_to_review(request, pk)
    form = _document_form(
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
        {"submission": submission, "form": form, "next_url": _next_param(request)},
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


@require_http_methods(["GET", "POST"])
@editor_required
def editor_settings(request):
    profile, _ = EditorProfile.objects.get_or_create(user=request.user)
    form = EditorSettingsForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Saved.")
        return redirect("submissions:editor_settings")
    return render(request, "submissions/editor_settings.html", {"form": form})


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
