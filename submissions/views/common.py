"""Request helpers every audience's views share: the editor check, the refusal a bot gets,
the document form with its "Add another reference" row, and the queue address a decision
returns to."""

from urllib.parse import urlencode, urlsplit

from django.contrib.auth.decorators import login_required, permission_required
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control

from repository import documents

from ..forms import NamesField, whole_number

# Pages for one person (an editor's, a contributor's private status page): never stored by a
# browser or a shared cache.
private_no_store = cache_control(private=True, no_store=True)


def editor_required(view):
    """Sign-in first (anonymous visitors go to the login page), then the moderate permission."""
    return private_no_store(
        login_required(permission_required("submissions.moderate", raise_exception=True)(view))
    )


def bot_refused(request):
    return render(
        request,
        "submissions/rejected_request.html",
        {"message": "Your submission could not be accepted."},
        status=400,
    )


def posted_initial(post):
    """What was sent, as a form's `initial`: a name sent several times (one box per value)
    keeps all its values."""
    return {key: values if len(values) > 1 else values[0] for key, values in post.lists()}


def adding_values(request):
    """Whether "Add another" (a reference row, or a box of a many-valued field) was pressed:
    the form is shown again as typed, and nothing is sent."""
    return request.method == "POST" and ("more_rows" in request.POST or "more_values" in request.POST)


def shown_again(form_class, request, **kwargs):
    """The form as typed, unbound (no errors shown), with one more box where "Add another"
    was pressed."""
    form = form_class(initial=posted_initial(request.POST), **kwargs)
    more = request.POST.get("more_values", "")
    if more in form.fields and isinstance(form.fields[more], NamesField):
        form.more_values = more
    return form


def document_form(request, form_class, **kwargs):
    """The full form as sent, or, when "Add another" was pressed, what was typed shown again
    with one more reference row or box (focused) and no errors: nothing is sent yet."""
    rows = whole_number(request.POST.get("reference_rows", "")) or 1
    if adding_values(request):
        more_rows = "more_rows" in request.POST
        form = shown_again(form_class, request, reference_rows=rows + more_rows, **kwargs)
        if more_rows:
            form.fields[f"ref_url_{form.reference_rows}"].widget.attrs["autofocus"] = True
        form.rows_added = True
        return form
    form = form_class(request.POST or None, reference_rows=rows, **kwargs)
    form.rows_added = False
    return form


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


def next_param(request):
    return queue_url_checked(request.POST.get("next") or request.GET.get("next"))


def with_next(url, queue_url):
    return f"{url}?{urlencode({'next': queue_url})}" if queue_url else url


def back_to_review(request, pk):
    return redirect(with_next(reverse("submissions:review", args=[pk]), next_param(request)))


def current_document(incident):
    return incident.current_revision.document if incident.current_revision else documents.empty_document()
