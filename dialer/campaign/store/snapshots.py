"""Pacer snapshots: the latest estimator state of each campaign's pacer, one row per campaign
and pacer, so the next run starts warm (see ``dialer.pacing.types.WarmStartPacer``)."""

from __future__ import annotations

import json
from typing import Any

from dialer.db import Connection, transaction

__all__ = ["SNAPSHOT_MAX_AGE_S", "pacer_snapshot", "save_pacer_snapshot"]

SNAPSHOT_MAX_AGE_S = 14 * 86_400.0
"""A pacer snapshot older than this is ignored: the campaign's floor has changed since."""


def save_pacer_snapshot(
    db: Connection, campaign: str, pacer: str, snapshot: dict[str, Any], now: float
) -> None:
    """Keep the campaign's latest snapshot of ``pacer`` (replacing the one before)."""
    with transaction(db):
        db.execute(
            "INSERT INTO pacer_snapshots (campaign, pacer, saved_at, body) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (campaign, pacer) DO UPDATE SET "
            "saved_at = excluded.saved_at, body = excluded.body",
            (campaign, pacer, now, json.dumps(snapshot, separators=(",", ":"))),
        )


def pacer_snapshot(
    db: Connection, campaign: str, pacer: str, now: float, max_age_s: float
) -> dict[str, Any] | None:
    """The campaign's stored snapshot for ``pacer`` if one was saved within ``max_age_s``
    (``None`` otherwise, or if the stored text is not a JSON object)."""
    row = db.execute(
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
