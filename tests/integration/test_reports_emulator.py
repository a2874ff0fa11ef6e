"""The reports of a short campaign run on the emulator over real sockets (emulator, gateway and
dialer on loopback): one customer presses 0 and is bridged to an agent, one talks to the bot
until it hangs up, one is busy (retried once). The report's counts equal the records'."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from calling_time import daytime_zone

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignStore
from dialer.config import DialerConfig
from dialer.reports.load import report_of
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

QUICK = CustomerProfile(outcome="answer", ring_ms=(100, 300)).with_script(  # on the bot, then gone
    "pause 300", "wait 300", "hangup")
BUSY = CustomerProfile(outcome="busy", ring_ms=(100, 200))
WANTS_HUMAN = CustomerProfile(
    outcome="answer", ring_ms=(100, 200), bridge_script=parse_script(["say cust_hello", "hangup"]),
).with_script("pause 300", "streaming 100", "dtmf 0", "wait 8000", "hangup")  # 0 once bot is up


async def test_report_counts_equal_the_records(tmp_path: Path) -> None:
    store = CampaignStore(str(tmp_path / "campaign.db"))
    spec = CampaignSpec(
        "r1", bot="echo", pacer="bot_first", mode="bot_first", amd=False,
        timezone=daytime_zone(), retry={"busy": 0.3},
        limits=Limits(max_attempts=2, max_attempts_per_day=2, max_lines=4, wrap_up_s=5),
        agents=(AgentSpec("a1", "+919800000001"), AgentSpec("a2", "+919800000002")),
    )
    store.create_campaign(spec, time.time())
    store.add_leads("r1", [Lead("+919900000901"), Lead("+919900000902"),
                           Lead("+919900000903")], time.time())
    sim = SimConfig(
        rest_latency_ms=5, event_latency_ms=5, setup_ms=20, default_customer=QUICK,
        customers={"+919900000901": WANTS_HUMAN, "+919900000903": BUSY},
        agents={"+919800000001": AgentProfile(answer_ms=200, greet_after_ms=100)},
    )
    cfg = DialerConfig(customer_ring_timeout=15, record_bridges=False)
    async with LocalStack(cfg, sim_config=sim,
                          gateway_config=GatewayConfig(port=0, escalation_dtmf="0")) as st:
        runner = CampaignRunner(st.dialer, store, "r1", tick_s=0.1)
        async with asyncio.timeout(30):
            await runner.run(until_done=True)
    attempts = store.attempts("r1")
    records = [r for a in attempts if (r := store.call_record(a["call_id"])) is not None]
    campaign = report_of(store, "campaign", "r1")
    agents = report_of(store, "agents", "r1")
    store.close()

    funnel = {str(row[0]): row[1] for row in campaign.table("funnel").rows}
    assert funnel["dialled"] == len(attempts) == 4  # the busy lead twice
    assert funnel["answered"] == sum(bool(r["answered"]) for r in records) == 2
    assert funnel["escalated"] == sum(bool(r["escalated"]) for r in records) == 1
    assert funnel["bridged"] == sum(bool(r["bridged"]) for r in records) == 1
    assert funnel["bot_handled"] == 2
    dispositions = Counter(r["disposition"] for r in records)
    assert {k.removeprefix("disposition:"): v for k, v in funnel.items()
            if k.startswith("disposition:")} == dispositions
    assert funnel["no_record"] == len(attempts) - len(records)
    rates = {str(row[0]): row[1] for row in campaign.table("rates").rows}
    assert (rates["bot_containment"], rates["escalation_rate"]) == (0.5, 0.5)
    latencies = {str(row[0]): row[1] for row in campaign.table("latencies").rows}
    assert latencies["answer_to_stream"] == sum(
        r["latencies"].get("answer_to_stream") is not None for r in records) == 2
    live = sum(a["live"] for a in attempts)
    hours = campaign.table("abandonment_by_hour").rows
    assert sum(int(h[1] or 0) for h in hours) == live

    rows = {str(row["agent"]): row for row in agents.table("agents").dicts()}
    bridged = next(r for r in records if r["bridged"])
    agent = str(bridged["agent_id"])
    assert agent == "a1"
    assert (rows["a1"]["calls"], rows["a2"]["calls"]) == (1, 0)
    assert rows["a1"]["escalations_taken"] == 1
    assert rows["a1"]["wrap_up_s"] == 5.0
    assert rows["a1"]["wait_p50_ms"] == bridged["latencies"]["escalation_to_bridge"]
    talk = float(rows["a1"]["talk_s"] or 0)
    assert 0 < talk <= bridged["latencies"]["call_ms"] / 1000
