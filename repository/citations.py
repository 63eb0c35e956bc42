"""How to cite one published version of an incident: as text, BibTeX, RIS and CSL-JSON,
and as the machine-readable markup on its page (Highwire `citation_*` meta tags, schema.org).

A citation always names a version (`/incidents/<slug>/v/<n>/`), the permanent address of the
text the reader read; later edits never change what it points at.

An incident whose values came from another database (the AIAAIC Repository, the AI Incident
Database) credits it: every format names that database as an author alongside this site, with
its licence (or, where the licence is not known, its terms of use), as the AIAAIC Repository's
CC BY-SA 4.0 licence requires. Which databases is read from the version's provenance (the
sources its values came from); where some values were recorded before provenance, the
databases whose ids the incident carries are credited too.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from . import documents, provenance
from .periods import parse_period
from .snapshots import CONTENT_TYPES

LICENSE_URL = "https://creativecommons.org/licenses/by-sa/4.0/"
AIAAIC_URL = "https://www.aiaaic.org/aiaaic-repository"


@dataclass(frozen=True)
class Source:
    """A database an incident came from, credited as an author of its citations."""

    name: str  # as an author: "AIAAIC"
    title: str  # the database: "AIAAIC Repository"
    url: str
    licence: str = ""  # "CC BY-SA 4.0"; empty when not known
    licence_url: str = ""  # the licence, or else the database's terms of use

    @property
    def credit(self):
        """'AIAAIC Repository (https://…), CC BY-SA 4.0 (https://…)'."""
        terms = f"{self.licence} ({self.licence_url})" if self.licence else f"terms of use {self.licence_url}"
        return f"{self.title} ({self.url}), {terms}"


# By the scheme of an external id. The AI Incident Database states no licence for its data in
# what the importer reads: it is credited with its terms of use.
SOURCES = {
    "aiaaic": Source("AIAAIC", "AIAAIC Repository", AIAAIC_URL, "CC BY-SA 4.0", LICENSE_URL),
    "aiid": Source(
        "AI Incident Database",
        "AI Incident Database",
        "https://incidentdatabase.ai/",
        licence_url="https://incidentdatabase.ai/terms-of-use/",
    ),
}


@dataclass(frozen=True)
class Format:
    extension: str
    label: str
    content_type: str


# The download formats, in the order the page offers them, by the extension of their URL.
FORMATS = {
    "txt": Format("txt", "Text", "text/plain; charset=utf-8"),
    "bib": Format("bib", "BibTeX", "application/x-bibtex; charset=utf-8"),
    "ris": Format("ris", "RIS", "application/x-research-info-systems; charset=utf-8"),
    "json": Format("json", "CSL-JSON", "application/vnd.citationstyles.csl+json; charset=utf-8"),
}


@dataclass(frozen=True)
class Citation:
    """What a citation of one version says, whatever its format."""

    title: str
    slug: str
    number: int  # the incident's permanent number
    version: int  # the revision's number
    date: datetime  # when this version was published
    first_published: datetime
    site: str
    site_url: str
    external_ids: list = field(default_factory=list)  # [(label, value)]
    sources: list = field(default_factory=list)  # [Source] the incident came from, credited

    # Kept once worked out (a page reads them a dozen times); frozen as the fields are.
    @cached_property
    def url(self):
        """The version's permanent address: what the citation points at."""
        return self.site_url + reverse("repository:incident_version", args=[self.slug, self.version])

    @cached_property
    def page_url(self):
        """The incident's current page."""
        return self.site_url + reverse("repository:incident", args=[self.slug])

    @property
    def key(self):
        return f"incident{self.number}v{self.version}"

    @property
    def day(self):
        return timezone.localtime(self.date).date()

    @property
    def label(self):
        return f"Incident {self.number}, version {self.version}"

    @property
    def ids_note(self):
        return "; ".join(f"{label} id {value}" for label, value in self.external_ids)

    @property
    def authors(self):
        """This site, then each database the incident came from."""
        return [self.site, *(source.name for source in self.sources)]

    @property
    def credits_note(self):
        """'From the AIAAIC Repository (…), CC BY-SA 4.0 (…).', or empty."""
        if not self.sources:
            return ""
        return "From the " + "; the ".join(source.credit for source in self.sources) + "."

    @property
    def note(self):
        """The external ids and the credits, for the formats' note field."""
        return ". ".join(part for part in (self.ids_note, self.credits_note) if part)

    def filename(self, extension):
        return f"incident-{self.number}-v{self.version}.{extension}"


