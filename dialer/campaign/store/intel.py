"""Lead intelligence in the campaign database (issue 19): the leads' SLA deadlines, withdrawal
and dial rank, the CRM's updates, and the pickup model persisted with its campaign. Its own
migration component (``leads``, applied by :func:`~dialer.campaign.store.schema.open_store`),
so it never collides with the campaign schema's versions.

Columns added to ``leads``: ``call_by`` and ``callback_at`` (epoch, or null), ``deadline``
(the earlier of the two), ``sla_at`` (the deadline once it is due within the horizon, else
:data:`~dialer.campaign.lead_updates.NOT_URGENT`), ``pick_rank`` (the model's index score,
refreshed by the runner for the leads about to be due) and ``withdrawn``. The claim orders
due leads by ``sla_at, priority DESC, pick_rank DESC, due_at, id``, all stored columns, so it
stays one indexed query (index ``leads_pick``) that locks one lead at a time: ranking the
candidates in the claim's transaction instead would read a batch of rows and compute the model
per claim. Table ``lead_models``: campaign, the model's JSON body, updated_at.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dialer.campaign.lead_updates import (
    HORIZON_S,
    NOT_URGENT,
    LeadUpdate,
    deadline_of,
    urgent_key,
)
from dialer.campaign.model import Lead
from dialer.db import (
    Connection,
    Database,
    Migration,
    Migrations,
    postgres_ddl,
    statements,
    transaction,
)

__all__ = [
    "HORIZON_S",
    "LEADS_MIGRATIONS",
    "RANK_LIMIT",
    "LeadIntelStore",
    "LeadRow",
    "Upserted",
    "due_rows",
    "load_model",
    "next_leads",
    "patch",
    "refresh",
    "save_model",
    "upsert",
    "withdraw",
    "write_ranks",
]


_SCHEMA = f"""
ALTER TABLE leads ADD COLUMN call_by REAL;
ALTER TABLE leads ADD COLUMN callback_at REAL;
ALTER TABLE leads ADD COLUMN deadline REAL;
ALTER TABLE leads ADD COLUMN sla_at REAL NOT NULL DEFAULT {NOT_URGENT:.0e};
ALTER TABLE leads ADD COLUMN pick_rank REAL NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN withdrawn INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS leads_pick ON leads
    (campaign, state, sla_at, priority DESC, pick_rank DESC, due_at, id);
CREATE TABLE IF NOT EXISTS lead_models (
    campaign TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at REAL NOT NULL
)
"""
_WHAT = "lead intelligence: deadlines, withdrawal, rank, the pickup model"
LEADS_MIGRATIONS = Migrations(
    "leads",
    sqlite=(Migration(1, _WHAT, statements(_SCHEMA)),),
    postgresql=(Migration(1, _WHAT, statements(postgres_ddl(_SCHEMA))),),
)
ORDER = "sla_at, priority DESC, pick_rank DESC, due_at, id"
"""The claim's order of due leads (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class LeadRow:
    """A pending lead as ranking and explaining see it."""

    id: int
    phone: str
    timezone: str
    priority: int
    custom: dict[str, str]
    due_at: float
    deadline: float | None
    sla_at: float
    rank: float
    attempts: int


@dataclass(frozen=True, slots=True)
class Upserted:
    added: int = 0
    updated: int = 0
    withdrawn: int = 0


def _set_deadlines(db: Connection, lead_id: int, row: Any, update: LeadUpdate, now: float
                   ) -> None:
    call_by = None if "call_by" in update.clear else update.call_by or row["call_by"]
    callback_at = (None if "callback_at" in update.clear
                   else update.callback_at or row["callback_at"])
    deadline = deadline_of(call_by, callback_at)
    due = row["due_at"]
    if update.callback_at is not None and row["state"] == "pending":
        due = update.callback_at  # a promised callback: not before its time
    db.execute(
        "UPDATE leads SET call_by = ?, callback_at = ?, deadline = ?, sla_at = ?, due_at = ? "
        "WHERE id = ?",
        (call_by, callback_at, deadline, urgent_key(deadline, now, HORIZON_S), due, lead_id),
    )


_LEAD = ("SELECT id, state, due_at, call_by, callback_at FROM leads "
         "WHERE campaign = ? AND phone = ?")


def _apply(db: Connection, row: Any, update: LeadUpdate, now: float) -> None:
    if update.priority is not None:
        db.execute("UPDATE leads SET priority = ? WHERE id = ?", (update.priority, row["id"]))
    if update.custom is not None:
        db.execute("UPDATE leads SET custom = ? WHERE id = ?",
                   (json.dumps(dict(update.custom)), row["id"]))
    if update.call_by is not None or update.callback_at is not None or update.clear:
        _set_deadlines(db, row["id"], row, update, now)
    if update.withdraw:
        _withdraw(db, row["id"])


