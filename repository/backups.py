"""Backups of the whole site: the database (published record, proposals, the audit log, the
outbox, accounts) and the dataset snapshots in EXPORT_DIR, with a manifest to check them by.

A backup is a directory `airepo-backup-<UTC time>/`:
- `database.dump` (PostgreSQL: `pg_dump --format=custom`) or `database.sqlite3` (SQLite: a
  consistent copy made with SQLite's backup API), written first;
- `exports/`: the files of EXPORT_DIR, copied after the dump (a snapshot written in between is
  in the files but not in the database: harmless; one pruned in between is rebuilt on restore);
- `manifest.json`: when, which engine, the size and SHA-256 of every file, and for every table
  its row count and a checksum of its rows, taken in the same snapshot as the dump (PostgreSQL:
  the dump runs on the snapshot that the manifest's transaction exports).

Restoring checks the files against the manifest, loads the database, compares every table with
the manifest, copies the snapshot files back, and rebuilds the snapshots whose files are
missing. Verifying loads the dump into a scratch database (or reads the SQLite copy) and
compares it with the manifest, touching nothing else.
"""

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing, contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

MANIFEST = "manifest.json"
FORMAT = 1
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
EXPORTS = "exports"


class BackupError(Exception):
    """A backup that cannot be made, read or restored; the message says why."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _file_entry(path, name):
    return {"name": name, "size": path.stat().st_size, "sha256": _sha256(path)}


# --- Table checksums: the same rows give the same numbers, in whatever order they are stored.


def _pg_table_stats(cursor):
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    stats = {}
    for (table,) in cursor.fetchall():
        quoted = '"' + table.replace('"', '""') + '"'
        cursor.execute(
            f"SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) FROM {quoted} t"  # noqa: S608 - a table name from the catalogue, quoted
        )
        rows, checksum = cursor.fetchone()
        stats[table] = {"rows": rows, "checksum": checksum}
    return stats


def _sqlite_table_stats(db):
    tables = [
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    stats = {}
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        hashes = sorted(
            hashlib.md5(repr(row).encode(), usedforsecurity=False).hexdigest()
            for row in db.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - a table name from the catalogue
        )
        stats[table] = {"rows": len(hashes), "checksum": hashlib.md5("".join(hashes).encode()).hexdigest()}  # noqa: S324
    return stats


def database_table_stats():
    """Row count and checksum of every table of the site's database, now."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            return _pg_table_stats(cursor)
    # Read through a plain copy: Django's own connection converts values (dates, booleans) as
    # it reads them, the backup file's reader does not.
    with closing(sqlite3.connect(":memory:")) as plain:
        connection.connection.backup(plain)
        return _sqlite_table_stats(plain)


# --- PostgreSQL's tools, given the site's connection settings.


def _pg_env(name=None):
    db = connection.settings_dict
    env = {**os.environ, "PGDATABASE": name or db["NAME"], "PGCONNECT_TIMEOUT": "10"}
    for key, variable in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
    ):
        if db.get(key):
            env[variable] = str(db[key])
    return env


def _run(command, env):
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip() or result.returncode}")
    return result


def _pg_connect(name):
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        dbname=name,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        autocommit=True,
        connect_timeout=10,
    )


# --- Backup


