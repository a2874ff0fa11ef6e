"""``voxgate db copy`` (:mod:`dialer.db.copy`): a SQLite database built through the real stores
(a campaign with leads and attempts, call records, live calls, CRM outbox rows, the service's
started campaigns, the dashboard's audit) copied into a new database of each dialect, compared
table by table and through the stores, ids kept and continued; a database that is not empty is
refused."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits, Outcome
from dialer.campaign.service_runs import ServiceRuns
from dialer.campaign.store import AttemptResult, CampaignStore
from dialer.db import open_db
from dialer.db.cli import plans
from dialer.db.copy import CopyRefused, copy_database, table_names
from dialer.records import CallRecord, RecordStore
from dialer.web.audit_table import AuditTable

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp()


def build(url: str) -> None:
    """A dialer's database with a bit of everything, written by the stores themselves."""
    store = CampaignStore(url)
    spec = CampaignSpec("c1", limits=Limits(max_attempts=3),
                        agents=(AgentSpec("a1", "+919800000001", ("sales",)),))
    store.create_campaign(spec, NOON)
    store.add_leads("c1", [Lead(f"98000000{i:02}", custom={"n": str(i)}) for i in range(6)],
                    NOON)
    store.add_dnc(["+919800000005"], NOON, "asked")
    claims = [store.claim_next("c1", NOON) for _ in range(3)]
    records = RecordStore(url, owner="d1")
    for i, claim in enumerate(claims[:2]):
        assert claim is not None
        record = CallRecord(claim.call_id, claim.phone, "bot_first", disposition="busy",
                            agent_duration_s=1.5 * i, timeline=(("dial", 0.0),))
        records.save(record, push_to_crm=True)
        store.finish_attempt(claim.call_id, AttemptResult(Outcome.BUSY, "busy",
                                                          record=record.to_json()), NOON + 5)
    assert claims[2] is not None
    records.save_live(claims[2].call_id, {"call_id": claims[2].call_id, "stage": "bot"})
    [first, _] = records.due_pushes(now=NOON + 10)
    records.push_failed(first[0], "HTTP 503", NOON + 100, give_up=False)
    store.save_pacer_snapshot("c1", "predictive", {"rate": 0.25}, NOON)
    runs = ServiceRuns(url)
    runs.started("c1", NOON)
    audit = AuditTable(url)
    audit.add((NOON, "sup", "pause", "c1", "running", "paused"))
    for closing in (audit, runs, records, store):
        closing.close()


def dump(url: str) -> dict[str, list[str]]:
    """Every table's rows (as sorted JSON objects, column by name): what a copy must keep."""
    db = open_db(url)
    try:
        with db.connection() as conn:
            return {t: sorted(json.dumps(dict(r), sort_keys=True)
                              for r in conn.execute(f"SELECT * FROM {t}"))
                    for t in table_names(conn)}
    finally:
        db.close()


def copy(src: str, dst: str) -> list[tuple[str, int]]:
    source, target = open_db(src, read_only=True), open_db(dst)
    try:
        return copy_database(source, target, plans(), batch=2)  # several batches a table
    finally:
        source.close()
        target.close()


@pytest.mark.slow(5)
def test_a_copy_holds_everything_and_continues_the_ids(tmp_path: Path, store_url: str) -> None:
    src = str(tmp_path / "calls.db")
    build(src)
    before = dump(src)
    counts = dict(copy(src, store_url))
    assert counts == {t: len(rows) for t, rows in before.items()}
    assert counts["leads"] == 6 and counts["attempts"] == 3 and counts["crm_outbox"] == 2
    assert dump(store_url) == before  # every row, every column, ids included
    assert dump(src) == before  # the source only read
    old, new = CampaignStore(src), CampaignStore(store_url)
    old_records, new_records = RecordStore(src, owner="d1"), RecordStore(store_url, owner="d1")
    try:
        assert new.leads("c1") == old.leads("c1") and new.attempts("c1") == old.attempts("c1")
        assert new.stats("c1", NOON + 60) == old.stats("c1", NOON + 60)
        assert new.pacer_snapshot("c1", "predictive", NOON) == {"rate": 0.25}
        assert list(new_records.records()) == list(old_records.records())
        assert new_records.live_calls() == old_records.live_calls() != []
        assert new_records.outbox_counts() == old_records.outbox_counts()
        assert ServiceRuns(store_url).recorded() == ["c1"]
        audit = AuditTable(store_url)  # its ids continue too
        audit.add((NOON + 1, "sup", "resume", "c1", "paused", "running"))
        assert [r[2] for r in audit.recent(5)] == ["resume", "pause"]
        audit.close()
        # the copy goes on where the source stopped: new ids follow the largest copied
        claim = new.claim_next("c1", NOON + 60)
        assert claim is not None
        ids = [a["id"] for a in new.attempts("c1")]
        assert ids == [1, 2, 3, 4], ids
        assert new.add_leads("c1", [Lead("9800000099")], NOON) == 1
        assert max(lead["id"] for lead in new.leads("c1")) == 7
        new_records.save(CallRecord("vx-new", "+919800000099", "bot_first"), push_to_crm=True)
        assert [r[0] for r in new_records.due_pushes(now=NOON + 1000)][-1] == 3
    finally:
        for closing in (old, new, old_records, new_records):
            closing.close()


def test_a_copy_back_to_sqlite_is_the_same_database(tmp_path: Path, store_url: str) -> None:
    """SQLite -> DST -> SQLite again (PostgreSQL read through a server-side cursor)."""
    src, back = str(tmp_path / "calls.db"), str(tmp_path / "back.db")
    build(src)
    copy(src, store_url)
    copy(store_url, back)
    assert dump(back) == dump(src)


def test_a_database_that_is_not_empty_is_refused_and_left_alone(
        tmp_path: Path, store_url: str) -> None:
    src = str(tmp_path / "calls.db")
    build(src)
    build(store_url)
    before = dump(store_url)
    with pytest.raises(CopyRefused, match=r"is not empty \(campaigns: 1 row, leads: 6 rows"):
        copy(src, store_url)
    assert dump(store_url) == before


def test_a_source_from_a_newer_version_is_refused(tmp_path: Path, store_url: str) -> None:
    src = str(tmp_path / "calls.db")
    build(src)
    db = open_db(src)
    with db.connection() as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('records', 99, 0)")
    db.close()
    with pytest.raises(CopyRefused, match=r"records migration\(s\) 99 that this version"):
        copy(src, store_url)
    assert all(not rows for rows in dump(store_url).values())


