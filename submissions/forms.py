"""Contributors' and editors' forms. Each builds an incident document; the document
validator (repository.documents.normalize) has the last word."""

import re
from dataclasses import dataclass

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from repository import documents
from repository.addresses import normalize_url
from repository.models import Entity, Incident, Reference, TermAlias
from repository.periods import PeriodError, parse_period

from . import suggestions
from .models import EditorProfile, Submission

MAX_NAMES = 50
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only ("²".isdigit() is true), below 2**63


def whole_number(value):
    """`value` as a non-negative int if it is written as one (ASCII digits, at most 18), else None."""
    return int(value) if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value) else None


MAX_REFERENCE_ROWS = 20  # new reference rows in the full form; "Add another reference" adds one
MAX_SOURCES = 10
ROLE_FIELDS = [
    ("deployer", "Deployers", "Who used the system."),
    ("developer", "Developers", "Who built it."),
    ("system", "Systems", "Named systems or products involved."),
    ("harmed", "Harmed parties", "Who was harmed or nearly harmed."),
]


class ValuesInput(forms.TextInput):
    """Several text inputs of one name, one per value: the browser sends each. Rendered on its
    own (without the form's template) it is one box whose values are separated by ';'."""

    def value_from_datadict(self, data, files, name):
        if hasattr(data, "getlist"):
            return data.getlist(name)
        value = data.get(name)
        return list(value) if isinstance(value, list | tuple) else [] if value is None else [value]

    def value_omitted_from_data(self, data, files, name):
        return name not in data

    def format_value(self, value):
        return "; ".join(value) if isinstance(value, list | tuple) else super().format_value(value)


def as_values(value):
    """A field's values as typed: a list of strings (a legacy single box is one of them)."""
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list | tuple) else [str(value)]


class NamesField(forms.Field):
    """Names, one per input (an input may also hold several separated by ';'), as a list of
    clean names."""

    widget = ValuesInput
    MAX_INPUT = 5000

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return as_values(value)

    def to_python(self, value):
        values = as_values(value)
        if len([value for value in values if value.strip()]) > MAX_NAMES:
            raise forms.ValidationError(f"Give at most {MAX_NAMES} names.")
        names = []
        for text in values:
            if len(text) > self.MAX_INPUT:
                raise forms.ValidationError(f"Write at most {self.MAX_INPUT} characters in one box.")
            names += documents.split_values(text, ";\n")
        if len(names) > MAX_NAMES:
            raise forms.ValidationError(f"Give at most {MAX_NAMES} names.")
        for name in names:
            if len(name) > documents.MAX_LENGTHS["name"]:
                raise forms.ValidationError(
                    f"{name[:40]!r}… is longer than {documents.MAX_LENGTHS['name']} characters."
                )
        return names


def _occurred(value):
    try:
        period = parse_period(value)
    except PeriodError as exc:
        raise forms.ValidationError(
            f"{str(exc).capitalize()}. Write a year (2021), a month (February 2021), a day "
            "(12 February 2021) or a range (2019-2024, or 2023- if it is still going on)."
        ) from None
    return period.iso() if period else ""


class HoneypotMixin(forms.Form):
    """A field people never see and bots fill in."""

    leave_empty = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def is_bot(self):
        return bool(self.data.get(self.add_prefix("leave_empty")))


class ContributorMixin(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, help_text="Optional. Shown only if you ask for credit below."
    )
    email = forms.EmailField(
        required=False,
        max_length=254,
        help_text="Optional and never shown. We write only to tell you what editors decided.",
    )
    credit = forms.BooleanField(required=False, label="Credit me publicly by name")

    def clean(self):
        data = super().clean()
        if data.get("credit") and not data.get("name", "").strip():
            self.add_error("name", "Give the name to credit, or untick the credit box.")
        return data


@dataclass
class ValueInput:
    """One box of a many-valued field: its id, accessible name and value, and for a term the
    "propose as a new term" checkbox beside it (shown when the value is not a known term)."""

    id: str
    label: str
    value: str
    label_hidden: bool = False
    autofocus: bool = False
    propose: dict | None = None


@dataclass
class ValuesControl:
    """A many-valued field as the template draws it: a box per value, one empty box, the
    "Add another" button, and what the boxes suggest (a datalist of the vocabulary's spellings,
    or the lookup address organisations and systems are asked from as one types)."""

    field: forms.BoundField
    inputs: list
    datalist_id: str
    can_add: bool
    options: str = ""  # the datalist's <option>s, as HTML
    lookup: str = ""
    vocabulary: object = None


