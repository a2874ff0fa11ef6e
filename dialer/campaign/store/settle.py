"""Settling attempts: an attempt's result, call record and disposition recorded and its lead
scheduled by the retry policy (a retry delay by outcome, or finished), in one transaction; and
on restart, the attempts a killed process left ``dialing`` settled from the dialer's call
records or as ``interrupted``."""

from __future__ import annotations

import json
from collections.abc import Callable

from dialer.campaign.model import CampaignError, Outcome
from dialer.campaign.retry import next_attempt_at
from dialer.campaign.store.campaigns import campaign as stored_campaign
from dialer.campaign.store.types import AttemptResult
from dialer.db import Connection, row_lock, transaction

__all__ = ["finish_attempt", "recover"]


def finish_attempt(
    db: Connection, path: str, call_id: str, result: AttemptResult, now: float
) -> None:
    """See :meth:`dialer.campaign.store.CampaignStore.finish_attempt`."""
    spec_name = db.execute(
        "SELECT campaign FROM attempts WHERE call_id = ?", (call_id,)
    ).fetchone()
    if spec_name is None:
        raise CampaignError(f"no attempt with call id {call_id!r}")
    spec = stored_campaign(db, path, spec_name["campaign"])
    with transaction(db):
        attempt = db.execute(
            "SELECT * FROM attempts WHERE call_id = ?" + row_lock(db), (call_id,)
        ).fetchone()
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
                "INSERT INTO calls (call_id, campaign, lead_id, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (call_id) DO UPDATE SET campaign = excluded.campaign, "
                "lead_id = excluded.lead_id, body = excluded.body",
                (call_id, spec.name, attempt["lead_id"], json.dumps(result.record)),
            )
        db.execute(
            "INSERT INTO dispositions (call_id, campaign, lead_id, disposition, outcome, at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET "
            "campaign = excluded.campaign, lead_id = excluded.lead_id, "
            "disposition = excluded.disposition, outcome = excluded.outcome, at = excluded.at",
            (
                call_id,
                spec.name,
                attempt["lead_id"],
                result.disposition,
                result.outcome.value,
                now,
            ),
        )
        lead = db.execute(
            "SELECT * FROM leads WHERE id = ?" + row_lock(db), (attempt["lead_id"],)
        ).fetchone()
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
    db: Connection,
    path: str,
    campaign: str,
    now: float,
    lookup: Callable[[str], AttemptResult | None],
) -> tuple[int, int]:
    """See :meth:`dialer.campaign.store.CampaignStore.recover`."""
    rows = db.execute(
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
        finish_attempt(db, path, row["call_id"], result, now)
    return found, lost
