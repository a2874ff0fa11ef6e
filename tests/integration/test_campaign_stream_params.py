"""Lead fields reach the bot: a campaign's ``stream_params`` ride on the stream URL through the
emulator (Exotel's ``start.custom_parameters``) into the adapter's ``CallInfo``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, ClassVar

from calling_time import daytime_zone

from bot_adapters.contract import BotAdapter, CallControl
from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignStore
from dialer.config import DialerConfig
from exotel_sim.config import CustomerProfile, SimConfig
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

QUICK = CustomerProfile(outcome="answer", ring_ms=(100, 200)).with_script("wait 800", "hangup")
LONG_PLAN = "gold & platinum/ü " * 20  # 360 characters, far more once URL-encoded


class Capture(BotAdapter):
    """Notes the custom parameters each call's stream started with."""

    seen: ClassVar[list[dict[str, str]]] = []

    def __init__(self, options: Any = None) -> None:
        pass

    async def on_start(self, call: CallControl) -> None:
        Capture.seen.append(dict(call.info.custom_parameters))


async def test_lead_fields_reach_the_adapter_encoded_and_bounded(tmp_path: Path) -> None:
    Capture.seen.clear()
    store = CampaignStore(str(tmp_path / "sp.db"))
    spec = CampaignSpec(
        "sp", bot="capture", pacer="progressive", amd=False, retry={},
        limits=Limits(max_lines=2), stream_params=("name", "plan"),
        agents=(AgentSpec("a1", "+919800000001"), AgentSpec("a2", "+919800000002")),
        timezone=daytime_zone(),
    )
    store.create_campaign(spec, time.time())
    leads = [
        Lead("+919900000901", name="Asha Rao & Sons", custom={"plan": "gold=1/ü", "city": "X"}),
        Lead("+919900000902", name="Vikram", custom={"plan": LONG_PLAN}),
        Lead("+919900000903", custom={"city": "Pune"}),  # no name, no plan: only vx_call
    ]
    store.add_leads("sp", leads, time.time())
    sim = SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20, default_customer=QUICK)
    cfg = DialerConfig(customer_ring_timeout=15)
    async with LocalStack(cfg, sim_config=sim, gateway_config=GatewayConfig(port=0),
                          adapters={"capture": Capture}) as st:
        runner = CampaignRunner(st.dialer, store, "sp", tick_s=0.1)
        async with asyncio.timeout(30):
            await runner.run(until_done=True)
        truncated_count = st.dialer.stats.stream_params_truncated
        records = {a["call_id"]: st.dialer.store.get(a["call_id"]) for a in store.attempts("sp")}
    by_call = {seen["vx_call"]: seen for seen in Capture.seen}
    assert set(by_call) == set(records)  # every call's bot got its call id
    ids = {lead["phone"]: f"sp-{lead['id']}-1" for lead in store.leads("sp")}
    first = by_call[ids["+919900000901"]]
    assert first == {"vx_call": ids["+919900000901"], "name": "Asha Rao & Sons",
                     "plan": "gold=1/ü"}  # the city column was not asked for
    second = by_call[ids["+919900000902"]]
    assert second["name"] == "Vikram" and LONG_PLAN.startswith(second["plan"])
    assert 0 < len(second["plan"]) < len(LONG_PLAN)
    assert by_call[ids["+919900000903"]] == {"vx_call": ids["+919900000903"]}
    assert truncated_count == 1
    rec = records[ids["+919900000902"]]
    assert rec is not None and rec.custom["stream_params_truncated"] == "plan"
    plain = records[ids["+919900000901"]]
    assert plain is not None and "stream_params_truncated" not in plain.custom
