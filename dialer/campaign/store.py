"""Campaign state in SQLite: campaigns, leads, attempts, calls, agents, dispositions, do-not-call.

Crash safety rests on one rule: **an attempt row is committed before its dial**.
:meth:`CampaignStore.claim_next` picks the next due lead (priority, then due time), runs the
compliance checks, and in the same ``BEGIN IMMEDIATE`` transaction inserts the attempt (state
``dialing``, a deterministic call id ``{campaign}-{lead}-{attempt}``) and marks the lead
``dialing``. Only after that commit does the runner dial. A process killed at any point then
leaves either no attempt (nothing was dialled) or a ``dialing`` attempt, which
:meth:`CampaignStore.recover` settles on restart from the dialer's call record when one exists
(no call record is lost), or as ``interrupted`` (it counts as an attempt and is retried as a
*new* attempt after the ``interrupted`` retry delay). No attempt is ever dialled twice.

Use one store per process and thread (the event loop's); every method is one short transaction.
WAL journal and ``synchronous=FULL`` make each commit durable.

One dialer per campaign: a runner takes the campaign's **lease** (:meth:`CampaignStore.acquire`:
owner id, pid and host in the campaign's row, in one ``BEGIN IMMEDIATE`` transaction) before it
recovers anything or dials. While another owner's heartbeat is fresh (under
:data:`~dialer.campaign.progress.HEARTBEAT_STALE_S` old) it is refused with
:class:`CampaignBusy`, unless that owner is a process on this host that no longer exists (killed
and restarted at once). A stale lease is taken over. Claims (:meth:`CampaignStore.claim_next`
with ``owner``) and heartbeats (:meth:`CampaignStore.heartbeat` with ``owner``) only succeed for
the lease's owner, so a runner whose lease was taken over can no longer dial.

The lease holder records a heartbeat in its campaign's row (:meth:`CampaignStore.heartbeat`,
with each progress snapshot) and clears it with the lease when it stops
(:meth:`CampaignStore.detach`), so ``status`` tells a campaign being dialled from one whose
dialer has gone. A database from an older version gains the columns it lacks when it is opened
(:data:`COLUMNS_ADDED`).

:meth:`CampaignStore.read_only` opens an existing database for reading only (``voxgate campaign
check``): nothing in it or beside it is created or changed, and the tables and columns an older
database lacks read as empty.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import socket
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.campaign.compliance import check_dial, local_day, next_window_open
from dialer.campaign.leads_csv import EXPORT_PROGRESS_COLUMNS
from dialer.campaign.model import (
    AgentSpec,
    CampaignError,
    CampaignSpec,
    Lead,
    Outcome,
    campaign_from_dict,
)
from dialer.campaign.progress import HEARTBEAT_STALE_S, iso_utc
from dialer.campaign.retry import next_attempt_at
from dialer.csv_safe import safe_cell, safe_header
from dialer.pacing.ledger import MONTH_S, AbandonmentLedger
from dialer.private_files import private_database

log = logging.getLogger("dialer.campaign")

__all__ = [
    "ATTEMPT_COLUMNS",
    "COLUMNS_ADDED",
    "LEAD_COLUMNS",
    "STATUSES",
    "AttemptResult",
    "CampaignBusy",
    "CampaignStats",
    "CampaignStore",
    "Claim",
    "Lease",
    "PendingLeads",
    "pid_alive",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    heartbeat_at REAL,
    last_seen_at REAL,
    owner_id TEXT,
    owner_pid INTEGER,
    owner_host TEXT
);
CREATE TABLE IF NOT EXISTS leads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign TEXT NOT NULL,
    phone TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL DEFAULT 0,
    custom TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending',
    due_at REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_outcome TEXT NOT NULL DEFAULT '',
    final_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (campaign, phone)
);
CREATE INDEX IF NOT EXISTS leads_due ON leads (campaign, state, priority DESC, due_at, id);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign TEXT NOT NULL,
    lead_id INTEGER NOT NULL,
    attempt_no INTEGER NOT NULL,
    call_id TEXT NOT NULL UNIQUE,
    local_day TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'dialing',
    outcome TEXT NOT NULL DEFAULT '',
    live INTEGER NOT NULL DEFAULT 0,
    abandoned INTEGER NOT NULL DEFAULT 0,
    escalated INTEGER NOT NULL DEFAULT 0,
    answered_at REAL,
    ended_at REAL,
    connected INTEGER NOT NULL DEFAULT 0,
    UNIQUE (lead_id, attempt_no)
);
CREATE INDEX IF NOT EXISTS attempts_lead_day ON attempts (lead_id, local_day);
CREATE INDEX IF NOT EXISTS attempts_state ON attempts (campaign, state);
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    lead_id INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dispositions (
    call_id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    lead_id INTEGER NOT NULL,
    disposition TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    campaign TEXT NOT NULL,
    id TEXT NOT NULL,
    number TEXT NOT NULL,
    skills TEXT NOT NULL DEFAULT '',
    nailed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign, id)
);
CREATE TABLE IF NOT EXISTS dnc (
    phone TEXT PRIMARY KEY,
    added_at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS pacer_snapshots (
    campaign TEXT NOT NULL,
    pacer TEXT NOT NULL,
    saved_at REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (campaign, pacer)
);
"""

