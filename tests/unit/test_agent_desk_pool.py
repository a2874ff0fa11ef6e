"""The agent pool's desk states (issue 18): pause with a reason, ready, and the desk's wrap-up
held until the ready click (at most ``max_wrap_s``, then paused ``wrap_up_timeout``)."""

from __future__ import annotations

import pytest

from dialer.agents import WRAP_UP_TIMEOUT, AgentPool, AgentState
from dialer.campaign.live_calls import AgentClock, pacer_state
from dialer.pacing.ledger import LedgerView


def _pool() -> AgentPool:
    pool = AgentPool(wrap_up_seconds=0.0)
    pool.add("a1", "+919800000001", now=0.0)
    return pool


def test_a_paused_agent_is_never_offered_and_ready_puts_it_back() -> None:
    pool = _pool()
    assert pool.pause("a1", "lunch", now=1.0) is AgentState.IDLE
    a = pool.get("a1")
    assert a.state is AgentState.PAUSED and a.pause_reason == "lunch"
    assert pool.acquire((), now=2.0) is None and pool.idle_count() == 0
    assert pool.ready("a1", now=3.0) is True
    assert a.state is AgentState.IDLE and a.idle_since == 3.0 and a.pause_reason == ""
    assert pool.acquire((), call_id="c1", now=4.0) is a


def test_a_pause_on_a_call_takes_effect_when_released() -> None:
    pool = _pool()
    a = pool.acquire((), call_id="c1", now=1.0)
    assert a is not None
    pool.mark_talking("a1", now=2.0)
    assert pool.pause("a1", "break", now=3.0) is AgentState.TALKING
    assert a.state is AgentState.TALKING
    assert pool.release("a1", wrap_up=True, now=4.0) is False
    assert a.state is AgentState.PAUSED and a.last_call_id == "c1"


def test_a_desk_holds_wrap_up_until_ready_and_pauses_an_agent_who_walks_away() -> None:
    pool = _pool()
    pool.attach_desk("a1", max_wrap_s=60.0)
    assert pool.has_wrap_up  # the ticker must run for the maximum
    a = pool.acquire((), call_id="c1", now=0.0)
    assert a is not None
    pool.mark_talking("a1", now=1.0)
    pool.release("a1", wrap_up=True, now=10.0)
    assert a.state is AgentState.WRAP_UP
    assert pool.tick(69.0) == [] and a.state is AgentState.WRAP_UP  # no timer but the maximum
    assert pool.ready("a1", now=30.0) is True and a.state is AgentState.IDLE
    # the next call: nobody clicks ready
    pool.acquire((), call_id="c2", now=31.0)
    pool.mark_talking("a1", now=32.0)
    pool.release("a1", wrap_up=True, now=40.0)
    assert pool.tick(99.0) == [] and a.state is AgentState.WRAP_UP
    assert pool.tick(100.0) == []
    assert a.state is AgentState.PAUSED and a.pause_reason == WRAP_UP_TIMEOUT
    assert pool.ready("a1", now=120.0) is True
    pool.detach_desk("a1")
    pool.acquire((), call_id="c3", now=121.0)
    assert pool.release("a1", wrap_up=True, now=122.0) is True  # timed wrap-up again (0 s)


def test_pause_checks_and_the_states_around_it() -> None:
    pool = _pool()
    with pytest.raises(ValueError, match="reason"):
        pool.pause("a1", "")
    with pytest.raises(ValueError, match="max_wrap_s"):
        pool.attach_desk("a1", 0.0)
    with pytest.raises(KeyError):
        pool.pause("nobody", "x")
    pool.pause("a1", "x")
    pool.pause("a1", "y")
    assert pool.get("a1").pause_reason == "y"
    pool.log_out("a1")
    assert pool.get("a1").state is AgentState.OFFLINE
    assert pool.ready("a1") is False  # a supervisor's log-out stays
    pool.pause("a1", "z")
    assert pool.log_in("a1", now=5.0) is False and pool.get("a1").state is AgentState.PAUSED
    nailed = pool.add("n1", "+919800000002", nailed=True)
    pool.pause("n1", "coffee")
    assert pool.set_nailed_leg("n1", "leg-1") is False and nailed.state is AgentState.PAUSED
    pool.set_nailed_leg("n1", "")
    assert nailed.state is AgentState.OFFLINE
    assert pool.counts()["paused"] == 1


def test_the_pacer_counts_a_paused_agent_out_and_a_ready_one_in() -> None:
    pool = _pool()
    pool.add("a2", "+919800000002")
    clocks: dict[str, AgentClock] = {}
    view = LedgerView(0, 0, 0, 0)

    def ready_agents() -> tuple[int, int]:
        s = pacer_state(10.0, pool, clocks, {}, bot_first=True, line_limit=10, view=view)
        return s.agents_ready, len(s.busy_agents)

    assert ready_agents() == (2, 0)
    pool.pause("a2", "lunch")
    assert ready_agents() == (1, 0)  # neither ready nor busy
    pool.ready("a2")
    assert ready_agents() == (2, 0)
