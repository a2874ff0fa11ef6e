"""The campaign runner's pure parts, without a dialer: an agent's change of state as pacer
observations and busy time, the agents' occupancy, and the drain after dialling stops (on a
virtual clock: the timeout cancels the calls still up, the heartbeat keeps beating)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dialer.agents import AgentState
from dialer.campaign.drain import drain
from dialer.campaign.live_calls import AgentClock, agent_change, occupancy
from dialer.pacing.types import AgentTalkEnded, AgentWrapEnded


@pytest.mark.parametrize(
    ("before", "after", "busy", "seen"),
    [
        # a talk ending straight to idle (no wrap-up time) is a talk and an empty wrap-up
        (AgentState.TALKING, AgentState.IDLE, 30.0,
         [AgentTalkEnded(130.0, 30.0), AgentWrapEnded(130.0, 0.0)]),
        (AgentState.TALKING, AgentState.WRAP_UP, 30.0, [AgentTalkEnded(130.0, 30.0)]),
        (AgentState.WRAP_UP, AgentState.IDLE, 30.0, [AgentWrapEnded(130.0, 30.0)]),
        (AgentState.RINGING, AgentState.TALKING, 30.0, []),
        (AgentState.IDLE, AgentState.RINGING, 0.0, []),  # idle time is not busy time
        (AgentState.OFFLINE, AgentState.IDLE, 0.0, []),
    ],
)  # fmt: skip
def test_an_agents_change_gives_its_busy_time_and_the_pacers_observations(
    before: AgentState, after: AgentState, busy: float, seen: list[object]
) -> None:
    assert agent_change(AgentClock(before, 100.0), after, 130.0) == (busy, seen)


def test_occupancy_counts_busy_time_done_and_running_over_the_pool_since_the_start() -> None:
    clocks = [AgentClock(AgentState.TALKING, 90.0), AgentClock(AgentState.IDLE, 50.0)]
    # 20 s already counted + 10 s of the talk in progress, over 2 agents x 100 s
    assert occupancy(100.0, 0.0, 20.0, 2, clocks) == pytest.approx(0.15)
    assert occupancy(0.0, 0.0, 0.0, 2, clocks) == 0.0  # no time has passed yet
    assert occupancy(100.0, 0.0, 500.0, 0, []) == 1.0  # an empty pool counts as one; capped


async def test_the_drain_cancels_calls_still_up_at_its_timeout_and_beats_meanwhile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    beats: list[float] = []
    forever = asyncio.Event()

    async def ringing() -> None:
        await forever.wait()  # never set: the call stays up

    call = asyncio.create_task(ringing(), name="campaign-c-1-1")
    waits = {call}
    live = {"c-1-1": object()}

    def beat() -> None:
        beats.append(now[0])
        now[0] += 30.0  # each tick moves the virtual clock on half a minute

    with caplog.at_level(logging.INFO, logger="dialer.campaign.runner"):
        await drain("c", live, waits, clock=lambda: now[0], beat=beat, tick_s=0.0, timeout_s=90.0)
    await asyncio.gather(call, return_exceptions=True)
    assert call.cancelled()
    assert beats == [0.0, 30.0, 60.0]
    assert "waiting for 1 calls in flight: c-1-1" in caplog.text  # the minute's log line
    assert "1 calls still in flight after 90 s, no longer waited for" in caplog.text


async def test_the_drain_returns_once_the_calls_are_gone() -> None:
    live = {"c-1-1": object()}

    def beat() -> None:
        live.clear()  # the call ended during this tick

    await drain("c", live, set(), clock=lambda: 0.0, beat=beat, tick_s=0.0, timeout_s=None)
    assert not live