def patch(db: Connection, campaign: str, phone: str, update: LeadUpdate, now: float) -> bool:
    """Apply a CRM update to the lead ``phone``; ``False`` when the campaign has no such lead."""
    with transaction(db):
        row = db.execute(_LEAD, (campaign, phone)).fetchone()
        if row is None:
            return False
        _apply(db, row, update, now)
    return True


def _withdraw(db: Connection, lead_id: int) -> None:
    # a pending lead ends now; one being dialled finishes its call and ends at its settle
    db.execute(
        "UPDATE leads SET withdrawn = 1, final_reason = CASE WHEN state = 'pending' "
        "THEN 'withdrawn' ELSE final_reason END, state = CASE WHEN state = 'pending' "
        "THEN 'done' ELSE state END WHERE id = ?",
        (lead_id,),
    )


def withdraw(db: Connection, campaign: str, phone: str) -> str | None:
    """Withdraw the lead ``phone`` (never dialled again); its state before, ``None`` when
    there is no such lead."""
    with transaction(db):
        row = db.execute(_LEAD, (campaign, phone)).fetchone()
        if row is None:
            return None
        _withdraw(db, row["id"])
    return str(row["state"])


def upsert(
    db: Connection, campaign: str, rows: Iterable[tuple[Lead, LeadUpdate]], now: float
) -> Upserted:
    """New leads added, existing ones updated (priority, custom fields, deadlines given),
    withdrawn when their update says so: a CSV re-import or the CRM API's ``POST``."""
    added = updated = withdrawn = 0
    with transaction(db):
        for lead, update in rows:
            deadline = deadline_of(update.call_by, update.callback_at)
            cur = db.execute(
                "INSERT INTO leads (campaign, phone, name, timezone, priority, custom, due_at, "
                "call_by, callback_at, deadline, sla_at, withdrawn, state, final_reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (campaign, phone) DO NOTHING",
                (campaign, lead.phone, lead.name, lead.timezone, lead.priority,
                 json.dumps(dict(lead.custom)), update.callback_at or now, update.call_by,
                 update.callback_at, deadline, urgent_key(deadline, now, HORIZON_S),
                 int(update.withdraw), "done" if update.withdraw else "pending",
                 "withdrawn" if update.withdraw else ""),
            )
            if cur.rowcount:
                added += 1
                withdrawn += update.withdraw
                continue
            row = db.execute(_LEAD, (campaign, lead.phone)).fetchone()
            _apply(db, row, LeadUpdate(
                priority=lead.priority, call_by=update.call_by,
                callback_at=update.callback_at, custom=lead.custom, withdraw=update.withdraw,
            ), now)
            updated += 1
            withdrawn += update.withdraw
    return Upserted(added, updated, withdrawn)


def _lead_row(r: Any) -> LeadRow:
    return LeadRow(int(r["id"]), str(r["phone"]), str(r["timezone"]), int(r["priority"]),
                   {str(k): str(v) for k, v in json.loads(r["custom"] or "{}").items()},
                   float(r["due_at"]), None if r["deadline"] is None else float(r["deadline"]),
                   float(r["sla_at"]), float(r["pick_rank"]), int(r["attempts"]))


_COLUMNS = "id, phone, timezone, priority, custom, due_at, deadline, sla_at, pick_rank, attempts"


RANK_LIMIT = 5000
"""Leads re-ranked per refresh: the first in the claim's order (an index scan, no sort), so a
refresh stays short however long the list is; a lead further down is re-ranked as the ones
above it are claimed."""


def _due_raw(db: Connection, campaign: str, now: float, due_within_s: float, limit: int
             ) -> list[Any]:
    with transaction(db):
        db.execute(
            "UPDATE leads SET sla_at = deadline WHERE campaign = ? AND state = 'pending' "
            "AND deadline IS NOT NULL AND deadline <= ? AND sla_at <> deadline",
            (campaign, now + HORIZON_S),
        )
    return list(db.execute(
        f"SELECT {_COLUMNS} FROM leads WHERE campaign = ? AND state = 'pending' "
        f"AND due_at <= ? ORDER BY {ORDER} LIMIT ?", (campaign, now + due_within_s, limit)))


