#!/usr/bin/env python
"""Build the benchmark's PostgreSQL databases from the real AIAAIC sheet.

    .venv/bin/python scripts/benchmark_data.py [--sheet PATH] [--sizes 2000 100000] [--prefix bench]

For each size it (re)creates the database `<prefix><size label>` (bench2k, bench100k) as the
PostgreSQL superuser (POSTGRES_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres),
owned by the site's role (BENCHMARK_ROLE, default airepo), migrates it and imports the sheet
with `import_sheet` (DEBUG off, follow-up tasks run in-process). A size above the sheet's
incident count is then made by copying the imported incidents with set-based SQL: every
incident and every row of the published record that belongs to it (terms and their
ancestor links, entities, references, external ids, revisions, …, found by their foreign key
to the incident table, so tables added later are copied too), each copy with its own number,
slug and a headline ending "(variant n)". Pending new-incident reports are added last (5,000
per 100,000 incidents), made from the incidents' own documents.

The largest database is made from a copy of the smallest, so the sheet is imported once.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
SHEETS = [
    ROOT.parent / "shared" / "data" / "aiaaic-repository-2024.csv",
    ROOT / "data" / "aiaaic-repository-2024.csv",
]
ADMIN_URL = os.environ.get("POSTGRES_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
ROLE = os.environ.get("BENCHMARK_ROLE", "airepo")
HOST = os.environ.get("BENCHMARK_HOST", "127.0.0.1:5432")
PENDING_PER_100K = 5000


def label(size):
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def database_url(name):
    return f"postgres://{ROLE}@{HOST}/{name}"


def say(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def admin(statement, *args):
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement, *args)


def ensure_role():
    """The site's role, created (LOGIN, CREATEDB) when this server does not have it yet."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE]).fetchone() is None:
            say(f"creating the role {ROLE}")
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(ROLE)))


def recreate(name, template=None):
    admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    if template:
        admin(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(ROLE), sql.Identifier(template)
            )
        )
    else:
        admin(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(ROLE)))


def manage(name, *args):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(name),
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-" + "x" * 40,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "ALLOWED_HOSTS": "*",
    }
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def incident_tables(conn):
    """The tables of the published record holding rows that belong to one incident:
    (table, the incident column, the other columns), found through foreign keys."""
    rows = conn.execute(
        """
        SELECT tc.table_name, kcu.column_name
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu
          ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema
        JOIN information_schema.constraint_column_usage ccu
          ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
        WHERE tc.constraint_type = 'FOREIGN KEY' AND ccu.table_name = 'repository_incident'
          AND tc.table_name LIKE 'repository\\_%%' AND tc.table_name <> 'repository_incident'
        ORDER BY tc.table_name
        """
    ).fetchall()
    tables = []
    for table, column in rows:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND table_schema = 'public' ORDER BY ordinal_position",
                [table],
            )
        ]
        tables.append((table, column, [c for c in columns if c not in ("id", column)]))
    return tables


