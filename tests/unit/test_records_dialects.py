"""The records store (call records, live calls, the CRM outbox) and the service's started
campaigns on both dialects (a SQLite file and the test run's PostgreSQL server: the
``store_url`` fixture of tests/conftest.py), and what several dialers sharing one PostgreSQL
need: live calls by owner, outbox rows claimed once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from dialer import records
from dialer.campaign.service_runs import ServiceRuns
from dialer.db import applied_versions, open_db
from dialer.records import CallRecord, RecordStore

CUSTOMER = "+919900000001"


def rec(call_id: str, disposition: str = "customer_hangup") -> CallRecord:
    return CallRecord(call_id, CUSTOMER, "bot_first", disposition=disposition,
                      agent_duration_s=12.5, timeline=(("dial", 0.0), ("ended", 900.0)),
                      custom={"lead": "7"})


def test_records_and_outbox_survive_a_reopen(store_url: str) -> None:
    store = RecordStore(store_url)
    try:
        store.save(rec("c1"), push_to_crm=True)
        store.save(rec("c2", "no_answer"), push_to_crm=True)
        store.save(rec("c1", "agent_handled"))  # replaced, its push kept
        assert store.get("c1") == rec("c1", "agent_handled") and store.get("zz") is None
        due = store.due_pushes(now=1e12)
        assert [d[1] for d in due] == ["c1", "c2"] and due[0][4] > 0
        store.push_failed(due[0][0], "HTTP 500", next_at=2e12, give_up=False)
        store.push_failed(due[1][0], "HTTP 500", next_at=2e12, give_up=True)
    finally:
        store.close()
    again = RecordStore(store_url)
    try:
        assert again.count() == 2 and [r.call_id for r in again.records()] == ["c2", "c1"]
        assert again.outbox_counts() == {"pending": 1, "delivered": 0, "dead": 1}
        assert again.next_push_at() == 2e12
        [row] = again.due_pushes(now=3e12)
        assert row[1:4] == ("c1", row[2], 1)
        again.push_done(row[0])
        assert again.requeue_dead(now=5.0) == 1
        assert [d[1] for d in again.due_pushes(now=6.0)] == ["c2"]
        assert again.is_open()
    finally:
        again.close()
    assert not again.is_open()


def test_records_are_read_page_by_page_in_order(store_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "PAGE", 3)
    store = RecordStore(store_url)
    try:
        for i in range(8):
            store.save(rec(f"c{i}"))
        assert [r.call_id for r in store.records()] == [f"c{i}" for i in range(8)]
    finally:
        store.close()


def test_live_calls_are_each_dialers_own(store_url: str) -> None:
    """Two dialers on one database: each settles its own calls after a restart; another's
    are read only when asked for by owner."""
    a, b = RecordStore(store_url, owner="da"), RecordStore(store_url, owner="db")
    try:
        a.save_live("vx1", {"call_id": "vx1", "stage": "ringing"})
        b.save_live("vx2", {"call_id": "vx2", "stage": "bot"})
        a.save_live("vx1", {"call_id": "vx1", "stage": "bot"})  # each step replaces the row
        assert a.live_calls() == [{"call_id": "vx1", "stage": "bot"}]
        assert b.live_calls() == [{"call_id": "vx2", "stage": "bot"}]
        assert a.live_calls(owner="db") == b.live_calls()
        assert RecordStore(store_url).live_calls() == []  # a dialer with no id: none of these
        b.save(rec("vx2"))  # settled: its live row goes with the record
        assert a.live_calls(owner="db") == [] and len(a.live_calls()) == 1
        a.delete_live("vx1")
        assert a.live_calls() == []
    finally:
        a.close()
        b.close()


def test_an_unnamed_dialer_takes_its_id_from_the_environment(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXGATE_DIALER_ID", "d-7")
    store = RecordStore(store_url)
    try:
        store.save_live("vx1", {"call_id": "vx1"})
        assert store.owner == "d-7" and store.live_calls(owner="d-7") == [{"call_id": "vx1"}]
        assert store.live_calls(owner="") == []
    finally:
        store.close()
    with pytest.raises(ValueError):
        RecordStore(store_url, owner="bad id!")


def test_service_runs_on_both_dialects(store_url: str) -> None:
    runs = ServiceRuns(store_url)
    try:
        runs.started("b", 2.0)
        runs.started("a", 1.0)
        runs.started("b", 0.5)  # started again: its time replaced
        assert runs.recorded() == ["b", "a"]
        runs.ended("b")
        assert runs.recorded() == ["a"]
    finally:
        runs.close()
    assert ServiceRuns(store_url).recorded() == ["a"]


def test_two_dialers_never_claim_one_outbox_row(pg_server: object) -> None:
    """PostgreSQL: due rows are claimed FOR UPDATE SKIP LOCKED and leased, so two dialers
    pushing one outbox at once (two pools, several threads each) get each row once."""
    url = pg_server.fresh_url()  # type: ignore[attr-defined]
    stores = [RecordStore(url, owner="da"), RecordStore(url, owner="db")]
    try:
        for i in range(200):
            stores[0].save(rec(f"c{i}"), push_to_crm=True)
        claimed: list[str] = []
        lock = threading.Lock()

        def pusher(store: RecordStore) -> None:
            while rows := store.due_pushes(now=1e12, limit=7):
                with lock:
                    claimed.extend(r[1] for r in rows)

        threads = [threading.Thread(target=pusher, args=(s,)) for s in stores for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(claimed) == sorted(f"c{i}" for i in range(200))  # each once
        # a dialer that died holding rows leaves them to another after the lease
        assert [r[1] for r in stores[1].due_pushes(now=1e12 + records.PUSH_LEASE_S,
                                                   limit=1)] == ["c0"]
    finally:
        for s in stores:
            s.close()


OLD_LIVE_CALLS = """
CREATE TABLE live_calls (call_id TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at REAL NOT NULL);
INSERT INTO live_calls VALUES ('vx-old', '{"call_id": "vx-old"}', 1.0);
CREATE TABLE call_records (call_id TEXT PRIMARY KEY, number TEXT NOT NULL,
    disposition TEXT NOT NULL, created_at REAL NOT NULL, body TEXT NOT NULL);
