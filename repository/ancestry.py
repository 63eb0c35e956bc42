"""Which terms each incident is under: its own terms and every ancestor of them.

An incident carrying "Govt - police" is under "Govt" too. `IncidentUnderTerm` keeps one row
per (incident, term) for that, so that a filter on "Govt", its facet count and its term page
read one index instead of an OR across a join. Publishing refreshes the rows of the incidents
it writes; taxonomy curation refreshes the incidents below a term whose parent changed.
Each refresh is two statements (delete the rows no longer wanted, insert the missing ones,
from the links and the terms' parents), whatever the number of incidents.
"""

from django.db import connection

from .models import Incident, IncidentTerm, IncidentUnderTerm, Term

UNDER = IncidentUnderTerm._meta.db_table
LINK = IncidentTerm._meta.db_table
TERM = Term._meta.db_table
INCIDENT = Incident._meta.db_table

# (term, one of its ancestors or itself) for every term linked to the incidents in `hit`.
_UP = f"""up(term_id, ancestor_id) AS (
    SELECT DISTINCT term_id, term_id FROM {LINK} WHERE incident_id IN (SELECT incident_id FROM hit)
    UNION
    SELECT up.term_id, t.parent_id FROM up JOIN {TERM} t ON t.id = up.ancestor_id
    WHERE t.parent_id IS NOT NULL
)"""  # noqa: S608
# The rows the incidents in `hit` should have.
_WANTED = f"""wanted(incident_id, term_id) AS (
    SELECT DISTINCT l.incident_id, up.ancestor_id FROM {LINK} l JOIN up ON up.term_id = l.term_id
    WHERE l.incident_id IN (SELECT incident_id FROM hit)
)"""  # noqa: S608
# Only what changed is written: a republished incident whose terms stayed writes nothing, and a
# moved term changes one or two rows of each incident below it.
_DELETE = f"""DELETE FROM {UNDER} WHERE incident_id IN (SELECT incident_id FROM hit) AND NOT EXISTS (
    SELECT 1 FROM wanted w WHERE w.incident_id = {UNDER}.incident_id AND w.term_id = {UNDER}.term_id
)"""  # noqa: S608
_INSERT = f"""INSERT INTO {UNDER} (incident_id, term_id)
SELECT w.incident_id, w.term_id FROM wanted w WHERE NOT EXISTS (
    SELECT 1 FROM {UNDER} u WHERE u.incident_id = w.incident_id AND u.term_id = w.term_id
) ON CONFLICT DO NOTHING"""  # noqa: S608
# Incidents created in this transaction have no rows yet: theirs are inserted without looking
# for any (which, planned for every row of the table, would grow with it).
_INSERT_FRESH = f"""INSERT INTO {UNDER} (incident_id, term_id)
SELECT w.incident_id, w.term_id FROM wanted w"""  # noqa: S608
# PostgreSQL also keeps the same ids in `Incident.under_term_ids` (GIN-indexed, read by the
# browse filters): the statement that inserts the rows sets them, from `wanted`, where they
# differ, so that a refresh is still two statements.
_IDS = """inserted AS ({insert} RETURNING 1)
UPDATE {incident} i SET under_term_ids = n.ids FROM (
    SELECT h.incident_id, COALESCE(
        array_agg(w.term_id ORDER BY w.term_id) FILTER (WHERE w.term_id IS NOT NULL), '{{}}'
    ) AS ids FROM hit h
    LEFT JOIN wanted w ON w.incident_id = h.incident_id GROUP BY h.incident_id
) n WHERE i.id = n.incident_id AND i.under_term_ids IS DISTINCT FROM n.ids"""
# The incidents carrying a term in the subtrees of some terms (after a parent changed).
_DOWN = f"""down(id) AS (
    SELECT id FROM {TERM} WHERE id IN ({{terms}})
    UNION
    SELECT t.id FROM {TERM} t JOIN down ON t.parent_id = down.id
), hit(incident_id) AS (
    SELECT DISTINCT incident_id FROM {LINK} WHERE term_id IN (SELECT id FROM down)
)"""  # noqa: S608


def _placeholders(values):
    return ", ".join(["%s"] * len(values))


# The same ids read back from the rows, for a statement that writes an incident's row anyway
# (publishing's last one): `i` is the incident.
IDS_OF_ROWS = f"ARRAY(SELECT u.term_id FROM {UNDER} u WHERE u.incident_id = i.id ORDER BY u.term_id)"  # noqa: S608


def _insert(fresh=False, ids=True):
    insert = _INSERT_FRESH if fresh else _INSERT
    if connection.vendor == "postgresql" and ids:
        return ", " + _IDS.format(insert=insert, incident=INCIDENT)
    return f" {insert}"


def _hit(incident_ids):
    return f"hit(incident_id) AS (SELECT id FROM {INCIDENT} WHERE id IN ({_placeholders(incident_ids)}))"  # noqa: S608


def refresh_incidents(incident_ids, *, fresh_ids=(), ids=True):
    """Make the rows of these incidents follow their links (two statements). `fresh_ids`
    are incidents created in this transaction, which have no rows to delete yet. Without
    `ids`, the caller sets `Incident.under_term_ids` itself (from IDS_OF_ROWS)."""
    incident_ids = list(incident_ids)
    if not incident_ids:
        return
    stale = [pk for pk in incident_ids if pk not in fresh_ids]
    with connection.cursor() as cursor:
        if stale:
            cursor.execute(f"WITH RECURSIVE {_hit(stale)}, {_UP}, {_WANTED} {_DELETE}", stale)
        cursor.execute(
            f"WITH RECURSIVE {_hit(incident_ids)}, {_UP}, {_WANTED}{_insert(fresh=not stale, ids=ids)}",
            incident_ids,
        )


def refresh_below(term_ids):
    """Refresh every incident carrying one of these terms or a term below them: after a term
    got another parent, or children moved between terms (two statements)."""
    term_ids = [pk for pk in term_ids if pk is not None]
    if not term_ids:
        return
    down = _DOWN.format(terms=_placeholders(term_ids))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH RECURSIVE {down}, {_UP}, {_WANTED} {_DELETE}", term_ids)
        cursor.execute(f"WITH RECURSIVE {down}, {_UP}, {_WANTED}{_insert()}", term_ids)


REBUILD = f"""WITH RECURSIVE up(term_id, ancestor_id) AS (
    SELECT id, id FROM {TERM}
    UNION
    SELECT up.term_id, t.parent_id FROM up JOIN {TERM} t ON t.id = up.ancestor_id
    WHERE t.parent_id IS NOT NULL
)
INSERT INTO {UNDER} (incident_id, term_id)
SELECT DISTINCT l.incident_id, up.ancestor_id FROM {LINK} l JOIN up ON up.term_id = l.term_id"""  # noqa: S608


REBUILD_IDS = f"""UPDATE {INCIDENT} i SET under_term_ids = ARRAY(
    SELECT u.term_id FROM {UNDER} u WHERE u.incident_id = i.id ORDER BY u.term_id
)"""  # noqa: S608


def rebuild():
    """Every row again, from the links (a repair; the migration fills the table the same way)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {UNDER}")  # noqa: S608
        cursor.execute(REBUILD)
        if connection.vendor == "postgresql":
            cursor.execute(REBUILD_IDS)
