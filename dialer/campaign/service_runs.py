"""Which campaigns the dialer service (``voxgate dialer run``) has started, kept in its database
(table ``service_campaigns``) so that a restarted service resumes them: the campaign's own status
cannot tell, as a created campaign is stored ``running`` before it is ever started.

A row is written when the service starts a campaign, stays while it runs or is paused, and is
removed when its run ends with the campaign done; a service killed mid-run leaves it, and the
next start runs every recorded campaign that is not ``done`` again, the way it was started: a
campaign the service had joined (shared with other dialers, ``{"join": true}``) is joined again
with the same agent share (columns ``joined`` and ``agent_share``, version 2), never taken
alone, which the other dialers still running it would refuse. The table is the
``service`` component's migrations (:data:`MIGRATIONS`), on SQLite or PostgreSQL
(:mod:`dialer.db`)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from dialer.db import Migration, Migrations, migrate, open_db, postgres_ddl

SCHEMA = "CREATE TABLE IF NOT EXISTS service_campaigns (name TEXT PRIMARY KEY, started_at REAL)"
JOINED = (  # version 2: how the campaign was started, to resume it the same way
    "ALTER TABLE service_campaigns ADD COLUMN joined INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE service_campaigns ADD COLUMN agent_share INTEGER",
)
_JOINED_TEXT = "the service's started campaigns: joined, agent share"

MIGRATIONS = Migrations(
    "service",
    sqlite=(Migration(1, "the service's started campaigns", (SCHEMA,)),
            Migration(2, _JOINED_TEXT, JOINED)),
    postgresql=(Migration(1, "the service's started campaigns", (postgres_ddl(SCHEMA),)),
                Migration(2, _JOINED_TEXT, JOINED)),
)


@dataclass(frozen=True, slots=True)
class StartedRun:
    """A recorded start: the campaign, whether it joined the dialers sharing it, and the most
    agents it takes (``None``: all it finds unassigned)."""

    name: str
    join: bool = False
    share: int | None = None


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

    def started(self, name: str, now: float, join: bool = False,
                share: int | None = None) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO service_campaigns (name, started_at, joined, agent_share)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET started_at ="
                " excluded.started_at, joined = excluded.joined,"
                " agent_share = excluded.agent_share", (name, now, int(join), share))

    def ended(self, name: str) -> None:
        with self.db.connection() as conn:
            conn.execute("DELETE FROM service_campaigns WHERE name = ?", (name,))

    def recorded(self) -> list[str]:
        return [run.name for run in self.recorded_runs()]

    def recorded_runs(self) -> list[StartedRun]:
        """The recorded starts, oldest first."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT name, joined, agent_share FROM service_campaigns"
                " ORDER BY started_at, name").fetchall()
        return [StartedRun(str(r[0]), bool(r[1]), None if r[2] is None else int(r[2]))
                for r in rows]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