class ValuesFormMixin:
    """Many-valued fields drawn as one box per value, with "Add another" (a submit button
    that shows the form again with one more box; a small script adds it in place)."""

    more_values = ""  # the field whose "Add another" was pressed: one more box, focused

    def _typed(self, name):
        """What was typed in the field's boxes, blanks included."""
        return as_values(self[name].value())

    def _listed(self, key):
        """A list the form was sent (or shown again with) under `key`, at most MAX_NAMES long."""
        source = self.data if self.is_bound else self.initial
        key = self.add_prefix(key) if self.is_bound else key
        values = source.getlist(key) if hasattr(source, "getlist") else as_values(source.get(key))
        return values[:MAX_NAMES]

    def values_control(self, name, *, datalist_id, options="", lookup="", vocabulary=None, propose=None):
        bound = self[name]
        typed = self._typed(name)
        if name == self.more_values:
            values = [*typed, ""]
        else:
            values = [*[value for value in typed if value.strip()], ""]
        values = values[: max(MAX_NAMES, 1)]
        inputs = []
        for number, value in enumerate(values, start=1):
            first = number == 1
            item = ValueInput(
                id=bound.auto_id if first else f"{bound.auto_id}_{number}",
                label=bound.label if first else f"{bound.label} {number}",
                value=value,
                label_hidden=not first,
                autofocus=name == self.more_values and number == len(values),
            )
            if propose is not None:
                item.propose = propose(value, number, bound)
            inputs.append(item)
        return ValuesControl(
            field=bound,
            inputs=inputs,
            datalist_id=datalist_id,
            can_add=len(values) < MAX_NAMES,
            options=options,
            lookup=lookup,
            vocabulary=vocabulary,
        )


class TermFieldsMixin(ValuesFormMixin):
    """Classification fields: one per vocabulary, a box per term, suggesting the vocabulary's
    spellings. A name must be a known term unless the contributor ticks "propose as a new term"
    beside it (offered after a first try, or at once by the script when the name matches no
    suggestion)."""

    def add_term_fields(self, vocabularies, document):
        self.vocabularies = list(vocabularies)
        self.unknown_terms = {}
        for vocabulary in self.vocabularies:
            label = f"{vocabulary.group}: {vocabulary.label}" if vocabulary.group else vocabulary.label
            self.fields[f"terms_{vocabulary.slug}"] = NamesField(
                label=label, initial=document["terms"].get(vocabulary.slug, [])
            )

    def term_fields(self):
        return [self[f"terms_{vocabulary.slug}"] for vocabulary in self.vocabularies]

    def term_controls(self):
        """Each vocabulary's boxes, with its spellings to suggest (cached: see suggestions.py)."""
        options = suggestions.vocabulary_options(self.vocabularies)
        controls = []
        for vocabulary in self.vocabularies:
            name = f"terms_{vocabulary.slug}"
            proposed = self._proposed_keys(name)
            unknown = self.unknown_terms.get(name, set())

            def propose(
                value, number, bound, proposed=proposed, unknown=unknown, vocabulary=vocabulary, name=name
            ):
                keys = {documents.fold(part) for part in documents.split_values(value, ";\n")}
                shown = bool(keys & unknown) or bool(keys and keys <= proposed)
                return {
                    "id": f"{bound.auto_id}_propose_{number}",
                    "name": self.add_prefix(f"propose_{name}"),
                    "checked": bool(keys and keys <= proposed),
                    "shown": shown,
                    "vocabulary": vocabulary.label,
                }

            controls.append(
                self.values_control(
                    name,
                    datalist_id=f"{name}_options",
                    options=options[vocabulary.slug],
                    vocabulary=vocabulary,
                    propose=propose,
                )
            )
        return controls

    def vocabulary_links(self):
        """Each vocabulary's page, where its terms are listed (shown once, folded, not per field)."""
        return [
            (vocabulary.label, reverse("repository:vocabulary", args=[vocabulary.slug]))
            for vocabulary in self.vocabularies
        ]

    def _proposed_keys(self, name):
        """The folded names the contributor proposes as new terms of the field's vocabulary."""
        return {
            documents.fold(part)
            for value in self._listed(f"propose_{name}")
            for part in documents.split_values(value, ";\n")
        }

    def clean_terms(self):
        """Check the terms against the taxonomy: one query for all of them."""
        proposed = set()
        for vocabulary in self.vocabularies:
            proposed |= {(vocabulary.id, key) for key in self._proposed_keys(f"terms_{vocabulary.slug}")}
        wanted = {}
        for vocabulary in self.vocabularies:
            for name in self.cleaned_data.get(f"terms_{vocabulary.slug}", []):
                wanted[(vocabulary.id, documents.fold(name))] = (vocabulary, name)
        if not wanted:
            return
        known = set(
            TermAlias.objects.filter(
                key__in={key for _, key in wanted}, vocabulary_id__in={vid for vid, _ in wanted}
            ).values_list("vocabulary_id", "key")
        )
        for key, (vocabulary, name) in wanted.items():
            if key not in known and key not in proposed:
                field = f"terms_{vocabulary.slug}"
                self.unknown_terms.setdefault(field, set()).add(key[1])
                self.add_error(
                    field,
                    f"'{name}' is not a known {vocabulary.label} term. Check its spelling or pick a "
                    "suggestion, or tick 'Propose it as a new term' beside it.",
                )

    def terms_document(self):
        return {
            vocabulary.slug: self.cleaned_data.get(f"terms_{vocabulary.slug}", [])
            for vocabulary in self.vocabularies
            if self.cleaned_data.get(f"terms_{vocabulary.slug}")
        }

    def role_controls(self, roles):
        """The organisation and system fields' boxes, suggesting through the lookup."""
        controls = []
        for role in roles:
            kind = Entity.Kind.SYSTEM if role == "system" else Entity.Kind.ORGANISATION
            controls.append(
                self.values_control(
                    role,
                    datalist_id=f"names_{kind}_options",
                    lookup=f"{reverse('submissions:lookup_names')}?kind={kind}",
                )
            )
        return controls