def citation_for(*, incident, revision):
    """The citation of `revision`, a published version of `incident`."""
    document = documents.upgrade(revision.document)
    return Citation(
        title=document.get("headline") or incident.headline,
        slug=incident.slug,
        number=incident.number,
        version=revision.number,
        date=revision.created_at,
        first_published=incident.created_at,
        site=settings.SITE_NAME,
        site_url=settings.SITE_URL,
        external_ids=[
            (documents.external_id_label(item["scheme"]), item["value"])
            for item in document.get("external_ids", [])
        ],
        sources=credited_sources(document),
    )


def credited_sources(document):
    """The databases a version's values came from, as its provenance says; where some values
    were recorded before provenance (it cannot tell), also those whose ids it carries."""
    named = provenance.sources_of(document)
    if provenance.has_unknown_origins(document):
        named += [item["scheme"] for item in document.get("external_ids", [])]
    return list(dict.fromkeys(SOURCES[name] for name in named if name in SOURCES))


def _and(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " & " + names[-1]


def as_text(citation):
    """An author-date reference (the site, and the databases the incident came from, as
    corporate authors), for pasting into a text."""
    day = citation.day
    credits = f"{citation.credits_note} " if citation.sources else ""
    return (
        f"{_and(citation.authors)}. ({day.year}, {day:%B} {day.day}). {citation.title} "
        f"({citation.label}). {credits}{citation.url}"
    )


_BIBTEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def bibtex_escape(text):
    return "".join(_BIBTEX_SPECIALS.get(ch, ch) for ch in " ".join(str(text).split()))


def as_bibtex(citation):
    """A @misc entry; the title and the corporate authors in double braces keep their case."""
    day = citation.day
    fields = [
        ("author", " and ".join("{" + bibtex_escape(name) + "}" for name in citation.authors)),
        ("title", "{" + bibtex_escape(citation.title) + "}"),
        ("howpublished", bibtex_escape(f"{citation.site}, {citation.label.lower()}")),
        ("year", str(day.year)),
        ("month", None),
        ("date", day.isoformat()),
        ("url", citation.url),
    ]
    if citation.note:
        fields.append(("note", bibtex_escape(citation.note)))
    lines = [f"@misc{{{citation.key},"]
    for name, value in fields:
        if name == "month":
            lines.append(f"  month = {_MONTHS[day.month - 1]},")
        else:
            lines.append(f"  {name} = {{{value}}},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _ris_value(text):
    return " ".join(str(text).split())


def as_ris(citation):
    """An RIS record (a web page), lines ending CRLF as the format asks."""
    day = citation.day
    note = citation.label + (f". {citation.note}" if citation.note else "")
    tags = [
        ("TY", "ELEC"),
        ("TI", citation.title),
        *(("AU", name) for name in citation.authors),
        ("PB", citation.site),
        ("PY", str(day.year)),
        ("DA", f"{day:%Y/%m/%d}/"),
        ("ET", str(citation.version)),
        ("UR", citation.url),
        ("ID", citation.key),
        ("N1", note),
    ]
    lines = [f"{tag}  - {_ris_value(value)}" for tag, value in tags]
    lines.append("ER  - ")
    return "\r\n".join(lines) + "\r\n"


def csl_item(citation):
    day = citation.day
    item = {
        "id": citation.key,
        "type": "webpage",
        "title": citation.title,
        "author": [{"literal": name} for name in citation.authors],
        "container-title": citation.site,
        "publisher": citation.site,
        "number": str(citation.number),
        "version": str(citation.version),
        "issued": {"date-parts": [[day.year, day.month, day.day]]},
        "URL": citation.url,
    }
    if citation.note:
        item["note"] = citation.note
    return item


def as_csl_json(citation):
    """A CSL-JSON array of one item, as citation managers import it."""
    return json.dumps([csl_item(citation)], ensure_ascii=False, indent=2) + "\n"


RENDERERS = {"txt": as_text, "bib": as_bibtex, "ris": as_ris, "json": as_csl_json}


def render(citation, extension):
    return RENDERERS[extension](citation)


def formats(citation):
    """Each format with its text and download address, for the page's "Cite this incident"."""
    return [
        {
            "extension": fmt.extension,
            "label": fmt.label,
            "text": render(citation, fmt.extension),
            "url": reverse(
                "repository:incident_citation", args=[citation.slug, citation.version, fmt.extension]
            ),
            "filename": citation.filename(fmt.extension),
        }
        for fmt in FORMATS.values()
    ]


# The page's own markup: Highwire tags (Google Scholar, Zotero) and schema.org JSON-LD -------


def _date(value):
    return timezone.localtime(value).date()


def meta_tags(citation, document):
    """(name, content) pairs for `<meta>` tags, escaped by the template that writes them."""
    tags = [
        ("citation_title", citation.title),
        *(("citation_author", name) for name in citation.authors),
        ("citation_publisher", citation.site),
        ("citation_publication_date", f"{_date(citation.first_published):%Y/%m/%d}"),
        ("citation_online_date", f"{citation.day:%Y/%m/%d}"),
        ("citation_date", f"{citation.day:%Y/%m/%d}"),
        ("citation_public_url", citation.url),
        ("citation_abstract_html_url", citation.page_url),
        ("citation_language", "en"),
    ]
    keywords = [name for names in document.get("terms", {}).values() for name in names]
    if keywords:
        tags.append(("citation_keywords", "; ".join(keywords)))
    tags += [("DC.identifier", f"{label} id {value}") for label, value in citation.external_ids]
    tags += [("DC.source", source.credit) for source in citation.sources]
    return tags


def _period(text):
    period = parse_period(text or "")
    if period is None:
        return {}
    dates = {"startDate": period.start.iso()}
    if period.end is not None:
        dates["endDate"] = period.end.iso()
    return dates


def json_ld(citation, document):
    """schema.org: an Article (this version of the page) about the event it describes."""
    countries = document.get("terms", {}).get("country", [])
    identifiers = [
        {"@type": "PropertyValue", "propertyID": citation.site, "value": str(citation.number)},
    ]
    same_as = []
    for item in document.get("external_ids", []):
        identifiers.append(
            {
                "@type": "PropertyValue",
                "propertyID": documents.external_id_label(item["scheme"]),
                "value": item["value"],
            }
        )
        url = documents.external_id_url(item["scheme"], item["value"])
        if url:
            same_as.append(url)
    publisher = {"@type": "Organization", "name": citation.site, "url": citation.site_url + "/"}
    authors = [publisher] + [
        {"@type": "Organization", "name": source.name, "url": source.url} for source in citation.sources
    ]
    event = {"@type": "Event", "name": citation.title, **_period(document.get("occurred"))}
    if countries:
        event["location"] = [{"@type": "Country", "name": name} for name in countries]
    data = {
        "@context": "https://schema.org",
        "@type": "Article",
        "@id": citation.url,
        "headline": citation.title[:110],
        "name": citation.title,
        "url": citation.url,
        "mainEntityOfPage": citation.page_url,
        "datePublished": citation.first_published.isoformat(),
        "dateModified": citation.date.isoformat(),
        "version": str(citation.version),
        "inLanguage": "en",
        "author": authors if citation.sources else publisher,
        "publisher": publisher,
        "isAccessibleForFree": True,
        "license": LICENSE_URL,
        "identifier": identifiers,
        "about": event,
    }
    if document.get("summary"):
        data["description"] = document["summary"]
    keywords = [name for names in document.get("terms", {}).values() for name in names]
    if keywords:
        data["keywords"] = keywords
    if same_as:
        data["sameAs"] = same_as
    based_on = [source.url for source in citation.sources]
    if document.get("source_url"):
        based_on.append(document["source_url"])
    if based_on:
        data["isBasedOn"] = based_on[0] if len(based_on) == 1 else based_on
    if citation.sources:
        data["creditText"] = citation.credits_note
    return data


def dataset_json_ld(snapshots, *, site_url=None, site=None):
    """schema.org Dataset for the export page: one distribution per snapshot file."""
    site_url = site_url or settings.SITE_URL
    site = site or settings.SITE_NAME
    aiaaic = {"@type": "Organization", "name": "AIAAIC", "url": "https://www.aiaaic.org/"}
    publisher = {"@type": "Organization", "name": site, "url": site_url + "/"}
    data = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "name": f"{site}: incidents and controversies driven by AI, algorithms and automation",
        "description": (
            "Every published incident of the repository, as CSV in the AIAAIC Repository sheet's "
            "layout and as JSON incident documents, written out each night."
        ),
        "url": site_url + reverse("repository:export"),
        "license": LICENSE_URL,
        "isAccessibleForFree": True,
        "creator": [aiaaic, publisher],
        "publisher": publisher,
        "isBasedOn": AIAAIC_URL,
        "creditText": f"AIAAIC Repository ({AIAAIC_URL}), CC BY-SA 4.0; {site} ({site_url}/).",
        "distribution": [
            {
                "@type": "DataDownload",
                "name": snapshot.file_name,
                "encodingFormat": CONTENT_TYPES[snapshot.format].split(";")[0],
                "contentUrl": site_url + snapshot.get_absolute_url(),
                "contentSize": f"{snapshot.size} B",
                "uploadDate": snapshot.created_at.isoformat(),
                "sha256": snapshot.sha256,
            }
            for snapshot in snapshots
        ],
    }
    if snapshots:
        data["dateModified"] = max(snapshot.created_at for snapshot in snapshots).isoformat()
    return data
