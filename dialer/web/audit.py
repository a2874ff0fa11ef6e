"""The audit trail of the dashboard's controls: who did what, when, to what, before and after.

Each entry goes to the dialer's database (:class:`~dialer.web.audit_table.AuditTable`, table
``audit_log``: SQLite or PostgreSQL, written off the loop through the dialer's
:class:`~dialer.store_calls.StoreCalls`), where the audit page reads it back with every other
dialer's on the same database; with ``--audit-log FILE`` it is also one JSON line appended to
that file (mode 0600). The last ``keep`` entries of this process are kept in memory: the page
shows them when there is no database (``:memory:``) or it cannot be read. A write that fails is
logged (and counted by the ``StoreCalls``), never fatal: the control still happens.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

from dialer.private_files import MODE
from dialer.store_calls import StoreCalls
from dialer.web.audit_table import LANE, AuditTable

__all__ = ["AuditEntry", "AuditLog"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float  # wall-clock seconds
    user: str
    action: str  # pause, resume, aim, agent_logout
    target: str  # campaign name or agent id
    before: Any
    after: Any


class AuditLog:
    """``path``: the JSONL copy (``None``: none); ``table``: the database's audit table, its
    calls made through ``calls`` (``None``: entries only in memory and in the file)."""

    def __init__(self, path: str | os.PathLike[str] | None, keep: int = 500, *,
                 table: AuditTable | None = None, calls: StoreCalls | None = None) -> None:
        self.path = Path(path) if path else None
        self.keep = keep
        self.table = table
        self.calls = calls or StoreCalls()
        self._recent: deque[AuditEntry] = deque(maxlen=keep)

    def record(self, entry: AuditEntry) -> None:
        self._recent.append(entry)
        log.info("audit: %s %s %s: %r -> %r", entry.user, entry.action, entry.target,
                 entry.before, entry.after)
        if self.table is not None:
            self.calls.submit(self.table.add, astuple(entry), lane=LANE)
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, MODE)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(entry), sort_keys=True) + "\n")
        except OSError as exc:
            log.error("audit log %s: entry not written: %s", self.path, exc)

    async def entries(self) -> list[AuditEntry]:
        """Newest first: every dialer's from the database (this process's own when it has
        none or it cannot be read)."""
        if self.table is not None:
            try:
                rows = await self.calls.run(self.table.recent, self.keep, lane=LANE)
            except Exception as exc:
                log.error("audit table: entries not read, this dialer's shown: %s", exc)
            else:
                return [AuditEntry(*row) for row in rows]
        return list(reversed(self._recent))

    async def close(self) -> None:
        """Wait for the queued writes, then close the database."""
        if self.table is not None:
            await self.calls.run(self.table.close, lane=LANE)