def backup_create(*, destination):
    """Write a backup under `destination` (a directory); returns (its path, the manifest)."""
    created_at = timezone.now()
    directory = Path(destination) / f"airepo-backup-{created_at:%Y%m%d-%H%M%S-%f}"
    directory.mkdir(parents=True)
    try:
        if connection.vendor == "postgresql":
            database_file = directory / PG_DUMP_FILE
            with transaction.atomic(), connection.cursor() as cursor:
                # One snapshot for the manifest and the dump: what the checksums describe is
                # exactly what the dump holds, while the site goes on writing.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                (snapshot,) = cursor.fetchone()
                tables = _pg_table_stats(cursor)
                _run(
                    ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={database_file}"],
                    _pg_env(),
                )
        else:
            database_file = directory / SQLITE_FILE
            connection.ensure_connection()
            with closing(sqlite3.connect(database_file)) as copy:
                connection.connection.backup(copy)
                tables = _sqlite_table_stats(copy)
        exports = []
        source = Path(settings.EXPORT_DIR)
        if source.is_dir():
            (directory / EXPORTS).mkdir()
            for path in sorted(source.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    shutil.copy2(path, directory / EXPORTS / path.name)
                    exports.append(_file_entry(directory / EXPORTS / path.name, path.name))
        manifest = {
            "format": FORMAT,
            "created_at": created_at.isoformat(),
            "engine": connection.vendor,
            "database": _file_entry(database_file, database_file.name),
            "tables": tables,
            "exports": exports,
        }
        temporary = directory / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        os.replace(temporary, directory / MANIFEST)  # a backup without its manifest is unfinished
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return directory, manifest


def backup_read(*, source):
    """The manifest of the backup at `source`, after checking every file's size and SHA-256."""
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} has no readable {MANIFEST} (an unfinished backup?): {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: unknown backup format {manifest.get('format')!r}.")
    files = [(source / manifest["database"]["name"], manifest["database"])]
    files += [(source / EXPORTS / entry["name"], entry) for entry in manifest["exports"]]
    for path, entry in files:
        if not path.is_file():
            raise BackupError(f"{path} is missing.")
        if path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{path} does not match its checksum in the manifest.")
    return manifest


def table_differences(expected, found):
    """What differs between two {table: {rows, checksum}}: a list of readable lines."""
    lines = []
    for table in sorted(set(expected) | set(found)):
        if table not in found:
            lines.append(f"{table}: missing")
        elif table not in expected:
            lines.append(f"{table}: not in the backup")
        elif expected[table] != found[table]:
            lines.append(
                f"{table}: {found[table]['rows']} rows, expected {expected[table]['rows']} (or rows differ)"
            )
    return lines


# --- Verify


@contextmanager
def _scratch_database():
    """A PostgreSQL database of its own for a moment, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_verify_{secrets.token_hex(4)}"[:63]
    with closing(_pg_connect("postgres")) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backup_verify(*, source):
    """Load the backup somewhere of its own and compare it with its manifest; nothing in use is
    touched. Returns (manifest, differences): no differences means it restores whole."""
    manifest = backup_read(source=source)
    database_file = Path(source) / manifest["database"]["name"]
    if manifest["engine"] == "postgresql":
        with _scratch_database() as name:
            _run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--no-acl",
                    "--exit-on-error",
                    f"--dbname={name}",
                    str(database_file),
                ],
                _pg_env(name),
            )
            with closing(_pg_connect(name)) as scratch, scratch.cursor() as cursor:
                found = _pg_table_stats(cursor)
    else:
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / SQLITE_FILE
            shutil.copy2(database_file, copy)
            with closing(sqlite3.connect(copy)) as db:
                found = _sqlite_table_stats(db)
    return manifest, table_differences(manifest["tables"], found)


# --- Restore


def backup_restore(*, source, replace=False):
    """Restore the backup at `source` into the site's database and EXPORT_DIR.

    Refuses a database that has tables unless `replace`. Returns (manifest, differences between
    the restored database and the manifest, snapshot files rebuilt)."""
    manifest = backup_read(source=source)
    if manifest["engine"] != connection.vendor:
        raise BackupError(
            f"The backup is of {manifest['engine']}; the site's database is {connection.vendor}."
        )
    if connection.introspection.table_names() and not replace:
        raise BackupError("The database is not empty: restore into an empty one, or replace it (--replace).")
    database_file = Path(source) / manifest["database"]["name"]
    if connection.vendor == "postgresql":
        connection.close()
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-acl",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={connection.settings_dict['NAME']}",
                str(database_file),
            ],
            _pg_env(),
        )
    else:
        connection.ensure_connection()
        with closing(sqlite3.connect(database_file)) as copy:
            copy.backup(connection.connection)
    differences = table_differences(manifest["tables"], database_table_stats())

    target = Path(settings.EXPORT_DIR)
    target.mkdir(parents=True, exist_ok=True)
    for entry in manifest["exports"]:
        path = target / entry["name"]
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            shutil.copy2(Path(source) / EXPORTS / entry["name"], path)
    rebuilt = _snapshots_rebuild()

    from . import freshness

    freshness.changed(freshness.PUBLISHED, freshness.SNAPSHOTS)  # no page cached before is served
    return manifest, differences, rebuilt


def _snapshots_rebuild():
    """Forget the snapshots whose files are missing and, if a format is left with none, write
    a fresh snapshot of the restored dataset. Returns the names of the files written."""
    from .models import DatasetSnapshot
    from .services import dataset_snapshot_create
    from .snapshots import snapshot_path

    missing = [s.pk for s in DatasetSnapshot.objects.all() if not snapshot_path(s.file_name).is_file()]
    if not missing:
        return []
    DatasetSnapshot.objects.filter(pk__in=missing).delete()
    if set(DatasetSnapshot.objects.values_list("format", flat=True)) == set(DatasetSnapshot.Format.values):
        return []
    rows, _removed = dataset_snapshot_create()
    return [row.file_name for row in rows]
