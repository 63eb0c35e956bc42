"""The editors' page of search synonyms (/moderation/search/synonyms/): the pairs of spellings
a search treats as one, listed, added and removed."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST

from .models import SearchSynonym
from .services import SynonymRefused, search_synonym_add, search_synonym_remove


def editor_required(view):
    """Signed in (else the login page), then the editors' permission; never stored by a cache."""
    return cache_control(private=True, no_store=True)(
        login_required(permission_required("submissions.moderate", raise_exception=True)(view))
    )


class SynonymForm(forms.Form):
    spelling = forms.CharField(label="Spelling", max_length=100)
    other = forms.CharField(label="Searched together with", max_length=100)


@editor_required
@require_http_methods(["GET", "HEAD", "POST"])
def synonyms(request):
    form = SynonymForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            synonym = search_synonym_add(
                spelling=form.cleaned_data["spelling"], other=form.cleaned_data["other"], editor=request.user
            )
        except SynonymRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(
                request, f"“{synonym.spelling}” and “{synonym.other}” are now searched together."
            )
            return redirect("repository:synonyms")
    listed = SearchSynonym.objects.select_related("created_by")
    return render(request, "repository/synonyms.html", {"form": form, "synonyms": listed})


@editor_required
@require_POST
def synonym_remove(request, pk):
    synonym = get_object_or_404(SearchSynonym, pk=pk)
    search_synonym_remove(synonym=synonym)
    messages.success(request, f"“{synonym.spelling}” and “{synonym.other}” are searched apart again.")
    return redirect("repository:synonyms")
