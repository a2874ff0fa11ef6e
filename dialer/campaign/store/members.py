"""The dialers running a campaign (its members, the ``campaign_dialers`` table): several dialers
may share one campaign on one database.

A runner becomes a member when it starts: exclusively (:func:`dialer.campaign.store.leases.acquire`
takes the campaign's lease and enrols it, removing the members it overrides) or by joining
(:func:`join`, beside the members already there). Each member renews its row at its heartbeat
(:func:`beat`) and removes it when it stops (:func:`leave`). Only a fresh member claims
(:func:`check_claimer`, inside the claim's transaction): its row is there, not being reaped,
and its heartbeat is under half the stale bound old, so a member that stalls stops claiming
well before the others may take its share over.

A member whose heartbeat is older than the stale bound (or whose process on the reaper's host is
gone) is taken over by one of the others: :func:`take_stale` marks its row (``reaped_by``, its
heartbeat set to now: locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so one reaper wins and
a reaper that dies in turn is reaped later), the reaper settles its attempts
(:func:`settle_member`) and then :func:`forget` removes the row. Agents held by a member are
kept in the agents table's ``dialer`` column (:func:`assign_agents`, :func:`move_agent`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialer.campaign.model import CampaignError, Outcome
from dialer.campaign.progress import HEARTBEAT_STALE_S
from dialer.campaign.store import settle
from dialer.campaign.store.campaigns import campaign_row
from dialer.campaign.store.types import AttemptResult, CampaignBusy, Lease
from dialer.db import Connection, Row, row_lock, transaction

__all__ = [
    "MIGRATION",
    "HeartbeatLate",
    "Member",
    "assign_agents",
    "beat",
    "check_claimer",
    "enrol",
    "forget",
    "fresh_others",
    "join",
    "leave",
    "members",
    "move_agent",
    "settle_member",
    "take_stale",
]

MIGRATION = """
CREATE TABLE IF NOT EXISTS campaign_dialers (
    campaign TEXT NOT NULL,
    member TEXT NOT NULL,
    dialer_id TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    host TEXT,
    joined_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    reaped_by TEXT,
    PRIMARY KEY (campaign, member)
);
ALTER TABLE attempts ADD COLUMN dialer TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN dialer TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS attempts_dialer ON attempts (campaign, dialer, state)
"""
"""Version 2 of the campaign store: the members table, the member that claimed each attempt
and the member holding each agent (``""``: none)."""


class HeartbeatLate(CampaignBusy):
    """A member's heartbeat is too old to claim: it claims again once it has beaten (it is still
    a member; not being one at all is the plain :class:`CampaignBusy`)."""


@dataclass(frozen=True, slots=True)
class Member:
    """A dialer running a campaign: its runner id, its dialer id (``--dialer-id``: the owner of
    its live calls in the records store), process and host, when it joined and last beat."""

    member: str
    dialer_id: str
    pid: int | None
    host: str | None
    joined_at: float
    heartbeat_at: float

    @classmethod
    def of(cls, row: Row) -> Member:
        return cls(
            str(row["member"]),
            str(row["dialer_id"]),
            None if row["pid"] is None else int(row["pid"]),
            row["host"],
            float(row["joined_at"]),
            float(row["heartbeat_at"]),
        )

    def describe(self) -> str:
        who = f" (dialer {self.dialer_id})" if self.dialer_id else ""
        return f"pid {self.pid} on host {self.host}{who}"


def enrol(db: Connection, campaign: str, lease: Lease, dialer_id: str, now: float) -> None:
    """Add (or renew) ``lease``'s member row, inside the caller's transaction."""
    db.execute(
        "DELETE FROM campaign_dialers WHERE campaign = ? AND member = ?", (campaign, lease.owner)
    )
    db.execute(
        "INSERT INTO campaign_dialers (campaign, member, dialer_id, pid, host, joined_at, "
        "heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (campaign, lease.owner, dialer_id, lease.pid, lease.host, now, now),
    )


def join(db: Connection, campaign: str, lease: Lease, dialer_id: str, now: float) -> None:
    """``lease`` joins the campaign beside its members (no lease taken, nobody refused)."""
    with transaction(db):
        campaign_row(db, campaign, lock="SHARE")  # the campaign exists (CampaignError)
        enrol(db, campaign, lease, dialer_id, now)


def members(db: Connection, campaign: str) -> list[Member]:
    """The campaign's members (those being reaped included), oldest first."""
    rows = db.execute(
        "SELECT * FROM campaign_dialers WHERE campaign = ? ORDER BY joined_at, member",
        (campaign,),
    ).fetchall()
    return [Member.of(r) for r in rows]


