"""The per-call watchdog (issue 16): a call whose Exotel events are lost is checked with
``GET /legs/{sid}`` and settled from Exotel's answer, on the fake Exotel and a virtual clock.
Without the watchdog each of these calls waits forever (the test's virtual limit fails)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from dialer.agents import AgentState
from dialer.flows import FlowSettings
from dialer.flows.states import CallState
from dialer.flows.watchdog import Verdict, legs_to_check, quiet_allowed, retry_after, verdict
from dialer.metrics import render_dialer_metrics
from dialer.records import CallRecord
from dialer.service import CallRequest, Dialer
from dialer.testing import FakeExotel, Party, fake_dialer, run_virtual

CUSTOMER = "+919900000001"
AGENT1 = "+919800000001"
# what an Exotel restart loses: the leg's end and the stream's end that comes with it
LOST_END = frozenset({"leg_terminated", "stream_stopped"})


def virtual(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    def run() -> None:
        run_virtual(test())
    run.__name__ = test.__name__
    return run


async def call(d: Dialer, limit: float) -> CallRecord:
    handle = await d.place_call(CallRequest(CUSTOMER, bot="echo"))
    async with asyncio.timeout(limit):  # virtual seconds
        return await handle.wait()


@virtual
async def test_lost_leg_terminated_after_answer_is_settled_from_get_leg() -> None:
    fake = FakeExotel({CUSTOMER: Party(script=("wait 1000", "hangup"))}, lost_events=LOST_END)
    async with fake_dialer(fake, watchdog_interval=10.0) as d:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        rec = await call(d, limit=60.0)
        # settled by the first check, 10 s after the last event (the answer's stream start)
        assert loop.time() - t0 < 15.0
        assert (rec.disposition, rec.answered, rec.termination_reason) == (
            "customer_hangup", True, "completed")
        assert d.store.get(rec.call_id) == rec
        assert f"GET /legs/{rec.customer_leg_sid}" in fake.requests
        assert d.stats.watchdog_checks == 1
        assert d.stats.watchdog_settled == {"ended": 1}
        text = render_dialer_metrics(d)
        assert "voxgate_dialer_watchdog_checks_total 1" in text
        assert 'voxgate_dialer_watchdog_settled_total{outcome="ended"} 1' in text


@virtual
async def test_lost_end_of_a_bridged_call_frees_the_agent() -> None:
    lost = LOST_END | {"bridge_terminal", "leg_left_bridge"}
    fake = FakeExotel({CUSTOMER: Party(script=("wait 400", "dtmf 0", "wait 600000"),
                                       bridge_script=("wait 2000", "hangup")),
                       AGENT1: Party(ring_ms=300.0)}, lost_events=lost)
    async with fake_dialer(fake, watchdog_interval=10.0) as d:
        d.add_agent("a1", AGENT1)
        rec = await call(d, limit=60.0)
        assert rec.bridged and rec.disposition == "agent_handled"
        assert d.store.get(rec.call_id) == rec
        assert d.pool.get("a1").state is AgentState.IDLE
        assert d.stats.watchdog_settled.get("ended", 0) + d.stats.watchdog_settled.get(
            "bridge_ended", 0) >= 1


@virtual
async def test_lost_first_events_after_the_dial_are_settled() -> None:
    lost = frozenset({"leg_connecting", "leg_ringing", "leg_terminated"})
    fake = FakeExotel({CUSTOMER: Party(outcome="no-answer")}, lost_events=lost)
    async with fake_dialer(fake, customer_ring_timeout=30, watchdog_dial_margin=5.0) as d:
        rec = await call(d, limit=120.0)
        assert (rec.disposition, rec.answered, rec.termination_reason) == (
            "no_answer", False, "no-answer")
        assert d.stats.watchdog_settled == {"ended": 1}


def test_exotel_unreachable_then_back(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeExotel({CUSTOMER: Party(script=("wait 1000", "hangup"))}, lost_events=LOST_END)
    fake.unreachable = True

    async def scenario() -> CallRecord:
        loop = asyncio.get_running_loop()
        loop.call_later(20.0, lambda: setattr(fake, "unreachable", False))
        async with fake_dialer(fake, watchdog_interval=10.0) as d:
            rec = await call(d, limit=120.0)
            settled = d.stats.watchdog_settled
            assert settled["ended"] == 1 and settled["unreachable"] >= 2
            return rec

    with caplog.at_level(logging.DEBUG, logger="dialer.watchdog"):
        rec = run_virtual(scenario())
    assert rec.disposition == "customer_hangup"
    warnings = [r for r in caplog.records
                if r.levelno == logging.WARNING and "Exotel unreachable" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited: once a minute, DEBUG between
    assert rec.call_id in warnings[0].getMessage()
    assert "waits on GET /legs/" in warnings[0].getMessage()


def test_policy() -> None:
    s = FlowSettings(watchdog_dial_after=45.0, watchdog_interval=60.0)
    assert quiet_allowed(CallState.NEW, s) is None and quiet_allowed(CallState.ENDED, s) is None
    assert quiet_allowed(CallState.RINGING, s) == 45.0
    assert quiet_allowed(CallState.BRIDGED, s) == 60.0
    assert legs_to_check(CallState.BRIDGED, "L1", "L2", False, "B1") == (
        ("customer", "L1"), ("agent", "L2"), ("bridge", "B1"))
    assert legs_to_check(CallState.BRIDGED, "L1", "L2", True, "B1") == (
        ("customer", "L1"), ("bridge", "B1"))
    assert legs_to_check(CallState.BOT, "L1", "", False, "") == (("customer", "L1"),)
    assert verdict("leg", {"state": "answered"}) is Verdict.LIVE
    assert verdict("leg", {"state": "terminated", "terminal_status": "completed"}) is (
        Verdict.ENDED)
    assert verdict("bridge", {"state": "active"}) is Verdict.LIVE
    assert verdict("bridge", {"state": "terminated"}) is Verdict.ENDED
    assert [retry_after(n, s) for n in (1, 2, 3, 10)] == [1.0, 2.0, 4.0, 60.0]


def test_a_call_never_settled_is_recorded_lost_when_the_dialer_stops() -> None:
    """Exotel loses the call's end and never answers again: the dialer's exit, after the
    shutdown grace, records the call as lost with the reason (it used to store nothing)."""
    fake = FakeExotel({CUSTOMER: Party(script=("wait 1000", "hangup"))}, lost_events=LOST_END)

    async def scenario() -> tuple[CallRecord | None, dict[str, int]]:
        async with fake_dialer(fake, watchdog_interval=5.0, shutdown_grace=2.0) as d:
            handle = await d.place_call(CallRequest(CUSTOMER, bot="echo"))
            await asyncio.sleep(3.0)  # virtual: answered, talking
            fake.unreachable = True  # Exotel gone for good
            await asyncio.sleep(30.0)
        async with asyncio.timeout(1.0):
            rec = await handle.wait()
        assert d.store.get(rec.call_id) == rec
        return rec, dict(d.stats.watchdog_settled)

    rec, settled = run_virtual(scenario())
    assert rec is not None and rec.disposition == "lost"
    assert "shutdown grace" in rec.failure and rec.answered
    assert settled.get("unreachable", 0) >= 1 and "ended" not in settled
