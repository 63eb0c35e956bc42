"""Related incidents: those sharing the most entities with an incident, then the most terms,
then the nearest in time, each with the reason in words ("Same deployer: Clearview AI; same
country: USA").

The work is a fixed number of queries on the indexed link tables whatever the size of the
repository: each tier's candidates are counted and capped in the database, and only the
few winners are read back in detail. The answer is cached per incident under the freshness
token, so anything published makes it unreachable at once.
"""

from datetime import date

from django.db import connection
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from . import freshness
from .models import Incident, IncidentEntity, IncidentTerm

LIMIT = 6
CANDIDATES = 40  # sharing the most terms, before ranking
ENTITY_CANDIDATES = 100  # sharing the most entities, before the terms break their ties
PER_LINK = 300  # incidents considered per shared entity or term (its newest)
CACHE_SECONDS = 24 * 3600  # the bound on staleness if the cache missed a new token
REASONS, NAMES = 3, 3  # at most, in a reason: the parts ("same country: …"), the names in each
_NEVER = 10**9  # the distance of a period that is not known


def _sharing(model, column, ids, incident_id, limit):
    """{incident id: how many of `ids` it shares} for the unmerged incidents sharing most, at
    most `limit` of them: one query. Each linked id brings at most PER_LINK incidents (its
    newest), so a term carried by half the repository ("USA") costs no more than a rare one
    and the work does not grow with the repository."""
    table, ids = model._meta.db_table, sorted(ids)
    if connection.vendor == "postgresql":
        # The table and column are the models' own names; every value is a parameter.
        sql = (
            f"SELECT c.incident_id, COUNT(*) AS shared FROM unnest(%s::bigint[]) AS l(id) "  # noqa: S608
            f"CROSS JOIN LATERAL (SELECT DISTINCT x.incident_id FROM {table} x "
            f"WHERE x.{column} = l.id AND x.incident_id <> %s "
            f"ORDER BY x.incident_id DESC LIMIT %s) c "
            "JOIN repository_incident i ON i.id = c.incident_id AND i.merged_into_id IS NULL "
            "GROUP BY c.incident_id ORDER BY shared DESC, c.incident_id DESC LIMIT %s"
        )
        params = [ids, incident_id, PER_LINK, limit]
    else:  # the quick start: the same answer through a window over the few links it holds
        marks = ", ".join("%s" for _ in ids)
        sql = (
            "SELECT c.incident_id, COUNT(*) AS shared FROM (SELECT x.incident_id, "  # noqa: S608
            f"ROW_NUMBER() OVER (PARTITION BY x.{column} ORDER BY x.incident_id DESC) AS rn "
            f"FROM (SELECT DISTINCT incident_id, {column} FROM {table} "
            f"WHERE {column} IN ({marks}) AND incident_id <> %s) x) c "
            "JOIN repository_incident i ON i.id = c.incident_id AND i.merged_into_id IS NULL "
            "WHERE c.rn <= %s GROUP BY c.incident_id ORDER BY shared DESC, c.incident_id DESC LIMIT %s"
        )
        params = [*ids, incident_id, PER_LINK, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def _distance(a, b):
    """Days between two incidents' periods (0 when they overlap); unknown periods are far."""
    if a.occurred_start is None or b.occurred_start is None:
        return _NEVER
    today = date.today()
    a_end, b_end = a.occurred_end or today, b.occurred_end or today
    return max(0, (b.occurred_start - a_end).days, (a.occurred_start - b_end).days)


def _reasons(entity_rows, term_rows, entity_roles, entity_names, term_info, role_labels):
    """'Same deployer: Clearview AI; same country: USA' from the shared links of one incident."""
    by_role, elsewhere = {}, []
    for entity_id, role in entity_rows:
        name = entity_names[entity_id]
        if role in entity_roles[entity_id]:
            if name not in by_role.setdefault(role, []):
                by_role[role].append(name)
        elif name not in elsewhere:
            elsewhere.append(name)
    parts = [
        f"same {role_labels[role].lower()}: {_names(names)}"
        for role, names in sorted(by_role.items(), key=lambda item: list(role_labels).index(item[0]))
    ]
    elsewhere = [name for name in elsewhere if not any(name in names for names in by_role.values())]
    if elsewhere:
        parts.append(f"also involves {_names(elsewhere)}")
    by_vocabulary = {}
    for term_id in term_rows:
        vocabulary, name = term_info[term_id]
        by_vocabulary.setdefault(vocabulary, []).append(name)
    for vocabulary, names in sorted(by_vocabulary.items(), key=lambda item: (item[0].order, item[0].label)):
        label = f"{vocabulary.group} ({vocabulary.label})" if vocabulary.group else vocabulary.label
        parts.append(f"same {label.lower()}: {_names(names)}")
    text = "; ".join(parts[:REASONS])
    if len(parts) > REASONS:
        text += f"; {len(parts) - REASONS} more in common"
    return text[:1].upper() + text[1:]


def _names(names):
    """'A, B, C and 2 more': a few names, so that a reason stays one line."""
    if len(names) <= NAMES:
        return ", ".join(names)
    return f"{', '.join(names[:NAMES])} and {len(names) - NAMES} more"


def related_incidents(incident, *, entity_links, term_links, limit=LIMIT):
    """Up to `limit` incidents related to `incident`, best first, as dicts (slug, number,
    headline, occurred, reasons). `entity_links` and `term_links` are the incident's own
    IncidentEntity rows (with `entity`) and IncidentTerm rows (with `term__vocabulary`)."""
    entity_names = {link.entity_id: link.entity.name for link in entity_links}
    term_info = {link.term_id: (link.term.vocabulary, link.term.name) for link in term_links}
    if not entity_names and not term_info:
        return []
    key = f"related:{incident.pk}:{incident.current_revision_id}:{freshness.token()}"
    cached = freshness.cache_get(key)  # a cache that is down only costs the queries
    if cached is not None:
        return cached

    by_entities = (
        _sharing(IncidentEntity, "entity_id", entity_names, incident.pk, ENTITY_CANDIDATES)
        if entity_names
        else {}
    )
    by_terms = _sharing(IncidentTerm, "term_id", term_info, incident.pk, CANDIDATES) if term_info else {}
    candidates = set(by_entities) | set(by_terms)
    if not candidates:
        result = []
    else:
        # The candidates with how many of the incident's terms each carries (the tie-break among
        # those sharing as many entities), read with them.
        rows = Incident.objects.filter(pk__in=candidates).only(
            "pk", "slug", "number", "headline", "occurred", "occurred_start", "occurred_end"
        )
        if term_info:
            shared_terms = (
                IncidentTerm.objects.filter(incident_id=OuterRef("pk"), term_id__in=list(term_info))
                .order_by()
                .values("incident_id")
                .annotate(n=Count("pk"))
                .values("n")
            )
            rows = list(rows.annotate(shared_terms=Coalesce(Subquery(shared_terms), 0)))
            by_terms = {other.pk: other.shared_terms for other in rows}
        ranked = sorted(
            rows,
            key=lambda other: (
                -by_entities.get(other.pk, 0),
                -by_terms.get(other.pk, 0),
                _distance(incident, other),
                -other.number,
            ),
        )[:limit]
        result = _describe(ranked, entity_names, term_info, entity_links)
    freshness.cache_set(key, result, CACHE_SECONDS)
    return result


def _describe(ranked, entity_names, term_info, entity_links):
    """The winners as dicts, each with its reasons (two queries: their shared links)."""
    ids = [other.pk for other in ranked]
    entity_roles = {}
    for link in entity_links:
        entity_roles.setdefault(link.entity_id, set()).add(link.role)
    shared_entities, shared_terms = {}, {}
    if entity_names:
        for incident_id, entity_id, role in (
            IncidentEntity.objects.filter(incident_id__in=ids, entity_id__in=entity_names)
            .order_by("position")
            .values_list("incident_id", "entity_id", "role")
        ):
            shared_entities.setdefault(incident_id, []).append((entity_id, role))
    if term_info:
        for incident_id, term_id in (
            IncidentTerm.objects.filter(incident_id__in=ids, term_id__in=term_info)
            .order_by("position")
            .values_list("incident_id", "term_id")
        ):
            shared_terms.setdefault(incident_id, []).append(term_id)
    role_labels = dict(IncidentEntity.Role.choices)
    return [
        {
            "slug": other.slug,
            "number": other.number,
            "headline": other.headline,
            "occurred": other.occurred_display,
            "url": other.get_absolute_url(),
            "reasons": _reasons(
                shared_entities.get(other.pk, []),
                shared_terms.get(other.pk, []),
                entity_roles,
                entity_names,
                term_info,
                role_labels,
            ),
        }
        for other in ranked
    ]
