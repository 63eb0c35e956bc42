"""The editors' taxonomy desk (/moderation/taxonomy/): find terms and entities, see probable
variants, rename, merge, move and split them, and undo from the curation log.

Every change goes through `repository.services.curation`, which publishes the incidents it
touches as new revisions and writes the audit row. An action is posted twice: first to see
the incidents it touches (a page at a time, each with what changes for it), then confirmed.
An undo is confirmed the same way, from a page listing the incidents it publishes back.
"""

from functools import partial

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from repository import documents
from repository.models import CurationEvent, Entity, EntityAlias, Term, TermAlias, Vocabulary
from repository.services import (
    CurationRefused,
    curation_event_incidents,
    curation_undo,
    entity_incident_count,
    entity_incidents_touched,
    entity_merge,
    entity_rename,
    entity_roles_of,
    entity_split,
    term_incident_count,
    term_incidents_touched,
    term_merge,
    term_move,
    term_rename,
)

from ..variants import ENTITY_SCOPES, variants_kept, variants_refresh_ask
from .common import editor_required

PAGE_SIZE = 50
PREVIEW_PAGE_SIZE = 25


# Forms ------------------------------------------------------------------------------------


class NoteField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            max_length=300,
            label="Why (optional)",
            help_text="Shown in each incident's history.",
            **kwargs,
        )


class RenameForm(forms.Form):
    name = forms.CharField(max_length=500, label="New name")
    note = NoteField()


class TargetForm(forms.Form):
    """A term or entity named by its id (from a list) or by any of its spellings."""

    into = forms.CharField(
        max_length=500, required=False, label="Merge into", help_text="Its name or a spelling of it."
    )
    into_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    note = NoteField()

    def __init__(self, *args, subject, **kwargs):
        super().__init__(*args, **kwargs)
        self.subject = subject

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("into_id"):
            found = self.by_id(cleaned["into_id"])
        elif cleaned.get("into", "").strip():
            found = self.by_name(documents.clean_name(cleaned["into"]))
        else:
            raise forms.ValidationError("Say which one to merge into.")
        if found is None:
            self.add_error("into", "Nothing of that name to merge into.")
        cleaned["target"] = found
        return cleaned


class TermTargetForm(TargetForm):
    def by_id(self, pk):
        return Term.objects.filter(pk=pk, vocabulary_id=self.subject.vocabulary_id).first()

    def by_name(self, name):
        alias = (
            TermAlias.objects.filter(vocabulary_id=self.subject.vocabulary_id, key=documents.fold(name))
            .exclude(term=self.subject)
            .select_related("term")
            .first()
        )
        return alias.term if alias else None


class EntityTargetForm(TargetForm):
    def by_id(self, pk):
        return Entity.objects.filter(pk=pk).first()

    def by_name(self, name):
        alias = (
            EntityAlias.objects.filter(key=documents.fold(name), entity__kind=self.subject.kind)
            .exclude(entity=self.subject)
            .select_related("entity")
            .first()
        )
        return alias.entity if alias else None


class MoveForm(forms.Form):
    parent = forms.CharField(
        max_length=500, required=False, label="New parent", help_text="Leave empty for a top-level term."
    )
    note = NoteField()

    def __init__(self, *args, subject, **kwargs):
        super().__init__(*args, **kwargs)
        self.subject = subject

    def clean_parent(self):
        name = documents.clean_name(self.cleaned_data["parent"])
        if not name:
            return None
        alias = (
            TermAlias.objects.filter(vocabulary_id=self.subject.vocabulary_id, key=documents.fold(name))
            .select_related("term")
            .first()
        )
        if alias is None:
            raise forms.ValidationError(f"No term of this vocabulary is called “{name}”.")
        return alias.term


class SplitForm(forms.Form):
    names = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Split into",
        help_text="One name per line. Each incident naming this entity will name all of them.",
    )
    note = NoteField()

    def clean_names(self):
        names = [documents.clean_name(line) for line in self.cleaned_data["names"].splitlines()]
        names = [name for name in names if name]
        if len(names) < 2:
            raise forms.ValidationError("Give at least two names, one per line.")
        return names


