"""Which campaigns the dialer service (``voxgate dialer run``) has started, kept in its database
(table ``service_campaigns``) so that a restarted service resumes them: the campaign's own status
cannot tell, as a created campaign is stored ``running`` before it is ever started.

A row is written when the service starts a campaign, stays while it runs or is paused, and is
removed when its run ends with the campaign done; a service killed mid-run leaves it, and the
next start runs every recorded campaign that is not ``done`` again."""

from __future__ import annotations

import contextlib
import sqlite3

SCHEMA = "CREATE TABLE IF NOT EXISTS service_campaigns (name TEXT PRIMARY KEY, started_at REAL)"


class ServiceRuns:
    """The ``service_campaigns`` table of the database ``path`` (which the store created)."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA synchronous=FULL")  # a recorded start survives a power cut
        self._db.execute(SCHEMA)

    def started(self, name: str, now: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO service_campaigns VALUES (?, ?)", (name, now))

    def ended(self, name: str) -> None:
        self._db.execute("DELETE FROM service_campaigns WHERE name = ?", (name,))

    def recorded(self) -> list[str]:
        rows = self._db.execute("SELECT name FROM service_campaigns ORDER BY started_at, name")
        return [name for (name,) in rows]

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
