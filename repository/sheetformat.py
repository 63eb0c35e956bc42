"""What the AIAAIC sheet importer and this site's CSV snapshot writer share: the names each
column goes by, and how a cell is kept from running as a spreadsheet formula.

A column is found by a normalised name (`header_key`: case, spacing, "(s)"/"(ies)" plural
suffixes and "(taxonomy)" ignored) through one table of names and synonyms that covers every
layout AIAAIC has used since 2023, and the columns of this site's own snapshots.
"""

import re

from . import documents

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a formula from these


# Column names ------------------------------------------------------------------------------


def header_key(text):
    """A column name as the table knows it: 'Country(ies) ' -> 'country',
    'News trigger (taxonomy)' -> 'news trigger', 'Headline/title' -> 'headline/title'."""
    text = " ".join(str(text).replace("\u00a0", " ").split()).casefold()
    text = re.sub(r"\s*\((?:s|es|ies|taxonomy)\)", "", text)
    text = re.sub(r"[\s:]+$", "", text)
    return text


def _names(*names):
    return [header_key(name) for name in names]


# target -> the names it goes by; a (group, sub-header) pair for grouped columns.
COLUMN_NAMES = {
    "external_id": _names("AIAAIC ID#", "AIAAIC ID", "AIAAIC #", "ID#", "ID"),
    "headline": _names("Headline", "Headline/title", "Title", "Headline / title"),
    "type": _names("Type"),
    "released": _names("Released", "Release date", "Year released"),
    "occurred": _names("Occurred", "Date occurred", "Occurred date"),
    "terms:country": [
        *_names("Country(ies)", "Countries", "Jurisdiction", "Jurisdiction(s)"),
        ("impacted area", "jurisdiction"),
        ("impacted area", "country"),
    ],
    "terms:sector": [*_names("Sector(s)", "Sectors"), ("impacted area", "sector")],
    "entities:deployer": _names("Deployer(s)", "Deployers", "Operator(s)", "Operators"),
    "entities:developer": _names("Developer(s)", "Developers"),
    "entities:system": _names("System name(s)", "System names", "System(s)", "Systems"),
    "entities:harmed": _names("Harmed parties", "Harmed party"),
    "terms:technology": _names("Technology(ies)", "Technologies"),
    "terms:purpose": _names("Purpose(s)", "Purposes"),
    "terms:news-trigger": _names("Media trigger(s)", "News trigger(s)", "News trigger (taxonomy)"),
    "terms:issue": _names("Issue(s)", "Issues", "Ethical issue(s)", "Ethical issue (taxonomy)"),
    "terms:transparency": _names("Transparency", "Transparency (taxonomy)"),
    "terms:consequence": _names("Consequence(s)", "Consequence (taxonomy)"),
    "terms:response": _names("Response(s)", "Response (taxonomy)"),
    "source": _names("Description/links", "Source", "Source link", "Link", "Links", "URL"),
    "summary_links": _names("Summary/links"),
    "summary": _names("Summary", "Description"),
    "narrative": _names("Narrative"),
    "external_ids": _names("External ids"),
    "placeholders": _names("Unknown roles"),
    "extra": _names("Other source columns"),
    "permalink": _names("Permalink"),
    "number": _names("Number"),  # a snapshot's incident number: with the permalink, its identity here
}
HARM_GROUPS = {
    "external": ("individual", "societal", "environmental"),
    "internal": ("strategic/reputational", "operational", "financial", "legal/regulatory"),
}
HARM_SLUGS = {
    "individual": "harm-individual",
    "societal": "harm-societal",
    "environmental": "harm-environmental",
    "strategic/reputational": "harm-strategic",
    "operational": "harm-operational",
    "financial": "harm-financial",
    "legal/regulatory": "harm-legal",
}
for _group, _subs in HARM_GROUPS.items():
    for _sub in _subs:
        COLUMN_NAMES[f"terms:{HARM_SLUGS[_sub]}"] = [
            (f"{_group} {word}", _sub) for word in ("harm", "harms", "harm (taxonomy)")
        ] + [(f"{_group} harm (taxonomy)", _sub)]
for _category, _label in documents.CATEGORY_LABELS.items():
    COLUMN_NAMES[f"references:{_category}"] = [("references", header_key(_label))]

GROUPS = {"impacted area", "references"} | {
    name[0] for names in COLUMN_NAMES.values() for name in names if isinstance(name, tuple)
}
# (header key, sub key) -> target
KNOWN = {
    (name if isinstance(name, tuple) else (name, "")): target
    for target, names in COLUMN_NAMES.items()
    for name in names
}
# Columns only this site's snapshots have: a file with them is read as a snapshot.
SNAPSHOT_TARGETS = {"external_ids", "narrative", "placeholders", "extra", "permalink"}
SNAPSHOT_TARGETS |= {f"references:{category}" for category in documents.CATEGORIES}
# Countries are also separated by commas in AIAAIC's exports ("USA, UK"), not in ours.
COMMA_SEPARATED = {"terms:country"}


def escape_cell(text):
    """A cell a spreadsheet would run as a formula (=, +, -, @, tab, carriage return) gets a
    leading apostrophe, and so does one that already starts with an apostrophe and such a
    sign, so that `unescape_cell` can take exactly one away again."""
    if text[:1] in FORMULA_START or (text[:1] == "'" and text[1:2] and text[1:2] in FORMULA_START):
        return "'" + text
    return text


def unescape_cell(text):
    """A cell's text, without the apostrophe `escape_cell` put before it."""
    if text[:1] == "'" and escape_cell(text[1:]) == text:
        return text[1:]
    return text
