"""The agent desk's dispositions (issue 18): the code and notes an agent sets after a call,
with its agent id, in the campaign database (SQLite or PostgreSQL), table
``agent_dispositions``. Its own migration component (``desk``, applied by
:meth:`DeskDispositions.open`) so it never collides with the campaign schema's versions.

One row per call (a second save of the same call replaces the first); the campaign and lead
come from the call's attempt, so only a campaign call can be disposed. The dialer's own
outcome of the call stays in ``dispositions``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dialer.campaign.model import CampaignError
from dialer.db import (
    Database,
    Migration,
    Migrations,
    migrate,
    postgres_ddl,
    statements,
    transaction,
)

__all__ = ["DESK_MIGRATIONS", "AgentDisposition", "DeskDispositions"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_dispositions (
    call_id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    lead_id INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    code TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_dispositions_agent ON agent_dispositions (agent_id, at)
"""

DESK_MIGRATIONS = Migrations(
    "desk",
    sqlite=(Migration(1, "the agent desk's dispositions", statements(_SCHEMA)),),
    postgresql=(Migration(1, "the agent desk's dispositions",
                          statements(postgres_ddl(_SCHEMA))),),
)


@dataclass(frozen=True, slots=True)
class AgentDisposition:
    call_id: str
    campaign: str
    lead_id: int
    agent_id: str
    code: str
    notes: str
    at: float  # wall-clock seconds


class DeskDispositions:
    """The dispositions of one campaign database (``database``: the campaign store's)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._migrated = False

    def open(self) -> None:
        """Apply the desk's migration (once per instance; a no-op when current)."""
        if not self._migrated:
            migrate(self._database, DESK_MIGRATIONS)
            self._migrated = True

    def save(self, call_id: str, agent_id: str, code: str, notes: str, now: float
             ) -> AgentDisposition:
        """Store ``code`` and ``notes`` for ``call_id`` by ``agent_id``;
        :class:`CampaignError` when the call is no campaign attempt."""
        self.open()
        with self._database.connection() as db, transaction(db):
            attempt = db.execute("SELECT campaign, lead_id FROM attempts WHERE call_id = ?",
                                 (call_id,)).fetchone()
            if attempt is None:
                raise CampaignError(f"no campaign attempt with call id {call_id!r}")
            row = AgentDisposition(call_id, str(attempt["campaign"]), int(attempt["lead_id"]),
                                   agent_id, code, notes, now)
            db.execute(
                "INSERT INTO agent_dispositions (call_id, campaign, lead_id, agent_id, code, "
                "notes, at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET "
                "agent_id = excluded.agent_id, code = excluded.code, notes = excluded.notes, "
                "at = excluded.at",
                (row.call_id, row.campaign, row.lead_id, row.agent_id, row.code, row.notes,
                 row.at),
            )
        return row

    def lead_of(self, call_id: str) -> dict[str, Any] | None:
        """The campaign lead the call ``call_id`` dialled: ``campaign``, ``lead_id``,
        ``number``, ``name`` and ``fields`` (None: no campaign attempt)."""
        self.open()
        with self._database.connection() as db:
            r = db.execute(
                "SELECT a.campaign, a.lead_id, l.phone, l.name, l.custom FROM attempts a "
                "JOIN leads l ON l.id = a.lead_id WHERE a.call_id = ?", (call_id,)).fetchone()
        if r is None:
            return None
        fields = json.loads(r["custom"] or "{}")
        return {"campaign": str(r["campaign"]), "lead_id": int(r["lead_id"]),
                "number": str(r["phone"]), "name": str(r["name"]),
                "fields": {str(k): str(v) for k, v in fields.items()}}

    def get(self, call_id: str) -> AgentDisposition | None:
        """The disposition of ``call_id`` (None: not set)."""
        self.open()
        with self._database.connection() as db:
            r = db.execute("SELECT * FROM agent_dispositions WHERE call_id = ?",
                           (call_id,)).fetchone()
        if r is None:
            return None
        return AgentDisposition(str(r["call_id"]), str(r["campaign"]), int(r["lead_id"]),
                                str(r["agent_id"]), str(r["code"]), str(r["notes"]),
                                float(r["at"]))
