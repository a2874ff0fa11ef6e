"""A database chosen by URL (:func:`open_db`): SQLite (a path, ``sqlite:///path``, ``:memory:``)
holds one connection, lent to one thread at a time; PostgreSQL (``postgresql://``,
``postgres://``) a ``psycopg_pool.ConnectionPool``, one connection lent per use."""

from __future__ import annotations

import sqlite3
import threading
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from dialer.db.connection import Connection, Dialect, pg_row_factory
from dialer.private_files import private_database
from voxgate_shared.redact import redact_text, redact_url

__all__ = [
    "Database",
    "DatabaseError",
    "driver_errors",
    "is_postgres_url",
    "open_db",
    "sqlite_path",
]

POOL_MAX = 8
"""Connections a PostgreSQL database keeps at most (one per store call in flight)."""
CONNECT_TIMEOUT_S = 10
"""How long opening a PostgreSQL database waits for the server."""


class DatabaseError(Exception):
    """A database URL that names nothing this opens, or a read-only database that is not there."""


def driver_errors() -> tuple[type[Exception], ...]:
    """What opening or using a database can raise: :class:`DatabaseError`, ``sqlite3.Error``,
    ``psycopg.Error`` (for an ``except`` that turns them into one line)."""
    import psycopg

    return (DatabaseError, sqlite3.Error, psycopg.Error)


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str) -> str:
    """The file (or ``:memory:``) of a SQLite URL or plain path: ``sqlite:///rel/path``,
    ``sqlite:////abs/path`` (as SQLAlchemy spells them), ``sqlite:///:memory:``."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if url.startswith("sqlite://"):
        raise DatabaseError(f"a SQLite URL is sqlite:///relative/path or sqlite:////abs: {url}")
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise DatabaseError(f"database URL scheme {scheme!r}: use a path, sqlite:/// or postgresql://")
    return url


class Database(ABC):
    """See :mod:`dialer.db`. ``dialect`` is ``"sqlite"`` or ``"postgresql"``; ``display`` the URL
    without its password (for messages and logs); ``url`` the URL as given (it can hold one)."""

    def __init__(self, url: str, dialect: Dialect, display: str) -> None:
        self.url = url
        self.dialect: Dialect = dialect
        self.display = display

    @abstractmethod
    def connection(self) -> AbstractContextManager[Connection]:
        """One connection lent for one store call (a context manager)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def is_open(self) -> bool: ...


class SqliteDatabase(Database):
    """One ``sqlite3`` connection (``check_same_thread=False``: it may be lent to any thread,
    one at a time, under a lock): WAL journal, ``synchronous=FULL``, the file private (0600)."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        path = sqlite_path(url)
        super().__init__(url, "sqlite", path)
        self.path = path
        self._lock = threading.RLock()
        self._raw: sqlite3.Connection | None = (
            _sqlite_read_only(path) if read_only else _sqlite_read_write(path)
        )

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with self._lock:
            if self._raw is None:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            yield Connection(self._raw, "sqlite")

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                self._raw.close()
                self._raw = None

    def is_open(self) -> bool:
        return self._raw is not None


class PostgresDatabase(Database):
    """A pool of psycopg connections in autocommit (a transaction is an explicit ``BEGIN``).
    Read-only: every transaction on them is (``default_transaction_read_only``)."""

    def __init__(self, url: str, *, read_only: bool = False, max_size: int = POOL_MAX) -> None:
        super().__init__(url, "postgresql", redact_url(url))
        import psycopg
        from psycopg_pool import ConnectionPool

        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": pg_row_factory}
        if read_only:
            kwargs["options"] = "-c default_transaction_read_only=on"
        try:  # fail at once, with libpq's reason, where the pool would retry until its timeout
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            reason = redact_text(str(exc).strip())
            raise DatabaseError(f"cannot connect to {self.display}: {reason}") from None
        self._pool: Any = ConnectionPool(
            url, min_size=1, max_size=max_size, kwargs=kwargs, open=False, name="voxgate"
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:
            self._pool.close()
            reason = redact_text(str(exc).strip())
            raise DatabaseError(f"cannot connect to {self.display}: {reason}") from None

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with self._pool.connection() as raw:
            yield Connection(raw, "postgresql")

    def close(self) -> None:
        self._pool.close()

    def is_open(self) -> bool:
        return not self._pool.closed


def open_db(url: str, *, read_only: bool = False) -> Database:
    """The database ``url`` names (see :mod:`dialer.db`). ``read_only``: SQLite opens an existing
    file without creating or changing anything (:class:`DatabaseError` when there is none);
    PostgreSQL runs every transaction read-only. Creates no tables: :func:`dialer.db.migrate`
    does."""
    if is_postgres_url(url):
        return PostgresDatabase(url, read_only=read_only)
    return SqliteDatabase(url, read_only=read_only)


def _sqlite_read_write(path: str) -> sqlite3.Connection:
    private_database(path)
    raw = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)
    raw.row_factory = sqlite3.Row
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    return raw


def _sqlite_read_only(path: str) -> sqlite3.Connection:
    """The existing file ``path`` for reading only. With no write-ahead log beside it (no other
    connection has it open) it is read as immutable, which creates no ``-wal``/``-shm`` files;
    otherwise through the log, as a writer left it."""
    target = Path(path)
    if not target.is_file():
        raise DatabaseError(f"no database at {path}")
    mode = "mode=ro" if Path(f"{path}-wal").exists() else "mode=ro&immutable=1"
    uri = f"file:{urllib.parse.quote(str(target.resolve()))}?{mode}"
    raw = sqlite3.connect(
        uri, uri=True, isolation_level=None, timeout=10.0, check_same_thread=False
    )
    raw.row_factory = sqlite3.Row
    return raw
