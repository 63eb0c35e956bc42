"""What a web page says about itself: its title, its publisher and when it was published.

Read from the HTML `<title>`, Open Graph (`og:title`, `og:site_name`,
`article:published_time`), Highwire/Google Scholar citation tags (`citation_title`,
`citation_publisher`, `citation_journal_title`, `citation_publication_date`,
`citation_date`), Dublin Core and common date tags, and a JSON-LD `NewsArticle`-style
block when the tags say nothing. The date becomes the project's ISO partial-date text
(`2021-02-09`, `2021-02`, `2021`; see `periods`). Only the standard library's parser is
used; it never runs scripts or fetches anything.
"""

import json
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

from . import documents
from .periods import PeriodError, parse_partial_date

TITLE_KEYS = ("citation_title", "og:title", "twitter:title", "dc.title", "dcterms.title")
PUBLISHER_KEYS = (
    "citation_publisher",
    "citation_journal_title",
    "citation_conference_title",
    "og:site_name",
    "dc.publisher",
    "dcterms.publisher",
    "application-name",
)
DATE_KEYS = (
    "citation_publication_date",
    "citation_date",
    "citation_online_date",
    "article:published_time",
    "og:published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "dcterms.created",
    "date",
    "pubdate",
    "publish-date",
    "publication_date",
    "parsely-pub-date",
    "sailthru.date",
)
NUMERIC_DATE = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?(?:$|[T\s])")
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
MAX_JSON_LD = 200_000  # characters of one script block worth reading


@dataclass(frozen=True)
class PageMetadata:
    title: str = ""
    publisher: str = ""
    published: str = ""  # ISO partial date or ""


class _HeadParser(HTMLParser):
    """Collects the first <title>, every <meta> by name/property/itemprop, and JSON-LD."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta = {}
        self.title = None
        self.json_ld = []
        self._in = None  # "title" or "json-ld" while inside one
        self._text = []

    def handle_starttag(self, tag, attrs):
        attrs = {name.lower(): (value or "") for name, value in attrs}
        if tag == "meta":
            content = attrs.get("content", "")
            for attribute in ("name", "property", "itemprop", "http-equiv"):
                key = attrs.get(attribute, "").strip().lower()
                if key and content.strip():
                    self.meta.setdefault(key, content)
        elif tag == "title" and self.title is None and self._in is None:
            self._in, self._text = "title", []
        elif tag == "script" and attrs.get("type", "").strip().lower() == "application/ld+json":
            self._in, self._text = "json-ld", []

    def handle_endtag(self, tag):
        if self._in == "title" and tag == "title":
            self.title = "".join(self._text)
            self._in = None
        elif self._in == "json-ld" and tag == "script":
            self.json_ld.append("".join(self._text)[:MAX_JSON_LD])
            self._in = None

    def handle_data(self, data):
        if self._in is not None:
            self._text.append(data)


def decode_html(body, charset=None):
    """The page as text: the header's charset, else a <meta charset>, else UTF-8."""
    candidates = [charset]
    match = META_CHARSET.search(body[:4096])
    if match:
        candidates.append(match[1].decode("ascii", "ignore"))
    for name in filter(None, candidates):
        try:
            return body.decode(name, errors="replace")
        except LookupError:
            continue
    return body.decode("utf-8", errors="replace")


def partial_date_iso(text):
    """An ISO partial date from what a page writes ('2021-02-09T10:00Z', '2021/2/9',
    'February 9, 2021', 'Tue, 09 Feb 2021 10:00:00 GMT'); '' when it cannot be read."""
    text = (text or "").strip()
    if not text:
        return ""
    if match := NUMERIC_DATE.match(text):
        parts = [part for part in match.groups() if part]
        try:
            return parse_partial_date("-".join(parts)).iso()
        except PeriodError:
            return ""
    try:
        return parse_partial_date(text).iso()
    except PeriodError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return ""
    try:
        return parse_partial_date(moment.date().isoformat()).iso()
    except PeriodError:
        return ""


def _json_ld_items(blocks):
    """The objects in JSON-LD blocks, flattening lists and @graph."""
    for block in blocks:
        try:
            data = json.loads(block)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if isinstance(item.get("@graph"), list):
                    stack.extend(item["@graph"])
                yield item


def _json_ld(blocks):
    title = publisher = published = ""
    for item in _json_ld_items(blocks):
        if not title and isinstance(item.get("headline"), str):
            title = item["headline"]
        if not published and isinstance(item.get("datePublished"), str):
            published = item["datePublished"]
        owner = item.get("publisher")
        if not publisher and isinstance(owner, dict) and isinstance(owner.get("name"), str):
            publisher = owner["name"]
    return title, publisher, published


def _first(meta, keys):
    for key in keys:
        value = documents.clean_name(meta.get(key, ""))
        if value:
            return value
    return ""


def host_name(url):
    """The host as a publisher of last resort: 'www.example.org' -> 'example.org'."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def parse_metadata(body, *, url, charset=None):
    """Title, publisher and publication date of an HTML page (bytes). Never raises on bad HTML."""
    parser = _HeadParser()
    try:
        parser.feed(decode_html(body, charset))
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    ld_title, ld_publisher, ld_published = _json_ld(parser.json_ld)
    title = _first(parser.meta, TITLE_KEYS) or documents.clean_name(ld_title)
    title = title or documents.clean_name(parser.title or "")
    publisher = _first(parser.meta, PUBLISHER_KEYS) or documents.clean_name(ld_publisher)
    published = ""
    for key in DATE_KEYS:
        published = partial_date_iso(parser.meta.get(key, ""))
        if published:
            break
    published = published or partial_date_iso(ld_published)
    return PageMetadata(
        title=title[: documents.MAX_LENGTHS["title"]],
        publisher=(publisher or host_name(url))[: documents.MAX_LENGTHS["publisher"]],
        published=published,
    )
