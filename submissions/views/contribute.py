"""The public's pages: "Can you improve this page?", "Report an incident" and the
contributor's private status page."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods

from repository import documents
from repository.models import Entity, Incident, Vocabulary

from .. import ratelimit, services, suggestions
from ..duplicates import find_duplicates
from ..forms import (
    ROLE_FIELDS,
    AddSourceForm,
    DuplicateChoiceForm,
    ImproveForm,
    NewIncidentForm,
    ReviseForm,
)
from ..models import Submission
from ..names import names_resolve
from ..ratelimit import rate_limited
from .common import (
    adding_values,
    bot_refused,
    current_document,
    document_form,
    private_no_store,
    shown_again,
)


@require_http_methods(["GET", "POST"])
@rate_limited("submit")
def improve(request, slug):
    incident = get_object_or_404(Incident.objects.select_related("current_revision"), slug=slug)
    if incident.merged_into_id:
        survivor = Incident.objects.values_list("slug", flat=True).get(pk=incident.merged_into_id)
        return redirect("submissions:improve", slug=survivor)
    document = current_document(incident)
    sending_source = request.method == "POST" and request.POST.get("form") == "source"
    source_form = AddSourceForm(request.POST if sending_source else None, document=document)
    if sending_source:
        if source_form.is_bot():
            return bot_refused(request)
        if source_form.is_valid():
            submission = services.submission_create(
                kind=Submission.Kind.IMPROVEMENT,
                incident=incident,
                proposed=source_form.to_document(),
                insight=source_form.cleaned_data["note"],
                email=source_form.cleaned_data["email"],
            )
            return redirect(submission.get_status_url() + "?sent=1")
    vocabularies = list(Vocabulary.objects.all())
    if sending_source:
        form = ImproveForm(vocabularies=vocabularies, document=document)
    else:
        form = document_form(request, ImproveForm, vocabularies=vocabularies, document=document)
    page = {"incident": incident, "form": form, "source_form": source_form}
    if request.method == "POST" and not sending_source and not form.rows_added:
        if form.is_bot():
            return bot_refused(request)
        if form.is_valid() and request.POST.get("names") != "edit":
            # Names the taxonomy spells otherwise are shown to the contributor first (once).
            matches = names_matched(form.proposed, document, form)
            if matches and request.POST.get("names") != "checked":
                return render(
                    request,
                    "submissions/names_confirm.html",
                    {**page, "matches": matches, "posted": posted_pairs(request, drop={"names"})},
                )
            data = form.cleaned_data
            submission = services.submission_create(
                kind=Submission.Kind.IMPROVEMENT,
                incident=incident,
                proposed=form.proposed,
                insight=data["insight"],
                name=data["name"],
                email=data["email"],
                credit=data["credit"],
                keep_as_written=kept_as_written(request, matches),
            )
            return redirect(submission.get_status_url() + "?sent=1")
    return render(request, "submissions/improve.html", page)


def names_matched(proposed, base, form):
    """What approving would read otherwise in `proposed` (names_resolve's matches), each with
    the label of its field in `form` and its number on the confirmation step."""
    _, matches = names_resolve(proposed=proposed, base=base)
    labels = {
        f"entities.{role}": form.fields[role].label for role, _, _ in ROLE_FIELDS if role in form.fields
    }
    labels.update({f"terms.{vocabulary.slug}": vocabulary.label for vocabulary in form.vocabularies})
    return [
        {**match, "number": number, "label": labels.get(match["path"], match["path"])}
        for number, match in enumerate(matches, start=1)
    ]


def kept_as_written(request, matches):
    """[(path, name)] the contributor chose to keep as written on the confirmation step."""
    return [
        (match["path"], match["given"])
        for match in matches
        if request.POST.get(f"name_{match['number']}") == "keep"
    ]


def posted_pairs(request, drop=()):
    """What was sent, as (name, value) pairs to send again from the next step's hidden inputs."""
    drop = {"csrfmiddlewaretoken", *drop}
    return [(key, value) for key, values in request.POST.lists() if key not in drop for value in values]


@require_http_methods(["GET", "POST"])
@rate_limited("submit")
def report(request):
    vocabularies = list(Vocabulary.objects.filter(slug__in=NewIncidentForm.REPORT_VOCABULARIES))
    if adding_values(request):
        form = shown_again(NewIncidentForm, request, vocabularies=vocabularies)
        return render(request, "submissions/report.html", {"form": form})
    form = NewIncidentForm(request.POST or None, vocabularies=vocabularies)
    if request.method != "POST":
        return render(request, "submissions/report.html", {"form": form})
    if form.is_bot():
        return bot_refused(request)
    step = request.POST.get("step")
    if not form.is_valid() or step == "edit":
        # Invalid, or the contributor went back from a later step: the report as typed.
        return render(request, "submissions/report.html", {"form": form})
    document = form.to_document()
    matches = names_matched(document, None, form)
    if matches and step == "check":
        # Names the taxonomy spells otherwise, shown before anything else.
        return render(
            request,
            "submissions/names_confirm.html",
            {"form": form, "matches": matches, "posted": posted_pairs(request, drop={"step"})},
        )
    candidates = find_duplicates(document)
    posted = posted_pairs(request, drop={"step", "duplicate_of"})
    if candidates and step != "send":
        # Show what it may duplicate before it is sent.
        choice = DuplicateChoiceForm(candidates=[c.incident for c in candidates])
        return render(
            request,
            "submissions/report_duplicates.html",
            {"form": form, "candidates": candidates, "choice": choice, "posted": posted},
        )
    choice = DuplicateChoiceForm(request.POST, candidates=[c.incident for c in candidates])
    if candidates and not choice.is_valid():
        return render(
            request,
            "submissions/report_duplicates.html",
            {"form": form, "candidates": candidates, "choice": choice, "posted": posted},
        )
    data = form.cleaned_data
    duplicate_of = choice.cleaned_data.get("duplicate_of") if candidates else None
    contributor = {
        "name": data["name"],
        "email": data["email"],
        "credit": data["credit"],
        "keep_as_written": kept_as_written(request, matches),
    }
    if duplicate_of is not None:
        submission = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=duplicate_of,
            # The report's type is the form's default, not the contributor's choice: the
            # incident's own type stays as it is.
            proposed=documents.merge(current_document(duplicate_of), {**document, "type": ""}),
            insight=data["narrative"],
            reported=True,
            **contributor,
        )
    else:
        submission = services.submission_create(
            kind=Submission.Kind.NEW_INCIDENT, proposed=document, **contributor
        )
    return redirect(submission.get_status_url() + "?sent=1")