SNAPSHOT_MAX_AGE_S = 14 * 86_400.0
"""A pacer snapshot older than this is ignored: the campaign's floor has changed since."""

COLUMNS_ADDED: tuple[tuple[str, str, str], ...] = (
    ("agents", "nailed", "INTEGER NOT NULL DEFAULT 0"),  # nailed-up campaign agents
    ("campaigns", "heartbeat_at", "REAL"),  # the attached dialer's last heartbeat
    ("campaigns", "last_seen_at", "REAL"),  # the last dialer's last sign of life
    ("campaigns", "owner_id", "TEXT"),  # the lease: the runner dialling the campaign
    ("campaigns", "owner_pid", "INTEGER"),
    ("campaigns", "owner_host", "TEXT"),
    ("attempts", "connected", "INTEGER NOT NULL DEFAULT 0"),  # the call reached an agent
)
"""Columns added since a table was first made: ``(table, column, type)``, added on open to a
database that lacks them (``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is)."""

STATUSES = ("running", "paused", "done")

LEAD_COLUMNS = ("phone", "name", "timezone", "priority", *EXPORT_PROGRESS_COLUMNS)
"""The lead export's columns (``voxgate campaign export``)."""

ATTEMPT_COLUMNS = (
    "id",
    "campaign",
    "lead_id",
    "attempt_no",
    "call_id",
    "local_day",
    "claimed_at",
    "state",
    "outcome",
    "live",
    "abandoned",
    "escalated",
    "answered_at",
    "ended_at",
    "connected",
)
"""The attempt export's columns (``voxgate campaign export --attempts``); newer ones last."""

_TIME_COLUMNS = frozenset({"due_at", "claimed_at", "answered_at", "ended_at"})
"""Exported as ISO 8601 UTC (``2026-11-22T03:30:00Z``), empty when unset."""

MAX_TIME = 253_399_622_400.0
"""9999-12-01T00:00:00Z: stored times past it (a due time an older version computed from a
``1e300`` retry delay) are read as this (a month short of the calendar's end, so a calling
window can still be found after it)."""


def _time_text(value: Any) -> str:
    """A stored time as ISO 8601 UTC, whatever is stored (past :data:`MAX_TIME`: that)."""
    if not isinstance(value, (int, float)) or math.isnan(value):
        return "" if value in (None, "") else str(value)
    return iso_utc(min(max(value, 0.0), MAX_TIME))


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


def _spec_to_json(spec: CampaignSpec) -> str:
    """The spec as the campaign row keeps it. Settings added since are written only when they
    differ from their default, so that an older version still reads the campaigns that do not
    use them (it refuses keys it does not know)."""
    added = {"default_country": spec.default_country} if spec.default_country != "91" else {}
    return json.dumps(
        {
            "name": spec.name,
            "mode": spec.mode,
            "exophone": spec.exophone,
            "bot": spec.bot,
            "pacer": spec.pacer,
            "timezone": spec.timezone,
            "window": dict(zip(("start", "end"), spec.window.describe(), strict=True)),
            "limits": {
                "max_attempts": spec.limits.max_attempts,
                "max_attempts_per_day": spec.limits.max_attempts_per_day,
                "ring_timeout_s": spec.limits.ring_timeout_s,
                "min_ring_s": spec.limits.min_ring_s,
                "max_lines": spec.limits.max_lines,
                "abandon_target": spec.limits.abandon_target,
                **({"wrap_up_s": spec.limits.wrap_up_s} if spec.limits.wrap_up_s else {}),
            },
            "retry": dict(spec.retry),
            "agents": [
                {"id": a.id, "number": a.number, "skills": list(a.skills), "nailed": a.nailed}
                for a in spec.agents
            ],
            "skills": list(spec.skills),
            "amd": spec.amd,
            "stream_params": list(spec.stream_params),
            **added,
        }
    )