def split_suggestion(name):
    return "\n".join(part.strip() for part in name.replace(";", "/").split("/") if part.strip())


# Pages ------------------------------------------------------------------------------------


@require_safe
@editor_required
def index(request):
    """Vocabularies with their term counts, and a search over terms and entities (their names
    and every spelling) with how many incidents carry each."""
    query = documents.clean_name(request.GET.get("q", ""))[:200]
    vocabularies = Vocabulary.objects.annotate(
        term_count=Count("terms", filter=Q(terms__merged_into__isnull=True))
    ).order_by("order", "label")
    context = {"vocabularies": vocabularies, "query": query}
    if query:
        term_ids = TermAlias.objects.filter(name__icontains=query).values("term_id")
        terms = (
            Term.objects.filter(merged_into__isnull=True)
            .filter(Q(name__icontains=query) | Q(pk__in=term_ids))
            .select_related("vocabulary")
            .annotate(incident_count=Count("incident_terms"))
            .order_by("-incident_count", "name", "pk")
        )
        entity_ids = EntityAlias.objects.filter(name__icontains=query).values("entity_id")
        entities = (
            Entity.objects.filter(merged_into__isnull=True)
            .filter(Q(name__icontains=query) | Q(pk__in=entity_ids))
            .annotate(incident_count=Count("incident_entities__incident", distinct=True))
            .order_by("-incident_count", "name", "pk")
        )
        context["terms"] = Paginator(terms, PAGE_SIZE).get_page(request.GET.get("page"))
        context["entities"] = Paginator(entities, PAGE_SIZE).get_page(request.GET.get("epage"))
    else:
        context["entity_count"] = Entity.objects.filter(merged_into__isnull=True).count()
    return render(request, "submissions/taxonomy/index.html", context)


@require_safe
@editor_required
def variants(request):
    """Probable variants within one vocabulary, among organisations or among systems, as
    clusters (`lookalikes.clusters`): the suggested spelling to keep and each variant to
    merge into it, with why and the incidents carrying each. They are worked out in the
    background (`submissions.variants`): the page shows what was kept, and asks for them again
    when something was published since (at once, in the request, where there is no broker)."""
    vocabularies = list(Vocabulary.objects.order_by("order", "label"))
    scopes = [(v.slug, v.label) for v in vocabularies] + list(ENTITY_SCOPES.items())
    scope = request.GET.get("scope") or scopes[0][0]
    if scope not in dict(scopes):
        scope = scopes[0][0]
    kept = variants_kept(scope)
    if kept is None or not kept["fresh"]:
        variants_refresh_ask(scope)
        kept = variants_kept(scope) or kept  # worked out already where tasks run in the request
    page = Paginator(kept["clusters"] if kept else [], PAGE_SIZE).get_page(request.GET.get("page"))
    entities = scope in ENTITY_SCOPES
    if kept and not kept["fresh"]:
        # Out of date: leave out the merges of names merged since (this page's names only).
        model = Entity if entities else Term
        pks = {item["pk"] for cluster in page.object_list for a, b, _why in cluster.merges for item in (a, b)}
        gone = set(model.objects.filter(pk__in=pks, merged_into__isnull=False).values_list("pk", flat=True))
        for cluster in page.object_list:
            cluster.merges = [m for m in cluster.merges if m[0]["pk"] not in gone and m[1]["pk"] not in gone]
        page.object_list = [cluster for cluster in page.object_list if cluster.merges]
    return render(
        request,
        "submissions/taxonomy/variants.html",
        {"scopes": scopes, "scope": scope, "page": page, "entities": entities, "kept": kept},
    )


def _events_of(target_type, pk):
    return CurationEvent.objects.filter(target_type=target_type, target_id=pk).select_related("editor")[:20]


