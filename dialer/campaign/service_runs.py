"""Which campaigns the dialer service (``voxgate dialer run``) has started, kept in its database
(table ``service_campaigns``) so that a restarted service resumes them: the campaign's own status
cannot tell, as a created campaign is stored ``running`` before it is ever started.

A row is written when the service starts a campaign, stays while it runs or is paused, and is
removed when its run ends with the campaign done; a service killed mid-run leaves it, and the
next start runs every recorded campaign that is not ``done`` again. The table is the
``service`` component's migrations (:data:`MIGRATIONS`), on SQLite or PostgreSQL
(:mod:`dialer.db`)."""

from __future__ import annotations

import contextlib

from dialer.db import Migration, Migrations, migrate, open_db, postgres_ddl

SCHEMA = "CREATE TABLE IF NOT EXISTS service_campaigns (name TEXT PRIMARY KEY, started_at REAL)"

MIGRATIONS = Migrations(
    "service",
    sqlite=(Migration(1, "the service's started campaigns", (SCHEMA,)),),
    postgresql=(Migration(1, "the service's started campaigns", (postgres_ddl(SCHEMA),)),),
)


class ServiceRuns:
    """The ``service_campaigns`` table of the database ``url`` (a path or a URL; on SQLite the
    campaign store made the file, 0600; ``synchronous=FULL``: a recorded start survives a power
    cut)."""

    def __init__(self, url: str) -> None:
        self.db = open_db(url)
        try:
            migrate(self.db, MIGRATIONS)
        except BaseException:
            self.db.close()
            raise

    def started(self, name: str, now: float) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO service_campaigns (name, started_at) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at", (name, now))

    def ended(self, name: str) -> None:
        with self.db.connection() as conn:
            conn.execute("DELETE FROM service_campaigns WHERE name = ?", (name,))

    def recorded(self) -> list[str]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT name FROM service_campaigns ORDER BY started_at, name").fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