class _DncList:
    """The do-not-call table as a container, looked up one number at a time."""

    def __init__(self, store: CampaignStore) -> None:
        self._store = store

    def __contains__(self, phone: object) -> bool:
        return isinstance(phone, str) and self._store.on_dnc(phone)


class CampaignStore:
    """See the module docstring. ``path`` is a file, or ``":memory:"`` for tests."""

    def __init__(self, path: str, *, _read_only: bool = False) -> None:
        self.path = path
        if _read_only:
            self._db = _connect_read_only(path)
            self._db.row_factory = sqlite3.Row
            _stand_in(self._db)
            return
        private_database(path)  # 0600, and so its -wal and -shm
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._migrate()

    @classmethod
    def read_only(cls, path: str) -> CampaignStore:
        """The store of the existing database ``path``, for reading only: the reading methods
        work (on a database from an older version too: what it lacks reads as empty) and the
        writing ones raise ``sqlite3.OperationalError``. Nothing is created or changed, not
        even the write-ahead log's files beside it when no other process has it open."""
        return cls(path, _read_only=True)

    def _migrate(self) -> None:
        """Add the :data:`COLUMNS_ADDED` a database from an older version lacks."""
        for table, column, kind in _missing_columns(self._db):
            self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- campaigns, leads, agents, do-not-call ---------------------------------------------
    def create_campaign(self, spec: CampaignSpec, now: float) -> None:
        """Create the campaign, or update its settings if it exists (its leads stay; its agents
        become exactly the spec's: agents no longer listed are removed)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO campaigns (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, "
                "updated_at = excluded.updated_at",
                (spec.name, _spec_to_json(spec), now, now),
            )
            db.execute("DELETE FROM agents WHERE campaign = ?", (spec.name,))
            for agent in spec.agents:
                db.execute(
                    "INSERT INTO agents (campaign, id, number, skills, nailed) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (spec.name, agent.id, agent.number, ",".join(agent.skills), int(agent.nailed)),
                )

    def campaign(self, name: str) -> CampaignSpec:
        """The stored campaign ``name``; :class:`CampaignError` when there is none, or when its
        stored settings are not valid (written by an older version that let ``nan`` through)."""
        row = self._db.execute("SELECT spec FROM campaigns WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise CampaignError(f"no campaign named {name!r}")
        try:
            return campaign_from_dict(json.loads(row["spec"]))
        except (CampaignError, ValueError, TypeError) as exc:
            raise CampaignError(
                f"campaign {name} in {self.path}: stored settings not valid: {exc}"
            ) from None

    def campaigns(self) -> list[str]:
        return [r["name"] for r in self._db.execute("SELECT name FROM campaigns ORDER BY name")]

    def agents(self, campaign: str) -> list[AgentSpec]:
        rows = self._db.execute(
            "SELECT id, number, skills, nailed FROM agents WHERE campaign = ? ORDER BY id",
            (campaign,),
        )
        return [
            AgentSpec(
                r["id"],
                r["number"],
                tuple(s for s in r["skills"].split(",") if s),
                nailed=bool(r["nailed"]),
            )
            for r in rows
        ]

    def set_status(self, campaign: str, status: str, now: float) -> None:
        """``running``, ``paused`` or ``done``; a running runner polls it."""
        if status not in STATUSES:
            raise CampaignError(f"status must be one of {STATUSES}")
        with self._tx() as db:
            cur = db.execute(
                "UPDATE campaigns SET status = ?, updated_at = ? WHERE name = ?",
                (status, now, campaign),
            )
            if cur.rowcount == 0:
                raise CampaignError(f"no campaign named {campaign!r}")

    def status(self, campaign: str) -> str:
        return str(self._campaign_row(campaign)["status"])

    def _campaign_row(self, campaign: str) -> sqlite3.Row:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT status, heartbeat_at, last_seen_at, owner_id, owner_pid, owner_host "
            "FROM campaigns WHERE name = ?",
            (campaign,),
        ).fetchone()
        if row is None:
            raise CampaignError(f"no campaign named {campaign!r}")
        return row

    def acquire(
        self,
        campaign: str,
        lease: Lease,
        now: float,
        *,
        stale_s: float = HEARTBEAT_STALE_S,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        """Take the campaign's lease for ``lease.owner`` (and record a heartbeat at ``now``), in
        one transaction. Raises :class:`CampaignBusy` while another owner's heartbeat is under
        ``stale_s`` old, unless that owner ran on this host and its process is gone
        (``alive(pid)`` is false). A stale or released lease is taken over."""
        with self._tx() as db:
            row = self._campaign_row(campaign)  # read inside the transaction
            refused = _refusal(campaign, row, lease, now, stale_s, alive)
            if refused:
                raise CampaignBusy(refused)
            db.execute(
                "UPDATE campaigns SET owner_id = ?, owner_pid = ?, owner_host = ?, "
                "heartbeat_at = ?, last_seen_at = ? WHERE name = ?",
                (lease.owner, lease.pid, lease.host, now, now, campaign),
            )

    def busy(
        self,
        campaign: str,
        now: float,
        *,
        stale_s: float = HEARTBEAT_STALE_S,
        alive: Callable[[int], bool] = pid_alive,
    ) -> str:
        """Why :meth:`acquire` would refuse a new dialer on this host the campaign at ``now``
        (the :class:`CampaignBusy` message), or ``""``; changes nothing."""
        lease = Lease.here(owner="")
        return _refusal(campaign, self._campaign_row(campaign), lease, now, stale_s, alive)

    def holder(self, campaign: str) -> str:
        """Who holds the campaign's lease, in words: ``pid 4242 on host h``, or ``nobody``."""
        return _holder(self._campaign_row(campaign))

    def owner(self, campaign: str) -> str | None:
        """The owner id of the campaign's lease (``None`` when no dialer holds it)."""
        owner = self._campaign_row(campaign)["owner_id"]
        return None if owner is None else str(owner)

    def heartbeat(self, campaign: str, now: float, owner: str | None = None) -> bool:
        """A dialer is attached to the campaign and alive at ``now``. With ``owner``, only the
        lease's owner renews it: returns ``False`` (and changes nothing) when the lease is held
        by another owner or was released."""
        if owner is None:
            self._db.execute(
                "UPDATE campaigns SET heartbeat_at = ?, last_seen_at = ? WHERE name = ?",
                (now, now, campaign),
            )
            return True
        cur = self._db.execute(
            "UPDATE campaigns SET heartbeat_at = ?, last_seen_at = ? "
            "WHERE name = ? AND owner_id = ?",
            (now, now, campaign, owner),
        )
        return cur.rowcount == 1

    def detach(self, campaign: str, now: float, owner: str | None = None) -> None:
        """The campaign's dialer stops at ``now`` (a clean exit): no dialer is attached, the
        lease is released. With ``owner``, only if that owner still holds the lease (a runner
        whose lease was taken over leaves the new owner's alone)."""
        sql = (
            "UPDATE campaigns SET heartbeat_at = NULL, last_seen_at = ?, owner_id = NULL, "
            "owner_pid = NULL, owner_host = NULL WHERE name = ?"
        )
        if owner is None:
            self._db.execute(sql, (now, campaign))
        else:
            self._db.execute(sql + " AND owner_id = ?", (now, campaign, owner))

    def add_leads(self, campaign: str, leads: Iterable[Lead], now: float) -> int:
        """Add leads (a phone already in the campaign is skipped); returns how many were new."""
        added = 0
        with self._tx() as db:
            for lead in leads:
                cur = db.execute(
                    "INSERT OR IGNORE INTO leads (campaign, phone, name, timezone, priority, "
                    "custom, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        campaign,
                        lead.phone,
                        lead.name,
                        lead.timezone,
                        lead.priority,
                        json.dumps(dict(lead.custom)),
                        now,
                    ),
                )
                added += cur.rowcount
        return added

    def add_dnc(self, phones: Iterable[str], now: float, reason: str = "") -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO dnc (phone, added_at, reason) VALUES (?, ?, ?)",
                [(p, now, reason) for p in phones],
            )

    def lead_states(self, campaign: str) -> dict[str, str]:
        """The campaign's leads: phone -> state (``pending``, ``dialing``, ``done`` ...)."""
        rows = self._db.execute("SELECT phone, state FROM leads WHERE campaign = ?", (campaign,))
        return {r["phone"]: r["state"] for r in rows}

    def on_dnc(self, phone: str) -> bool:
        """Whether ``phone`` is on the do-not-call list (an indexed lookup)."""
        row = self._db.execute("SELECT 1 FROM dnc WHERE phone = ?", (phone,)).fetchone()
        return row is not None

    # --- claiming and results ----------------------------------------------------------------
    def claim_next(
        self, campaign: str, now: float, batch: int = 50, *, owner: str | None = None
    ) -> Claim | None:
        """Claim the next lead that may be dialled now, committing its attempt first; ``None``
        when no lead is due. Leads failing a check are updated on the way: do-not-call and
        exhausted leads end, leads outside their window (or over today's limit) wait. With
        ``owner``, raises :class:`CampaignBusy` (claiming nothing) unless ``owner`` holds the
        campaign's lease, checked in the claim's transaction."""
        spec = self.campaign(campaign)
        dnc = _DncList(self)
        with self._tx() as db:
            if owner is not None:
                held = self._campaign_row(campaign)  # read inside the claim's transaction
                if held["owner_id"] != owner:
                    raise CampaignBusy(
                        f"campaign {campaign}: this dialer no longer holds the campaign "
                        f"(held by {_holder(held)})"
                    )
            rows = db.execute(
                "SELECT * FROM leads WHERE campaign = ? AND state = 'pending' AND due_at <= ? "
                "ORDER BY priority DESC, due_at, id LIMIT ?",
                (campaign, now, batch),
            ).fetchall()
            for row in rows:
                zone = row["timezone"] or spec.timezone
                day = local_day(now, zone)
                today = db.execute(
                    "SELECT COUNT(*) FROM attempts WHERE lead_id = ? AND local_day = ?",
                    (row["id"], day),
                ).fetchone()[0]
                verdict = check_dial(
                    now=now,
                    phone=row["phone"],
                    timezone=zone,
                    window=spec.window,
                    limits=spec.limits,
                    dnc=dnc,
                    attempts_total=row["attempts"],
                    attempts_today=today,
                )
                if not verdict.allowed:
                    if verdict.reason == "no_common_window":
                        start, end = spec.window.describe()
                        log.warning(
                            "campaign %s: lead %d is never dialled: the calling window %s-%s "
                            "has no moment in common across its time zones (%s)",
                            campaign, row["id"], start, end, zone.replace(" ", ", "),
                        )
                    if verdict.final:
                        db.execute(
                            "UPDATE leads SET state = ?, final_reason = ? WHERE id = ?",
                            (
                                "dnc" if verdict.reason == "dnc" else "exhausted",
                                verdict.reason,
                                row["id"],
                            ),
                        )
                    else:
                        db.execute(
                            "UPDATE leads SET due_at = ? WHERE id = ?",
                            (verdict.not_before, row["id"]),
                        )
                    continue
                attempt_no = row["attempts"] + 1
                call_id = f"{campaign}-{row['id']}-{attempt_no}"
                db.execute(
                    "INSERT INTO attempts (campaign, lead_id, attempt_no, call_id, local_day, "
                    "claimed_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (campaign, row["id"], attempt_no, call_id, day, now),
                )
                db.execute(
                    "UPDATE leads SET state = 'dialing', attempts = ? WHERE id = ?",
                    (attempt_no, row["id"]),
                )
                return Claim(
                    campaign,
                    row["id"],
                    attempt_no,
                    call_id,
                    row["phone"],
                    row["name"],
                    zone,
                    json.loads(row["custom"]),
                )
        return None

    def finish_attempt(self, call_id: str, result: AttemptResult, now: float) -> None:
        """Record an attempt's result, its call record and disposition, and schedule the lead
        (retry delay by outcome, or finished). Recording the same call twice is a no-op."""
        spec_name = self._db.execute(
            "SELECT campaign FROM attempts WHERE call_id = ?", (call_id,)
        ).fetchone()
        if spec_name is None:
            raise CampaignError(f"no attempt with call id {call_id!r}")
        spec = self.campaign(spec_name["campaign"])
        with self._tx() as db:
            attempt = db.execute("SELECT * FROM attempts WHERE call_id = ?", (call_id,)).fetchone()
            if attempt["state"] != "dialing":
                return
            db.execute(
                "UPDATE attempts SET state = ?, outcome = ?, live = ?, abandoned = ?, "
                "escalated = ?, connected = ?, answered_at = ?, ended_at = ? WHERE call_id = ?",
                (
                    "interrupted" if result.outcome is Outcome.INTERRUPTED else "done",
                    result.outcome.value,
                    int(result.live),
                    int(result.abandoned),
                    int(result.escalated),
                    int(result.connected),
                    result.answered_at
                    if result.answered_at is not None
                    else (now if result.live else None),
                    now,
                    call_id,
                ),
            )
            if result.record is not None:
                db.execute(
                    "INSERT OR REPLACE INTO calls (call_id, campaign, lead_id, body) "
                    "VALUES (?, ?, ?, ?)",
                    (call_id, spec.name, attempt["lead_id"], json.dumps(result.record)),
                )
            db.execute(
                "INSERT OR REPLACE INTO dispositions "
                "(call_id, campaign, lead_id, disposition, outcome, at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    call_id,
                    spec.name,
                    attempt["lead_id"],
                    result.disposition,
                    result.outcome.value,
                    now,
                ),
            )
            lead = db.execute("SELECT * FROM leads WHERE id = ?", (attempt["lead_id"],)).fetchone()
            due = next_attempt_at(
                result.outcome,
                now=now,
                retry=spec.retry,
                attempts_made=lead["attempts"],
                max_attempts=spec.limits.max_attempts,
                callback_at=result.callback_at,
            )
            if due is None:
                reason = (
                    result.outcome.value
                    if result.outcome in (Outcome.COMPLETED, Outcome.ESCALATED)
                    or result.outcome.value not in spec.retry
                    else "max_attempts"
                )
                db.execute(
                    "UPDATE leads SET state = 'done', last_outcome = ?, final_reason = ? "
                    "WHERE id = ?",
                    (result.outcome.value, reason, lead["id"]),
                )
            else:
                db.execute(
                    "UPDATE leads SET state = 'pending', due_at = ?, last_outcome = ? WHERE id = ?",
                    (due, result.outcome.value, lead["id"]),
                )

    def recover(
        self,
        campaign: str,
        now: float,
        lookup: Callable[[str], AttemptResult | None],
    ) -> tuple[int, int]:
        """Settle attempts left ``dialing`` by a process that died: from the dialer's call
        record when ``lookup(call_id)`` finds one, else as ``interrupted``. Returns
        ``(recovered from records, interrupted)``. Call once before dialling."""
        rows = self._db.execute(
            "SELECT call_id FROM attempts WHERE campaign = ? AND state = 'dialing'", (campaign,)
        ).fetchall()
        found = lost = 0
        for row in rows:
            result = lookup(row["call_id"])
            if result is None:
                result = AttemptResult(Outcome.INTERRUPTED, disposition="interrupted")
                lost += 1
            else:
                found += 1
            self.finish_attempt(row["call_id"], result, now)
        return found, lost

    # --- reading -----------------------------------------------------------------------------
    def in_flight(self, campaign: str) -> list[str]:
        """Call ids of attempts claimed and not finished."""
        return [
            r["call_id"]
            for r in self._db.execute(
                "SELECT call_id FROM attempts WHERE campaign = ? AND state = 'dialing'", (campaign,)
            )
        ]

    def ledger(self, campaign: str, now: float) -> AbandonmentLedger:
        """The campaign's abandonment ledger rebuilt from its last 30 days of live answers."""
        ledger = AbandonmentLedger()
        ledger.replay(
            (r["answered_at"], bool(r["abandoned"]))
            for r in self._db.execute(
                "SELECT answered_at, abandoned FROM attempts WHERE campaign = ? AND live = 1 "
                "AND answered_at >= ? ORDER BY answered_at",
                (campaign, now - MONTH_S),
            )
        )
        return ledger

    def save_pacer_snapshot(
        self, campaign: str, pacer: str, snapshot: dict[str, Any], now: float
    ) -> None:
        """Keep the campaign's latest pacer estimator state (one row per campaign and pacer),
        so the next run starts warm (see ``dialer.pacing.types.WarmStartPacer``)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO pacer_snapshots (campaign, pacer, saved_at, body) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (campaign, pacer) DO UPDATE SET "
                "saved_at = excluded.saved_at, body = excluded.body",
                (campaign, pacer, now, json.dumps(snapshot, separators=(",", ":"))),
            )

    def pacer_snapshot(
        self, campaign: str, pacer: str, now: float, max_age_s: float = SNAPSHOT_MAX_AGE_S
    ) -> dict[str, Any] | None:
        """The campaign's stored snapshot for ``pacer`` if one was saved within ``max_age_s``
        (``None`` otherwise, or if the stored text is not a JSON object)."""
        row = self._db.execute(
            "SELECT saved_at, body FROM pacer_snapshots WHERE campaign = ? AND pacer = ?",
            (campaign, pacer),
        ).fetchone()
        if row is None or now - row["saved_at"] > max_age_s:
            return None
        try:
            body = json.loads(row["body"])
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def pending(self, campaign: str, now: float) -> PendingLeads:
        """The pending leads at ``now``: how many may be dialled now, how many wait, and when the
        first waiting one becomes due. Reads the due times :meth:`claim_next` keeps and the
        campaign's calling window (for leads the dialer has not looked at yet)."""
        spec = self.campaign(campaign)
        rows = self._db.execute(
            "SELECT timezone, due_at <= ? AS due, COUNT(*), MIN(due_at) FROM leads "
            "WHERE campaign = ? AND state = 'pending' GROUP BY timezone, due",
            (now, campaign),
        ).fetchall()
        due_now = waiting = 0
        next_due: float | None = None
        for zone, due, count, first in rows:
            # when the first of these may be dialled: its due time, or the window's next opening
            start = min(max(now, first), MAX_TIME)
            at = next_window_open(start, zone or spec.timezone, spec.window)
            if at is None:  # never: its zones share no calling window (ends at its next claim)
                at = now
            if due and at <= now:
                due_now += count
                continue
            waiting += count
            next_due = at if next_due is None else min(next_due, at)
        return PendingLeads(due_now, waiting, next_due)

    def stats(
        self, campaign: str, now: float, ledger: AbandonmentLedger | None = None
    ) -> CampaignStats:
        """Counts for ``status`` and progress. Pass the runner's live ``ledger`` to skip
        rebuilding it from 30 days of attempts."""
        campaign_row = self._campaign_row(campaign)
        states = dict(
            self._db.execute(
                "SELECT state, COUNT(*) FROM leads WHERE campaign = ? GROUP BY state", (campaign,)
            ).fetchall()
        )
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(live), 0), COALESCE(SUM(escalated), 0), "
            "COALESCE(SUM(abandoned), 0), COALESCE(SUM(connected), 0) FROM attempts "
            "WHERE campaign = ?",
            (campaign,),
        ).fetchone()
        view = (ledger or self.ledger(campaign, now)).view(now)
        return CampaignStats(
            status=str(campaign_row["status"]),
            leads=sum(states.values()),
            pending=states.get("pending", 0),
            in_flight=states.get("dialing", 0),
            done=states.get("done", 0) + states.get("exhausted", 0) + states.get("dnc", 0),
            attempts=row[0],
            answered=row[1],
            escalated=row[2],
            abandoned=row[3],
            connected=row[4],
            rate_24h=view.rate_24h,
            rate_30d=view.rate_30d,
            live_24h=view.live_24h,
            abandoned_24h=view.abandoned_24h,
            heartbeat_at=campaign_row["heartbeat_at"],
            last_seen_at=campaign_row["last_seen_at"],
            owner_pid=campaign_row["owner_pid"],
            owner_host=campaign_row["owner_host"],
        )

    def attempts(self, campaign: str) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self._db.execute(
                "SELECT * FROM attempts WHERE campaign = ? ORDER BY id", (campaign,)
            )
        ]

    def leads(self, campaign: str) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self._db.execute(
                "SELECT * FROM leads WHERE campaign = ? ORDER BY id", (campaign,)
            )
        ]

    def call_record(self, call_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT body FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        return None if row is None else dict(json.loads(row["body"]))

    def export_csv(self, campaign: str) -> str:
        """One row per lead (:data:`LEAD_COLUMNS`): where it stands and what its last attempt
        gave; times in ISO 8601 UTC. The leads' custom fields follow as extra columns (the
        union of their names, sorted; empty where a lead lacks one), so the list can be
        imported again."""
        leads = self.leads(campaign)
        rows: list[dict[str, Any]] = []
        extra: set[str] = set()
        for lead in leads:
            custom = {k: v for k, v in json.loads(lead["custom"]).items() if k not in LEAD_COLUMNS}
            extra.update(custom)
            rows.append({**lead, **custom})
        times = _TIME_COLUMNS.intersection(LEAD_COLUMNS)  # a custom "ended_at" stays as it is
        return _csv_text(LEAD_COLUMNS + tuple(sorted(extra)), rows, times)

    def export_attempts_csv(self, campaign: str) -> str:
        """One row per attempt (:data:`ATTEMPT_COLUMNS`); times in ISO 8601 UTC, empty when
        unset (an attempt not answered, or still ringing)."""
        return _csv_text(ATTEMPT_COLUMNS, self.attempts(campaign))


def _missing_columns(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """The :data:`COLUMNS_ADDED` that ``db``'s tables lack (those of an older version)."""
    missing = []
    for table, column, kind in COLUMNS_ADDED:
        columns = {r[1] for r in db.execute(f"PRAGMA main.table_info({table})")}
        if columns and column not in columns:
            missing.append((table, column, kind))
    return missing


def _connect_read_only(path: str) -> sqlite3.Connection:
    """A read-only connection to the existing database ``path``. With no write-ahead log
    beside it (no other connection has it open) it is read as immutable, which creates no
    ``-wal``/``-shm`` files; otherwise through the log, as a writer left it."""
    target = Path(path)
    if not target.is_file():
        raise CampaignError(f"no campaign database at {path}")
    mode = "mode=ro" if Path(f"{path}-wal").exists() else "mode=ro&immutable=1"
    uri = f"file:{urllib.parse.quote(str(target.resolve()))}?{mode}"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10.0)


def _stand_in(db: sqlite3.Connection) -> None:
    """Empty temporary stand-ins (read first, in SQLite's name lookup) for the tables that a
    read-only ``db`` lacks, and views adding the :data:`COLUMNS_ADDED` it lacks (at their
    defaults) to its older tables: reading methods then see the current schema."""
    db.execute("PRAGMA temp_store = MEMORY")
    tables = {r[0] for r in db.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
    for statement in SCHEMA.split(";"):
        words = statement.split()
        if words[:5] == ["CREATE", "TABLE", "IF", "NOT", "EXISTS"] and words[5] not in tables:
            db.execute(statement.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE", 1))
    added: dict[str, list[str]] = {}
    for table, column, kind in _missing_columns(db):
        default = kind.split("DEFAULT ")[1] if "DEFAULT " in kind else "NULL"
        added.setdefault(table, []).append(f"{default} AS {column}")
    for table, columns in added.items():
        db.execute(f"CREATE TEMP VIEW {table} AS SELECT *, {', '.join(columns)} FROM main.{table}")


def _refusal(
    campaign: str,
    row: sqlite3.Row,
    lease: Lease,
    now: float,
    stale_s: float,
    alive: Callable[[int], bool],
) -> str:
    """Why ``lease`` may not take the lease of ``campaign`` (its ``row``) at ``now``, or ``""``:
    another owner's heartbeat is under ``stale_s`` old and its process is not known to be gone
    (it ran on ``lease``'s host and ``alive(pid)`` is false)."""
    beat, owner, pid, host = (
        row[k] for k in ("heartbeat_at", "owner_id", "owner_pid", "owner_host")
    )
    fresh = beat is not None and now - beat < stale_s
    if not fresh or owner == lease.owner:
        return ""
    if host == lease.host and pid is not None and not alive(int(pid)):
        return ""
    who = _holder(row, nobody="a dialer of an older version")
    return (
        f"campaign {campaign} is already being run by {who} (heartbeat "
        f"{max(0, round(now - beat))} s ago); stop it first"
    )


def _holder(row: sqlite3.Row, nobody: str = "nobody") -> str:
    """The lease holder of a campaign ``row``: ``pid 4242 on host h``, else ``nobody``."""
    if row["owner_id"] is None:
        return nobody
    return f"pid {row['owner_pid']} on host {row['owner_host']}"


def _csv_text(
    columns: tuple[str, ...], rows: Iterable[dict[str, Any]], times: frozenset[str] = _TIME_COLUMNS
) -> str:
    """``rows`` as CSV with a header, the ``times`` columns as ISO 8601 UTC; no cell or
    column name a spreadsheet would run as a formula (:mod:`dialer.csv_safe`)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writerow(safe_header(columns))
    for row in rows:
        cells = {k: v for k, v in row.items() if k in columns}
        writer.writerow(
            {k: _time_text(v) if k in times else safe_cell(v) for k, v in cells.items()}
        )
    return out.getvalue()
