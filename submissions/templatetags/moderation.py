"""Editor-only additions to public pages; nothing is rendered for anyone else."""

from django import template
from django.db.models import Q
from django.urls import reverse

from repository.periods import period_human

from ..models import Submission

register = template.Library()


@register.filter
def period(value):
    """A stored period as people write it ("February 2021", "2019-2024"); else as it is."""
    return (period_human(value) or value) if isinstance(value, str) else value


def _is_editor(context):
    user = context.get("user")
    return bool(user and user.is_authenticated and user.has_perm("submissions.moderate"))


@register.inclusion_tag("submissions/includes/pending_on_incident.html", takes_context=True)
def pending_proposals(context, incident):
    """How many proposals wait on this incident, with a link to them in the queue."""
    if not _is_editor(context):
        return {"show": False}
    count = Submission.objects.filter(
        Q(incident=incident) | Q(other_incident=incident), state=Submission.State.PENDING
    ).count()
    return {
        "show": True,
        "count": count,
        "url": reverse("submissions:queue") + f"?incident={incident.number}",
    }


@register.inclusion_tag("submissions/includes/revert_button.html", takes_context=True)
def revert_button(context, incident, revision):
    if not _is_editor(context) or revision.pk == incident.current_revision_id or incident.merged_into_id:
        return {"show": False}
    return {
        "show": True,
        "url": reverse("submissions:revert", args=[incident.slug, revision.number]),
        "revision": revision,
        "expected": incident.current_revision_id,
        "csrf_token": context.get("csrf_token"),
    }