def fresh_others(
    db: Connection,
    campaign: str,
    lease: Lease,
    now: float,
    stale_s: float,
    alive: Callable[[int], bool],
) -> list[Member]:
    """The members other than ``lease``'s that are alive: not being reaped, heartbeat under
    ``stale_s`` old and not a process gone from ``lease``'s host."""
    rows = db.execute(
        "SELECT * FROM campaign_dialers WHERE campaign = ? AND member <> ? AND reaped_by IS NULL",
        (campaign, lease.owner),
    ).fetchall()
    return [m for m in map(Member.of, rows) if not _dead(m, lease.host, now, stale_s, alive)]


def _dead(m: Member, host: str, now: float, stale_s: float, alive: Callable[[int], bool]) -> bool:
    if now - m.heartbeat_at >= stale_s:
        return True
    return m.host == host and m.pid is not None and not alive(m.pid)


def beat(db: Connection, campaign: str, member: str, now: float) -> bool:
    """Renew ``member``'s heartbeat; ``False`` when it is no member any more (removed by an
    exclusive start, or being reaped)."""
    cur = db.execute(
        "UPDATE campaign_dialers SET heartbeat_at = ? WHERE campaign = ? AND member = ? "
        "AND reaped_by IS NULL",
        (now, campaign, member),
    )
    return cur.rowcount == 1


def leave(db: Connection, campaign: str, member: str) -> None:
    """``member`` stops (a clean exit): its row and its hold on agents go."""
    with transaction(db):
        forget(db, campaign, member)


def forget(db: Connection, campaign: str, member: str) -> None:
    """Remove ``member``'s row and free its agents, inside the caller's transaction."""
    db.execute(
        "DELETE FROM campaign_dialers WHERE campaign = ? AND member = ?", (campaign, member)
    )
    db.execute(
        "UPDATE agents SET dialer = '' WHERE campaign = ? AND dialer = ?", (campaign, member)
    )


def check_claimer(
    db: Connection, campaign: str, member: str, now: float, stale_s: float = HEARTBEAT_STALE_S
) -> None:
    """Raise :class:`CampaignBusy` unless ``member`` is a fresh member of the campaign (its row
    there, not being reaped, its heartbeat under ``stale_s / 2`` old), inside the claim's
    transaction (PostgreSQL: the row held shared until it ends)."""
    row = db.execute(
        "SELECT heartbeat_at, reaped_by FROM campaign_dialers WHERE campaign = ? AND member = ?"
        + row_lock(db, "SHARE"),
        (campaign, member),
    ).fetchone()
    if row is None or row["reaped_by"] is not None:
        raise CampaignBusy(
            f"campaign {campaign}: this dialer no longer runs the campaign (taken over by "
            "another dialer)"
        )
    if now - float(row["heartbeat_at"]) >= stale_s / 2:
        raise HeartbeatLate(
            f"campaign {campaign}: this dialer's heartbeat is {now - row['heartbeat_at']:.0f} s "
            "old: it claims nothing until it beats again"
        )


def take_stale(
    db: Connection,
    campaign: str,
    reaper: Lease,
    now: float,
    stale_s: float,
    alive: Callable[[int], bool],
) -> list[Member]:
    """Mark the campaign's dead members (see :func:`_dead`) as reaped by ``reaper`` and return
    them; rows another reaper holds are skipped (PostgreSQL ``SKIP LOCKED``; SQLite: one writer).
    Their heartbeat is set to ``now``: should this reaper die before :func:`forget`, the row goes
    stale again and another takes it."""
    taken: list[Member] = []
    with transaction(db):
        rows = db.execute(
            "SELECT * FROM campaign_dialers WHERE campaign = ? AND member <> ? "
            "ORDER BY member" + row_lock(db, skip_locked=True),
            (campaign, reaper.owner),
        ).fetchall()
        for row in rows:
            m = Member.of(row)
            if row["reaped_by"] == reaper.owner:  # overridden by this runner's exclusive start
                pass
            elif row["reaped_by"] is not None:  # being reaped: only if that reaper went quiet
                if now - m.heartbeat_at < stale_s:
                    continue
            elif not _dead(m, reaper.host, now, stale_s, alive):
                continue
            db.execute(
                "UPDATE campaign_dialers SET reaped_by = ?, heartbeat_at = ? "
                "WHERE campaign = ? AND member = ?",
                (reaper.owner, now, campaign, m.member),
            )
            taken.append(m)
    return taken


