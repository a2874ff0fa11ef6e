"""One connection API over both dialects: :class:`Connection` wraps a ``sqlite3`` or a psycopg
connection; SQL is written once with ``?`` placeholders (:func:`to_psycopg` makes them ``%s``
for psycopg and doubles a literal ``%``), rows read by position and by column name on both
(``sqlite3.Row``; :class:`PgRow` on PostgreSQL), and :func:`insert_returning_id` gives the new
row's id on both (``lastrowid``; ``RETURNING id``)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "Connection",
    "Cursor",
    "Dialect",
    "PgRow",
    "Row",
    "batched_transaction",
    "execute_all",
    "insert_returning_id",
    "pg_row_factory",
    "row_lock",
    "to_psycopg",
    "transaction",
]

Dialect = Literal["sqlite", "postgresql"]


class Row(Protocol):
    """A result row: ``row[0]`` and ``row["name"]``, ``keys()``, iterable over its values (so
    ``dict(row)`` maps names to values, and ``a, b = row`` unpacks)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class PgRow(tuple[Any, ...]):
    """A psycopg row that reads as ``sqlite3.Row`` does: by position, by column name, ``keys()``."""

    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names[key])
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def pg_row_factory(cursor: Any) -> Any:
    """psycopg's row factory making :class:`PgRow` rows (names from the cursor's description)."""
    names = {c.name: i for i, c in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> PgRow:
        row = PgRow(values)
        row._names = names
        return row

    return make


@functools.lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """``sql`` with ``?`` placeholders made psycopg's ``%s``, and a literal ``%`` doubled; a
    ``?`` or ``%`` inside a quoted string literal or identifier is left as text."""
    out: list[str] = []
    quote = ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append("%%" if ch == "%" else ch)
    return "".join(out)


class Cursor:
    """A statement's result: ``fetchone``, ``fetchall``, iteration, ``rowcount``. Sent in
    pipeline mode (:func:`batched_transaction`), reading it first sends what is queued and
    waits for the results."""

    def __init__(self, cursor: Any, lastrowid: int | None = None, pipeline: Any = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self._pipeline = pipeline

    def _ready(self) -> Any:
        if self._pipeline is not None and self._cursor.pgresult is None:
            self._pipeline.sync()
        return self._cursor

    @property
    def rowcount(self) -> int:
        return int(self._ready().rowcount)

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._ready().description else None

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall()) if self._ready().description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Connection:
    """One connection of either dialect, lent by :meth:`dialer.db.Database.connection`; used by
    one thread at a time. Outside :func:`transaction` each statement commits on its own."""

    def __init__(self, raw: sqlite3.Connection | psycopg.Connection[Any], dialect: Dialect):
        self.raw = raw
        self.dialect: Dialect = dialect
        self.pipeline: Any = None
        """psycopg's pipeline while :func:`batched_transaction` runs one."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self.dialect == "sqlite":
            assert isinstance(self.raw, sqlite3.Connection)
            cur = self.raw.execute(sql, tuple(params))
            return Cursor(cur, cur.lastrowid)
        return Cursor(self.raw.execute(to_psycopg(sql), tuple(params)), pipeline=self.pipeline)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.dialect == "sqlite":
            assert isinstance(self.raw, sqlite3.Connection)
            self.raw.executemany(sql, [tuple(r) for r in rows])
            return
        rows = [tuple(r) for r in rows]
        if rows:
            with self.raw.cursor() as cur:  # type: ignore[union-attr]
                cur.executemany(to_psycopg(sql), rows)


def row_lock(conn: Connection, mode: str = "UPDATE", *, skip_locked: bool = False) -> str:
    """The clause ending a ``SELECT`` that locks its rows on PostgreSQL (`` FOR UPDATE``,
    `` FOR SHARE``, with `` SKIP LOCKED``); on SQLite ``""`` (its ``BEGIN IMMEDIATE``
    transaction already excludes every other writer)."""
    if conn.dialect == "sqlite":
        return ""
    return f" FOR {mode}" + (" SKIP LOCKED" if skip_locked else "")


def insert_returning_id(conn: Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """Run the ``INSERT`` ``sql`` and return the new row's ``id`` (SQLite's ``lastrowid``;
    PostgreSQL: the statement gains ``RETURNING id``)."""
    if conn.dialect == "sqlite":
        rowid = conn.execute(sql, params).lastrowid
        assert rowid is not None
        return rowid
    row = conn.execute(sql + " RETURNING id", params).fetchone()
    return int(row[0])


@contextmanager
def transaction(conn: Connection, *, write: bool = True) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back when it raises. SQLite:
    ``BEGIN IMMEDIATE`` (``BEGIN`` when not ``write``), so writers queue for the database's
    lock at the start instead of failing at their first write; PostgreSQL: ``BEGIN`` (read
    committed; what must not race takes row locks, ``FOR UPDATE``)."""
    begin = "BEGIN IMMEDIATE" if write and conn.dialect == "sqlite" else "BEGIN"
    conn.execute(begin)
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def execute_all(conn: Connection, writes: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Run the ``writes`` (``INSERT``/``UPDATE``/``DELETE`` statements without ``RETURNING``,
    with their parameters) in order. PostgreSQL: as one statement, the first ones in ``WITH``
    clauses (each runs once, whether or not referenced; they see the same snapshot, so no two
    may touch one row); SQLite: one after the other (in-process, nothing to save)."""
    if conn.dialect == "sqlite" or len(writes) == 1:
        for sql, params in writes:
            conn.execute(sql, params)
        return
    *first, (last_sql, last_params) = writes
    ctes = ", ".join(f"w{i} AS ({sql})" for i, (sql, _) in enumerate(first))
    params = [p for _, ps in first for p in ps]
    conn.execute(f"WITH {ctes} {last_sql}", (*params, *last_params))


@contextmanager
def batched_transaction(conn: Connection) -> Iterator[Connection]:
    """:func:`transaction` with fewer round trips on PostgreSQL: its statements go in psycopg's
    pipeline mode, so a statement whose result is not read yet does not wait for the server;
    reading a result (``fetchone``, ``fetchall``, ``rowcount``) sends what is queued and waits
    once for all of it. ``BEGIN`` goes with the first statements, ``COMMIT`` with the last
    (read-then-write: two round trips). Rolled back when the block raises (the exception is
    the one raised); not nested, as :func:`transaction`. SQLite: :func:`transaction`
    (statements run in-process)."""
    if conn.dialect == "sqlite":
        with transaction(conn):
            yield conn
        return
    import psycopg

    raw: Any = conn.raw
    try:
        with raw.pipeline() as pipeline:
            conn.pipeline = pipeline
            conn.execute("BEGIN")
            yield conn
            conn.execute("COMMIT")
    except BaseException:
        conn.pipeline = None
        if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with suppress(psycopg.Error):
                raw.execute("ROLLBACK")
        raise
    finally:
        conn.pipeline = None
