"""dialer.db's batched transaction (PostgreSQL's pipeline mode) and execute_all (several writes
as one statement), on SQLite and on PostgreSQL: what is queued is seen by a later read and
committed at the end; an exception rolls everything back and is the one raised; the
connection is then idle and usable."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from dialer.db import Database, batched_transaction, execute_all, open_db, transaction


@pytest.fixture
def db(store_url: str):  # type: ignore[no-untyped-def]
    database = open_db(store_url)
    with database.connection() as conn:
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        conn.execute("CREATE TABLE u (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    yield database
    database.close()


def rows(db: Database, table: str) -> list[tuple[object, ...]]:
    with db.connection() as conn:
        return [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY k")]


def test_queued_writes_are_read_back_and_committed(db: Database) -> None:
    with db.connection() as conn, batched_transaction(conn):
        conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (1, "a"))
        conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (2, "b"))
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2
        assert conn.execute("UPDATE t SET v = 'c' WHERE k = 2").rowcount == 1
        execute_all(
            conn,
            [
                ("INSERT INTO u (k, n) VALUES (?, ?)", (1, 10)),
                ("UPDATE t SET v = ? WHERE k = ?", ("z", 1)),
            ],
        )
    assert rows(db, "t") == [(1, "z"), (2, "c")]
    assert rows(db, "u") == [(1, 10)]


def test_an_exception_rolls_back_and_the_connection_stays_usable(db: Database) -> None:
    with db.connection() as conn:
        with pytest.raises(ValueError, match="checked"), batched_transaction(conn):
            conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (1, "a"))
            raise ValueError("checked in Python, refused")
        errors = (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)
        with pytest.raises(errors), batched_transaction(conn):
            conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (5, "a"))
            conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (5, "b"))
            conn.execute("SELECT 1").fetchone()
        with transaction(conn):
            conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (3, "c"))
    assert rows(db, "t") == [(3, "c")]


def test_execute_all_runs_every_write_once(db: Database) -> None:
    with db.connection() as conn:
        conn.execute("INSERT INTO t (k, v) VALUES (1, 'a')")
        with batched_transaction(conn):
            execute_all(
                conn,
                [
                    ("INSERT INTO u (k, n) VALUES (?, ?)", (1, 1)),
                    ("INSERT INTO u (k, n) VALUES (?, ?) ON CONFLICT (k) DO NOTHING", (2, 2)),
                    ("DELETE FROM t WHERE k = ?", (1,)),
                ],
            )
    assert rows(db, "u") == [(1, 1), (2, 2)]
    assert rows(db, "t") == []
