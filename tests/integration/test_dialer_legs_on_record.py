"""What the dialer asks of every leg and keeps of it, on the emulator: ``time_limit`` on every
``POST /legs`` (customer and agent), the agent leg's duration and termination reason on the
record."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_dialer_flows import AGENT1, CUSTOMER, call, customer, stack

from dialer.config import DialerConfig
from dialer.errors import ConfigError
from dialer.records import RecordStore, csv_text
from exotel_sim.config import AgentProfile


async def test_time_limit_on_every_leg_and_the_agent_leg_on_record(tmp_path: Path) -> None:
    cust = customer("streaming 100", "dtmf 0", "wait 6000", "hangup")
    agent = AgentProfile(answer_ms=300, greet_after_ms=100, talk_ms=600)
    db = tmp_path / "calls.db"
    async with stack(customers={CUSTOMER: cust}, agents={AGENT1: agent}, time_limit=1800,
                     db_path=str(db)) as st:
        st.dialer.add_agent("a1", AGENT1, ["sales"])
        rec = await call(st)
        assert st.sim is not None
        legs = st.sim.sim.legs
        assert legs[rec.customer_leg_sid].req.time_limit == 1800
        assert legs[rec.agent_leg_sid].req.time_limit == 1800
        assert rec.disposition == "agent_handled" and not rec.agent_nailed
        # the agent hung up after 600 ms in the bridge: its leg, fetched after the call
        assert rec.agent_duration_s is not None and rec.agent_duration_s >= 0
        assert rec.agent_termination_reason == "completed"
        assert rec.termination_reason == "completed"
    row = sqlite3.connect(db).execute(
        "SELECT agent_id, agent_duration_s, agent_termination_reason FROM call_records"
    ).fetchone()
    assert row == ("a1", rec.agent_duration_s, "completed")
    csv_row = csv_text([rec]).splitlines()[1]
    assert csv_row.endswith(f",{rec.agent_duration_s},completed")


async def test_default_time_limit_is_sent() -> None:
    async with stack(customers={CUSTOMER: customer("wait 300", "hangup")}) as st:
        rec = await call(st)
        assert st.sim is not None
        assert st.sim.sim.legs[rec.customer_leg_sid].req.time_limit == 3600
        assert rec.agent_duration_s is None and rec.agent_termination_reason == ""


@pytest.mark.parametrize(("name", "value"), [("time_limit", 59), ("time_limit", 14401),
                                             ("max_bot_reentries", -1),
                                             ("max_bot_reentries", 11)])
def test_settings_are_checked(name: str, value: int) -> None:
    with pytest.raises(ConfigError, match=name):
        DialerConfig.from_mapping({name: value})


def test_an_older_database_gains_the_agent_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old = sqlite3.connect(db)
    old.executescript("""CREATE TABLE call_records (call_id TEXT PRIMARY KEY, number TEXT NOT
        NULL, disposition TEXT NOT NULL, created_at REAL NOT NULL, body TEXT NOT NULL);""")
    old.execute("""INSERT INTO call_records VALUES ('old', '+911', 'no_answer', 1.0,
        '{"call_id": "old", "number": "+911", "mode": "bot_first"}')""")
    old.commit()
    old.close()
    store = RecordStore(db)
    record = store.get("old")
    assert record is not None and record.agent_duration_s is None
    store.close()
    columns = {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(call_records)")}
    assert {"agent_id", "agent_duration_s", "agent_termination_reason"} <= columns

