"""Call records: the final word on one call, stored in SQLite or PostgreSQL and exported as
JSONL or CSV.

:class:`CallRecord` is built once per call by the call runner after ``GET /legs/{sid}``.
:class:`RecordStore` keeps records, the live calls' state and the CRM outbox in the database the
user names (a SQLite file, ``":memory:"`` for a throw-away store, or a ``postgresql://`` URL:
:mod:`dialer.db`); saving a record and queueing its CRM push happen in one transaction, so a
push is never lost across a restart. Each method is one short transaction; call them from one
thread at a time per SQLite database (:mod:`dialer.store_calls` runs them off the event loop).
The tables are the ``records`` component's versioned migrations (:data:`MIGRATIONS`), applied on
open: a SQLite file from an older version gains the columns it lacks (:data:`COLUMNS_ADDED`).

Several dialers may share one PostgreSQL database: each live call row carries its dialer's id
(``owner``: ``--dialer-id``/``VOXGATE_DIALER_ID``, empty without one), and
:meth:`RecordStore.live_calls` returns only this dialer's unless asked for another's, so a
restarted dialer settles its own calls only. :meth:`RecordStore.due_pushes` claims outbox rows
(PostgreSQL: ``FOR UPDATE SKIP LOCKED``, then leased for :data:`PUSH_LEASE_S`), so two dialers
never push one record twice.

Latencies (milliseconds, from the dialer's clock; ``None`` when the call never got there):

* ``answer_to_stream`` -- ``leg_answered`` to ``stream_started`` (bot audio can flow)
* ``greeting_ms`` -- how long the greeting played before it was stopped or completed
* ``escalation_to_bridge`` -- the transfer request to the bridge being created
* ``agent_ring`` -- agent leg dialled to agent answered
* ``call_ms`` -- dial to end
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

from dialer.call_binding import DIALER_ID_ENV
from dialer.csv_safe import safe_header, safe_row
from dialer.db import (
    Connection,
    Migration,
    Migrations,
    migrate,
    open_db,
    postgres_ddl,
    row_lock,
    statements,
    transaction,
)
from dialer.private_files import open_private
from dialer.timefmt import iso_utc
from voxgate_shared.control import check_dialer_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS call_records (
    call_id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    disposition TEXT NOT NULL,
    created_at REAL NOT NULL,
    body TEXT NOT NULL,
    hangup_reason TEXT NOT NULL DEFAULT '',
    agent_id TEXT NOT NULL DEFAULT '',
    agent_duration_s REAL,
    agent_termination_reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS crm_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'pending',
    queued_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS crm_outbox_due ON crm_outbox(state, next_at);
CREATE TABLE IF NOT EXISTS live_calls (
    call_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

COLUMNS_ADDED: tuple[tuple[str, str, str], ...] = (
    ("call_records", "hangup_reason", "TEXT NOT NULL DEFAULT ''"),  # the bot's hang-up reason
    ("crm_outbox", "queued_at", "REAL NOT NULL DEFAULT 0"),  # when the push was queued (0: older)
    # the agent leg (GET /legs/{sid} after the call), for agent reports
    ("call_records", "agent_id", "TEXT NOT NULL DEFAULT ''"),
    ("call_records", "agent_duration_s", "REAL"),
    ("call_records", "agent_termination_reason", "TEXT NOT NULL DEFAULT ''"),
)
"""Columns added since a table was first made: ``(table, column, type)``, added on open to a
database that lacks them (``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is)."""


def add_missing_columns(conn: Connection) -> None:
    """Add the :data:`COLUMNS_ADDED` a SQLite database from an older version lacks (its older
    rows get the column's default, as their records had no such field)."""
    for table, column, kind in COLUMNS_ADDED:
        columns = {r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")}
        if column not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


_OWNER = (
    "ALTER TABLE live_calls ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX IF NOT EXISTS live_calls_owner ON live_calls (owner, updated_at)",
)

def _search(campaign_of_body: str) -> tuple[str, ...]:
    """Version 3: the record's campaign as a column (filled from the stored bodies) and the
    indexes the dashboard's call search uses (:mod:`dialer.web.calls_query`)."""
    return (
        "ALTER TABLE call_records ADD COLUMN campaign TEXT NOT NULL DEFAULT ''",
        f"UPDATE call_records SET campaign = COALESCE({campaign_of_body}, '')",
        *(f"CREATE INDEX IF NOT EXISTS call_records_{name} ON call_records ({cols})"
          for name, cols in (("created", "created_at, call_id"),
                             ("campaign", "campaign, created_at, call_id"),
                             ("number", "number, created_at, call_id"),
                             ("agent", "agent_id, created_at, call_id"),
                             ("disposition", "disposition, created_at, call_id"))),
    )


_SEARCH = "call records' campaign column and search indexes"
MIGRATIONS = Migrations(
    "records",
    sqlite=(
        Migration(1, "call records, CRM outbox, live calls",
                  (*statements(SCHEMA), add_missing_columns)),
        Migration(2, "live calls' owner (the dialer id)", _OWNER),
        Migration(3, _SEARCH, _search("json_extract(body, '$.custom.campaign')")),
    ),
    postgresql=(
        Migration(1, "call records, CRM outbox, live calls", statements(postgres_ddl(SCHEMA))),
        Migration(2, "live calls' owner (the dialer id)", _OWNER),
        Migration(3, _SEARCH, _search("body::jsonb #>> '{custom,campaign}'")),
    ),
)
"""The records store's migrations (component ``records``); a new one is appended to both."""

PUSH_LEASE_S = 300.0
"""On PostgreSQL, an outbox row :meth:`RecordStore.due_pushes` returned is not due again for
this long (its pusher marks it delivered or failed well before: 50 rows at a 5 s timeout); a
dialer that died holding it leaves it to another after the lease."""

PAGE = 500
"""Records read per query when iterating (:meth:`RecordStore.records`)."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished call. ``timeline`` is ``(event, ms since dial)`` pairs.

    ``failure`` says what went wrong, when something did (a failed stream, agents that did not
    answer, or a failed bot: the gateway's ``bot_failed`` reason, e.g.
    ``adapter_error:on_audio``, with ``bot_failed`` in the timeline and as the escalation
    reason or disposition). ``hangup_reason`` is the reason the bot gave ``hangup()`` (e.g.
    ``entered:42``), or the API's, when a hang-up was requested, or the dialer's
    ``bot_reentries_exhausted`` (failed escalations went back to the bot
    ``max_bot_reentries`` times: the goodbye and a hang-up).

    ``duration_s``/``termination_reason`` are the customer leg's, ``agent_duration_s``/
    ``agent_termination_reason`` the on-demand agent leg's (``GET /legs/{sid}`` after the call;
    ``None``/empty without an agent leg, for a nailed agent whose leg outlives the call, or when
    Exotel did not answer)."""

    call_id: str
    number: str
    mode: str
    bot: str = ""
    disposition: str = ""
    answered: bool = False
    machine: bool = False
    abandoned: bool = False
    escalated: bool = False
    escalation_reason: str = ""
    hangup_reason: str = ""
    bridged: bool = False
    ended_in: str = ""
    failure: str = ""
    customer_leg_sid: str = ""
    agent_leg_sid: str = ""
    agent_id: str = ""
    agent_nailed: bool = False
    agent_attempts: int = 0
    bridge_sid: str = ""
    recording_url: str = ""
    duration_s: float | None = None
    termination_reason: str = ""
    agent_duration_s: float | None = None
    agent_termination_reason: str = ""
    started_at: float = 0.0  # wall clock (epoch seconds)
    latencies: Mapping[str, float | None] = field(default_factory=dict)
    timeline: tuple[tuple[str, float], ...] = ()
    custom: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (plain lists and dicts; no deep copies of frozen values)."""
        out = {f.name: getattr(self, f.name) for f in _FIELDS}
        out["timeline"] = [list(t) for t in self.timeline]
        out["latencies"] = dict(self.latencies)
        out["custom"] = dict(self.custom)
        return out

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> CallRecord:
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in body.items() if k in names}
        kwargs["timeline"] = tuple((str(n), float(t)) for n, t in body.get("timeline", ()))
        return cls(**kwargs)


_FIELDS = fields(CallRecord)


def compute_latencies(timeline: Iterable[tuple[str, float]]) -> dict[str, float | None]:
    """Latencies in ms from a ``(name, seconds)`` timeline (first occurrence of each name)."""
    first: dict[str, float] = {}
    for name, t in timeline:
        first.setdefault(name, t)

    def span(a: str, *bs: str) -> float | None:
        if a not in first:
            return None
        for b in bs:
            if b in first:
                return round((first[b] - first[a]) * 1000.0, 1)
        return None

    return {
        "answer_to_stream": span("answered", "stream_started"),
        "greeting_ms": span("greeting_started", "greeting_stopped", "greeting_completed"),
        "escalation_to_bridge": span("escalation_requested", "bridged"),
        "agent_ring": span("agent_dialled", "agent_answered"),
        "call_ms": span("dial", "ended"),
        # how long the customer waited for an agent: until bridged, the dialer gave up (back to
        # the bot, or the goodbye), or the customer did
        "hold_ms": span("escalation_requested", "bridged", "escalation_failed", "customer_ended",
                        "ended"),
    }


CSV_COLUMNS = (
    "call_id", "number", "mode", "bot", "disposition", "answered", "machine", "abandoned",
    "escalated", "escalation_reason", "bridged", "ended_in", "agent_id", "agent_nailed",
    "duration_s", "termination_reason", "recording_url", "customer_leg_sid", "agent_leg_sid",
    "bridge_sid", "answer_to_stream", "greeting_ms", "escalation_to_bridge", "agent_ring",
    "call_ms", "failure", "hangup_reason", "started_at", "ended_at", "agent_attempts", "hold_ms",
    "agent_duration_s", "agent_termination_reason",
)
"""New columns go last, so that readers of an older export find theirs where they were.
``started_at``/``ended_at`` are ISO 8601 UTC (``ended_at`` from ``call_ms``)."""


def record_row(record: CallRecord) -> dict[str, Any]:
    """One flat CSV row."""
    body = record.to_json()
    row = {c: body.get(c, "") for c in CSV_COLUMNS}
    for key, value in record.latencies.items():
        if key in row:
            row[key] = "" if value is None else value
    call_ms = record.latencies.get("call_ms")
    row["started_at"] = iso_utc(record.started_at)
    row["ended_at"] = iso_utc(record.started_at + call_ms / 1000) if (
        record.started_at and call_ms is not None) else ""
    return row


class RecordStore:
    """Call records, live calls and the CRM outbox in the database ``path`` (see the module
    docstring). ``owner``: this dialer's id for its live calls (default ``VOXGATE_DIALER_ID``,
    empty without one)."""

    def __init__(self, path: str | Path = ":memory:", *, owner: str | None = None) -> None:
        self.path = str(path)
        self.owner = check_dialer_id(
            os.environ.get(DIALER_ID_ENV, "") if owner is None else owner)
        self.db = open_db(self.path)  # SQLite: 0600 (and its -wal and -shm), WAL
        try:
            migrate(self.db, MIGRATIONS)
        except BaseException:
            self.db.close()
            raise

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def close(self) -> None:
        self.db.close()

    def is_open(self) -> bool:
        """The database answers (``/readyz``)."""
        try:
            with self.db.connection() as conn:
                conn.execute("SELECT 1")
        except Exception:  # whatever the driver raises, it does not answer
            return False
        return True

    def save(self, record: CallRecord, *, push_to_crm: bool = False) -> None:
        """Store (or replace) a record; with ``push_to_crm`` also queue it in the outbox."""
        body = json.dumps(record.to_json(), separators=(",", ":"), sort_keys=True)
        with self.db.connection() as conn, transaction(conn):
            conn.execute(
                "INSERT INTO call_records"
                "(call_id, number, disposition, created_at, body, hangup_reason, agent_id,"
                " agent_duration_s, agent_termination_reason, campaign)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (call_id) DO UPDATE SET number = excluded.number,"
                " campaign = excluded.campaign,"
                " disposition = excluded.disposition, created_at = excluded.created_at,"
                " body = excluded.body, hangup_reason = excluded.hangup_reason,"
                " agent_id = excluded.agent_id, agent_duration_s = excluded.agent_duration_s,"
                " agent_termination_reason = excluded.agent_termination_reason",
                (record.call_id, record.number, record.disposition, time.time(), body,
                 record.hangup_reason, record.agent_id, record.agent_duration_s,
                 record.agent_termination_reason, str(record.custom.get("campaign", ""))),
            )
            if push_to_crm:
                conn.execute(
                    "INSERT INTO crm_outbox(call_id, body, queued_at) VALUES (?, ?, ?)",
                    (record.call_id, body, time.time()),
                )
            # the call is settled: its live state (dialer.restart) goes with the same commit
            conn.execute("DELETE FROM live_calls WHERE call_id = ?", (record.call_id,))

    def save_live(self, call_id: str, state: Mapping[str, Any]) -> None:
        """Store (or replace) a live call's state (:mod:`dialer.live_state`), so that a dialer
        restarted on this database can settle it (:mod:`dialer.restart`). One small row, one
        statement: no transaction held across awaits."""
        body = json.dumps(state, separators=(",", ":"), sort_keys=True)
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO live_calls(call_id, body, updated_at, owner) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (call_id) DO UPDATE SET body = excluded.body,"
                " updated_at = excluded.updated_at, owner = excluded.owner",
                (call_id, body, time.time(), self.owner),
            )

    def live_calls(self, owner: str | None = None) -> list[dict[str, Any]]:
        """The live calls' states left in this database by this dialer (by the dialer
        ``owner`` when given), oldest first."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT body FROM live_calls WHERE owner = ? ORDER BY updated_at",
                (self.owner if owner is None else owner,),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def delete_live(self, call_id: str) -> None:
        with self.db.connection() as conn:
            conn.execute("DELETE FROM live_calls WHERE call_id = ?", (call_id,))

    def get(self, call_id: str) -> CallRecord | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT body FROM call_records WHERE call_id = ?", (call_id,)
            ).fetchone()
        return CallRecord.from_json(json.loads(row[0])) if row else None

    def records(self) -> Iterator[CallRecord]:
        """All records, oldest first (read :data:`PAGE` at a time, the database not held
        between pages)."""
        after: tuple[float, str] | None = None
        while True:
            with self.db.connection() as conn:
                if after is None:
                    rows = conn.execute(
                        "SELECT created_at, call_id, body FROM call_records"
                        " ORDER BY created_at, call_id LIMIT ?", (PAGE,)).fetchall()
                else:
                    rows = conn.execute(
                        "SELECT created_at, call_id, body FROM call_records"
                        " WHERE created_at > ? OR (created_at = ? AND call_id > ?)"
                        " ORDER BY created_at, call_id LIMIT ?",
                        (after[0], after[0], after[1], PAGE)).fetchall()
            for row in rows:
                yield CallRecord.from_json(json.loads(row[2]))
            if len(rows) < PAGE:
                return
            after = (float(rows[-1][0]), str(rows[-1][1]))

    def count(self) -> int:
        with self.db.connection() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM call_records").fetchone()[0])

    # -- CRM outbox -----------------------------------------------------------------------

    def due_pushes(self, now: float, limit: int = 50) -> list[tuple[int, str, str, int, float]]:
        """Pending outbox rows due at ``now``: ``(id, call_id, body, attempts, queued_at)``
        (``queued_at`` 0: queued by a version that did not keep it). On PostgreSQL they are
        claimed: locked ``FOR UPDATE SKIP LOCKED`` (another dialer claiming at once skips
        them) and not due again for :data:`PUSH_LEASE_S` unless :meth:`push_failed` says."""
        with self.db.connection() as conn, transaction(conn):
            rows = conn.execute(
                "SELECT id, call_id, body, attempts, queued_at FROM crm_outbox"
                " WHERE state = 'pending' AND next_at <= ? ORDER BY id LIMIT ?"
                + row_lock(conn, "UPDATE", skip_locked=True),
                (now, limit),
            ).fetchall()
            if rows and conn.dialect == "postgresql":
                conn.execute(
                    f"UPDATE crm_outbox SET next_at = ? WHERE id IN ({', '.join('?' * len(rows))})",
                    (now + PUSH_LEASE_S, *(r[0] for r in rows)),
                )
        return [(int(r[0]), str(r[1]), str(r[2]), int(r[3]), float(r[4])) for r in rows]

    def push_done(self, row_id: int) -> None:
        with self.db.connection() as conn:
            conn.execute("UPDATE crm_outbox SET state = 'delivered' WHERE id = ?", (row_id,))

    def push_failed(self, row_id: int, error: str, next_at: float, give_up: bool) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE crm_outbox SET attempts = attempts + 1, last_error = ?, next_at = ?,"
                " state = ? WHERE id = ?",
                (error[:500], next_at, "dead" if give_up else "pending", row_id),
            )

    def requeue_dead(self, now: float) -> int:
        """Queue the pushes given up on again, as if new (after a long CRM outage); returns
        how many."""
        with self.db.connection() as conn:
            cur = conn.execute(
                "UPDATE crm_outbox SET state = 'pending', attempts = 0, next_at = 0,"
                " queued_at = ? WHERE state = 'dead'",
                (now,),
            )
            return cur.rowcount

    def outbox_counts(self) -> dict[str, int]:
        out = {"pending": 0, "delivered": 0, "dead": 0}
        with self.db.connection() as conn:
            rows = conn.execute("SELECT state, COUNT(*) FROM crm_outbox GROUP BY state").fetchall()
        for state, n in rows:
            out[str(state)] = int(n)
        return out

    def next_push_at(self) -> float | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT MIN(next_at) FROM crm_outbox WHERE state = 'pending'"
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # -- export ---------------------------------------------------------------------------

    def export_jsonl(self, out: TextIO) -> int:
        """Write one JSON object per line; returns the number written."""
        n = 0
        for record in self.records():
            out.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
            n += 1
        return n

    def export_csv(self, out: TextIO) -> int:
        """Write a CSV with :data:`CSV_COLUMNS` (no cell a spreadsheet would run as a formula:
        :mod:`dialer.csv_safe`); returns the number of rows."""
        return _write_csv(out, self.records())

    def export(self, path: str | Path) -> int:
        """Export to ``path`` (created 0600): CSV when it ends in ``.csv``, else JSON lines."""
        target = Path(path)
        with open_private(target) as fh:
            if target.suffix.lower() == ".csv":
                return self.export_csv(fh)
            return self.export_jsonl(fh)


def _write_csv(out: TextIO, records: Iterable[CallRecord]) -> int:
    """``records`` as CSV rows with a header, every cell through :func:`safe_row`."""
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS))
    writer.writerow(safe_header(CSV_COLUMNS))
    n = 0
    for record in records:
        writer.writerow(safe_row(record_row(record)))
        n += 1
    return n


def csv_text(records: Iterable[CallRecord]) -> str:
    """CSV of ``records`` as a string (for small exports and tests)."""
    buf = io.StringIO()
    _write_csv(buf, records)
    return buf.getvalue()