def _term_page(request, term, bound=None, status=200):
    bound = bound or {}
    aliases = list(term.aliases.order_by("-uses", "name"))
    return render(
        request,
        "submissions/taxonomy/term.html",
        {
            "term": term,
            "aliases": aliases,
            "incident_count": term_incident_count(term),
            "events": _events_of(CurationEvent.Target.TERM, term.pk),
            "rename_form": bound.get("rename") or RenameForm(initial={"name": term.name}),
            "merge_form": bound.get("merge") or TermTargetForm(subject=term),
            "move_form": bound.get("move")
            or MoveForm(subject=term, initial={"parent": term.parent.name if term.parent else ""}),
        },
        status=status,
    )


def _entity_page(request, entity, bound=None, status=200):
    bound = bound or {}
    return render(
        request,
        "submissions/taxonomy/entity.html",
        {
            "entity": entity,
            "aliases": list(entity.aliases.order_by("-uses", "name")),
            "incident_count": entity_incident_count(entity),
            "events": _events_of(CurationEvent.Target.ENTITY, entity.pk),
            "rename_form": bound.get("rename") or RenameForm(initial={"name": entity.name}),
            "merge_form": bound.get("merge") or EntityTargetForm(subject=entity),
            "split_form": bound.get("split") or SplitForm(initial={"names": split_suggestion(entity.name)}),
        },
        status=status,
    )


TERMS = Term.objects.select_related("vocabulary", "parent", "merged_into__vocabulary")
ENTITIES = Entity.objects.select_related("merged_into")


@require_safe
@editor_required
def term_page(request, pk):
    return _term_page(request, get_object_or_404(TERMS, pk=pk))


@require_safe
@editor_required
def entity_page(request, pk):
    return _entity_page(request, get_object_or_404(ENTITIES, pk=pk))


def _confirm(request, form, *, title, description, incidents, change, back, roles_of=None, republish=True):
    """The preview: the action, then the incidents it touches a page at a time, each with what
    changes for it (`roles_of(ids)` adds the roles in which each names an entity)."""
    page = Paginator(incidents, PREVIEW_PAGE_SIZE).get_page(request.POST.get("page"))
    rows = list(page.object_list)
    roles = roles_of([incident.pk for incident in rows]) if roles_of and rows else {}
    return render(
        request,
        "submissions/taxonomy/confirm.html",
        {
            "form": form,
            "title": title,
            "description": description,
            "count": page.paginator.count,
            "page": page,
            "rows": [(incident, roles.get(incident.pk, [])) for incident in rows],
            "change": change,
            "republish": republish,
            "back": back,
        },
    )


def _perform(request, call, back, success):
    try:
        event = call()
    except CurationRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    messages.success(request, f"{success} {event.revisions.count()} incident(s) got a new revision.")
    return None


@require_POST
@editor_required
def term_action(request, pk, action):
    term = get_object_or_404(TERMS, pk=pk)
    back = reverse("submissions:taxonomy_term", args=[term.pk])
    if action == "rename":
        form = RenameForm(request.POST)
    elif action == "merge":
        form = TermTargetForm(request.POST, subject=term)
    else:
        form = MoveForm(request.POST, subject=term)
    if not form.is_valid():
        return _term_page(request, term, {action: form}, status=400)
    data = form.cleaned_data
    label = term.vocabulary.label
    if action == "rename":
        description = f"Rename the {label} term “{term.name}” to “{data['name']}”."
        change = f"{label}: “{term.name}” becomes “{data['name']}”"
        call = partial(term_rename, term=term, name=data["name"], editor=request.user, note=data["note"])
        done = back
    elif action == "merge":
        into = data["target"]
        description = f"Merge the {label} term “{term.name}” into “{into.name}”."
        change = f"{label}: “{term.name}” becomes “{into.name}”"
        call = partial(term_merge, term=term, into=into, editor=request.user, note=data["note"])
        done = reverse("submissions:taxonomy_term", args=[into.pk])
    else:
        parent = data["parent"]
        where = f"under “{parent.name}”" if parent else "to the top level"
        description = f"Move the {label} term “{term.name}” {where}."
        now = f"under “{parent.name}”" if parent else "at the top level"
        was = f"under “{term.parent.name}”" if term.parent else "at the top level"
        change = f"{label}: “{term.name}” filed {now} (was {was})"
        call = partial(term_move, term=term, parent=parent, editor=request.user, note=data["note"])
        done = back
    if request.POST.get("confirmed") != "yes":
        return _confirm(
            request,
            form,
            title=f"{action.title()} a term",
            description=description,
            incidents=term_incidents_touched(term=term, below=action == "move"),
            change=change,
            republish=action != "move",
            back=back,
        )
    return _perform(request, call, back, "Done.") or redirect(done)


