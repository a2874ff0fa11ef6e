"""The dashboard's audit trail in the dialer's database (SQLite or PostgreSQL, :mod:`dialer.db`),
table ``audit_log``: every dialer sharing the database writes its controls there, and the audit
page of each shows them all. Its own migration component (``audit``, :data:`AUDIT_MIGRATIONS`)
so it never collides with another component's versions; ``voxgate db migrate|status|copy``
carry it (:func:`dialer.db.cli.plans`).

Every method does I/O: call them through the dialer's
:class:`~dialer.store_calls.StoreCalls` (lane :data:`LANE`), never on the event loop. The
database is opened and migrated at the first call (on the worker, not at construction).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from dialer.db import Database, Migration, Migrations, open_db
from dialer.db.database import is_postgres_url
from dialer.db.migrations import migrate, postgres_ddl, statements

__all__ = ["AUDIT_MIGRATIONS", "LANE", "AuditTable"]

LANE = "audit"
"""The :class:`~dialer.store_calls.StoreCalls` lane of every audit call: on PostgreSQL's pool
too they run in order, so a page read after a control shows it."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    user_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before_value TEXT NOT NULL,
    after_value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at DESC)
"""

AUDIT_MIGRATIONS = Migrations(
    "audit",
    sqlite=(Migration(1, "the dashboard's audit trail", statements(_SCHEMA)),),
    postgresql=(Migration(1, "the dashboard's audit trail", statements(postgres_ddl(_SCHEMA))),),
)

Row = tuple[float, str, str, str, Any, Any]
"""``(at, user, action, target, before, after)``: an audit entry's fields, in order."""


class AuditTable:
    """The ``audit_log`` table of the database ``url`` (a path or a URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = "postgresql" if is_postgres_url(url) else "sqlite"  # StoreCalls' workers
        self._db: Database | None = None
        self._lock = threading.Lock()

    def _database(self) -> Database:
        with self._lock:
            if self._db is None:
                db = open_db(self.url)
                try:
                    migrate(db, AUDIT_MIGRATIONS)
                except BaseException:
                    db.close()
                    raise
                self._db = db
            return self._db

    def add(self, row: Row) -> None:
        """Store one entry (``before`` and ``after`` as JSON)."""
        at, user, action, target, before, after = row
        with self._database().connection() as conn:
            conn.execute(
                "INSERT INTO audit_log (at, user_name, action, target, before_value,"
                " after_value) VALUES (?, ?, ?, ?, ?, ?)",
                (at, user, action, target, json.dumps(before), json.dumps(after)))

    def recent(self, limit: int) -> list[Row]:
        """The newest ``limit`` entries of every dialer, newest first."""
        with self._database().connection() as conn:
            rows = conn.execute(
                "SELECT at, user_name, action, target, before_value, after_value FROM audit_log"
                " ORDER BY at DESC, id DESC LIMIT ?", (limit,)).fetchall()
        return [(float(r[0]), str(r[1]), str(r[2]), str(r[3]), json.loads(r[4]),
                 json.loads(r[5])) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
