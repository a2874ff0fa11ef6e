"""Agent-first campaigns against the emulator: bridges to agents, abandonment in the ledger when
the pacer over-dials, answering machines (AMD) never counted as live answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from calling_time import daytime_zone

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignStore
from dialer.config import DialerConfig
from dialer.pacing.types import DialOutcome, DialResolved, Observation, PacerState
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

AGENT = "+919800000001"
TALKER = CustomerProfile(
    outcome="answer",
    ring_ms=(100, 200),
    bridge_script=parse_script(["say cust_hello", "hangup"]),
).with_script("wait 3000", "hangup")
MACHINE = CustomerProfile(outcome="machine", ring_ms=(100, 200), amd_ms=300, machine_hangup_ms=2000)


@asynccontextmanager
async def stack(customers: dict[str, CustomerProfile]) -> AsyncIterator[LocalStack]:
    sim = SimConfig(
        rest_latency_ms=5,
        event_latency_ms=5,
        setup_ms=20,
        default_customer=TALKER,
        customers=customers,
        agents={AGENT: AgentProfile(answer_ms=200, greet_after_ms=100)},
    )
    cfg = DialerConfig(customer_ring_timeout=15, abandon_after=2.0, record_bridges=False)
    async with LocalStack(cfg, sim_config=sim, gateway_config=GatewayConfig(port=0)) as st:
        yield st


def campaign(tmp_path: Path, leads: list[Lead], **settings: object) -> CampaignStore:
    store = CampaignStore(str(tmp_path / "af.db"))
    spec = CampaignSpec(
        "af",
        mode="agent_first",
        pacer="progressive",
        amd=True,
        retry={},
        limits=Limits(max_lines=6),
        agents=(AgentSpec("a1", AGENT),),
        timezone=daytime_zone(),
        **settings,  # type: ignore[arg-type]
    )
    store.create_campaign(spec, time.time())
    store.add_leads("af", leads, time.time())
    return store


class Flood:
    """A pacer that over-dials on purpose: four lines whatever the agents do."""

    name = "flood"

    def __init__(self) -> None:
        self.seen: list[Observation] = []

    def observe(self, obs: Observation) -> None:
        self.seen.append(obs)

    def dials_now(self, state: PacerState) -> int:
        return max(0, min(4 - state.lines_in_use, state.free_lines))


@pytest.mark.slow(10)
async def test_progressive_agent_first_bridges_every_answer_and_skips_machines(
    tmp_path: Path,
) -> None:
    leads = [Lead("+919900000601"), Lead("+919900000602"), Lead("+919900000603")]
    store = campaign(tmp_path, leads)
    async with stack({"+919900000603": MACHINE}) as st:
        runner = CampaignRunner(st.dialer, store, "af", tick_s=0.1)
        async with asyncio.timeout(40):
            stats = await runner.run(until_done=True)
    outcomes = {a["lead_id"]: (a["outcome"], a["live"]) for a in store.attempts("af")}
    assert sorted(outcomes.values()) == [("escalated", 1), ("escalated", 1), ("machine", 0)]
    assert (stats.answered, stats.escalated, stats.abandoned) == (2, 2, 0)
    assert stats.rate_24h == 0.0


async def test_over_dialling_abandons_and_the_ledger_counts_it(tmp_path: Path) -> None:
    leads = [Lead(f"+9199000007{i:02d}") for i in range(4)]
    store = campaign(tmp_path, leads)
    pacer = Flood()
    async with stack({}) as st:
        runner = CampaignRunner(st.dialer, store, "af", pacer=pacer, tick_s=0.1)
        async with asyncio.timeout(40):
            stats = await runner.run(until_done=True)
    # one agent, four answered customers at once: those not bridged within 2 s are abandoned
    assert stats.answered == 4
    assert stats.abandoned >= 2
    assert stats.rate_24h == stats.abandoned / stats.answered
    assert stats.rate_30d == stats.rate_24h
    kinds = {type(obs).__name__ for obs in pacer.seen}
    assert {"DialResolved", "CustomerConnected", "CustomerAbandoned"} <= kinds
    abandoned = [a for a in store.attempts("af") if a["abandoned"]]
    assert all(a["outcome"] == "abandoned" and a["live"] for a in abandoned)


class OneLine:
    """One line at a time while an agent is ready; notes, for each observation, how many of
    the runner's calls were in flight when it came (1: fed during the call, 0: at its end)."""

    name = "one-line"

    def __init__(self) -> None:
        self.seen: list[tuple[Observation, int]] = []
        self.runner: CampaignRunner | None = None

    def observe(self, obs: Observation) -> None:
        assert self.runner is not None
        self.seen.append((obs, len(self.runner._live)))

    def dials_now(self, state: PacerState) -> int:
        return 1 if state.lines_in_use == 0 and state.agents_ready > 0 else 0