class DocumentForm(TermFieldsMixin, forms.Form):
    """Every field of an incident, starting from a document. Used to improve an incident
    and by editors to edit a proposal."""

    headline = forms.CharField(max_length=documents.MAX_LENGTHS["headline"])
    occurred = forms.CharField(
        max_length=40,
        required=False,
        help_text="A year, month or day, or a range: 2021, February 2021, 2019-2024, 2023-.",
    )
    type = forms.ChoiceField(choices=[("", "Not set"), *Incident.Type.choices], required=False)
    summary = forms.CharField(
        max_length=documents.MAX_LENGTHS["summary"],
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One or two sentences.",
    )
    narrative = forms.CharField(
        max_length=documents.MAX_LENGTHS["narrative"],
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="What happened. Paragraphs separated by a blank line; '## ' starts a sub-heading.",
    )

    def clean_proposed(self):
        """The proposed document, kept as `self.proposed`; None, with the document validator's
        messages added to the form, when it refuses it."""
        try:
            self.proposed = self.to_document()
        except documents.DocumentError as exc:
            for path, messages in exc.message_dict.items():
                field = self._field_for_path(path)
                if field:
                    self.add_error(field, " ".join(messages))
                else:
                    self.add_error(None, f"{path}: {' '.join(messages)}")
            return None
        return self.proposed

    def _field_for_path(self, path):
        """The form field a document validator's message is about (so that the error summary
        links to it), or None when no single field holds it."""
        head, _, rest = path.partition(".")
        if head in ("entities", "terms") and rest:
            name = rest.split(".")[0]
            name = name if head == "entities" else f"terms_{name}"
        else:
            name = head
        return name if name in self.fields else None

    def __init__(self, *args, vocabularies, document, reference_rows=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.base = document
        self.reference_rows = min(max(reference_rows, 1), MAX_REFERENCE_ROWS)
        for field in ("headline", "type", "summary", "narrative"):
            self.fields[field].initial = document[field]
        self.fields["occurred"].initial = (
            parse_period(document["occurred"]).human() if document["occurred"] else ""
        )
        for role, label, help_text in ROLE_FIELDS:
            self.fields[role] = NamesField(
                label=label, help_text=help_text, initial=document["entities"][role]
            )
        self.add_term_fields(vocabularies, document)
        self.existing_references = []
        for category in documents.CATEGORIES:
            for number, reference in enumerate(document["references"][category]):
                name = f"remove_{category}_{number}"
                self.fields[name] = forms.BooleanField(required=False, label="Remove")
                self.existing_references.append({"field": name, "category": category, **reference})
        for row in range(1, self.reference_rows + 1):
            self.fields[f"ref_url_{row}"] = forms.URLField(
                required=False,
                max_length=documents.MAX_LENGTHS["url"],
                label="Web address",
                assume_scheme="https",
            )
            self.fields[f"ref_title_{row}"] = forms.CharField(
                required=False, max_length=documents.MAX_LENGTHS["title"], label="Title"
            )
            self.fields[f"ref_category_{row}"] = forms.ChoiceField(
                choices=Reference.Category.choices, initial=Reference.Category.NEWS, label="Section"
            )

    def clean_occurred(self):
        return _occurred(self.cleaned_data["occurred"])

    def clean(self):
        data = super().clean()
        self.clean_terms()
        return data

    def role_fields(self):
        return self.role_controls([role for role, _, _ in ROLE_FIELDS])

    def removal_fields(self):
        return [(self[reference["field"]], reference) for reference in self.existing_references]

    def new_reference_rows(self):
        return [
            (self[f"ref_url_{row}"], self[f"ref_title_{row}"], self[f"ref_category_{row}"])
            for row in range(1, self.reference_rows + 1)
        ]

    def can_add_rows(self):
        return self.reference_rows < MAX_REFERENCE_ROWS

    def to_document(self):
        data = self.cleaned_data
        document = {
            **self.base,
            "headline": data["headline"],
            "occurred": data["occurred"],
            "type": data["type"],
            "summary": data["summary"],
            "narrative": data["narrative"],
            "entities": {role: data[role] for role, _, _ in ROLE_FIELDS},
            "terms": {
                **{slug: names for slug, names in self.base["terms"].items() if slug not in self._slugs()},
                **self.terms_document(),
            },
            "references": {category: [] for category in documents.CATEGORIES},
        }
        for reference in self.existing_references:
            if not data.get(reference["field"]):
                item = {key: reference[key] for key in ("url", "title", "publisher", "published")}
                document["references"][reference["category"]].append(item)
        for row in range(1, self.reference_rows + 1):
            if data.get(f"ref_url_{row}"):
                document["references"][data[f"ref_category_{row}"]].append(
                    {"url": data[f"ref_url_{row}"], "title": data.get(f"ref_title_{row}", "")}
                )
        return documents.normalize(document)

    def _slugs(self):
        return {vocabulary.slug for vocabulary in self.vocabularies}

    def added_urls(self):
        return [
            self.cleaned_data[f"ref_url_{row}"]
            for row in range(1, self.reference_rows + 1)
            if self.cleaned_data.get(f"ref_url_{row}")
        ]


class ImproveForm(HoneypotMixin, ContributorMixin, DocumentForm):
    insight = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Your insight",
        help_text="What is missing, wrong or new? Editors read this with your changes.",
    )

    def clean(self):
        data = super().clean()
        if self.errors or self.clean_proposed() is None:
            return data
        if self.proposed == documents.normalize(self.base) and not data.get("insight", "").strip():
            # On the insight field, so that the error summary links to where to write.
            self.add_error(
                "insight",
                forms.ValidationError(
                    "There is nothing to send yet: change something, or share an insight.", code="empty"
                ),
            )
        return data