def dialing_of(db: Connection, campaign: str, member: str) -> list[str]:
    """Call ids of ``member``'s attempts still ``dialing``."""
    return [
        str(r["call_id"])
        for r in db.execute(
            "SELECT call_id FROM attempts WHERE campaign = ? AND dialer = ? AND state = 'dialing'",
            (campaign, member),
        )
    ]


def settle_member(
    db: Connection,
    path: str,
    campaign: str,
    member: str,
    now: float,
    lookup: Callable[[str], AttemptResult | None],
    heir: str = "",
) -> tuple[int, int]:
    """Settle a reaped ``member``'s ``dialing`` attempts (from the call record ``lookup``
    finds, else as ``interrupted``; each in its own transaction, idempotent), then remove its
    row; its agents go to ``heir`` (the reaper; ``""``: unassigned). Returns
    ``(from records, interrupted)``."""
    found = lost = 0
    for call_id in dialing_of(db, campaign, member):
        result = lookup(call_id)
        if result is None:
            result = AttemptResult(Outcome.INTERRUPTED, disposition="interrupted")
            lost += 1
        else:
            found += 1
        settle.finish_attempt(db, path, call_id, result, now)
    with transaction(db):
        db.execute(
            "UPDATE agents SET dialer = ? WHERE campaign = ? AND dialer = ?",
            (heir, campaign, member),
        )
        forget(db, campaign, member)
    return found, lost


def assign_agents(db: Connection, campaign: str, member: str, share: int | None) -> list[str]:
    """``member`` takes the campaign's unassigned agents (until it holds ``share`` of them;
    ``None``: all) and returns the ids of every agent it holds now."""
    with transaction(db):
        free = [
            str(r["id"])
            for r in db.execute(
                "SELECT id FROM agents WHERE campaign = ? AND dialer = '' ORDER BY id"
                + row_lock(db, skip_locked=True),
                (campaign,),
            )
        ]
        room = len(free) if share is None else share - len(held_agents(db, campaign, member))
        for agent in free[: max(0, room)]:
            db.execute(
                "UPDATE agents SET dialer = ? WHERE campaign = ? AND id = ?",
                (member, campaign, agent),
            )
        return held_agents(db, campaign, member)


def held_agents(db: Connection, campaign: str, member: str) -> list[str]:
    """The ids of the agents ``member`` holds."""
    return [
        str(r["id"])
        for r in db.execute(
            "SELECT id FROM agents WHERE campaign = ? AND dialer = ? ORDER BY id",
            (campaign, member),
        )
    ]


def move_agent(db: Connection, campaign: str, agent: str, to: str) -> str:
    """Give ``agent`` to the member ``to`` (a member id or a dialer id); returns the member id
    that held it (``""``: none). :class:`CampaignError` for an unknown agent or member."""
    with transaction(db):
        row = db.execute(
            "SELECT dialer FROM agents WHERE campaign = ? AND id = ?" + row_lock(db),
            (campaign, agent),
        ).fetchone()
        if row is None:
            raise CampaignError(f"campaign {campaign}: no agent {agent!r}")
        target = db.execute(
            "SELECT member FROM campaign_dialers WHERE campaign = ? AND reaped_by IS NULL "
            "AND (member = ? OR dialer_id = ?) ORDER BY joined_at DESC",
            (campaign, to, to),
        ).fetchone()
        if target is None:
            raise CampaignError(f"campaign {campaign}: no dialer {to!r} runs it")
        db.execute(
            "UPDATE agents SET dialer = ? WHERE campaign = ? AND id = ?",
            (target["member"], campaign, agent),
        )
        return str(row["dialer"])
