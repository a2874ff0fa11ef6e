"""Copy one voxgate database into another, e.g. SQLite into PostgreSQL (``voxgate db copy SRC
DST``, :mod:`dialer.db.cli`).

:func:`copy_database` refuses a ``DST`` that holds any row (checked before it is touched) and
a ``SRC`` from a newer version, migrates ``DST`` to this version's schema (every component's
:class:`~dialer.db.Migrations` it is given), then, in ONE transaction on ``DST`` (nothing is
left half-copied) and one read transaction on ``SRC`` (a consistent snapshot), copies every
table in dependency order (:data:`TABLE_ORDER`: campaigns before their leads, leads before
their attempts ...; tables this list does not know after them, by name) in batches of
:data:`BATCH` rows (into PostgreSQL with ``COPY ... FROM STDIN``), keeping every id; on
PostgreSQL the identity sequences then continue after the largest id copied. Each table's row
count on ``DST`` is checked against ``SRC``'s before the commit.

``SRC`` may be from an older version (its missing columns get their defaults on ``DST``), never
from a newer one (a column or a migration this version does not know: refused, nothing
copied). ``schema_migrations`` is not copied: ``DST`` has its own. Stop the dialers writing to
``SRC`` first (rows written during the copy are not in it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dialer.db.connection import Connection, transaction
from dialer.db.database import Database
from dialer.db.migrations import Migrations, applied_versions, migrate

__all__ = ["BATCH", "TABLE_ORDER", "CopyError", "CopyRefused", "copy_database", "row_counts",
           "table_names"]

TABLE_ORDER = (
    "campaigns", "leads", "attempts", "calls", "dispositions", "agents", "dnc",
    "pacer_snapshots", "call_records", "crm_outbox", "live_calls", "service_campaigns",
    "audit_log",
)
"""The tables in the order they are copied: a table after those its rows name."""
BATCH = 1000
"""Rows read from ``SRC`` and written to ``DST`` at a time."""
MIGRATIONS_TABLE = "schema_migrations"


class CopyError(Exception):
    """The copy failed and was rolled back (a row count that does not match)."""


class CopyRefused(CopyError):
    """Nothing was copied: ``DST`` is not empty, or ``SRC`` is from a newer version."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_names(conn: Connection) -> list[str]:
    """The database's tables (not ``schema_migrations``), in :data:`TABLE_ORDER`, then the
    others by name."""
    if conn.dialect == "sqlite":
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    else:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    names = {str(r[0]) for r in rows} - {MIGRATIONS_TABLE}
    known = [t for t in TABLE_ORDER if t in names]
    return known + sorted(names - set(known))


def _columns(conn: Connection, table: str) -> list[str]:
    if conn.dialect == "sqlite":
        return [str(r[1]) for r in conn.execute(f"PRAGMA main.table_info({_quote(table)})")]
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))
    return [str(r[0]) for r in rows]


def _identity_columns(conn: Connection, table: str) -> list[str]:
    if conn.dialect == "sqlite":
        return []  # AUTOINCREMENT follows the largest id inserted by itself
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = ? AND is_identity = 'YES'", (table,))
    return [str(r[0]) for r in rows]


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0])


def row_counts(conn: Connection) -> list[tuple[str, int]]:
    """``(table, rows)`` for every table of :func:`table_names`."""
    return [(t, _count(conn, t)) for t in table_names(conn)]


def _has_migrations(conn: Connection) -> bool:
    if conn.dialect == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
        return conn.execute(sql).fetchone() is not None
    row = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    return row is not None and row[0] is not None


def _check_not_newer(conn: Connection, plans: Sequence[Migrations]) -> None:
    if not _has_migrations(conn):
        return  # from before versioned migrations: older
    for plan in plans:
        known = {m.version for m in plan.for_dialect(conn.dialect)}
        newer = sorted(applied_versions(conn, plan.component) - known)
        if newer:
            raise CopyRefused(f"the source has {plan.component} migration(s) "
                              f"{', '.join(map(str, newer))} that this version does not know: "
                              f"copy it with the version that wrote it")


