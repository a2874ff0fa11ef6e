"""Calls to a relayed bot on the emulator, end to end (gateway, dialer, relay, external test
bot): a bot that closes normally ends the call as a hang-up (pipecat), and a bot that cannot be
reached with no agent for the skill does not loop between the bot and escalations."""

from __future__ import annotations

from typing import Any

import aiohttp
from peers.ports import free_port
from test_dialer_flows import CUSTOMER, call, customer

from bot_adapters.relay.testbots import DialectTestBot
from dialer.config import DialerConfig
from dialer.records import CallRecord
from exotel_sim.config import SimConfig
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack


async def relayed_call(relay: dict[str, str], *script: str,
                       **dialer: Any) -> tuple[CallRecord, str]:
    """One call to the relay; returns its record and the gateway's ``/metrics`` after it."""
    gw = GatewayConfig(host="127.0.0.1", port=0, adapter_options={"relay": relay})
    sim = SimConfig(rest_latency_ms=10, event_latency_ms=5, setup_ms=50,
                    customers={CUSTOMER: customer(*script)})
    async with LocalStack(DialerConfig(**dialer), sim_config=sim, gateway_config=gw) as st:
        record = await call(st, bot="relay")
        assert st.gateway is not None
        base = st.gateway.base_url.replace("ws://", "http://", 1)
        async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
            return record, await resp.text()


async def test_a_bot_that_closes_normally_ends_the_call() -> None:
    async with DialectTestBot("twilio", mode="end", drop_after_s=0.1) as bot:
        rec, metrics = await relayed_call({"url": bot.url, "dialect": "twilio"}, "wait 8000",
                                          "hangup")
    assert (rec.disposition, rec.hangup_reason) == ("bot_completed", "relay_closed")
    assert not rec.escalated and rec.failure == ""
    start = bot.events("start")[0]["start"]
    assert start["customParameters"]["to_number"] == CUSTOMER
    assert 'voxgate_gateway_relay_closes_total{rule="hangup"}' in metrics
    assert 'voxgate_gateway_relay_connects_total{dialect="twilio"}' in metrics


async def test_an_unreachable_relay_bot_and_no_agent_do_not_loop() -> None:
    """The field case: ``--bot relay`` with the bot down and nobody with the skill went
    escalated -> escalation_failed -> back_to_bot nine times in 55 s. Now: one re-entry, then
    the goodbye and a hang-up, with the reason on the record."""
    # nothing listens there (bind(0)-and-close could hand a pytest-xdist neighbour's server the
    # same port)
    relay = {"url": f"ws://127.0.0.1:{free_port()}/", "fallback_message": "fixture:dtmf_0"}
    rec, metrics = await relayed_call(relay, "wait 8000", "hangup", fallback_text="dtmf_0",
                                      goodbye_text="dtmf_1")
    assert 'voxgate_gateway_relay_failures_total{cause="unreachable"}' in metrics
    names = [n for n, _ in rec.timeline]
    assert names.count("escalation_requested") == 2 and names.count("bot_restarted") == 1
    assert rec.escalation_reason == "relay_unreachable"
    assert (rec.disposition, rec.hangup_reason) == ("no_agent", "bot_reentries_exhausted")
    assert "goodbye_completed" in names and rec.ended_in != "bot"
