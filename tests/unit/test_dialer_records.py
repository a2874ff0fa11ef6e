"""Call records: latencies, SQLite store, outbox, JSONL/CSV export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from dialer.records import CallRecord, RecordStore, compute_latencies, csv_text


def rec(call_id: str, disposition: str = "agent_handled") -> CallRecord:
    timeline = (("dial", 0.0), ("answered", 1.0), ("stream_started", 1.05),
                ("greeting_started", 1.0), ("greeting_stopped", 1.06),
                ("escalation_requested", 5.0), ("agent_dialled", 5.01),
                ("agent_answered", 6.5), ("bridged", 6.55), ("ended", 20.0))
    return CallRecord(
        call_id=call_id, number="+911", mode="bot_first", disposition=disposition,
        latencies=compute_latencies(timeline), timeline=tuple((n, t * 1000) for n, t in timeline),
        custom={"lead": "42"},
    )


def test_latencies() -> None:
    lat = compute_latencies([("dial", 0.0), ("answered", 1.0), ("stream_started", 1.25)])
    assert lat["answer_to_stream"] == 250.0
    assert lat["escalation_to_bridge"] is None
    stored = rec("c").latencies
    assert stored["escalation_to_bridge"] == 1550.0 and stored["agent_ring"] == 1490.0


def test_store_round_trip_and_outbox(store_url: str) -> None:
    db = store_url  # a SQLite file, and a PostgreSQL database
    store = RecordStore(db)
    store.save(rec("c1"), push_to_crm=True)
    store.save(rec("c2", "no_answer"))
    assert store.get("c1") == rec("c1")
    assert store.get("zz") is None
    due = store.due_pushes(now=1e12)
    assert [d[1] for d in due] == ["c1"]
    store.push_failed(due[0][0], "HTTP 500", next_at=2e12, give_up=False)
    assert store.due_pushes(now=1e12) == []
    store.close()
    again = RecordStore(db)  # a restart keeps records and pending pushes
    assert again.count() == 2
    assert again.outbox_counts()["pending"] == 1 and again.next_push_at() == 2e12
    row = again.due_pushes(now=3e12)[0]
    assert row[3] == 1  # one failed attempt so far
    again.push_done(row[0])
    assert again.outbox_counts() == {"pending": 0, "delivered": 1, "dead": 0}
    again.close()


def test_exports(tmp_path: Path, store_url: str) -> None:
    store = RecordStore(store_url)
    store.save(rec("c1"))
    store.save(rec("c2", "abandoned"))
    buf = io.StringIO()
    assert store.export_jsonl(buf) == 2
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert [x["call_id"] for x in lines] == ["c1", "c2"]
    assert lines[0]["custom"] == {"lead": "42"}
    path = tmp_path / "out.csv"
    assert store.export(path) == 2
    rows = list(csv.DictReader(path.open()))
    assert rows[1]["disposition"] == "abandoned" and rows[0]["escalation_to_bridge"] == "1550.0"
    assert store.export(tmp_path / "out.jsonl") == 2
    assert csv_text([rec("c3")]).splitlines()[1].startswith("c3,")
    store.close()


OLD_OUTBOX = """
CREATE TABLE crm_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'pending'
);
INSERT INTO crm_outbox(call_id, body, attempts) VALUES ('old', '{}', 4);
"""


def test_an_outbox_from_before_queued_at_gains_it_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old = sqlite3.connect(db)
    old.executescript(OLD_OUTBOX)
    old.close()
    store = RecordStore(db)
    assert store.due_pushes(now=1e12) == [(1, "old", "{}", 4, 0.0)]  # 0: age unknown
    store.save(rec("c1"), push_to_crm=True)
    assert store.due_pushes(now=1e12)[1][4] > 0


def test_csv_gives_when_the_call_was_and_how_long_the_customer_waited() -> None:
    started = 1_795_000_000.0  # 2026-11-18T11:06:40Z
    bridged = rec("c1")
    gave_up = compute_latencies([("dial", 0.0), ("answered", 1.0),
                                 ("escalation_requested", 5.0), ("customer_ended", 12.5),
                                 ("ended", 12.6)])
    records = [
        CallRecord("c1", "+911", "bot_first", started_at=started, agent_attempts=1,
                   latencies=bridged.latencies),
        CallRecord("c2", "+912", "bot_first", started_at=started, agent_attempts=3,
                   latencies=gave_up),
        CallRecord("c3", "+913", "bot_first"),  # never started: no times
    ]
    rows = list(csv.DictReader(io.StringIO(csv_text(records))))
    assert [r["started_at"] for r in rows] == ["2026-11-18T11:06:40Z"] * 2 + [""]
    assert [r["ended_at"] for r in rows] == ["2026-11-18T11:07:00Z", "2026-11-18T11:06:53Z", ""]
    assert [r["agent_attempts"] for r in rows] == ["1", "3", "0"]
    assert [r["hold_ms"] for r in rows] == ["1550.0", "7500.0", ""]
