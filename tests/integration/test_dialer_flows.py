"""The call flows on the wire: emulator + gateway + dialer over real sockets on loopback.

What only the wire can show: events over both transports (gRPC, HTTP webhook, with the
emulator's retries and reordering), the stream (greeting cut before the bot is heard, DTMF
through the gateway), and the control hook in both wirings (direct, HTTP control API). Every
other flow and failure path runs on the fake Exotel on a virtual clock, in milliseconds:
``tests/unit/test_dialer_flows_fake.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from bot_adapters.contract import BotAdapter, CallControl
from dialer.agents import AgentState
from dialer.config import DialerConfig
from dialer.records import CallRecord
from dialer.service import CallRequest, ProgressEvent
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

CUSTOMER = "+919900000001"
AGENT1 = "+919800000001"
ENDPOINTS = {"grpc": "grpc://127.0.0.1:0", "http": "http://127.0.0.1:0/exotel/events"}


@pytest.fixture(params=sorted(ENDPOINTS))
def transport(request: pytest.FixtureRequest) -> str:
    """The event transport a test runs on: each test runs once per transport."""
    return str(request.param)


def customer(*script: str, bridge: tuple[str, ...] = ("wait 600", "hangup"),
             **kw: Any) -> CustomerProfile:
    """A customer who answers after 200 ms, runs ``script``, and in a bridge ``bridge``."""
    kw.setdefault("outcome", "answer")
    kw.setdefault("ring_ms", (200, 200))
    return CustomerProfile(bridge_script=parse_script(bridge), **kw).with_script(*script)


@asynccontextmanager
async def stack(
    transport: str = "grpc",
    *,
    control: str = "direct",
    customers: dict[str, CustomerProfile] | None = None,
    agents: dict[str, AgentProfile] | None = None,
    adapters: dict[str, Any] | None = None,
    **dialer: Any,
) -> AsyncIterator[LocalStack]:
    sim = SimConfig(
        rest_latency_ms=10, event_latency_ms=5, setup_ms=50,
        customers=customers or {}, agents=agents or {},
    )
    cfg = DialerConfig(event_endpoint=ENDPOINTS[transport], **dialer)
    gw = GatewayConfig(host="127.0.0.1", port=0, escalation_dtmf="0")
    async with LocalStack(
        cfg, sim_config=sim, gateway_config=gw, control=control,  # type: ignore[arg-type]
        adapters=adapters,
    ) as st:
        yield st


async def call(st: LocalStack, number: str = CUSTOMER, limit: float = 8.0, **kw: Any) -> CallRecord:
    kw.setdefault("bot", "echo")
    handle = await st.dialer.place_call(CallRequest(number, **kw))
    async with asyncio.timeout(limit):
        return await handle.wait()


async def sim_get(st: LocalStack, path: str) -> Any:
    assert st.sim is not None
    async with aiohttp.ClientSession() as s, s.get(st.sim.base_url + path) as r:
        assert r.status == 200, path
        return await r.json()


async def until(predicate: Callable[[], bool], limit: float = 6.0) -> None:
    """Poll ``predicate`` every 50 ms; fail after ``limit`` seconds (other modules use it)."""
    for _ in range(int(limit / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def heard(timeline: dict[str, Any], source: str) -> list[dict[str, Any]]:
    return [i for i in timeline["heard"] if i["source"] == source]


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_bot_first_greeting_stops_when_stream_starts(transport: str) -> None:
    # the customer stays 2 s after speaking, so the bot's echo is heard on a loaded machine too
    cust = customer("wait 300", "say cust_hello", "wait 2000", "hangup")
    async with stack(transport, customers={CUSTOMER: cust}) as st:
        rec = await call(st)
        assert (rec.disposition, rec.answered, rec.ended_in) == ("customer_hangup", True, "bot")
        assert rec.latencies["answer_to_stream"] is not None
        names = [n for n, _ in rec.timeline]
        assert names.index("greeting_started") < names.index("stream_started")
        assert names.index("stream_started") <= names.index("greeting_stopped")
        assert rec.duration_s is not None and rec.termination_reason == "completed"
        tl = await sim_get(st, f"/sim/legs/{rec.customer_leg_sid}/timeline")
        greeting = heard(tl, "play")
        bot = heard(tl, "stream")
        assert bot, tl
        # The greeting was cut when the stream started: whatever of it was heard (on a loaded
        # machine the stream can start before the greeting's audio does) ends before the bot.
        assert all(g["end_ms"] <= min(b["start_ms"] for b in bot) for g in greeting), tl
        # The stream URL carried our call id.
        leg = await sim_get(st, f"/sim/legs/{rec.customer_leg_sid}")
        assert rec.call_id in str(leg)
        assert st.dialer.store.get(rec.call_id) == rec


@pytest.mark.parametrize(("transport", "control"), [("grpc", "direct"), ("http", "http")])
async def test_escalation_by_dtmf_to_on_demand_agent(transport: str, control: str) -> None:
    cust = customer("streaming 100", "dtmf 0", "wait 6000", "hangup")
    agent = AgentProfile(answer_ms=300, greet_after_ms=100)
    progress: list[ProgressEvent] = []
    async with stack(transport, control=control, customers={CUSTOMER: cust},
                     agents={AGENT1: agent}) as st:
        st.dialer.add_agent("a1", AGENT1, ["sales"])
        st.dialer.subscribe(progress.append)
        rec = await call(st)
        assert rec.disposition == "agent_handled" and rec.escalated and rec.bridged
        assert rec.agent_id == "a1" and rec.agent_leg_sid and rec.bridge_sid
        assert rec.recording_url.startswith("http://")
        assert rec.latencies["escalation_to_bridge"] is not None
        assert rec.latencies["agent_ring"] is not None
        kinds = [p.kind for p in progress]
        for k in ("placed", "answered", "bot_connected", "escalated", "agent_ringing",
                  "bridged", "ended", "agent_freed"):
            assert k in kinds, kinds
        assert st.sim is not None
        agent_leg = st.sim.sim.legs[rec.agent_leg_sid]
        assert agent_leg.custom_param == rec.call_id
        assert agent_leg.req.reference_leg_sid == rec.customer_leg_sid
        assert agent_leg.req.exophone == st.config.exophone
        assert st.dialer.pool.get("a1").state is AgentState.IDLE
        assert st.dialer.pool.get("a1").calls_handled == 1
        if control == "http":
            assert st.control_api is not None and st.control_api.accepted >= 1


class HangupBot(BotAdapter):
    """Says nothing; ends the call through the control hook half a second in."""

    def __init__(self, options: Any = None) -> None:
        self.call: CallControl | None = None
        self.audio = 0

    async def on_start(self, call: CallControl) -> None:
        self.call = call

    async def on_audio(self, pcm: bytes) -> None:
        self.audio += len(pcm)
        if self.call is not None and self.audio >= 8000:  # 0.5 s of 8 kHz PCM16
            call, self.call = self.call, None
            await call.hangup("bot_done")


@pytest.mark.parametrize(("transport", "control"), [("grpc", "direct"), ("grpc", "http")])
async def test_bot_hangup_through_control_hook(control: str, transport: str) -> None:
    cust = customer("wait 6000", "hangup")
    async with stack(transport, control=control, customers={CUSTOMER: cust},
                     adapters={"hangup": HangupBot}) as st:
        rec = await call(st, bot="hangup")
        assert rec.disposition == "bot_completed" and rec.ended_in == "bot", rec
        # the greeting gate's greeting_wait, then the bot's hang-up
        assert st.dialer.stats.control_requests == 2


@pytest.mark.parametrize("transport", ["http"])
async def test_control_request_for_unknown_call_is_refused(transport: str) -> None:
    async with stack(transport, control="http") as st:
        assert st.control_api is not None
        # bound to a call (its MAC verifies) that is not live: 404
        body = {"kind": "transfer", "call_sid": "nope", "stream_sid": "MZ", "reason": "x",
                "custom_parameters": {"vx_call": st.dialer.binding.sign("nope")}}
        async with aiohttp.ClientSession() as s:
            async with s.post(st.control_api.url + "/v1/control", json=body) as r:
                assert r.status == 404
            async with s.post(st.control_api.url + "/v1/control", json={"kind": 3}) as r:
                assert r.status == 400
            async with s.post(st.control_api.url + "/v1/control", data=b"{") as r:
                assert r.status == 400
            async with s.get(st.control_api.url + "/v1/health") as r:
                assert (await r.json())["active_calls"] == 0
        assert st.dialer.stats.control_unknown == 1


@pytest.mark.parametrize("transport", ["http"])
async def test_duplicated_and_reordered_events_still_give_one_clean_call(transport: str) -> None:
    cust = customer("streaming 100", "dtmf 0", "wait 6000", "hangup")
    agent = AgentProfile(answer_ms=200, greet_after_ms=100)
    sim = SimConfig(rest_latency_ms=10, event_latency_ms=5, setup_ms=50,
                    duplicate_probability=0.5, reorder=True,
                    customers={CUSTOMER: cust}, agents={AGENT1: agent})
    cfg = DialerConfig(event_endpoint=ENDPOINTS[transport])
    gw = GatewayConfig(host="127.0.0.1", port=0, escalation_dtmf="0")
    async with LocalStack(cfg, sim_config=sim, gateway_config=gw) as st:
        st.dialer.add_agent("a1", AGENT1)
        rec = await call(st)
        assert rec.disposition == "agent_handled" and rec.bridged
        assert st.dialer.intake.sequencer.stats.duplicates > 0
        assert st.dialer.pool.get("a1").calls_handled == 1