def due_rows(db: Connection, campaign: str, now: float, *, due_within_s: float = 300.0,
             limit: int = RANK_LIMIT) -> list[LeadRow]:
    """Deadlines now within the horizon go first (``sla_at``, written); then the first
    ``limit`` pending leads due within ``due_within_s`` in the claim's order, to rank."""
    return [_lead_row(r) for r in _due_raw(db, campaign, now, due_within_s, limit)]


def write_ranks(db: Connection, rows: Sequence[LeadRow], ranks: Sequence[float]) -> int:
    """Store ``ranks`` as the rows' ``pick_rank`` (those that changed); returns how many."""
    changed = [(float(r), row.id) for row, r in zip(rows, ranks, strict=True) if r != row.rank]
    if changed:
        with transaction(db):
            db.executemany("UPDATE leads SET pick_rank = ? WHERE id = ?", changed)
    return len(changed)


def refresh(
    db: Connection,
    campaign: str,
    now: float,
    rank: Callable[[Sequence[LeadRow]], Sequence[float]] | None,
) -> int:
    """:func:`due_rows`, ranked by ``rank`` (without, 0: the priority order), then
    :func:`write_ranks`; returns the leads ranked. The runner ranks between the two store
    calls, off the store's connection (:mod:`dialer.campaign.lead_intel`)."""
    rows = due_rows(db, campaign, now)
    write_ranks(db, rows, rank(rows) if rank is not None else [0.0] * len(rows))
    return len(rows)


def next_leads(db: Connection, campaign: str, now: float, count: int,
               phone: str | None = None) -> list[LeadRow]:
    """The due pending leads in the claim's order (the next ``count`` to be claimed, before
    the claim's compliance checks), or the lead ``phone`` whatever its state."""
    if phone is not None:
        rows = db.execute(f"SELECT {_COLUMNS} FROM leads WHERE campaign = ? AND phone = ?",
                          (campaign, phone))
    else:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM leads WHERE campaign = ? AND state = 'pending' "
            f"AND due_at <= ? ORDER BY {ORDER} LIMIT ?", (campaign, now, count))
    return [_lead_row(r) for r in rows]


def load_model(db: Connection, campaign: str) -> dict[str, Any] | None:
    """The campaign's stored pickup model (its JSON), ``None`` when there is none."""
    row = db.execute("SELECT body FROM lead_models WHERE campaign = ?", (campaign,)).fetchone()
    return None if row is None else dict(json.loads(row["body"]))


def save_model(db: Connection, campaign: str, body: dict[str, Any], now: float) -> None:
    with transaction(db):
        db.execute(
            "INSERT INTO lead_models (campaign, body, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (campaign) DO UPDATE SET body = excluded.body, "
            "updated_at = excluded.updated_at",
            (campaign, json.dumps(body), now),
        )


class LeadIntelStore:
    """The lead intelligence of one campaign database (``database``: the campaign store's);
    each method one short transaction, safe to run on a worker thread."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def upsert(self, campaign: str, rows: Iterable[tuple[Lead, LeadUpdate]], now: float
               ) -> Upserted:
        with self._database.connection() as db:
            return upsert(db, campaign, rows, now)

    def patch(self, campaign: str, phone: str, update: LeadUpdate, now: float) -> bool:
        with self._database.connection() as db:
            return patch(db, campaign, phone, update, now)

    def withdraw(self, campaign: str, phone: str) -> str | None:
        with self._database.connection() as db:
            return withdraw(db, campaign, phone)

    def refresh(self, campaign: str, now: float,
                rank: Callable[[Sequence[LeadRow]], Sequence[float]] | None) -> int:
        with self._database.connection() as db:
            return refresh(db, campaign, now, rank)

    def due_rows(self, campaign: str, now: float) -> list[LeadRow]:
        with self._database.connection() as db:
            raw = _due_raw(db, campaign, now, 300.0, RANK_LIMIT)
        return [_lead_row(r) for r in raw]  # after the connection is back (SQLite has one)

    def write_ranks(self, rows: Sequence[LeadRow], ranks: Sequence[float]) -> int:
        with self._database.connection() as db:
            return write_ranks(db, rows, ranks)

    def next_leads(self, campaign: str, now: float, count: int, phone: str | None = None
                   ) -> list[LeadRow]:
        with self._database.connection() as db:
            return next_leads(db, campaign, now, count, phone)

    def load_model(self, campaign: str) -> dict[str, Any] | None:
        with self._database.connection() as db:
            return load_model(db, campaign)

    def save_model(self, campaign: str, body: dict[str, Any], now: float) -> None:
        with self._database.connection() as db:
            save_model(db, campaign, body, now)
