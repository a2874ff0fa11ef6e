"""A joined runner at its heartbeat (issue 17): a real runner (emulator and gateway on loopback)
beside a second member played through the store: agents moved to the other dialer are logged
out of this runner's pool and come back when moved back, without a restart; the other dialer's
abandoned call reaches this runner's abandonment ledger; and once the other dialer stops
beating, this runner takes it over: its dialing attempt settled (interrupted), its row gone,
logged. Before, a second dialer could not join, and a runner never looked at another's share."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from campaign_process import until
from test_campaign_lease import make_store, stack

from dialer.agents import AgentState
from dialer.campaign.model import AgentSpec, Outcome
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import AttemptResult, Lease

AGENTS = (AgentSpec("a1", "+919800000001"), AgentSpec("a2", "+919800000002"))


async def test_a_joined_runner_syncs_agents_ledger_and_takes_over_a_dead_member(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = make_store(tmp_path / "c.db", 2, agents=AGENTS)
    other = Lease("other", 999_999_999, "elsewhere")  # a dialer on another host
    store.join("t1", other, time.time(), "d-other")
    theirs = store.claim_next("t1", time.time(), owner="other")
    abandoned = store.claim_next("t1", time.time(), owner="other")
    assert theirs is not None and abandoned is not None
    async with stack() as st:
        runner = CampaignRunner(st.dialer, store, "t1", join=True, report_every_s=0.1,
                                stale_s=5.0, tick_s=0.05)
        task = asyncio.create_task(runner.run(until_done=False))

        def state(agent: str) -> AgentState | None:
            return next((a.state for a in st.dialer.pool if a.agent_id == agent), None)

        await until(lambda: state("a1") is AgentState.IDLE and state("a2") is AgentState.IDLE)
        assert sorted(store.held_agents("t1", runner.owner)) == ["a1", "a2"]
        store.heartbeat("t1", time.time(), owner="other")
        # the other dialer's abandoned call counts in this runner's ledger
        store.finish_attempt(abandoned.call_id, AttemptResult(
            Outcome.ABANDONED, "abandoned", live=True, abandoned=True,
            answered_at=time.time()), time.time())
        await until(lambda: runner.ledger.view(time.time()).abandoned_24h == 1)
        store.heartbeat("t1", time.time(), owner="other")
        # a2 moves to the other dialer: logged out here; then back: logged in again
        assert store.move_agent("t1", "a2", "d-other") == runner.owner
        await until(lambda: state("a2") is AgentState.OFFLINE)
        assert state("a1") is AgentState.IDLE
        store.heartbeat("t1", time.time(), owner="other")
        store.move_agent("t1", "a2", runner.owner)
        await until(lambda: state("a2") is AgentState.IDLE)
        # the other dialer stops beating: taken over once 5 s stale
        with caplog.at_level(logging.WARNING, logger="dialer.campaign.runner"):
            await until(lambda: store.dialing_of("t1", "other") == [], timeout_s=15)
            await until(lambda: "took over dead dialer" in caplog.text)
        runner.stop()
        await task
    assert [m.member for m in store.members("t1")] == []
    states = {a["call_id"]: a["state"] for a in store.attempts("t1")}
    assert states[theirs.call_id] == "interrupted", states
    assert "dialer d-other" in caplog.text and "1 as interrupted" in caplog.text
    store.close()
