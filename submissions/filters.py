"""The editors' queue: the FilterSet behind /moderation/."""

import django_filters
from django import forms
from django.db.models import Q, Value
from django.db.models.functions import Coalesce

from .forms import whole_number
from .models import Submission, claim_cutoff

CLAIM_CHOICES = [
    ("", "Anyone's"),
    ("mine", "Claimed by me"),
    ("unclaimed", "Unclaimed"),
    ("others", "Claimed by others"),
]


class SubmissionFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Submission.State.choices, empty_label="Any state")
    kind = django_filters.ChoiceFilter(choices=Submission.Kind.choices, empty_label="Any kind")
    does = django_filters.ChoiceFilter(
        field_name="effect_kind",
        choices=Submission.Effect.choices,
        empty_label="Anything",
        label="What it does",
    )
    incident = django_filters.CharFilter(
        method="for_incident",
        label="Incident",
        max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "number or address"}),
    )
    claimed = django_filters.ChoiceFilter(
        choices=CLAIM_CHOICES[1:], method="by_claim", empty_label="Anyone's", label="Claimed by"
    )

    class Meta:
        model = Submission
        fields = ["state", "kind"]

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        if "state" not in data:
            data["state"] = Submission.State.PENDING  # the queue opens on what waits
        super().__init__(data, *args, **kwargs)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("kind") == Submission.Kind.MERGE or data.get("does") == Submission.Effect.MERGE:
            # Merge pairs, the strongest first (a pair with no score last), then oldest first.
            return queryset.order_by(Coalesce("score", Value(-1.0)).desc(), "created_at", "id")
        return queryset.order_by("created_at", "id")  # oldest first

    def for_incident(self, queryset, name, value):
        value = value.strip().strip("/").rsplit("/", 1)[-1]
        lookup = Q(incident__slug=value) | Q(other_incident__slug=value)
        number = whole_number(value)
        if number is not None:
            lookup |= Q(incident__number=number) | Q(other_incident__number=number)
        return queryset.filter(lookup)

    def by_claim(self, queryset, name, value):
        """An expired claim (CLAIM_EXPIRES_MINUTES) counts as unclaimed, except for its editor."""
        user = self.request.user
        expired = Q(claimed_at__lt=claim_cutoff())
        if value == "mine":
            return queryset.filter(claimed_by=user)
        if value == "unclaimed":
            return queryset.filter(Q(claimed_by__isnull=True) | expired)
        return queryset.filter(claimed_by__isnull=False).exclude(claimed_by=user).exclude(expired)
