"""Which published incident a row is (identity across exports), and which spellings in a
sheet name one thing (folded, or reported as merge candidates)."""

import datetime
import functools
import re
from collections import Counter, defaultdict
from difflib import SequenceMatcher

from ... import documents
from ...addresses import normalize_url
from ...documents import fold
from ...lookalikes import clusters
from ...models import Entity, EntityAlias, ExternalId, Incident, IncidentEntity, SourceRecord, Term
from ...periods import parse_period
from ...services import make_slug

AIAAIC_PAGE = "https://www.aiaaic.org/"


# Identity ----------------------------------------------------------------------------------


def _words(text):
    return {word for word in re.findall(r"[a-z0-9]+", documents.fold_text(text)) if len(word) > 2}


def similar_headlines(a, b):
    """Two headlines of one story: mostly the same words, or mostly the same text."""
    if a == b:
        return True  # what the comparisons below say of one text (an import run again: every row)
    words_a, words_b = _words(a), _words(b)
    if words_a and words_b:
        shared = len(words_a & words_b) / min(len(words_a), len(words_b))
        if shared >= 0.6:
            return True
    return SequenceMatcher(None, a.casefold(), b.casefold()).ratio() >= 0.75


SKIP = object()  # a row Identities.find says to leave alone


class Identities:
    """Which published incident each row of a chunk is: a few indexed queries per chunk (ids,
    normalised source links, slugs), so memory does not grow with the database."""

    def __init__(self, rows):
        self.by_id = defaultdict(list)  # AIAAIC id -> [incident id]
        self.by_source = defaultdict(list)  # normalised source link -> [incident id]
        self.by_slug = {}
        self.headline, self.source = {}, {}
        ids = {row.external_id for row in rows if row.external_id}
        sources = {normalize_url(row.values.get("source_url", "")) for row in rows} - {""}
        slugs = {row.values.get("permalink") or make_slug(slug_hint(row), "incident", 255) for row in rows}
        pairs = ExternalId.objects.filter(
            scheme="aiaaic", value__in=ids, incident__merged_into__isnull=True
        ).values_list("value", "incident_id")
        for value, incident_id in pairs:
            self.by_id[value].append(incident_id)
        # Three lookups, each on its own index (an OR of them would scan the table).
        columns = ("pk", "slug", "headline", "source_key", "occurred", "merged_into_id")
        found = {}
        for lookup in (
            {"pk__in": {pk for pks in self.by_id.values() for pk in pks}},
            {"source_key__in": sources},
            {"slug__in": slugs},
        ):
            if next(iter(lookup.values())):
                for values in Incident.objects.filter(**lookup).values_list(*columns):
                    found[values[0]] = values
        found = [found[pk] for pk in sorted(found)]
        # A merged incident's source and slug now lead to the incident it was merged into.
        survivors = {survivor for *_rest, survivor in found if survivor is not None}
        known = {pk for pk, *_rest in found}
        found += list(Incident.objects.filter(pk__in=survivors - known).values_list(*columns))
        self.merged_slugs = set()
        self.occurred = {}
        for pk, slug, headline, key, occurred, survivor in found:
            self.headline[pk], self.source[pk], self.occurred[pk] = headline, key, occurred
            if survivor is None:
                self.by_slug[slug] = pk
                if key:
                    self.by_source[key].append(pk)
        for _pk, slug, _headline, key, _occurred, survivor in found:
            if survivor is not None:
                self.merged_slugs.add(slug)
                self.by_slug.setdefault(slug, survivor)
                if key and survivor not in self.by_source[key]:
                    self.by_source[key].append(survivor)
        slugged = set(self.by_slug.values()) | {pk for pks in self.by_source.values() for pk in pks}
        self.aiaaic_ids = defaultdict(set)  # incident id -> its AIAAIC ids
        for incident_id, value in ExternalId.objects.filter(
            scheme="aiaaic", incident_id__in=slugged
        ).values_list("incident_id", "value"):
            self.aiaaic_ids[incident_id].add(value)
        self.has_aiaaic = set(self.aiaaic_ids)
        self.doubts = {}  # row line -> [(incident id, what tells them apart)]
        self.named = {pk for pks in self.by_id.values() for pk in pks}
        self.rows = rows

    @functools.cached_property
    def headlines(self):
        """Every headline any source's statements ever gave the incidents the ids name (read
        once a chunk, when a row's headline is not like its incident's current one)."""
        headlines = defaultdict(set)
        for incident_id, headline in SourceRecord.objects.filter(incident_id__in=self.named).values_list(
            "incident_id", "document__headline"
        ):
            if isinstance(headline, str) and headline:
                headlines[incident_id].add(headline)
        return headlines

    @functools.cached_property
    def organisations(self):
        """The organisations (deployers, developers) of those incidents, by entity."""
        organisations = defaultdict(set)
        for incident_id, entity_id in IncidentEntity.objects.filter(
            incident_id__in=self.named, role__in=ORGANISATION_ROLES
        ).values_list("incident_id", "entity_id"):
            organisations[incident_id].add(entity_id)
        return organisations

    @functools.cached_property
    def entity_of(self):
        """{folded name: entity} of the rows' organisations, read through the aliases."""
        keys = {fold(name) for row in self.rows for name in _row_organisations(row)}
        return dict(EntityAlias.objects.filter(key__in=keys).values_list("key", "entity_id")) if keys else {}

    def find(self, row, report, taken):
        """The incident the row updates, None for a new one (reporting a reused id), or SKIP
        for a row whose incident another row of the file updated already."""
        source = normalize_url(row.values.get("source_url", ""))
        headline = row.headline
        named = self.by_id.get(row.external_id, [])
        candidates = [pk for pk in named if pk not in taken]
        if named and not candidates:
            pk = named[0]
            report.add(
                "merged-id",
                f"{row.external_id} belongs to incident {pk} ({self.headline.get(pk, '')!r}) with another "
                f"id of this file (the two were merged), and row {taken[pk]} updated it already: this "
                "row is left as it is.",
                row=row.line,
            )
            return SKIP
        for pk in candidates:
            # The id and the story agree: a headline like one any source ever gave it, or
            # the same source link.
            if (
                (source and self.source[pk] == source)
                or similar_headlines(self.headline[pk], headline)
                or any(similar_headlines(known, headline) for known in sorted(self.headlines[pk]))
            ):
                return pk
        for pk in self.by_source.get(source, []) if source else []:
            # A source link alone never joins a row to an incident of another id.
            if pk not in taken and not (row.external_id and self.aiaaic_ids.get(pk)):
                return pk
            if row.external_id and not candidates and self.aiaaic_ids.get(pk):
                report.add(
                    "other-link",
                    f"{row.external_id} links to the page of incident {pk} "
                    f"({', '.join(sorted(self.aiaaic_ids[pk]))}, {self.headline.get(pk, '')!r}): a link alone "
                    "does not join rows of different ids; imported on its own.",
                    row=row.line,
                )
        for pk in candidates:
            # ... or a period that overlaps and an organisation they share.
            if self._same_period_and_organisation(pk, row):
                return pk
        if candidates:
            others = "; ".join(f"incident {pk}: {self.headline[pk]!r}" for pk in candidates)
            report.add(
                "id-reused",
                f"{row.external_id} names {others} on the site, and {headline!r} here: a "
                "different story, imported as a new incident; both keep the id, and a merge is "
                "proposed to editors.",
                row=row.line,
            )
            self.doubts[row.line] = [
                (
                    pk,
                    f"Both carry the AIAAIC id {row.external_id}; the export of row {row.line} tells "
                    f"{headline!r}, the incident {self.headline[pk]!r} (no headline alike, "
                    f"{'another source link' if source else 'no source link'}).",
                )
                for pk in candidates
            ]
            return None
        slug = row.values.get("permalink") or make_slug(slug_hint(row), "incident", 255)
        pk = self.by_slug.get(slug)
        if (
            pk is not None
            and pk not in taken
            and (pk not in self.has_aiaaic or slug in self.merged_slugs)
            and (row.values.get("permalink") is None or similar_headlines(self.headline[pk], headline))
        ):
            return pk  # a page (or a snapshot row) imported before, under the same slug
        return None

    def _same_period_and_organisation(self, pk, row):
        mine = _period(row.values.get("occurred", ""))
        theirs = _period(self.occurred.get(pk, ""))
        if mine is None or theirs is None:
            return False
        end = datetime.date.max
        if (mine.last_day or end) < theirs.first_day or (theirs.last_day or end) < mine.first_day:
            return False
        entities = {self.entity_of.get(fold(name)) for name in _row_organisations(row)} - {None}
        return bool(entities & self.organisations[pk])


