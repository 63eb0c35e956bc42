"""What the incident page and its permanent versions show beside the incident itself: the
citation of the version shown (and its page markup), dates, the number of sources, related
incidents and the addresses of the incident's records elsewhere."""

from urllib.parse import urlsplit

from django.urls import reverse

from . import citations, documents, provenance
from .models import Reference, Vocabulary
from .periods import period_human
from .related import related_incidents

# Sources whose records have no address of their own but whose page the incident came from.
SOURCE_HOSTS = {"aiaaic": "aiaaic.org"}


def external_record_url(scheme, value, source_url=""):
    """Where a reader finds an external record: the source's page for it when it has one
    (an AI Incident Database citation page; the AIAAIC page the incident was imported from),
    else this site's resolver for the id."""
    url = documents.external_id_url(scheme, value)
    if url:
        return url
    host = SOURCE_HOSTS.get(scheme)
    if host and source_url:
        netloc = urlsplit(source_url).hostname or ""
        if netloc == host or netloc.endswith("." + host):
            return source_url
    return reverse("repository:external_id", args=[scheme, value])


def external_records(items, source_url=""):
    """[{scheme, value, label, url, elsewhere}] for external ids ({scheme, value} items or rows)."""
    records = []
    for item in items:
        scheme, value = (
            (item["scheme"], item["value"]) if isinstance(item, dict) else (item.scheme, item.value)
        )
        url = external_record_url(scheme, value, source_url)
        records.append(
            {
                "scheme": scheme,
                "value": value,
                "label": documents.external_id_label(scheme),
                "url": url,
                "elsewhere": url.startswith(("http://", "https://")),
            }
        )
    return records


def citation_context(incident, revision):
    """The citation of one version, in every format, and the page markup that describes it."""
    citation = citations.citation_for(incident=incident, revision=revision)
    document = documents.upgrade(revision.document)
    return {
        "citation": citation,
        "cite_formats": citations.formats(citation),
        "citation_meta": citations.meta_tags(citation, document),
        "citation_json_ld": citations.json_ld(citation, document),
    }


def incident_page_context(incident, *, entity_links, term_links, references):
    """The incident page's additions: citation, dates, number of sources, related incidents."""
    revision = incident.current_revision
    context = {
        "first_published": incident.created_at,
        "last_updated": revision.created_at if revision else incident.updated_at,
        "source_count": len(references),
        "related": related_incidents(incident, entity_links=entity_links, term_links=term_links),
    }
    if revision is not None:
        context.update(citation_context(incident, revision))
    return context


def document_sections(document):
    """A document's references under the five section headings, in page order."""
    references = document.get("references", {})
    return [
        {"label": label, "references": references.get(category, [])}
        for category, label in Reference.Category.choices
    ]


def document_classification(document, vocabularies):
    """A document's classification lines as names (an old version's names may since have been
    renamed, so they are shown as written): roles first, then vocabularies in their order."""
    lines = []
    placeholders = document.get("placeholders", {})
    for role, label in documents.ROLE_LABELS.items():
        names = document.get("entities", {}).get(role, [])
        if names or placeholders.get(role):
            lines.append({"label": label, "values": names, "unknown": placeholders.get(role, "")})
    terms = document.get("terms", {})
    known = set()
    for vocabulary in vocabularies:
        known.add(vocabulary.slug)
        if terms.get(vocabulary.slug) or placeholders.get(vocabulary.slug):
            label = (
                f"{vocabulary.group} ({vocabulary.label.lower()})" if vocabulary.group else vocabulary.label
            )
            lines.append(
                {
                    "label": label,
                    "values": terms.get(vocabulary.slug, []),
                    "unknown": placeholders.get(vocabulary.slug, ""),
                }
            )
    for slug in sorted(set(terms) - known):
        lines.append({"label": slug, "values": terms[slug], "unknown": placeholders.get(slug, "")})
    return lines


def version_context(incident, revision):
    """What the permanent page of one version shows, from the revision's document."""
    document = documents.upgrade(revision.document)
    return {
        "document": document,
        "classification": document_classification(document, Vocabulary.objects.all()),
        "sections": document_sections(document),
        "external_ids": external_records(document.get("external_ids", []), document.get("source_url", "")),
        "source_count": sum(len(items) for items in document.get("references", {}).values()),
        "occurred_display": period_human(document.get("occurred", "")),
        "provenance": provenance.section_lines(document),
        **citation_context(incident, revision),
    }