class AddSourceForm(HoneypotMixin, forms.Form):
    """The improve page's first offer: one source for the incident, in one step."""

    url = forms.URLField(
        max_length=documents.MAX_LENGTHS["url"],
        label="Web address",
        assume_scheme="https",
        help_text="A page about this incident: an article, a report, a ruling, the system's own page.",
    )
    category = forms.ChoiceField(
        choices=Reference.Category.choices,
        initial=Reference.Category.NEWS,
        label="Section",
        help_text="Where it belongs among the page's references.",
    )
    note = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Note (optional)",
        help_text="What the source adds, if you like. Editors read it; it is not published.",
    )
    email = forms.EmailField(
        required=False,
        max_length=254,
        label="Your email (optional)",
        help_text="Never shown. We write only to tell you what editors decided.",
    )

    def __init__(self, *args, document, **kwargs):
        kwargs.setdefault("prefix", "source")  # its ids never clash with the full form's
        super().__init__(*args, **kwargs)
        self.base = document

    def clean_url(self):
        url = self.cleaned_data["url"]
        key = normalize_url(url)
        for category, references in self.base["references"].items():
            if any(normalize_url(reference["url"]) == key for reference in references):
                raise forms.ValidationError(
                    f"The page cites this source already, under '{documents.CATEGORY_LABELS[category]}'."
                )
        return url

    def to_document(self):
        data = self.cleaned_data
        document = {**self.base, "references": {k: list(v) for k, v in self.base["references"].items()}}
        document["references"].setdefault(data["category"], []).append({"url": data["url"]})
        return documents.normalize(document)


