"""The campaign's abandonment ledger, rebuilt from its last 30 days of live answers (the
attempts table is the ledger's record: each live answer and whether it was abandoned)."""

from __future__ import annotations

from dialer.db import Connection
from dialer.pacing.ledger import MONTH_S, AbandonmentLedger

__all__ = ["ledger"]


def ledger(db: Connection, campaign: str, now: float) -> AbandonmentLedger:
    """The campaign's abandonment ledger rebuilt from its last 30 days of live answers."""
    rebuilt = AbandonmentLedger()
    rebuilt.replay(
        (r["answered_at"], bool(r["abandoned"]))
        for r in db.execute(
            "SELECT answered_at, abandoned FROM attempts WHERE campaign = ? AND live = 1 "
            "AND answered_at >= ? ORDER BY answered_at",
            (campaign, now - MONTH_S),
        )
    )
    return rebuilt
