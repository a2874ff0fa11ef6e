"""A campaign created through the dialer service's ``/v1/campaigns`` dials with its own settings
(issue 16): its file's ``limits.ring_timeout_s`` and ``exophone`` reach Exotel on the customer's
and the on-demand agent's ``POST /legs`` (read from the emulator's recorded requests), and its
``limits.wrap_up_s`` holds its agent in wrap-up after the conversation, although the service's
own configuration rings 30 s, shows another ExoPhone and has no wrap-up. Before, every call of a
campaign in the service went out with the service's ring timeout and caller id, and its agents
had the service's wrap-up (the embedded ``voxgate campaign run`` built a config from the file).

In process: the emulator as Exotel, the service's :class:`~dialer.service.Dialer` with its
:class:`~dialer.campaign.service_api.CampaignService` routes on the control API (agent-first,
so no gateway is needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from calling_time import daytime_zone

from dialer.agents import Agent, AgentState
from dialer.campaign.service_api import CampaignService
from dialer.config import DialerConfig
from dialer.control_api import ControlApiServer
from dialer.service import Dialer
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from exotel_sim.server import SimServer

CUSTOMER = "+919900000701"
AGENT = "+919800000701"
SERVICE_EXOPHONE = "+918000000000"
CAMPAIGN_EXOPHONE = "+918047110000"


def campaign_toml() -> str:
    return f"""
name = "own"
mode = "agent_first"
pacer = "progressive"
bot = "echo"
amd = false
exophone = "{CAMPAIGN_EXOPHONE}"
timezone = "{daytime_zone()}"
[limits]
max_attempts = 1
max_lines = 1
ring_timeout_s = 19.5
min_ring_s = 1
wrap_up_s = 0.5
[[agents]]
id = "own-a1"
number = "{AGENT}"
"""


async def until(ready: object, limit: float = 20.0) -> None:
    async with asyncio.timeout(limit):
        while not ready():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_a_campaign_in_the_service_dials_with_its_own_settings(tmp_path: Path) -> None:
    world = SimConfig(
        rest_latency_ms=5, event_latency_ms=5, setup_ms=20,
        customers={CUSTOMER: CustomerProfile(
            outcome="answer", ring_ms=(100, 100),
            bridge_script=parse_script(["wait 300", "hangup"]))},
        agents={AGENT: AgentProfile(answer_ms=100, talk_ms=0)},
    )
    db = str(tmp_path / "svc.db")
    async with SimServer(world) as sim:
        config = DialerConfig(
            api_base=sim.api_base, account_sid=sim.account_sid, api_key=sim.api_key,
            api_token=sim.api_token, exophone=SERVICE_EXOPHONE, db_path=db,
            event_endpoint="http://127.0.0.1:0/e")
        assert config.customer_ring_timeout == 30 and config.wrap_up_seconds == 0
        async with Dialer(config) as dialer:
            states: list[AgentState] = []

            def seen(agent: Agent) -> None:
                if agent.agent_id == "own-a1":
                    states.append(agent.state)

            dialer.pool.subscribe(seen)
            campaigns = CampaignService(dialer, db)
            async with ControlApiServer(dialer, dialer=dialer, token="",
                                        routes=campaigns.add_routes) as api, \
                    aiohttp.ClientSession() as s:
                leads = f"phone,timezone\n{CUSTOMER},{daytime_zone()}\n"
                async with s.post(f"{api.url}/v1/campaigns",
                                  json={"campaign": campaign_toml(), "leads": leads}) as r:
                    assert r.status == 201, await r.text()
                async with s.post(f"{api.url}/v1/campaigns/own/start") as r:
                    assert r.status == 202, await r.text()
                # the wrap-up ends by the service's ticker: the agent is idle again
                await until(lambda: AgentState.WRAP_UP in states
                            and states[-1] is AgentState.IDLE)
                await until(lambda: "own" not in campaigns.runs)
                records = list(dialer.store.records())
            await campaigns.close()
        legs = list(sim.sim.legs.values())
    customer = [leg.req for leg in legs if leg.kind == "customer"]
    agent = [leg.req for leg in legs if leg.kind == "agent"]
    assert [(r.contact_uri, r.ring_timeout, r.exophone) for r in customer] == [
        (CUSTOMER, 20, CAMPAIGN_EXOPHONE)]  # 19.5 s rounds up: the legal minimum holds
    assert [r.exophone for r in agent] == [CAMPAIGN_EXOPHONE]
    assert [r.disposition for r in records] == ["agent_handled"], records
    # talking -> wrap-up (the campaign's 0.5 s; the service has none) -> idle
    assert states[states.index(AgentState.TALKING):] == [
        AgentState.TALKING, AgentState.WRAP_UP, AgentState.IDLE], states
