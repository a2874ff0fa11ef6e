"""Claiming the next lead: the compliance checks and the attempt row in one transaction,
committed before the dial (the store's crash-safety rule). SQLite: ``BEGIN IMMEDIATE`` (one
writer at a time). PostgreSQL: the candidate leads are selected ``FOR UPDATE SKIP LOCKED``, so
dialers claiming at once each lock different leads and never wait on each other, and the checks
(attempt limits, today's count, window, do-not-call) read a locked lead. Leads failing a check
are updated on the way: do-not-call and exhausted leads end, leads outside their window (or over
today's limit) wait."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from dialer.campaign.compliance import check_dial, local_day
from dialer.campaign.store import members
from dialer.campaign.store.campaigns import campaign as stored_campaign
from dialer.campaign.store.campaigns import on_dnc
from dialer.campaign.store.types import Claim
from dialer.db import Connection, Row, row_lock, transaction

log = logging.getLogger("dialer.campaign")

__all__ = ["claim_next", "in_flight"]


class _DncList:
    """The do-not-call table as a container, looked up one number at a time."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def __contains__(self, phone: object) -> bool:
        return isinstance(phone, str) and on_dnc(self._db, phone)


def claim_next(
    db: Connection,
    path: str,
    campaign: str,
    now: float,
    batch: int,
    owner: str | None,
) -> Claim | None:
    """See :meth:`dialer.campaign.store.CampaignStore.claim_next`."""
    spec = stored_campaign(db, path, campaign)
    dnc = _DncList(db)
    with transaction(db):
        if owner is not None:
            # only a fresh member claims: its row read inside the claim's transaction (on
            # PostgreSQL held shared until it ends, so it cannot be reaped meanwhile)
            members.check_claimer(db, campaign, owner, now)
        for row in _due_leads(db, campaign, now, batch):
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
                "claimed_at, dialer) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (campaign, row["id"], attempt_no, call_id, day, now, owner or ""),
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


_DUE = (
    "SELECT * FROM leads WHERE campaign = ? AND state = 'pending' AND due_at <= ? "
    "ORDER BY priority DESC, due_at, id LIMIT ?"
)
PG_CHUNK = 1
"""Leads a PostgreSQL claim locks per query: it locks only the leads it examines (each lock is a
write), and the first that passes the checks is usually the first examined."""


def _due_leads(db: Connection, campaign: str, now: float, batch: int) -> Iterator[Row]:
    """Up to ``batch`` due leads, best first, inside the claim's transaction. SQLite: one query
    (``BEGIN IMMEDIATE`` already holds the database). PostgreSQL: :data:`PG_CHUNK` at a time,
    locked ``FOR UPDATE SKIP LOCKED``: leads another dialer is claiming are skipped, never
    waited for; a lead examined and failing its checks has been moved on (ended, or due later)
    by the time the next query runs in this transaction, so it is not seen again."""
    if db.dialect == "sqlite":
        yield from db.execute(_DUE, (campaign, now, batch)).fetchall()
        return
    examined = 0
    while examined < batch:
        limit = min(PG_CHUNK, batch - examined)
        sql = _DUE + row_lock(db, skip_locked=True)
        rows = db.execute(sql, (campaign, now, limit)).fetchall()
        if not rows:
            return
        for row in rows:
            examined += 1
            yield row


def in_flight(db: Connection, campaign: str) -> list[str]:
    """Call ids of attempts claimed and not finished."""
    return [
        r["call_id"]
        for r in db.execute(
            "SELECT call_id FROM attempts WHERE campaign = ? AND state = 'dialing'", (campaign,)
        )
    ]