ORGANISATION_ROLES = ("deployer", "developer")


def _row_organisations(row):
    return [name for role in ORGANISATION_ROLES for name in row.values.get(f"entities:{role}", [])]


def _period(text):
    try:
        return parse_period(text) if text else None
    except ValueError:
        return None


def slug_hint(row):
    if row.values.get("permalink"):
        return row.values["permalink"]
    url = row.values.get("source_url", "")
    if url.startswith(AIAAIC_PAGE):
        return url.rstrip("/").rsplit("/", 1)[-1]
    return row.headline


# Spellings and merge candidates --------------------------------------------------------------


def count_spellings(row, counts, first_row):
    """Count the row's spellings of each folded name: counts[(scope, key)][spelling], and the
    first row of each spelling."""
    count_names(row.values.items(), row.line, counts, first_row)


def count_names(values, line, counts, first_row):
    for target, value in values:
        kind, _, name = target.partition(":")
        if kind not in ("terms", "entities"):
            continue
        scope = name if kind == "terms" else ("system" if name == "system" else "organisation")
        for item in value:
            if documents.is_placeholder(item):
                continue
            key = (scope, fold(item))
            counts[key][item] += 1
            first_row.setdefault((key, item), line)


def report_folds(counts, first_row, report):
    for (scope, _key), counter in counts.items():
        if len(counter) > 1:
            ranked = counter.most_common()
            name = ranked[0][0]
            variants = ", ".join(
                f"{spelling!r} ({uses}×, first on row {first_row[((scope, _key), spelling)]})"
                for spelling, uses in ranked[1:]
            )
            report.add("folded", f"{variants} folded into {name!r} ({ranked[0][1]}×).", column=scope)


def report_merge_candidates(taxonomy, scopes, report):
    """Report the look-alike clusters (`lookalikes.clusters`) of each vocabulary, and among
    organisations and systems, that the import met names of."""
    for scope in sorted(scopes):
        if scope in taxonomy.vocabularies:
            rows = Term.objects.filter(vocabulary__slug=scope, merged_into__isnull=True)
        elif scope in (Entity.Kind.ORGANISATION, Entity.Kind.SYSTEM):
            rows = Entity.objects.filter(kind=scope, merged_into__isnull=True)
        else:
            continue
        for cluster in clusters(scope, [(pk, name, 0) for pk, name in rows.values_list("pk", "name")]):
            names = sorted(Counter(item["name"] for item in cluster.members).items())
            if len(names) == 1:
                text = f"{names[0][1]} rows named {names[0][0]!r} may be one."
            else:
                shown = [f"{name!r}" + (f" ({n} rows)" if n > 1 else "") for name, n in names]
                text = ", ".join(shown[:-1]) + " and " + shown[-1] + " may be one name."
            report.add("merge-candidate", text, column=scope)
