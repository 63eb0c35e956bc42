"""Shared test helpers: publishing small incidents through the one service that publishes."""

from repository import documents
from repository.models import IncidentEntity, IncidentTerm
from repository.services import incident_publish


def make_document(headline, **fields):
    """An incident document: `terms` and `entities` as dicts, `references` by category."""
    document = documents.empty_document()
    document["headline"] = headline
    for key, value in fields.items():
        if key == "external_id":  # a shorthand for one AIAAIC id
            document["external_ids"] = [{"scheme": "aiaaic", "value": value}] if value else []
        elif key in ("terms", "entities", "references"):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return document


def publish(headline, slug="", **fields):
    """Publish a new incident and return it."""
    return incident_publish(document=make_document(headline, **fields), slug=slug).incident


def terms(incident, vocabulary):
    """The names of an incident's terms in one vocabulary, in order."""
    return list(
        IncidentTerm.objects.filter(incident=incident, term__vocabulary__slug=vocabulary)
        .order_by("position")
        .values_list("term__name", flat=True)
    )


def entities(incident, role):
    """The names of an incident's entities in one role, in order."""
    return list(
        IncidentEntity.objects.filter(incident=incident, role=role)
        .order_by("position")
        .values_list("entity__name", flat=True)
    )
