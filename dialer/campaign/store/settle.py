"""Settling attempts: an attempt's result, call record and disposition recorded and its lead
scheduled by the retry policy (a retry delay by outcome, or finished), in one transaction; and
on restart, the attempts a killed process left ``dialing`` settled from the dialer's call
records or as ``interrupted``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dialer.campaign.model import CampaignError, Outcome
from dialer.campaign.retry import next_attempt_at
from dialer.campaign.store.campaigns import parse_spec
from dialer.campaign.store.types import AttemptResult
from dialer.db import Connection, batched_transaction, execute_all

__all__ = ["finish_attempt", "recover"]


def finish_attempt(
    db: Connection, path: str, call_id: str, result: AttemptResult, now: float
) -> None:
    """See :meth:`dialer.campaign.store.CampaignStore.finish_attempt`. Two round trips on
    PostgreSQL (:func:`~dialer.db.batched_transaction`): the attempt and its lead read and
    locked with the campaign's settings, then every write (one statement,
    :func:`~dialer.db.execute_all`) and the commit together."""
    with batched_transaction(db):
        row = db.execute(_ATTEMPT + _lock(db), (call_id,)).fetchone()
        if row is None:
            raise CampaignError(f"no attempt with call id {call_id!r}")
        if row["spec"] is None:
            raise CampaignError(f"no campaign named {row['campaign']!r}")
        spec = parse_spec(path, row["campaign"], row["spec"])
        if row["state"] != "dialing":
            return
        lead_id = row["lead_id"]
        writes: list[tuple[str, tuple[Any, ...]]] = []
        writes.append((
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
        ))
        if result.record is not None:
            writes.append((
                "INSERT INTO calls (call_id, campaign, lead_id, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (call_id) DO UPDATE SET campaign = excluded.campaign, "
                "lead_id = excluded.lead_id, body = excluded.body",
                (call_id, spec.name, lead_id, json.dumps(result.record)),
            ))
        writes.append((
            "INSERT INTO dispositions (call_id, campaign, lead_id, disposition, outcome, at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (call_id) DO UPDATE SET "
            "campaign = excluded.campaign, lead_id = excluded.lead_id, "
            "disposition = excluded.disposition, outcome = excluded.outcome, at = excluded.at",
            (
                call_id,
                spec.name,
                lead_id,
                result.disposition,
                result.outcome.value,
                now,
            ),
        ))
        due = next_attempt_at(
            result.outcome,
            now=now,
            retry=spec.retry,
            attempts_made=row["attempts"],
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
            writes.append((
                "UPDATE leads SET state = 'done', last_outcome = ?, final_reason = ? "
                "WHERE id = ?",
                (result.outcome.value, reason, lead_id),
            ))
        else:
            if result.retry_at is not None and result.outcome is not Outcome.CALLBACK:
                due = max(due, result.retry_at)  # the pickup model's likely hour (next_try)
            writes.append((  # a lead withdrawn while dialled ends here (lead intelligence)
                "UPDATE leads SET state = CASE WHEN withdrawn = 1 THEN 'done' ELSE 'pending' "
                "END, final_reason = CASE WHEN withdrawn = 1 THEN 'withdrawn' ELSE "
                "final_reason END, due_at = ?, last_outcome = ? WHERE id = ?",
                (due, result.outcome.value, lead_id),
            ))
        execute_all(db, writes)


_ATTEMPT = (
    "SELECT a.state, a.lead_id, a.campaign, l.attempts, c.spec FROM attempts a "
    "JOIN leads l ON l.id = a.lead_id LEFT JOIN campaigns c ON c.name = a.campaign "
    "WHERE a.call_id = ?"
)
"""The attempt being settled, its lead's attempt count and its campaign's settings."""


def _lock(db: Connection) -> str:
    """The attempt's and its lead's rows locked until the settle commits (PostgreSQL)."""
    return " FOR UPDATE OF a, l" if db.dialect == "postgresql" else ""


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
