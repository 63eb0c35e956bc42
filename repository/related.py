"""Related incidents: those sharing the most entities with an incident, then the most terms,
then the nearest in time, each with the reason in words ("Same deployer: Clearview AI; same
country: USA").

The work is two queries on the indexed link tables whatever the size of the repository: one
statement counts and caps each tier's candidates in the database and reads them with what ranks
them, and one reads the few winners' shared links for their reasons. The answer is cached per
incident under the freshness token, so anything published makes it unreachable at once.
"""

from collections import namedtuple
from datetime import date

from django.db import connection

from . import freshness
from .models import Incident, IncidentEntity, IncidentTerm

LIMIT = 6
CANDIDATES = 40  # sharing the most terms, before ranking
ENTITY_CANDIDATES = 100  # sharing the most entities, before the terms break their ties
PER_LINK = 300  # incidents considered per shared entity or term (its newest)
CACHE_SECONDS = 24 * 3600  # the bound on staleness if the cache missed a new token
REASONS, NAMES = 3, 3  # at most, in a reason: the parts ("same country: …"), the names in each
_NEVER = 10**9  # the distance of a period that is not known

# A row of `_candidates`.
Candidate = namedtuple(
    "Candidate", "pk entities terms slug number headline occurred occurred_start occurred_end"
)

INCIDENTS = Incident._meta.db_table
ENTITY_LINKS = IncidentEntity._meta.db_table
TERM_LINKS = IncidentTerm._meta.db_table


