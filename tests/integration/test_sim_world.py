"""exotel_sim's simulated world: exact timelines for scripted calls, outcomes, AMD, patience,
time limits and seeded reproducibility."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import audio_fixtures
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig
from exotel_sim.server import SimServer
from exotel_sim.testing import (
    BotCall,
    FakeBotServer,
    HttpEventSink,
    ReceivedEvent,
    SimClient,
    fast_config,
    tone,
    wait_leg_state,
    wait_timeline,
)
from exotel_sim.timeline import Interval, overlaps

CUSTOMER = "+919000000021"


def intervals(timeline: dict[str, Any], source: str) -> list[Interval]:
    return [Interval(i["source"], i["detail"], i["start_ms"], i["end_ms"])
            for i in timeline["heard"] if i["source"] == source]


async def test_bot_first_call_timeline_is_exact() -> None:
    """Greeting, then the bot, then the customer's reply after its scripted pause: no overlap
    between greeting and bot, and every edge where the script puts it, to the millisecond."""
    go = asyncio.Event()

    async def bot(call: BotCall) -> None:
        await go.wait()
        await call.send_mulaw(tone(1000))

    profile = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0).with_script(
        "pause 400", "say cust_yes", "hangup")
    config = fast_config(customers={CUSTOMER: profile})
    async with SimServer(config) as server, HttpEventSink() as sink, FakeBotServer(bot) as bots, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg(CUSTOMER, sink.url)
        await sink.wait_for(lambda e: e.name == "leg_answered")
        await asyncio.gather(  # the dialer's move: greeting and stream at once
            client.action(sid, "start_say", {"text": "greeting"}),
            client.action(sid, "start_stream", {"url": bots.url()}))
        await sink.wait_for(lambda e: e.name == "stream_started")
        await client.action(sid, "stop_say")
        go.set()
        await sink.wait_for(lambda e: e.name == "leg_terminated", wait_s=15)
        timeline = await client.inspect(f"/legs/{sid}/timeline")
        greeting = intervals(timeline, "say")
        stream = intervals(timeline, "stream")
        assert len(greeting) == 1 and len(stream) == 1
        assert greeting[0].start_ms >= timeline["answered_ms"]
        assert greeting[0].end_ms - greeting[0].start_ms < \
            audio_fixtures.load("greeting").duration_ms  # cut by stop_say
        assert overlaps(greeting, stream) == []
        assert timeline["overlaps"] == []
        pause = {"start_ms": stream[0].end_ms, "end_ms": stream[0].end_ms + 400}
        assert pause in timeline["silences"]  # the customer's scripted pause is dead air
        assert stream[0].end_ms - stream[0].start_ms == 1000
        speech = timeline["speech"]
        assert [s["detail"] for s in speech] == ["cust_yes"]
        assert speech[0]["start_ms"] == stream[0].end_ms + 400
        clip_ms = len(audio_fixtures.load("cust_yes").pcm) / 16
        assert abs(speech[0]["end_ms"] - speech[0]["start_ms"] - clip_ms) <= 1
        assert timeline["ended_ms"] >= speech[0]["end_ms"]
        leg = await client.inspect(f"/legs/{sid}")
        assert leg["termination_reason"] == "customer_hangup"
        assert leg["profile"]["scripts"] == [["pause 400", "say cust_yes", "hangup"]]
        assert [h["what"] for h in leg["history"]][-1] == "event leg_terminated"
        assert leg["streams"][0]["started_ms"] <= stream[0].start_ms


async def test_barge_in_lands_exactly_after_n_ms_of_bot_audio() -> None:
    async def bot(call: BotCall) -> None:
        await call.send_mulaw(tone(2000))

    profile = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0).with_script(
        "barge 300 cust_no")
    async with SimServer(fast_config(customers={CUSTOMER: profile})) as server, \
            HttpEventSink() as sink, FakeBotServer(bot) as bots, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg(CUSTOMER, sink.url)
        await wait_leg_state(client, sid, "answered")
        await client.action(sid, "start_stream", {"url": bots.url()})
        timeline = await wait_timeline(client, sid, lambda t: bool(t["speech"]))
        stream = intervals(timeline, "stream")
        assert timeline["speech"][0]["detail"] == "cust_no"
        assert timeline["speech"][0]["start_ms"] == stream[0].start_ms + 300


@pytest.mark.parametrize(
    ("outcome", "status", "names"),
    [
        ("busy", "busy", ["leg_connecting", "leg_terminated"]),
        ("failed", "failed", ["leg_connecting", "leg_terminated"]),
        ("no-answer", "no-answer", ["leg_connecting", "leg_ringing", "leg_terminated"]),
    ],
)
async def test_unanswered_outcomes(outcome: str, status: str, names: list[str]) -> None:
    config = fast_config(customers={CUSTOMER: CustomerProfile(outcome=outcome)})  # type: ignore[arg-type]
    async with SimServer(config) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg(CUSTOMER, sink.url, ring_timeout=1)
        leg = await wait_leg_state(client, sid, "terminated")
        assert leg["terminal_status"] == status and leg["duration"] == 0
        await sink.wait_for(lambda e: e.name == "leg_terminated")
        assert sink.names(sid) == names
        ended = sink.events[-1].payload
        assert ended["event_data"]["terminal_status"] == status


async def test_answering_machine_detection() -> None:
    machine = CustomerProfile(outcome="machine", ring_ms=(50, 50), amd_ms=200)
    human = CustomerProfile(outcome="answer", ring_ms=(50, 50), amd_ms=200, patience_ms=0,
                            scripts=((),))
    config = fast_config(customers={"+919000000031": machine, "+919000000032": human})
    async with SimServer(config) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        m = await client.create_leg("+919000000031", sink.url, amd_enable=True)
        h = await client.create_leg("+919000000032", sink.url, amd_enable=True)
        results = {}
        for sid in (m, h):
            def amd_of(event: ReceivedEvent, leg_sid: str = sid) -> bool:
                return bool(event.name == "amd_result_success"
                            and event.payload["data"]["leg_sid"] == leg_sid)
            results[sid] = (await sink.wait_for(amd_of)).payload["event_data"]["amd_result"]
        assert results == {m: "machine", h: "human"}
        timeline = await client.inspect(f"/legs/{m}/timeline")
        assert timeline["speech"][0]["detail"] == "cust_hello"  # the voicemail greeting


async def test_patience_and_hold_patience_hang_up() -> None:
    silent = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=500, scripts=((),))
    held = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0,
                           hold_patience_ms=700, scripts=((),))
    config = fast_config(customers={"+919000000041": silent, "+919000000042": held})
    async with SimServer(config) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        a = await client.create_leg("+919000000041", sink.url)
        b = await client.create_leg("+919000000042", sink.url)
        await wait_leg_state(client, b, "answered")
        await client.action(b, "start_play", {"url": server.audio_url("hold_music"),
                                              "loop": 5})
        leg_a = await wait_leg_state(client, a, "terminated")
        leg_b = await wait_leg_state(client, b, "terminated")
        assert leg_a["termination_reason"] == "customer_hangup_silence"
        assert leg_b["termination_reason"] == "customer_hangup_hold"
        heard = (await client.inspect(f"/legs/{b}/timeline"))["heard"]
        assert heard[0]["detail"] == "hold_music"
        assert heard[0]["end_ms"] == (await client.inspect(f"/legs/{b}"))["ended_ms"]


async def test_agent_is_busy_on_a_call_and_during_wrap_up() -> None:
    agent = "+919900000005"
    config = fast_config(agents={agent: AgentProfile(answer_ms=50, wrap_ms=400)})
    async with SimServer(config) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        first = await client.create_leg(agent, sink.url)
        await wait_leg_state(client, first, "answered")
        again = await client.create_leg(agent, sink.url)
        assert (await wait_leg_state(client, again, "terminated"))["terminal_status"] == "busy"
        await client.action(first, "hangup")
        await wait_leg_state(client, first, "terminated")
        wrapping = await client.create_leg(agent, sink.url)  # within wrap_ms of the hang-up
        assert (await wait_leg_state(client, wrapping, "terminated"))["terminal_status"] == \
            "busy"
        await asyncio.sleep(0.5)
        free = await client.create_leg(agent, sink.url)
        await wait_leg_state(client, free, "answered")


async def test_time_limit_ends_the_call() -> None:
    async with SimServer(fast_config()) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg(CUSTOMER, sink.url, time_limit=1)
        leg = await wait_leg_state(client, sid, "terminated")
        assert leg["termination_reason"] == "time_limit" and leg["duration"] == 1


async def _outcomes(seed: int) -> list[tuple[str, str, int]]:
    profile = CustomerProfile(answer_probability=0.5, ring_ms=(10, 90), machine_probability=0.3,
                              scripts=((), ()), patience_ms=0)
    config = SimConfig(seed=seed, rest_latency_ms=0, event_latency_ms=0, setup_ms=0,
                       default_customer=profile)
    async with SimServer(config) as server, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sids = [await client.create_leg(f"+91900000{n:04d}", "http://127.0.0.1:9/x",
                                        ring_timeout=1) for n in range(16)]
        await asyncio.sleep(0.05)
        out = []
        for sid in sids:
            leg = await client.inspect(f"/legs/{sid}")
            out.append((sid, leg["outcome"], leg["script_choice"]))
        return out


@pytest.mark.slow(15)
async def test_a_fixed_seed_reproduces_the_world() -> None:
    first, again, other = await _outcomes(5), await _outcomes(5), await _outcomes(6)
    assert first == again
    assert first != other
    kinds = {o for _, o, _ in first}
    assert "answer" in kinds and kinds - {"answer"}  # a mix of outcomes, not one