async def test_amd_agent_is_bridged_only_to_humans_and_the_pacer_hears_rings_early(
    tmp_path: Path,
) -> None:
    human, machine, busy = "+919900000801", "+919900000802", "+919900000803"
    store = campaign(tmp_path, [Lead(human), Lead(machine), Lead(busy)])
    pacer = OneLine()
    customers = {
        machine: MACHINE,
        busy: CustomerProfile(outcome="busy", ring_ms=(100, 200)),
    }
    async with stack(customers) as st:
        runner = CampaignRunner(st.dialer, store, "af", pacer=pacer, tick_s=0.1)
        pacer.runner = runner
        async with asyncio.timeout(40):
            stats = await runner.run(until_done=True)
        assert st.sim is not None
        base = st.sim.api_base.split("/v2/")[0]
        async with aiohttp.ClientSession() as http, http.get(
            f"{base}/sim/events", params={"name": "leg_joined_bridge"}
        ) as resp:
            joined = {e["payload"]["data"]["leg_sid"] for e in (await resp.json())["events"]}
        records = {
            a["lead_id"]: st.dialer.store.get(a["call_id"]) for a in store.attempts("af")
        }
    by_phone = {lead["phone"]: records[lead["id"]] for lead in store.leads("af")}
    h, m = by_phone[human], by_phone[machine]
    assert h is not None and m is not None
    names = [name for name, _ in h.timeline]
    assert h.bridged and not h.abandoned and h.disposition == "agent_handled"
    assert names.index("answered") < names.index("amd_human") < names.index("bridge_requested")
    assert m.machine and m.disposition == "machine" and not m.bridged and not m.abandoned
    assert m.customer_leg_sid not in joined and h.customer_leg_sid in joined
    # the machine's call never counted as a live answer or an abandonment
    assert (stats.answered, stats.escalated, stats.abandoned) == (1, 1, 0)
    assert stats.rate_24h == 0.0
    # ring time and answer rate reached the pacer while each call was still in flight
    resolved = [(obs, inflight) for obs, inflight in pacer.seen if isinstance(obs, DialResolved)]
    assert sorted(obs.outcome for obs, _ in resolved) == sorted(
        [DialOutcome.LIVE, DialOutcome.MACHINE, DialOutcome.BUSY]
    )
    assert all(inflight == 1 for _, inflight in resolved)


async def test_nailed_campaign_agent_is_dialled_ahead_and_bridged_at_once(tmp_path: Path) -> None:
    store = CampaignStore(str(tmp_path / "nailed.db"))
    spec = CampaignSpec(
        "nl", mode="agent_first", pacer="progressive", amd=False, retry={},
        limits=Limits(max_lines=2), agents=(AgentSpec("n1", AGENT, nailed=True),),
        timezone=daytime_zone(),
    )
    store.create_campaign(spec, time.time())
    store.add_leads("nl", [Lead("+919900000851")], time.time())
    async with stack({}) as st:
        runner = CampaignRunner(st.dialer, store, "nl", tick_s=0.1)
        async with asyncio.timeout(30):
            stats = await runner.run(until_done=True)
        (attempt,) = store.attempts("nl")
        record = st.dialer.store.get(attempt["call_id"])
    assert record is not None and record.bridged and record.agent_nailed
    assert record.agent_id == "n1" and "agent_dialled" not in [n for n, _ in record.timeline]
    assert (stats.answered, stats.escalated, stats.abandoned) == (1, 1, 0)