def _rows(conn: Connection, sql: str, batch: int) -> Iterator[list[Any]]:
    """The rows of ``sql`` ``batch`` at a time, not all in memory (SQLite's cursor; a named,
    server-side cursor on PostgreSQL, inside the read transaction)."""
    raw: Any = conn.raw
    cursor = raw.execute(sql) if conn.dialect == "sqlite" else raw.cursor("voxgate_copy")
    try:
        if conn.dialect != "sqlite":
            cursor.execute(sql)
        while rows := cursor.fetchmany(batch):
            yield [tuple(r) for r in rows]
    finally:
        cursor.close()


def _copy_table(src: Connection, dst: Connection, table: str, batch: int) -> int:
    src_columns, dst_columns = _columns(src, table), _columns(dst, table)
    unknown = [c for c in src_columns if c not in dst_columns]
    if unknown:
        raise CopyRefused(f"the source's table {table} has column(s) {', '.join(unknown)} that "
                          f"this version does not know: copy it with the version that wrote it")
    names = ", ".join(_quote(c) for c in src_columns)
    rows = _rows(src, f"SELECT {names} FROM {_quote(table)} ORDER BY 1", batch)
    copied = 0
    if dst.dialect == "postgresql":  # COPY: ids as given, identity columns included
        raw: Any = dst.raw
        with raw.cursor() as cur, cur.copy(f"COPY {_quote(table)} ({names}) FROM STDIN") as out:
            for chunk in rows:
                for row in chunk:
                    out.write_row(row)
                copied += len(chunk)
    else:
        insert = (f"INSERT INTO {_quote(table)} ({names}) VALUES "
                  f"({', '.join('?' * len(src_columns))})")
        for chunk in rows:
            dst.executemany(insert, chunk)
            copied += len(chunk)
    identity = _identity_columns(dst, table)
    for column in identity:  # the next id continues after the largest copied
        dst.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT MAX({_quote(column)})"
            f" FROM {_quote(table)}), 0) + 1, false)", (table, column))
    return copied


def _refuse_held(db: Database, conn: Connection) -> None:
    held = [(t, n) for t, n in row_counts(conn) if n]
    if held:
        raise CopyRefused(f"{db.display} is not empty ("
                          + ", ".join(f"{t}: {n} row{'s' * (n != 1)}" for t, n in held)
                          + "): copy only into a new, empty database")


def copy_database(src: Database, dst: Database, plans: Sequence[Migrations], *,
                  batch: int = BATCH) -> list[tuple[str, int]]:
    """Copy ``src`` into ``dst`` (see the module docstring); returns ``(table, rows)`` for
    every table of ``dst``, verified. :class:`CopyRefused` (nothing copied) for a ``dst``
    that is not empty or a ``src`` from a newer version; :class:`CopyError` when a count does
    not match (rolled back)."""
    with src.connection() as s:
        _check_not_newer(s, plans)
    with dst.connection() as d:  # before migrating it: a refused DST is left as it was
        _refuse_held(dst, d)
    for plan in plans:
        migrate(dst, plan)
    copied: list[tuple[str, int]] = []
    with src.connection() as s, dst.connection() as d:
        with transaction(s, write=False), transaction(d):
            _refuse_held(dst, d)  # again, in the transaction
            have = set(table_names(s))
            unknown = [(t, n) for t in sorted(have - set(table_names(d))) if (n := _count(s, t))]
            if unknown:
                raise CopyRefused(
                    "the source has table(s) this version does not know, with rows ("
                    + ", ".join(f"{t}: {n}" for t, n in unknown) + "): nothing copied")
            for table in table_names(d):
                n = _copy_table(s, d, table, batch) if table in have else 0
                expected = _count(s, table) if table in have else 0
                if not n == expected == _count(d, table):
                    raise CopyError(f"table {table}: {expected} rows in the source, {n} read, "
                                    f"{_count(d, table)} in the copy: rolled back")
                copied.append((table, n))
    return copied