def multiply(name, size):
    """Copy the database's incidents until it holds `size` of them."""
    with psycopg.connect(database_url(name)) as conn:
        base = conn.execute(
            "SELECT count(*) FROM repository_incident WHERE merged_into_id IS NULL"
        ).fetchone()[0]
        copies = -(-size // base) - 1
        say(f"{name}: copying {base:,} incidents {copies} times to reach {size:,}")
        conn.execute(
            """
            CREATE TEMP TABLE copy_map AS
            SELECT i.id AS old_id, k.n AS variant,
                   (SELECT max(number) FROM repository_incident)
                     + row_number() OVER (ORDER BY k.n, i.number) AS number
            FROM repository_incident i CROSS JOIN generate_series(1, %s) AS k(n)
            WHERE i.merged_into_id IS NULL
            ORDER BY k.n, i.number
            LIMIT %s
            """,
            [copies, size - base],
        )
        conn.execute("ALTER TABLE copy_map ADD COLUMN new_id bigint")
        conn.execute(
            "UPDATE copy_map SET new_id = nextval(pg_get_serial_sequence('repository_incident', 'id'))"
        )
        conn.execute("CREATE INDEX ON copy_map (old_id)")
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'repository_incident' "
                "AND table_schema = 'public' ORDER BY ordinal_position"
            )
        ]
        override = {
            "id": "m.new_id",
            "number": "m.number",
            "slug": "left(i.slug, 240) || '-v' || m.variant",
            "headline": "left(i.headline, 280) || ' (variant ' || m.variant || ')'",
            "current_revision_id": "NULL",
            "merged_into_id": "NULL",
        }
        select = ", ".join(override.get(c, f"i.{c}") for c in columns)
        started = time.perf_counter()
        conn.execute(
            sql.SQL(
                "INSERT INTO repository_incident ({}) SELECT {} FROM copy_map m JOIN repository_incident i ON i.id = m.old_id"
            ).format(sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(select))
        )
        say(f"  incidents: {time.perf_counter() - started:.0f} s")
        for table, column, others in incident_tables(conn):
            if table == "repository_sourcerecord":
                continue  # what a source said belongs to the imported incident only
            started = time.perf_counter()
            cursor = conn.execute(
                sql.SQL(
                    "INSERT INTO {t} ({c}, {o}) SELECT m.new_id, {src} FROM copy_map m JOIN {t} r ON r.{c} = m.old_id"
                ).format(
                    t=sql.Identifier(table),
                    c=sql.Identifier(column),
                    o=sql.SQL(", ").join(map(sql.Identifier, others)),
                    src=sql.SQL(", ").join(sql.SQL("r.") + sql.Identifier(o) for o in others),
                )
            )
            say(f"  {table}: {cursor.rowcount:,} rows, {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        conn.execute(
            """
            UPDATE repository_revision r
            SET document = jsonb_set(r.document::jsonb, '{headline}', to_jsonb(i.headline))::jsonb
            FROM copy_map m JOIN repository_incident i ON i.id = m.new_id
            WHERE r.incident_id = m.new_id
            """
        )
        conn.execute(
            """
            UPDATE repository_incident i SET current_revision_id = (
                SELECT r.id FROM repository_revision r WHERE r.incident_id = i.id ORDER BY r.number DESC LIMIT 1)
            FROM copy_map m WHERE i.id = m.new_id
            """
        )
        say(f"  revisions re-pointed: {time.perf_counter() - started:.0f} s")
        conn.commit()


def add_pending(name, size):
    count = max(1, PENDING_PER_100K * size // 100_000)
    with psycopg.connect(database_url(name)) as conn:
        cursor = conn.execute(
            """
            INSERT INTO submissions_submission
                (kind, state, reasons, proposed, insight, name, email, credit, token, reason, decision_note,
                 names, effect, effect_kind, group_key, source_keys, sources_flagged, created_at, updated_at)
            SELECT 'new', 'pending', '[]'::jsonb,
                   jsonb_set(r.document::jsonb, '{headline}',
                             to_jsonb('Reported: ' || (r.document ->> 'headline'))),
                   '', '', '', false, md5(random()::text || r.id::text) || md5(r.id::text), '', '',
                   '[]'::jsonb, 'new incident', 'new', '', '[]'::jsonb, '[]'::jsonb, now() - (random() * interval '60 days'), now()
            FROM repository_revision r
            JOIN repository_incident i ON i.current_revision_id = r.id
            ORDER BY i.number
            LIMIT %s
            """,
            [count],
        )
        conn.commit()
        say(f"{name}: {cursor.rowcount:,} pending new-incident reports")


def analyze(name):
    with psycopg.connect(database_url(name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        counts = {
            table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[
                0
            ]
            for table in ("repository_incident", "repository_incidentterm", "submissions_submission")
        }
    say(f"{name}: " + ", ".join(f"{table} {n:,}" for table, n in counts.items()))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sheet", type=Path, default=next((p for p in SHEETS if p.exists()), SHEETS[-1]))
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 100_000])
    parser.add_argument("--prefix", default="bench")
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    first = f"{args.prefix}{label(sizes[0])}"
    say(f"{first}: migrating and importing {args.sheet}")
    ensure_role()
    recreate(first)
    manage(first, "migrate", "--noinput", "-v0")
    manage(first, "import_sheet", str(args.sheet), "-v1")
    imported = None
    for size in sizes:
        name = f"{args.prefix}{label(size)}"
        if name != first:
            recreate(name, template=first + "_base")
            multiply(name, size)
        else:
            # Later sizes start from the imported sheet, before its pending reports.
            recreate(first + "_base", template=first)
            imported = first
        add_pending(name, size)
        analyze(name)
    if imported:
        admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(first + "_base")))
    say("done: " + ", ".join(f"{args.prefix}{label(s)}" for s in sizes))


if __name__ == "__main__":
    main()