class ReviseForm(HoneypotMixin, DocumentForm):
    """The contributor's revision of their proposal after an editor asked for changes."""

    insight = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="What you changed",
        help_text="Optional; the editor reads this with your revision.",
    )

    def clean(self):
        data = super().clean()
        if not self.errors:
            self.clean_proposed()
        return data


class NewIncidentForm(HoneypotMixin, ContributorMixin, TermFieldsMixin, forms.Form):
    REPORT_VOCABULARIES = ("country", "sector", "technology")

    headline = forms.CharField(
        max_length=documents.MAX_LENGTHS["headline"],
        help_text="One line saying what happened, e.g. 'Council's benefit algorithm wrongly flags claimants'.",
    )
    occurred = forms.CharField(
        max_length=40, help_text="A year, month or day, or a range: 2024, May 2024, 2022-2024."
    )
    narrative = forms.CharField(
        max_length=documents.MAX_LENGTHS["narrative"],
        widget=forms.Textarea(attrs={"rows": 8}),
        label="What happened",
    )
    deployer = NamesField(label="Deployer", help_text="Who used the system.")
    developer = NamesField(label="Developer", help_text="Who built it.")
    sources = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_SOURCES * (documents.MAX_LENGTHS["url"] + 1),
        help_text=f"At least one web address where this was reported; one per line, up to {MAX_SOURCES}.",
        error_messages={"required": "Give at least one web address where this was reported."},
    )

    field_order = ["headline", "occurred", "narrative", "deployer", "developer"]

    def __init__(self, *args, vocabularies, **kwargs):
        super().__init__(*args, **kwargs)
        chosen = [v for v in vocabularies if v.slug in self.REPORT_VOCABULARIES]
        self.add_term_fields(chosen, documents.empty_document())
        self.order_fields(
            [*self.field_order, *[f"terms_{v.slug}" for v in chosen], "sources", "name", "email"]
        )

    def clean_occurred(self):
        return _occurred(self.cleaned_data["occurred"])

    def role_fields(self):
        return self.role_controls(["deployer", "developer"])

    def clean_sources(self):
        urls, validator = [], URLValidator(schemes=["http", "https"])
        for line in self.cleaned_data["sources"].splitlines():
            url = line.strip()
            if not url:
                continue
            if "://" not in url:
                url = "https://" + url
            try:
                validator(url)
            except forms.ValidationError:
                raise forms.ValidationError(f"{line.strip()[:80]!r} is not a web address.") from None
            if len(url) > documents.MAX_LENGTHS["url"]:
                raise forms.ValidationError("A web address is too long.")
            if url not in urls:
                urls.append(url)
        if not urls:
            raise forms.ValidationError("Give at least one web address where this was reported.")
        if len(urls) > MAX_SOURCES:
            raise forms.ValidationError(f"Give at most {MAX_SOURCES} web addresses.")
        return urls

    def clean(self):
        data = super().clean()
        self.clean_terms()
        return data

    def to_document(self):
        data = self.cleaned_data
        document = documents.empty_document()
        document.update(
            headline=data["headline"],
            occurred=data["occurred"],
            narrative=data["narrative"],
            type=Incident.Type.INCIDENT,
            terms=self.terms_document(),
            entities={"deployer": data["deployer"], "developer": data["developer"], "system": []},
        )
        document["references"]["news"] = [{"url": url} for url in data["sources"]]
        return documents.normalize(document)


class DuplicateChoiceForm(forms.Form):
    """'Mine is one of these' (an incident) or 'mine is new'."""

    duplicate_of = forms.CharField(required=False, max_length=20)

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = {str(incident.pk): incident for incident in candidates}

    def clean_duplicate_of(self):
        value = self.cleaned_data["duplicate_of"]
        if value == "new":
            return None
        if value == "":
            raise forms.ValidationError("Choose the incident yours is, or say yours is new.")
        if value not in self.candidates:
            raise forms.ValidationError("Choose one of the incidents listed, or say yours is new.")
        return self.candidates[value]