"""


def test_an_older_sqlite_file_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(OLD_LIVE_CALLS)
    old.close()
    store = RecordStore(path)  # a dialer with no id, as every dialer before owners
    try:
        assert store.live_calls() == [{"call_id": "vx-old"}]
        store.save(CallRecord("c1", CUSTOMER, "bot_first", hangup_reason="entered:4"))
        assert store.get("c1") == CallRecord("c1", CUSTOMER, "bot_first",
                                             hangup_reason="entered:4")
    finally:
        store.close()
    RecordStore(path).close()  # opening again migrates nothing
    db = open_db(str(path))
    try:
        with db.connection() as conn:
            assert applied_versions(conn, "records") == {1, 2, 3}
            assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == 3
    finally:
        db.close()


def test_a_postgresql_url_that_answers_nothing_is_one_clear_error() -> None:
    from dialer.db import DatabaseError

    with pytest.raises(DatabaseError) as err:
        RecordStore("postgresql://voxgate:hunter2@127.0.0.1:9/calls")
    assert "hunter2" not in str(err.value)




def test_a_restarted_dialer_settles_only_its_own_live_calls(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dialers da and db share one database, both killed with a call up; da starts again: it
    settles its call from Exotel (record, leg hung up) and leaves db's row and leg alone."""
    import asyncio

    from dialer.testing import FakeExotel, Party, fake_dialer, run_virtual

    other = "+919900000002"

    def left(call_id: str, sid: str, number: str) -> dict[str, object]:
        return {"call_id": call_id, "request": {"number": number, "mode": "bot_first"},
                "stage": "bot", "started_at": 1000.0, "customer_leg_sid": sid,
                "answered": True, "timeline": [["dial", 0.0]]}

    async def go() -> None:
        fake = FakeExotel({CUSTOMER: Party(script=("wait 60000", "hangup")),
                           other: Party(script=("wait 60000", "hangup"))})
        mine = await fake.create_leg(CUSTOMER, "+918000000000", "http://127.0.0.1:9/e")
        theirs = await fake.create_leg(other, "+918000000000", "http://127.0.0.1:9/e")
        for owner, call_id, leg, number in (("da", "vx1", mine, CUSTOMER),
                                            ("db", "vx2", theirs, other)):
            store = RecordStore(store_url, owner=owner)
            store.save_live(call_id, left(call_id, leg["leg_sid"], number))
            store.close()
        monkeypatch.setenv("VOXGATE_DIALER_ID", "da")
        async with fake_dialer(fake, db_path=store_url) as d:
            await asyncio.wait_for(d.restart_reconciled(), 60)
            record = d.store.get("vx1")
            assert record is not None and record.disposition == "dialer_restart"
            assert d.store.live_calls() == [] and d.store.get("vx2") is None
            assert [s["call_id"] for s in d.store.live_calls(owner="db")] == ["vx2"]
            assert fake.legs[mine["leg_sid"]].state == "terminated"
            assert fake.legs[theirs["leg_sid"]].state != "terminated"
            assert f"GET /legs/{theirs['leg_sid']}" not in fake.requests

    run_virtual(go())
