"""The values the campaign store takes and gives: a lease, a claim, an attempt's result, the
counts, and the error a dialer gets when another one holds the campaign. Shared by every store
(SQLite today, PostgreSQL later); no I/O here but :meth:`Lease.here` and :func:`pid_alive`."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from dialer.campaign.model import CampaignError, Outcome

__all__ = [
    "STATUSES",
    "AttemptResult",
    "CampaignBusy",
    "CampaignStats",
    "Claim",
    "Lease",
    "PendingLeads",
    "pid_alive",
]

STATUSES = ("running", "paused", "done")


class CampaignBusy(CampaignError):
    """Another dialer holds the campaign's lease (its heartbeat is fresh): one dialer per
    campaign."""


@dataclass(frozen=True, slots=True)
class Lease:
    """Who is dialling a campaign: the runner's owner id, process id and host name."""

    owner: str
    pid: int
    host: str

    @classmethod
    def here(cls, owner: str) -> Lease:
        """A lease for ``owner`` in this process on this host."""
        return cls(owner, os.getpid(), socket.gethostname())


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (``os.kill(pid, 0)``)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Claim:
    """A lead claimed for one attempt; the attempt row is already committed."""

    campaign: str
    lead_id: int
    attempt_no: int
    call_id: str
    phone: str
    name: str
    timezone: str
    custom: dict[str, str]


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What became of an attempt (from the dialer's call record)."""

    outcome: Outcome
    disposition: str = ""
    live: bool = False
    abandoned: bool = False
    escalated: bool = False  # the call needed an agent (asked for one, or agent-first)
    connected: bool = False  # ... and reached one (bridged)
    answered_at: float | None = None
    callback_at: float | None = None
    record: dict[str, Any] | None = None
    retry_at: float | None = None  # the pickup model's retry time (not before the retry delay)


@dataclass(frozen=True, slots=True)
class CampaignStats:
    """Counts for ``status`` and the live progress line."""

    status: str
    leads: int
    pending: int
    in_flight: int
    done: int
    attempts: int
    answered: int
    escalated: int
    abandoned: int
    rate_24h: float
    rate_30d: float
    connected: int = 0  # of the escalated, those that reached an agent
    live_24h: int = 0  # the live answers and abandoned calls behind rate_24h
    abandoned_24h: int = 0
    heartbeat_at: float | None = None
    last_seen_at: float | None = None
    owner_pid: int | None = None  # the attached dialer's process and host (the lease)
    owner_host: str | None = None


@dataclass(frozen=True, slots=True)
class PendingLeads:
    """The pending leads split by whether they may be dialled now.

    ``waiting`` leads are still within a retry delay, or outside their calling window in their
    own time zone; ``next_due_at`` is the earliest time one of them becomes due
    (``None`` when none waits). Leads over today's attempt limit count as due until the dialer
    looks at them and moves them to tomorrow's window."""

    due_now: int
    waiting: int
    next_due_at: float | None

    @property
    def pending(self) -> int:
        return self.due_now + self.waiting
