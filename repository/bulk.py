"""Inserting many rows at once, cheaply: what publishing an import's chunk writes.

Django's `bulk_create` builds a model instance and prepares every field of every row in
Python, and on PostgreSQL quotes each column as an array literal in Python too: for the
thousands of link rows of an import's chunk (terms, entities, references, ids) that costs far
more than the database's own work. `insert_rows` takes plain rows (column -> value) and, on
PostgreSQL, sends them as one JSON text that the server turns into rows
(`json_populate_recordset`, typed by the table itself): one statement, through Django's
cursor (so counted and logged like any other query). `create_objects` does the same for
model instances and gives them their ids, as `bulk_create` does. Elsewhere both fall back
to `bulk_create`.

Two more things keep a long import's cost per row flat: `PlannerStatistics` (PostgreSQL's
statistics follow the tables the import fills) and `long_lived_objects` (the garbage collector
leaves the import's objects alone).
"""

import gc
import json
from contextlib import contextmanager

from django.db import connection
from django.db.models import DateTimeField
from django.utils import timezone

from .models import (
    ExternalId,
    Incident,
    IncidentEntity,
    IncidentTerm,
    IncidentUnderTerm,
    Reference,
    Revision,
    SourceRecord,
)

BATCH = 5_000  # rows a statement (a bound on the size of one parameter)


def _columns(model):
    """(attname, column, default) of each concrete field but the primary key; `default` is
    the callable giving a value left out, as a model instance would have it."""
    columns = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
            default = timezone.now
        else:
            default = field.get_default
        columns.append((field.attname, field.column, default))
    return columns


def _json_value(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def insert_rows(model, rows):
    """Insert `rows` (dicts by field attname; fields left out take their default) of `model`.

    Returns nothing: for rows whose ids are needed, use `bulk_create`.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=500)
        return
    columns = _columns(model)
    defaults = {}
    for attname, _column, default in columns:
        if any(attname not in row for row in rows):
            defaults[attname] = _json_value(default())
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for _attname, column, _default in columns)
    # Names from the model, quoted; the rows travel as one parameter.
    sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{table}, %s)"  # noqa: S608
    keys = [(attname, column) for attname, column, _default in columns]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = [
                {
                    column: _json_value(row[attname]) if attname in row else defaults[attname]
                    for attname, column in keys
                }
                for row in rows[start : start + BATCH]
            ]
            cursor.execute(sql, [json.dumps(batch, separators=(",", ":"))])


def create_objects(model, objects, key):
    """`bulk_create(objects)`, in one statement per 5,000 on PostgreSQL: each object gets its
    id (matched by `key`, the attname or attnames of a value unique among the objects) and
    its automatic dates, and is saved as far as Django knows. Returns the objects."""
    if not objects:
        return objects
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objects, batch_size=500)
    keys = (key,) if isinstance(key, str) else tuple(key)
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    automatic = [
        field.attname
        for field in fields
        if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add)
    ]
    now = timezone.now()
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    returned = ", ".join(
        connection.ops.quote_name(name)
        for name in [model._meta.pk.column, *(model._meta.get_field(k).column for k in keys)]
    )
    # Names from the model, quoted; the rows travel as one parameter.
    sql = (
        f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608
        f"FROM json_populate_recordset(NULL::{table}, %s) RETURNING {returned}"
    )
    by_key = {}
    for obj in objects:
        for attname in automatic:
            setattr(obj, attname, now)
        by_key[tuple(getattr(obj, k) for k in keys)] = obj
    if len(by_key) != len(objects):
        raise ValueError(f"{key} is not unique among the objects")
    with connection.cursor() as cursor:
        for start in range(0, len(objects), BATCH):
            batch = [
                {field.column: _json_value(getattr(obj, field.attname)) for field in fields}
                for obj in objects[start : start + BATCH]
            ]
            cursor.execute(sql, [json.dumps(batch, separators=(",", ":"))])
            for pk, *values in cursor.fetchall():
                by_key[tuple(values)].pk = pk
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects


def update_column(model, values, field):
    """Set one column of many rows, `values` mapping a row's id to its value: one statement
    on PostgreSQL, one per distinct value elsewhere (far cheaper than a CASE per row)."""
    if not values:
        return
    column = model._meta.get_field(field).column
    if connection.vendor != "postgresql":
        by_value = {}
        for pk, value in values.items():
            by_value.setdefault(value, []).append(pk)
        for value, ids in by_value.items():
            for start in range(0, len(ids), 1000):
                model.objects.filter(pk__in=ids[start : start + 1000]).update(**{field: value})
        return
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    name = connection.ops.quote_name(column)
    # Names from the model, quoted; the values travel as one parameter.
    sql = (
        f"UPDATE {table} SET {name} = given.{name} "  # noqa: S608
        f"FROM json_populate_recordset(NULL::{table}, %s) AS given WHERE {table}.{pk} = given.{pk}"
    )
    items = list(values.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), BATCH):
            batch = [
                {model._meta.pk.column: key, column: _json_value(value)}
                for key, value in items[start : start + BATCH]
            ]
            cursor.execute(sql, [json.dumps(batch, separators=(",", ":"))])


class PlannerStatistics:
    """Keeps PostgreSQL's planner statistics up with a long import, in its own transaction.

    PostgreSQL plans each statement from the statistics ANALYZE gathered, and autovacuum cannot
    gather them for rows a transaction has not committed: while an import fills an empty site,
    the planner still sees the tables empty and picks scans whose cost grows with each chunk
    (an import of 100,000 rows would grow quadratically). ANALYZE run in the transaction does
    count its own rows, so `wrote(n)` after each chunk runs it on the tables a chunk writes
    whenever the incidents written since the start reach the number the site held then (at
    least `first`), doubling each time: a few times per import, however large. Elsewhere it
    does nothing."""

    # The tables an import fills, row by row of its incidents (the first one counts them).
    GROWING = (
        Incident,
        Revision,
        IncidentTerm,
        IncidentUnderTerm,
        IncidentEntity,
        Reference,
        ExternalId,
        SourceRecord,
    )

    def __init__(self, models=GROWING, *, first=1_000):
        self.written, self.tables = 0, [model._meta.db_table for model in models]
        self.next_at = None if connection.vendor != "postgresql" else first
        if self.next_at is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [self.tables[0]]
                )
                row = cursor.fetchone()
            self.next_at = max(first, int(row[0]) if row else 0)

    def wrote(self, incidents):
        if self.next_at is None:
            return
        self.written += incidents
        if self.written >= self.next_at:
            names = ", ".join(connection.ops.quote_name(table) for table in self.tables)
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {names}")
            self.next_at = 2 * self.written


@contextmanager
def long_lived_objects():
    """Collect cyclic garbage rarely while an import runs (a management command's whole run).

    An import keeps many thousands of small objects alive until it ends (its report, the
    taxonomy's names, a chunk's rows), and Python's collector would scan them, and everything
    loaded at startup, over and over: on the 2024 sheet a fifth of the import's time. Startup's
    objects are frozen out of the scans and collections run a hundred times less often; both
    are restored on the way out."""
    thresholds, frozen_before = gc.get_threshold(), gc.get_freeze_count()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 1) * 100, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen_before:  # what someone else froze stays frozen
            gc.unfreeze()