def _among(column, ids):
    """`column` is one of `ids` (a non-empty list), as SQL and its parameters."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join('%s' for _ in ids)})", list(ids)


def _sharing(table, column, ids, incident_id, limit, *, once_per_incident=False):
    """A statement of (incident_id, shared): how many of `ids` each unmerged incident shares,
    for the `limit` sharing most. Each linked id brings at most PER_LINK incidents (its
    newest), so a term carried by half the repository ("USA") costs no more than a rare one
    and the work does not grow with the repository. Incidents merged into another may keep
    their link rows (a sheet import merges them so): they count towards the PER_LINK of each
    id but are left out, through `merged` (the statement's list of them), before the `limit`
    sharing most are taken. `once_per_incident`: the table links an incident to an id at most
    once (a unique constraint), so no DISTINCT is needed to count each incident once per id."""
    if not ids:
        return "SELECT 0 AS incident_id, 0 AS shared WHERE 1 = 0", []
    ids = sorted(ids)
    if connection.vendor == "postgresql":
        # The table and column are the models' own names; every value is a parameter.
        distinct = "" if once_per_incident else "DISTINCT "
        sql = (
            "SELECT c.incident_id, COUNT(*) AS shared FROM unnest(%s::bigint[]) AS l(id) "  # noqa: S608
            f"CROSS JOIN LATERAL (SELECT {distinct}x.incident_id FROM {table} x "
            f"WHERE x.{column} = l.id AND x.incident_id <> %s "
            "ORDER BY x.incident_id DESC LIMIT %s) c "
            "WHERE c.incident_id NOT IN (SELECT id FROM merged) "
            "GROUP BY c.incident_id ORDER BY shared DESC, c.incident_id DESC LIMIT %s"
        )
        return sql, [ids, incident_id, PER_LINK, limit]
    # The quick start: the same answer through a window over the few links it holds.
    among, params = _among(column, ids)
    sql = (
        "SELECT c.incident_id, COUNT(*) AS shared FROM (SELECT x.incident_id, "  # noqa: S608
        f"ROW_NUMBER() OVER (PARTITION BY x.{column} ORDER BY x.incident_id DESC) AS rn "
        f"FROM (SELECT DISTINCT incident_id, {column} FROM {table} "
        f"WHERE {among} AND incident_id <> %s) x) c "
        "WHERE c.rn <= %s AND c.incident_id NOT IN (SELECT id FROM merged) "
        "GROUP BY c.incident_id ORDER BY shared DESC, c.incident_id DESC LIMIT %s"
    )
    return sql, [*params, incident_id, PER_LINK, limit]


def _candidates(entity_ids, term_ids, incident_id):
    """The candidates, in one statement: Candidates (id, shared entities, shared terms, slug,
    number, headline, occurred, occurred_start, occurred_end). They are the ENTITY_CANDIDATES
    sharing the most entities and the CANDIDATES sharing the most terms; the entities are
    counted as their tier counted them (0 outside it), the terms among all of each
    candidate's terms (the tie-break among those sharing as many entities)."""
    by_entities, entity_params = _sharing(
        ENTITY_LINKS, "entity_id", entity_ids, incident_id, ENTITY_CANDIDATES
    )
    by_terms, term_params = _sharing(
        TERM_LINKS, "term_id", term_ids, incident_id, CANDIDATES, once_per_incident=True
    )
    if term_ids:
        among, among_params = _among("t.term_id", term_ids)
        shared_terms = f"(SELECT COUNT(*) FROM {TERM_LINKS} t WHERE t.incident_id = i.id AND {among})"  # noqa: S608
    else:
        shared_terms, among_params = "0", []
    # The tables and columns are the models' own names; every value is a parameter.
    sql = (
        f"WITH merged AS (SELECT id FROM {INCIDENTS} WHERE merged_into_id IS NOT NULL), "  # noqa: S608
        f"by_entities AS ({by_entities}), by_terms AS ({by_terms}) "
        f"SELECT i.id, COALESCE(e.shared, 0), {shared_terms}, i.slug, i.number, i.headline, "
        f"i.occurred, i.occurred_start, i.occurred_end FROM {INCIDENTS} i "
        "LEFT JOIN by_entities e ON e.incident_id = i.id "
        "WHERE i.id IN (SELECT incident_id FROM by_entities UNION SELECT incident_id FROM by_terms)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*entity_params, *term_params, *among_params])
        return [Candidate(*row) for row in cursor.fetchall()]


def _distance(a_start, a_end, b_start, b_end, today):
    """Days between two periods (0 when they overlap; an open end is `today`); unknown
    periods are far."""
    if a_start is None or b_start is None:
        return _NEVER
    a_end, b_end = a_end or today, b_end or today
    return max(0, (b_start - a_end).days, (a_start - b_end).days)


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

    rows = _candidates(list(entity_names), list(term_info), incident.pk)
    if rows:
        today = date.today()
        start, end = incident.occurred_start, incident.occurred_end
        ranked = sorted(
            rows,
            key=lambda row: (
                -row.entities,
                -row.terms,
                _distance(start, end, row.occurred_start, row.occurred_end, today),
                -row.number,
            ),
        )[:limit]
        result = _describe(ranked, entity_names, term_info, entity_links)
    else:
        result = []
    freshness.cache_set(key, result, CACHE_SECONDS)
    return result


def _describe(ranked, entity_names, term_info, entity_links):
    """The winners (rows of `_candidates`) as dicts, each with its reasons: one query, their
    shared entities and terms in the order of their pages."""
    ids = [row.pk for row in ranked]
    entity_roles = {}
    for link in entity_links:
        entity_roles.setdefault(link.entity_id, set()).add(link.role)
    parts, params = [], []
    for table, column, role, linked in (
        (ENTITY_LINKS, "entity_id", "role", entity_names),
        (TERM_LINKS, "term_id", "NULL", term_info),
    ):
        if linked:
            of_winners, winner_params = _among("incident_id", ids)
            shared, shared_params = _among(column, list(linked))
            parts.append(
                f"SELECT incident_id, {column} AS linked_id, {role} AS role, position "  # noqa: S608
                f"FROM {table} WHERE {of_winners} AND {shared}"
            )
            params += [*winner_params, *shared_params]
    shared_entities, shared_terms = {}, {}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts) + " ORDER BY position", params)
        for incident_id, linked_id, role, _position in cursor.fetchall():
            if role is None:
                shared_terms.setdefault(incident_id, []).append(linked_id)
            else:
                shared_entities.setdefault(incident_id, []).append((linked_id, role))
    role_labels = dict(IncidentEntity.Role.choices)
    result = []
    for row in ranked:
        other = Incident(
            pk=row.pk, slug=row.slug, number=row.number, headline=row.headline, occurred=row.occurred
        )
        result.append(
            {
                "slug": row.slug,
                "number": row.number,
                "headline": row.headline,
                "occurred": other.occurred_display,
                "url": other.get_absolute_url(),
                "reasons": _reasons(
                    shared_entities.get(row.pk, []),
                    shared_terms.get(row.pk, []),
                    entity_roles,
                    entity_names,
                    term_info,
                    role_labels,
                ),
            }
        )
    return result