@require_GET
def lookup_names(request):
    """Organisations or systems whose name or alias contains what was typed: JSON, at most
    suggestions.LOOKUP_LIMIT, one query; limited per address as the API is."""
    wait = ratelimit.hit(request, "lookup", settings.API_RATE_LIMIT, settings.API_RATE_PERIOD)
    if wait is not None:
        response = JsonResponse({"detail": f"Too many lookups: try again in {wait} seconds."}, status=429)
        response["Retry-After"] = str(wait)
        return response
    kind = request.GET.get("kind", "")
    if kind not in Entity.Kind.values:
        return JsonResponse({"detail": f"kind must be one of: {', '.join(Entity.Kind.values)}."}, status=400)
    results = suggestions.entities_matching(kind=kind, text=request.GET.get("q", ""))
    response = JsonResponse({"results": results})
    patch_cache_control(response, public=True, max_age=300)
    return response


@require_http_methods(["GET", "POST"])
@private_no_store
def status(request, token):
    submission = get_object_or_404(
        Submission.objects.select_related("incident", "revision", "base_revision", "duplicate_of"),
        token=token,
    )
    revise = None
    if submission.state == Submission.State.NEEDS_CHANGES:
        options = {"vocabularies": list(Vocabulary.objects.all()), "document": submission.proposed}
        if request.POST.get("action") == "resubmit":
            revise = document_form(request, ReviseForm, **options)
        else:
            revise = ReviseForm(**options)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "resubmit" and revise is not None and revise.rows_added:
            pass  # "Add another": the revision shown again as typed, nothing sent
        elif action == "resubmit" and revise is not None:
            if revise.is_bot():
                return bot_refused(request)
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
