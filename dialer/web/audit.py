"""The audit trail of the dashboard's controls: who did what, when, to what, before and after.

Each entry is one JSON line appended to the audit file (``--audit-log``, by default
``audit.jsonl`` beside the database; mode 0600) and kept in memory (the last ``keep``) for the
audit page. A file that cannot be written is logged once per failure, never fatal: the control
still happens and the entry is still on the page.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dialer.private_files import MODE

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
    def __init__(self, path: str | os.PathLike[str] | None, keep: int = 500) -> None:
        self.path = Path(path) if path else None
        self._recent: deque[AuditEntry] = deque(maxlen=keep)
        if self.path is not None and self.path.exists():  # the page shows earlier runs too
            try:
                for line in self.path.read_text(encoding="utf-8").splitlines()[-keep:]:
                    self._recent.append(AuditEntry(**json.loads(line)))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("audit log %s: earlier entries not shown: %s", self.path, exc)

    def record(self, entry: AuditEntry) -> None:
        self._recent.append(entry)
        log.info("audit: %s %s %s: %r -> %r", entry.user, entry.action, entry.target,
                 entry.before, entry.after)
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, MODE)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(entry), sort_keys=True) + "\n")
        except OSError as exc:
            log.error("audit log %s: entry not written: %s", self.path, exc)

    def entries(self) -> list[AuditEntry]:
        """Newest first."""
        return list(reversed(self._recent))
