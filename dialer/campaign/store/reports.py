"""Reading a campaign for people: the pending leads (due now or waiting), the counts behind
``status`` and the live view, the leads, attempts and call records, and the CSV exports."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from typing import Any

from dialer.campaign.compliance import next_window_open
from dialer.campaign.leads_csv import EXPORT_PROGRESS_COLUMNS
from dialer.campaign.progress import iso_utc
from dialer.campaign.store.campaigns import campaign as stored_campaign
from dialer.campaign.store.campaigns import campaign_row
from dialer.campaign.store.ledger import ledger as stored_ledger
from dialer.campaign.store.types import CampaignStats, PendingLeads
from dialer.csv_safe import safe_cell, safe_header
from dialer.db import Connection
from dialer.pacing.ledger import AbandonmentLedger

__all__ = [
    "ATTEMPT_COLUMNS",
    "LEAD_COLUMNS",
    "MAX_TIME",
    "attempts",
    "call_record",
    "export_attempts_csv",
    "export_csv",
    "leads",
    "pending",
    "stats",
]

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


def pending(db: Connection, path: str, campaign: str, now: float) -> PendingLeads:
    """See :meth:`dialer.campaign.store.CampaignStore.pending`."""
    spec = stored_campaign(db, path, campaign)
    rows = db.execute(
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
    db: Connection, campaign: str, now: float, ledger: AbandonmentLedger | None
) -> CampaignStats:
    """See :meth:`dialer.campaign.store.CampaignStore.stats`."""
    row_of_campaign = campaign_row(db, campaign)
    states = dict(
        db.execute(
            "SELECT state, COUNT(*) FROM leads WHERE campaign = ? GROUP BY state", (campaign,)
        ).fetchall()
    )
    row = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(live), 0), COALESCE(SUM(escalated), 0), "
        "COALESCE(SUM(abandoned), 0), COALESCE(SUM(connected), 0) FROM attempts "
        "WHERE campaign = ?",
        (campaign,),
    ).fetchone()
    view = (ledger or stored_ledger(db, campaign, now)).view(now)
    return CampaignStats(
        status=str(row_of_campaign["status"]),
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
        heartbeat_at=row_of_campaign["heartbeat_at"],
        last_seen_at=row_of_campaign["last_seen_at"],
        owner_pid=row_of_campaign["owner_pid"],
        owner_host=row_of_campaign["owner_host"],
    )


def attempts(db: Connection, campaign: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.execute("SELECT * FROM attempts WHERE campaign = ? ORDER BY id", (campaign,))
    ]


def leads(db: Connection, campaign: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.execute("SELECT * FROM leads WHERE campaign = ? ORDER BY id", (campaign,))
    ]


def call_record(db: Connection, call_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT body FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    return None if row is None else dict(json.loads(row["body"]))


def export_csv(db: Connection, campaign: str) -> str:
    """See :meth:`dialer.campaign.store.CampaignStore.export_csv`."""
    rows: list[dict[str, Any]] = []
    extra: set[str] = set()
    bot = _bot_outcomes(db, campaign)
    for lead in leads(db, campaign):
        custom = {k: v for k, v in json.loads(lead["custom"]).items() if k not in LEAD_COLUMNS}
        extra.update(custom)
        finished = lead["state"] not in ("pending", "dialing")
        rows.append({**lead, **custom, "lead_id": lead["id"],
                     "bot_outcome": bot.get(lead["id"], ""),
                     "final_outcome": (lead["last_outcome"] or lead["state"]) if finished else ""})
    times = _TIME_COLUMNS.intersection(LEAD_COLUMNS)  # a custom "ended_at" stays as it is
    return _csv_text(LEAD_COLUMNS + tuple(sorted(extra)), rows, times)


def _bot_outcomes(db: Any, campaign: str) -> dict[int, str]:
    """Per lead, what the bot reported on its last attempt with a call record: the bot's
    hang-up reason, else ``escalated:<reason>``, else the record's disposition."""
    out: dict[int, str] = {}
    for row in db.execute(
        "SELECT a.lead_id, c.body FROM attempts a JOIN calls c ON c.call_id = a.call_id "
        "WHERE a.campaign = ? ORDER BY a.attempt_no", (campaign,)
    ):
        record = json.loads(row[1])
        escalated = f"escalated:{record.get('escalation_reason', '')}" if record.get(
            "escalated") else ""
        out[int(row[0])] = str(record.get("hangup_reason") or escalated
                               or record.get("disposition", ""))
    return out


def export_attempts_csv(db: Connection, campaign: str) -> str:
    """See :meth:`dialer.campaign.store.CampaignStore.export_attempts_csv`."""
    return _csv_text(ATTEMPT_COLUMNS, attempts(db, campaign))


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
