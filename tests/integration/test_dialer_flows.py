"""Every call flow and failure path over real sockets: emulator + gateway + dialer on loopback.

Event transport (gRPC / HTTP webhook) and control wiring (direct / HTTP control API) are
parametrized: every flow and failure path runs over both event transports (the ``transport``
fixture), and the main paths also over both control wirings.
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
AGENT2 = "+919800000002"
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
    """Poll ``predicate`` every 50 ms; fail after ``limit`` seconds."""
    for _ in range(int(limit / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def heard(timeline: dict[str, Any], source: str) -> list[dict[str, Any]]:
    return [i for i in timeline["heard"] if i["source"] == source]


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_bot_first_greeting_stops_when_stream_starts(transport: str) -> None:
    cust = customer("wait 300", "say cust_hello", "wait 400", "hangup")
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
        assert greeting and bot, tl
        # The greeting was cut when the stream started: it ends before the bot is heard.
        assert max(g["end_ms"] for g in greeting) <= min(b["start_ms"] for b in bot)
        # The stream URL carried our call id.
        leg = await sim_get(st, f"/sim/legs/{rec.customer_leg_sid}")
        assert rec.call_id in str(leg)
        assert st.dialer.store.get(rec.call_id) == rec


@pytest.mark.parametrize(("transport", "control"), [("grpc", "direct"), ("http", "http")])
async def test_escalation_by_dtmf_to_on_demand_agent(transport: str, control: str) -> None:
    cust = customer("wait 400", "dtmf 0", "wait 6000", "hangup")
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


async def test_nailed_agent_bridged_at_once_and_kept_alive(transport: str) -> None:
    cust = customer("wait 400", "dtmf 0", "wait 1500", "hangup")
    agent = AgentProfile(answer_ms=100, greet_after_ms=100)
    async with stack(transport, customers={CUSTOMER: cust}, agents={AGENT1: agent},
                     recording_wait=1.0) as st:
        st.dialer.add_agent("n1", AGENT1, nailed=True)
        await until(lambda: st.dialer.pool.idle_count() > 0)
        nailed_leg = st.dialer.pool.get("n1").nailed_leg_sid
        rec = await call(st)
        assert rec.disposition == "agent_handled" and rec.agent_nailed
        assert rec.agent_leg_sid == nailed_leg
        names = [n for n, _ in rec.timeline]
        assert "agent_dialled" not in names  # no dialling on escalation
        leg = await sim_get(st, f"/sim/legs/{nailed_leg}")
        assert leg["state"] == "answered"  # the nailed leg outlives the call
        await until(lambda: st.dialer.pool.get("n1").state is AgentState.IDLE)


async def test_nailed_agent_redialled_when_it_drops(transport: str) -> None:
    agent = AgentProfile(answer_ms=100)
    async with stack(transport, agents={AGENT1: agent}) as st:
        st.dialer.add_agent("n1", AGENT1, nailed=True)
        await until(lambda: bool(st.dialer.pool.get("n1").nailed_leg_sid))
        first = st.dialer.pool.get("n1").nailed_leg_sid
        await st.dialer.client.hangup(first)
        await until(lambda: st.dialer.pool.get("n1").nailed_leg_sid not in ("", first))
        assert st.dialer.pool.get("n1").state is AgentState.IDLE


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_agent_first_bridges_nailed_agent(transport: str) -> None:
    cust = customer("wait 1200", "hangup")
    agents = {AGENT1: AgentProfile(answer_ms=100)}
    async with stack(transport, customers={CUSTOMER: cust}, agents=agents,
                     record_bridges=False) as st:
        st.dialer.add_agent("n1", AGENT1, nailed=True)
        await until(lambda: st.dialer.pool.idle_count() > 0)
        rec = await call(st, mode="agent_first", bot="")
        assert rec.disposition == "agent_handled" and not rec.abandoned
        assert rec.latencies["answer_to_stream"] is None  # no bot on agent-first calls


async def test_agent_first_abandoned_when_no_agent_in_time(transport: str) -> None:
    cust = customer("wait 3000", "hangup")
    async with stack(transport, customers={CUSTOMER: cust}, abandon_after=0.5,
                     goodbye_text="Sorry, all agents are busy.") as st:
        rec = await call(st, mode="agent_first", bot="")
        assert rec.abandoned and rec.disposition == "abandoned"
        tl = await sim_get(st, f"/sim/legs/{rec.customer_leg_sid}/timeline")
        assert heard(tl, "play") or heard(tl, "say")  # the hold message was heard


@pytest.mark.parametrize(
    ("outcome", "disposition"),
    [("busy", "busy"), ("failed", "failed"), ("no-answer", "no_answer")],
)
async def test_customer_not_reached(outcome: str, disposition: str, transport: str) -> None:
    customers = {CUSTOMER: customer("hangup", outcome=outcome)}
    async with stack(transport, customers=customers, customer_ring_timeout=1) as st:
        rec = await call(st)
        assert rec.disposition == disposition and not rec.answered


async def test_customer_hangs_up_during_greeting_when_stream_never_starts(transport: str) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # accept, never answer the WebSocket handshake; hold the connection (and the writer:
        # from Python 3.13 a collected StreamWriter closes it) until the client leaves
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cust = customer("wait 400", "hangup")
    try:
        async with stack(transport, customers={CUSTOMER: cust}, stream_start_timeout=3.0) as st:
            st.dialer._stream_url_builder = (
                lambda bot, cid: f"ws://127.0.0.1:{port}/stream/echo?vx_call={cid}"
            )
            rec = await call(st)
            assert rec.disposition == "customer_hangup" and rec.ended_in == "connecting"
            assert "stream_started" not in [n for n, _ in rec.timeline]
    finally:
        server.close()


async def test_stream_failure_retried_once_then_hang_up_with_message(transport: str) -> None:
    cust = customer("wait 8000", "hangup")
    async with stack(transport, customers={CUSTOMER: cust}, stream_fallback="hangup",
                     message_timeout=1.0) as st:
        st.dialer._stream_url_builder = lambda bot, cid: f"ws://127.0.0.1:9/nothing?vx_call={cid}"
        rec = await call(st)
        assert rec.disposition == "stream_failed"
        names = [n for n, _ in rec.timeline]
        assert "stream_requested_2" in names and "stream_failed_2" in names
        tl = await sim_get(st, f"/sim/legs/{rec.customer_leg_sid}/timeline")
        assert heard(tl, "say")  # the goodbye message


async def test_stream_failure_falls_back_to_agent(transport: str) -> None:
    cust = customer("wait 8000", "hangup")
    agent = AgentProfile(answer_ms=200, talk_ms=300)
    async with stack(transport, customers={CUSTOMER: cust}, agents={AGENT1: agent},
                     record_bridges=False) as st:
        st.dialer.add_agent("a1", AGENT1)
        st.dialer._stream_url_builder = lambda bot, cid: f"ws://127.0.0.1:9/nothing?vx_call={cid}"
        rec = await call(st)
        assert rec.escalation_reason == "stream_failed" and rec.disposition == "agent_handled"


async def test_agent_no_answer_next_agent_then_back_to_bot(transport: str) -> None:
    cust = customer("wait 400", "dtmf 0", "wait 7000", "hangup")
    lazy = AgentProfile(no_answer_probability=1.0)
    async with stack(transport, customers={CUSTOMER: cust}, agents={AGENT1: lazy, AGENT2: lazy},
                     agent_ring_timeout=0.6, max_agent_attempts=2) as st:
        st.dialer.add_agent("a1", AGENT1)
        st.dialer.add_agent("a2", AGENT2)
        rec = await call(st)
        assert rec.escalated and not rec.bridged and rec.agent_attempts == 2
        assert rec.disposition == "customer_hangup" and rec.ended_in == "bot"
        assert rec.failure == "no_agent:not_answered (ring_timeout)"
        assert st.dialer.pool.idle_count() == 2
        tl = await sim_get(st, f"/sim/legs/{rec.customer_leg_sid}/timeline")
        assert len(heard(tl, "play")) >= 2  # greeting, hold message
        assert heard(tl, "say")  # then the fallback message, then the bot on a new stream
        names = [n for n, _ in rec.timeline]
        assert names.count("stream_started") == 2
        assert names.index("fallback_completed") < names.index("stream_requested_2")
        assert not tl["overlaps"], tl["overlaps"]


async def test_no_agent_then_callback_fallback(transport: str) -> None:
    cust = customer("wait 400", "dtmf 0", "wait 5000", "hangup")
    async with stack(transport, customers={CUSTOMER: cust}, escalation_fallback="callback",
                     message_timeout=2.0) as st:
        rec = await call(st)
        assert rec.disposition == "callback_scheduled"


async def test_customer_hangs_up_while_agent_rings(transport: str) -> None:
    cust = customer("wait 400", "dtmf 0", "wait 700", "hangup")
    slow = AgentProfile(answer_ms=5000)
    async with stack(transport, customers={CUSTOMER: cust}, agents={AGENT1: slow}) as st:
        st.dialer.add_agent("a1", AGENT1)
        rec = await call(st)
        assert rec.disposition == "customer_hangup" and rec.ended_in == "agent_ringing"
        assert st.dialer.pool.get("a1").state is AgentState.IDLE
        legs = await sim_get(st, "/sim/legs")
        agent_legs = [x for x in _legs(legs) if x.get("contact_uri") == AGENT1]
        assert agent_legs
        assert st.sim is not None
        sim_leg = st.sim.sim.legs[agent_legs[0]["leg_sid"]]
        await until(lambda: sim_leg.state.value == "terminated")
        assert sim_leg.terminal is not None and sim_leg.terminal.value == "canceled"


def _legs(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        for key in ("legs", "items", "data"):
            if isinstance(body.get(key), list):
                return list(body[key])
    return list(body)


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


@pytest.mark.parametrize("control", ["direct", "http"])
async def test_bot_hangup_through_control_hook(control: str, transport: str) -> None:
    cust = customer("wait 6000", "hangup")
    async with stack(transport, control=control, customers={CUSTOMER: cust},
                     adapters={"hangup": HangupBot}) as st:
        rec = await call(st, bot="hangup")
        assert rec.disposition == "bot_completed" and rec.ended_in == "bot", rec
        assert st.dialer.stats.control_requests == 1


async def test_control_request_for_unknown_call_is_refused(transport: str) -> None:
    async with stack(transport, control="http") as st:
        assert st.control_api is not None
        body = {"kind": "transfer", "call_sid": "nope", "stream_sid": "MZ", "reason": "x"}
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


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_duplicated_and_reordered_events_still_give_one_clean_call(transport: str) -> None:
    cust = customer("wait 400", "dtmf 0", "wait 6000", "hangup")
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


async def test_answering_machine_detected_and_hung_up(transport: str) -> None:
    machine = CustomerProfile(outcome="machine", ring_ms=(200, 200), amd_ms=300)
    async with stack(transport, customers={CUSTOMER: machine}) as st:
        rec = await call(st, amd=True)
        assert rec.machine and rec.disposition == "machine" and rec.answered


async def test_exotel_rejects_the_number(transport: str) -> None:
    async with stack(transport) as st:
        rec = await call(st, "not-a-number")
        assert rec.disposition == "failed" and "400" in rec.failure
        assert not rec.customer_leg_sid


async def test_leaving_the_dialer_hangs_up_live_calls(transport: str) -> None:
    cust = customer("wait 20000", "hangup")
    async with stack(transport, customers={CUSTOMER: cust}) as st:
        handle = await st.dialer.place_call(CallRequest(CUSTOMER, bot="echo"))
        await until(lambda: handle.state == "bot")
    assert handle.done
    rec = await handle.wait()
    assert rec.disposition == "shutdown" and rec.ended_in == "bot"


async def test_agent_leg_created_after_the_customer_left_is_hung_up(transport: str) -> None:
    cust = customer("wait 400", "dtmf 0", "wait 50", "hangup")
    sim = SimConfig(rest_latency_ms=400, event_latency_ms=5, setup_ms=50,
                    customers={CUSTOMER: cust}, agents={AGENT1: AgentProfile(answer_ms=3000)})
    gw = GatewayConfig(host="127.0.0.1", port=0, escalation_dtmf="0")
    async with LocalStack(DialerConfig(), sim_config=sim, gateway_config=gw) as st:
        st.dialer.add_agent("a1", AGENT1)
        rec = await call(st)
        assert rec.disposition == "customer_hangup" and rec.ended_in in ("hold", "agent_ringing")
        assert st.sim is not None
        agent_legs = [x for x in st.sim.sim.legs.values() if x.req.contact_uri == AGENT1]
        assert len(agent_legs) == 1
        await until(lambda: agent_legs[0].state.value == "terminated")
        assert st.dialer.pool.get("a1").state is AgentState.IDLE