def _roles(entity, incident_ids):
    return entity_roles_of(entity=entity, incident_ids=incident_ids)


@require_POST
@editor_required
def entity_action(request, pk, action):
    entity = get_object_or_404(ENTITIES, pk=pk)
    back = reverse("submissions:taxonomy_entity", args=[entity.pk])
    if action == "rename":
        form = RenameForm(request.POST)
    elif action == "merge":
        form = EntityTargetForm(request.POST, subject=entity)
    else:
        form = SplitForm(request.POST)
    if not form.is_valid():
        return _entity_page(request, entity, {action: form}, status=400)
    data = form.cleaned_data
    done = back
    if action == "rename":
        description = f"Rename “{entity.name}” to “{data['name']}”."
        change = f"“{entity.name}” becomes “{data['name']}”"
        call = partial(
            entity_rename, entity=entity, name=data["name"], editor=request.user, note=data["note"]
        )
    elif action == "merge":
        into = data["target"]
        description = f"Merge “{entity.name}” into “{into.name}”."
        change = f"“{entity.name}” becomes “{into.name}”"
        call = partial(entity_merge, entity=entity, into=into, editor=request.user, note=data["note"])
        done = reverse("submissions:taxonomy_entity", args=[into.pk])
    else:
        names = ", ".join(f"“{name}”" for name in data["names"])
        description = f"Split “{entity.name}” into {names}."
        change = f"“{entity.name}” becomes {names}"
        call = partial(
            entity_split, entity=entity, names=data["names"], editor=request.user, note=data["note"]
        )
    if request.POST.get("confirmed") != "yes":
        return _confirm(
            request,
            form,
            title=f"{action.title()} an entity",
            description=description,
            incidents=entity_incidents_touched(entity=entity),
            change=change,
            roles_of=partial(_roles, entity),
            back=back,
        )
    return _perform(request, call, back, "Done.") or redirect(done)


@require_safe
@editor_required
def log(request):
    events = (
        CurationEvent.objects.select_related("editor")
        .annotate(
            revision_count=Count("revisions"),
            undone=Exists(CurationEvent.objects.filter(undoes=OuterRef("pk"))),
        )
        .order_by("-created_at", "-id")
    )
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "submissions/taxonomy/log.html", {"page": page})


@require_http_methods(["GET", "HEAD", "POST"])
@editor_required
def undo(request, pk):
    """The confirmation of an undo (the incidents it publishes back, a page at a time, and
    those that changed since, which refuse it), then the undo itself once confirmed."""
    event = get_object_or_404(CurationEvent.objects.select_related("editor"), pk=pk)
    if request.method != "POST" or request.POST.get("confirmed") != "yes":
        page = Paginator(curation_event_incidents(event=event), PREVIEW_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        rows = [
            (
                revision,
                revision.incident.current_revision_id != revision.pk or revision.incident.merged_into_id,
            )
            for revision in page.object_list
        ]
        return render(
            request,
            "submissions/taxonomy/undo.html",
            {
                "event": event,
                "page": page,
                "rows": rows,
                "undone": CurationEvent.objects.filter(undoes=event).exists(),
            },
        )
    try:
        done = curation_undo(event=event, editor=request.user)
    except CurationRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Undone. {done.revisions.count()} incident(s) got a new revision.")
    return redirect("submissions:taxonomy_log")
