"""Claiming the next lead: the compliance checks and the attempt row in one transaction,
committed before the dial (the store's crash-safety rule). SQLite: ``BEGIN IMMEDIATE`` (one
writer at a time). PostgreSQL: the candidate leads are selected ``FOR UPDATE SKIP LOCKED``, so
dialers claiming at once each lock different leads and never wait on each other, and the checks
(attempt limits, today's count, window, do-not-call) read a locked lead. Leads failing a check
are updated on the way: do-not-call and exhausted leads end, leads outside their window (or over
today's limit) wait.

Round trips: the campaign's settings, the best due lead (locked) with its attempts today and its
do-not-call flag, and the member check go in one (psycopg pipeline mode, ``BEGIN`` with them,
:func:`~dialer.db.batched_transaction`); the attempt, the lead's update and ``COMMIT`` in a
second. The settings are parsed once per distinct stored text
(:func:`~dialer.campaign.store.campaigns.parse_spec`), read in the claim's transaction so a
campaign changed by any dialer applies at once."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from dialer.campaign.compliance import check_dial, local_day
from dialer.campaign.model import CampaignError, CampaignSpec
from dialer.campaign.store import members
from dialer.campaign.store.campaigns import parse_spec
from dialer.campaign.store.types import Claim
from dialer.db import Connection, Cursor, Row, batched_transaction, execute_all, row_lock

log = logging.getLogger("dialer.campaign")

__all__ = ["claim_next", "in_flight"]


_DAY_ZONE: dict[str, str] = {}
"""Campaign -> the zone of the lead it last examined: the local day the candidate query counts
today's attempts for (a hint; a lead whose day differs is counted on its own)."""


def claim_next(
    db: Connection,
    path: str,
    campaign: str,
    now: float,
    batch: int,
    owner: str | None,
) -> Claim | None:
    """See :meth:`dialer.campaign.store.CampaignStore.claim_next`."""
    with batched_transaction(db):
        settings = db.execute("SELECT spec FROM campaigns WHERE name = ?", (campaign,))
        hint = _DAY_ZONE.get(campaign)
        hint_day = local_day(now, hint) if hint else ""
        first = _due_query(db, campaign, now, _chunk(db, batch), hint_day)
        if owner is not None:
            # only a fresh member claims: its row read inside the claim's transaction (on
            # PostgreSQL held shared until it ends, so it cannot be reaped meanwhile)
            members.check_claimer(db, campaign, owner, now)
        spec = _spec(path, campaign, settings.fetchone())
        for row in _due_leads(db, first, campaign, now, batch, hint_day):
            zone = row["timezone"] or spec.timezone
            day = local_day(now, zone)
            _DAY_ZONE[campaign] = zone
            today = row["today"] if day == hint_day else _attempts_on(db, row["id"], day)
            verdict = check_dial(
                now=now,
                phone=row["phone"],
                timezone=zone,
                window=spec.window,
                limits=spec.limits,
                dnc={row["phone"]} if row["on_dnc"] else (),
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
            execute_all(db, [
                (
                    "INSERT INTO attempts (campaign, lead_id, attempt_no, call_id, local_day, "
                    "claimed_at, dialer) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (campaign, row["id"], attempt_no, call_id, day, now, owner or ""),
                ),
                (
                    "UPDATE leads SET state = 'dialing', attempts = ? WHERE id = ?",
                    (attempt_no, row["id"]),
                ),
            ])
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


_DUE = (
    "SELECT l.*, (SELECT COUNT(*) FROM attempts a WHERE a.lead_id = l.id AND a.local_day = ?) "
    "AS today, EXISTS (SELECT 1 FROM dnc d WHERE d.phone = l.phone) AS on_dnc FROM leads l "
    "WHERE l.campaign = ? AND l.state = 'pending' AND l.due_at <= ? "
    "ORDER BY l.sla_at, l.priority DESC, l.pick_rank DESC, l.due_at, l.id LIMIT ?"
)
"""Due leads, best first (the ``leads_pick`` index's order: SLA deadlines due soon, priority, the
pickup model's rank; :mod:`.intel`), each with its attempts on the given local day and whether
its number is on the do-not-call list."""
PG_CHUNK = 1
"""Leads a PostgreSQL claim locks per query: it locks only the leads it examines (each lock is a
write), and the first that passes the checks is usually the first examined."""


def _chunk(db: Connection, batch: int) -> int:
    return batch if db.dialect == "sqlite" else min(PG_CHUNK, batch)


def _due_query(db: Connection, campaign: str, now: float, limit: int, day: str) -> Cursor:
    """The next ``limit`` due leads, locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (sent,
    not yet read: in pipeline mode it goes with what follows)."""
    sql = _DUE + row_lock(db, skip_locked=True)
    return db.execute(sql, (day, campaign, now, limit))


def _due_leads(
    db: Connection, first: Cursor, campaign: str, now: float, batch: int, day: str
) -> Iterator[Row]:
    """Up to ``batch`` due leads, best first, inside the claim's transaction, starting with
    the query ``first``. SQLite: that one query (``BEGIN IMMEDIATE`` already holds the
    database). PostgreSQL: :data:`PG_CHUNK` at a time, locked ``FOR UPDATE SKIP LOCKED``: leads
    another dialer is claiming are skipped, never waited for; a lead examined and failing its
    checks has been moved on (ended, or due later) by the time the next query runs in this
    transaction, so it is not seen again."""
    examined = 0
    cursor = first
    limit = _chunk(db, batch)
    while True:
        rows = cursor.fetchall()
        for row in rows:
            examined += 1
            yield row
        if len(rows) < limit or examined >= batch:
            return
        limit = min(PG_CHUNK, batch - examined)
        cursor = _due_query(db, campaign, now, limit, day)


def _attempts_on(db: Connection, lead: int, day: str) -> int:
    row = db.execute(
        "SELECT COUNT(*) FROM attempts WHERE lead_id = ? AND local_day = ?", (lead, day)
    ).fetchone()
    return int(row[0])


def _spec(path: str, campaign: str, row: Any) -> CampaignSpec:
    if row is None:
        raise CampaignError(f"no campaign named {campaign!r}")
    return parse_spec(path, campaign, row["spec"])


def in_flight(db: Connection, campaign: str) -> list[str]:
    """Call ids of attempts claimed and not finished."""
    return [
        r["call_id"]
        for r in db.execute(
            "SELECT call_id FROM attempts WHERE campaign = ? AND state = 'dialing'", (campaign,)
        )
    ]
