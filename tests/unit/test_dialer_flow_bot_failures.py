"""A failed bot (control kind ``bot_failed``) and a bot's hang-up reason, in the pure call flow,
the control request, the call record and its SQLite store."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_dialer_flow import AGENT, CUST, Drive, act, lc

from dialer.flows import (
    AgentOffered,
    BotFailed,
    BridgeCreated,
    CallState,
    CancelTimer,
    CreateBridge,
    Hangup,
    HangupRequest,
    LegCreated,
    NoAgentFree,
    Notify,
    PickAgent,
    PlaceCall,
    StartSay,
    StartStream,
    StopSay,
    StopStream,
    TimerFired,
    Transfer,
)
from dialer.records import CSV_COLUMNS, CallRecord, RecordStore, csv_text
from voxgate_shared.control import ControlRequest


def connecting(**settings: Any) -> Drive:
    d = Drive(**settings)
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    assert d.state is CallState.CONNECTING
    return d


def names(d: Drive) -> list[str]:
    return [name for name, _ in d.flow.outcome.timeline]


# -- the flow ------------------------------------------------------------------------------


def test_a_failed_bot_gets_an_agent_and_the_failure_is_on_record() -> None:
    d = Drive()
    d.to_bot()
    out = d(BotFailed("adapter_error:on_audio"))
    assert out[:2] == [Notify("bot_failed", "adapter_error:on_audio"),
                       Notify("escalated", "bot_failed")]
    assert out[-1] == PickAgent((), ()) and d.state is CallState.HOLD
    out = d(AgentOffered("a1", "+9199"))
    d(LegCreated("agent", AGENT, "a1"))
    out = d(lc("leg_answered", AGENT))
    assert StopStream(CUST) not in out  # the gateway closes the failed bot's stream itself
    assert out[-1] == CreateBridge(CUST, AGENT)
    d(BridgeCreated("BR1"))
    d(lc("leg_terminated"))
    o = d.flow.outcome
    assert (o.disposition, o.escalation_reason, o.failure) == (
        "agent_handled", "bot_failed", "adapter_error:on_audio")
    assert names(d).index("bot_failed") < names(d).index("escalation_requested")


def test_a_failed_bot_with_the_hangup_fallback_says_goodbye() -> None:
    d = Drive(stream_fallback="hangup")
    d.to_bot()
    out = d(BotFailed("adapter_timeout:on_start"))
    assert StartSay(CUST, d.flow.settings.goodbye_text, "goodbye") in out
    assert StopStream(CUST) not in out and d.state is CallState.GOODBYE
    d(act("stream_stopped", status="stopped", reason="bot_closed"))  # the gateway's close
    d(act("say_completed"))
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "bot_failed"
    assert d.flow.outcome.failure == "adapter_timeout:on_start"


def test_a_bot_that_fails_before_its_stream_started_gets_no_second_stream() -> None:
    d = connecting()
    out = d(BotFailed("adapter_init:init"))
    assert CancelTimer("stream") in out
    assert not any(isinstance(c, StartStream) for c in out)
    assert d.state is CallState.HOLD
    # the failed stream's own events come late: neither revives the bot
    assert d(act("stream_started")) == []
    assert d(act("stream_stopped", status="stopped", reason="bot_closed")) == []
    out = d(NoAgentFree())  # queued: the hold replaces the greeting
    assert StopSay(CUST, "greeting") in out and d.state is CallState.HOLD
    out = d(TimerFired("queue"))  # not back to a dead bot: the goodbye message
    assert d.state is CallState.GOODBYE
    assert Notify("back_to_bot") not in out
    assert d(TimerFired("stream")) == []  # the stream timer was cancelled
    assert d.flow.outcome.stream_attempts == 1


def test_a_bot_that_fails_while_the_caller_is_on_hold_cannot_take_the_call_back() -> None:
    d = Drive()
    d.to_bot()
    d(Transfer("asked"))
    out = d(BotFailed("adapter_error:on_audio"))
    assert out == [Notify("bot_failed", "adapter_error:on_audio")]
    assert d.state is CallState.HOLD
    d(NoAgentFree())
    out = d(TimerFired("queue"))
    assert d.state is CallState.GOODBYE and Notify("back_to_bot") not in out
    d(TimerFired("message"))
    d(lc("leg_terminated"))
    o = d.flow.outcome
    assert (o.disposition, o.escalation_reason, o.failure) == (
        "no_agent", "asked", "adapter_error:on_audio")


def test_a_second_report_and_reports_after_the_bot_are_ignored() -> None:
    d = Drive()
    d.to_bot()
    d(BotFailed("adapter_error:on_audio"))
    assert d(BotFailed("adapter_error:on_audio")) == []
    e = Drive()
    e.to_bot()
    e(HangupRequest("done"))
    assert e(BotFailed("adapter_error:on_stop")) == []
    assert e.flow.outcome.failure == "" and e.flow.ignored == 1
    f = Drive()
    f(PlaceCall())
    assert f(BotFailed("adapter_init:unknown")) == []  # not answered yet: not our stream


def test_a_stream_that_stops_before_it_started_is_a_failed_stream() -> None:
    d = connecting(stream_fallback="hangup")
    out = d(act("stream_stopped", status="stopped", reason="bot_closed"))
    assert StartStream(CUST, 2) in out  # retried once, at once (no 5 s of silence)
    d(act("stream_stopped", status="stopped", reason="bot_closed"))
    assert d.state is CallState.GOODBYE
    assert d.flow.outcome.failure == "stream_stopped_before_start"


def test_bot_failed_needs_a_reason() -> None:
    with pytest.raises(ValueError, match=r"BotFailed\.reason"):
        BotFailed("")


def test_the_bots_hangup_reason_is_kept_and_announced() -> None:
    d = Drive()
    d.to_bot()
    out = d(HangupRequest("entered:42"))
    assert Notify("hangup_requested", "entered:42") in out
    assert Hangup(CUST, "customer") in out
    d(lc("leg_terminated"))
    assert d.flow.outcome.hangup_reason == "entered:42"
    assert d.flow.outcome.disposition == "bot_completed"
    ignored = Drive()
    ignored(PlaceCall())
    ignored(HangupRequest("too early"))
    assert ignored.flow.outcome.hangup_reason == ""


# -- the control request -------------------------------------------------------------------


def test_bot_failed_travels_as_a_control_request() -> None:
    req = ControlRequest("bot_failed", "CA1", "MZ1", "adapter_error:on_audio",
                         {"vx_call": "vx1"})
    body = req.to_json()
    assert body["kind"] == "bot_failed" and "within_s" not in body
    assert ControlRequest.from_json(json.loads(json.dumps(body))) == req
    with pytest.raises(ValueError, match="bot_failed request needs a reason"):
        ControlRequest.from_json({**body, "reason": ""})
    with pytest.raises(ValueError, match="unknown control request kind"):
        ControlRequest.from_json({**body, "kind": "bot_crashed"})


# -- the record and its store ----------------------------------------------------------------


def record(call_id: str, hangup_reason: str = "entered:42") -> CallRecord:
    return CallRecord(call_id=call_id, number="+911", mode="bot_first",
                      disposition="bot_completed", hangup_reason=hangup_reason)


def test_the_hangup_reason_is_in_the_column_the_exports_and_the_json(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    store = RecordStore(db)
    store.save(record("c1"))
    assert store.get("c1") == record("c1")
    row = sqlite3.connect(db).execute(
        "SELECT hangup_reason FROM call_records WHERE call_id = 'c1'").fetchone()
    assert row == ("entered:42",)
    buf = io.StringIO()
    store.export_jsonl(buf)
    assert json.loads(buf.getvalue())["hangup_reason"] == "entered:42"
    rows = list(csv.DictReader(io.StringIO(csv_text([record("c2")]))))
    assert rows[0]["hangup_reason"] == "entered:42"
    # added after the older columns, so that older readers find theirs where they were
    assert CSV_COLUMNS.index("hangup_reason") == CSV_COLUMNS.index("failure") + 1


OLD_SCHEMA = """
CREATE TABLE call_records (
    call_id TEXT PRIMARY KEY, number TEXT NOT NULL, disposition TEXT NOT NULL,
    created_at REAL NOT NULL, body TEXT NOT NULL
);
"""


def test_a_database_from_before_the_column_gains_it_on_open(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    old = sqlite3.connect(db)
    old.executescript(OLD_SCHEMA)
    body = {k: v for k, v in record("old").to_json().items() if k != "hangup_reason"}
    old.execute("INSERT INTO call_records VALUES ('old', '+911', 'bot_completed', 1.0, ?)",
                (json.dumps(body),))
    old.commit()
    old.close()
    store = RecordStore(db)
    assert store.get("old") == record("old", hangup_reason="")  # an old body still reads
    store.save(record("new"))
    store.close()
    again = RecordStore(db)  # opening a migrated database again changes nothing
    assert [r.hangup_reason for r in again.records()] == ["", "entered:42"]
    rows = sqlite3.connect(db).execute(
        "SELECT call_id, hangup_reason FROM call_records ORDER BY call_id").fetchall()
    assert rows == [("new", "entered:42"), ("old", "")]
