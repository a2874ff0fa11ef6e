"""A campaign whose escalations ask for a skill no agent has, run on the emulator over real
sockets: ``run`` warns at start and logs the ``no_agent:skill`` failures, rate-limited (issue
13 #9)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from test_campaign_runner import store_with
from test_dialer_silence import AGENT1, PRESS0, customer, stack

from dialer.campaign.model import AgentSpec, Lead, Limits
from dialer.campaign.runner import CampaignRunner
from exotel_sim.config import AgentProfile

LEADS = ("+919900000001", "+919900000002")


@pytest.mark.slow(5)
async def test_escalations_to_a_skill_nobody_has_are_logged_loudly_not_per_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    customers = {number: customer(*PRESS0) for number in LEADS}  # each presses 0 for an agent
    store = store_with(
        tmp_path, [Lead(n) for n in LEADS], skills=("sales",),
        agents=(AgentSpec("a1", AGENT1, ("collections",)),),
        limits=Limits(max_attempts=1, max_attempts_per_day=1, max_lines=2), retry={},
    )
    async with stack(customers, {AGENT1: AgentProfile()}, escalation_fallback="callback") as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1)
        with caplog.at_level(logging.WARNING, "dialer.campaign"):
            async with asyncio.timeout(60):
                await runner.run(until_done=True)
    store.close()
    ours = [r for r in caplog.records if r.name == "dialer.campaign"]
    [start] = [r for r in ours if "no agent has the skills sales" in r.getMessage()]
    assert "agents: a1 (collections)" in start.getMessage() and start.levelno == logging.WARNING
    failed = [r for r in ours if "no_agent:skill" in r.getMessage() and "since" in r.getMessage()]
    assert len(failed) == 1  # two calls failed so within a minute: one line
    assert runner.skills.failed == 2