def incident_by_number_or_address(value):
    """The incident a number, slug or address names (with a merged one's facts in its
    survivor), or ValidationError."""
    value = value.strip().strip("/").rsplit("/", 1)[-1]
    number = whole_number(value)
    lookup = Q(slug=value) | (Q(number=number) if number is not None else Q())
    incident = Incident.objects.filter(lookup).select_related("merged_into").first()
    if incident is None:
        raise forms.ValidationError(f"No incident has the number or address {value!r}.")
    return incident.merged_into or incident


class RejectForm(forms.Form):
    reason = forms.ChoiceField(choices=[("", "Choose a reason…"), *Submission.Reason.choices])
    duplicate_of = forms.CharField(
        required=False,
        max_length=255,
        label="Duplicate of (optional)",
        help_text="For a duplicate: the incident's number or address; the contributor's page links to it.",
    )
    note = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional; shown to the contributor on their status page.",
    )

    def __init__(self, *args, submission=None, **kwargs):
        super().__init__(*args, **kwargs)
        if submission is not None:  # only the reasons that fit its kind
            self.fields["reason"].choices = [("", "Choose a reason…"), *submission.reject_reasons]
            if Submission.Reason.DUPLICATE not in dict(submission.reject_reasons):
                del self.fields["duplicate_of"]

    def clean_duplicate_of(self):
        value = self.cleaned_data["duplicate_of"].strip()
        return incident_by_number_or_address(value) if value else None

    def clean(self):
        data = super().clean()
        if data.get("duplicate_of") and data.get("reason") != Submission.Reason.DUPLICATE:
            self.add_error("duplicate_of", "Name an incident only when rejecting as a duplicate.")
        return data


class PairDismissForm(forms.Form):
    """Dismissing a machine-proposed merge pair, for good, with a pair's own reasons."""

    reason = forms.ChoiceField(
        choices=[
            (value, label) for value, label in Submission.Reason.choices if value in Submission.PAIR_REASONS
        ],
        initial=Submission.Reason.NOT_DUPLICATE,
    )
    duplicate_of = forms.CharField(required=False, widget=forms.HiddenInput)  # never for a pair
    note = forms.CharField(required=False, max_length=5000)

    def clean_duplicate_of(self):
        return None


BULK_MAX = 200
BULK_REASONS = [
    (value, label) for value, label in Submission.Reason.choices if value not in Submission.PAIR_REASONS
]


class SubmissionNumbers(forms.Field):
    """The checked rows of the queue: submission numbers (what can be done with each, the
    services say)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"required": "Select some submissions first.", "invalid": "Unknown submission."}

    def to_python(self, value):
        numbers = [whole_number(str(item)) for item in value or []]
        if None in numbers:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if len(numbers) > BULK_MAX:
            raise forms.ValidationError(f"Select at most {BULK_MAX} at once.", code="too_many")
        return sorted(set(numbers))


class BulkForm(forms.Form):
    """The queue's "with the selected": reject them for one reason, or release them."""

    ACTIONS = [("reject", "Reject selected"), ("release", "Release selected")]

    ids = SubmissionNumbers()
    action = forms.ChoiceField(choices=ACTIONS)
    reason = forms.ChoiceField(choices=[("", "Choose a reason…"), *BULK_REASONS], required=False)
    note = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; shown to each contributor on their status page.",
    )

    def clean(self):
        data = super().clean()
        if data.get("action") == "reject" and not data.get("reason"):
            self.add_error("reason", "Choose a reason for the rejection.")
        return data


class MergeForm(forms.Form):
    target = forms.CharField(
        max_length=255, label="Incident", help_text="The incident's number or the last part of its address."
    )

    def clean_target(self):
        return incident_by_number_or_address(self.cleaned_data["target"])


class EditorSettingsForm(forms.ModelForm):
    class Meta:
        model = EditorProfile
        fields = ["notify"]
        labels = {"notify": "Email me about new submissions"}
        widgets = {"notify": forms.RadioSelect}


class NoteForm(forms.Form):
    note = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class AskChangesForm(forms.Form):
    note = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What should change",
        help_text="Shown to the contributor, who can revise and send it again.",
    )


class EditorPasswordResetForm(PasswordResetForm):
    """Django's password reset, with the email sent by a task (web requests never wait on
    the mail server). Says the same whether or not the address is an editor's."""

    def save(self, **kwargs):
        from config.celery import enqueue

        from .tasks import send_password_reset

        for user in self.get_users(self.cleaned_data["email"]):
            transaction.on_commit(lambda pk=user.pk: enqueue(send_password_reset, pk))
