"""exotel_sim bridges: audio both ways, events, a real WAV recording, errors on ended bridges."""

from __future__ import annotations

import asyncio
import io
import wave
from typing import Any

import aiohttp
import numpy as np

from exotel_sim.config import AgentProfile, CustomerProfile, parse_script
from exotel_sim.server import SimServer
from exotel_sim.testing import (
    HttpEventSink,
    SimClient,
    fast_config,
    wait_leg_state,
    wait_timeline,
)

CUSTOMER = "+919000000011"
AGENT = "+919900000001"


def rms_between(pcm: np.ndarray, start_ms: int, end_ms: int) -> float:
    part = pcm[start_ms * 8: end_ms * 8].astype(np.float64)
    return float(np.sqrt((part ** 2).mean())) if len(part) else 0.0


async def speech_of(client: SimClient, sid: str, n: int) -> list[dict[str, Any]]:
    timeline = await wait_timeline(client, sid, lambda t: len(t["speech"]) >= n)
    speech: list[dict[str, Any]] = timeline["speech"]
    return speech


async def test_bridge_carries_audio_both_ways_and_records_it() -> None:
    customer = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0,
                               scripts=((),), bridge_script=parse_script(["pause 300",
                                                                          "say cust_no"]))
    agent = AgentProfile(answer_ms=100, greet_after_ms=200, greeting_clip="cust_hello")
    config = fast_config(customers={CUSTOMER: customer}, agents={AGENT: agent})
    async with SimServer(config) as server, HttpEventSink() as legs_sink, \
            HttpEventSink() as bridge_sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        cust = await client.create_leg(CUSTOMER, legs_sink.url)
        await wait_leg_state(client, cust, "answered")
        agent_sid = await client.create_leg(AGENT, legs_sink.url, reference_leg_sid=cust)
        await wait_leg_state(client, agent_sid, "answered")
        status, body = await client.call("POST", "/bridges", {
            "leg_sids": [cust, agent_sid], "bridge_event_endpoint": bridge_sink.url})
        assert status == 202
        bridge = body["response"]["data"]
        bsid = bridge["bridge_sid"]
        assert bridge["leg_sids"] == [cust, agent_sid] and bridge["state"] == "active"
        status, _ = await client.call("POST", f"/bridges/{bsid}/actions", {
            "exoml": "<Flow><StartRecording/></Flow>", "action_custom_param": "rec1"})
        assert status == 202
        said = await speech_of(client, cust, 1)  # the customer answered the agent
        now_ms = (await client.inspect("/stats"))["now_ms"]
        await asyncio.sleep(max(0, said[0]["end_ms"] - now_ms) / 1000 + 0.1)  # let it finish
        status, _ = await client.call("POST", f"/bridges/{bsid}/actions/stop_recording")
        assert status == 202
        available = await bridge_sink.wait_for(lambda e: e.name == "recording_available")
        url = available.payload["event_data"]["url"]
        assert available.payload["action_custom_parameter"] == "rec1"
        assert available.payload["data"]["bridge_sid"] == bsid
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 200 and resp.content_type == "audio/wav"
            wav_data = await resp.read()
        with wave.open(io.BytesIO(wav_data)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        duration_ms = len(pcm) // 8
        assert abs(duration_ms - available.payload["event_data"]["duration_ms"]) <= 1

        cust_tl = await client.inspect(f"/legs/{cust}/timeline")
        agent_tl = await client.inspect(f"/legs/{agent_sid}/timeline")
        from_agent = [i for i in cust_tl["heard"] if i["source"] == "bridge"]
        from_cust = [i for i in agent_tl["heard"] if i["source"] == "bridge"]
        assert [i["detail"] for i in from_agent] == [f"{agent_sid}:cust_hello"]
        assert [i["detail"] for i in from_cust] == [f"{cust}:cust_no"]
        # Exact: each side hears the other's words exactly when they are said.
        agent_said = agent_tl["speech"][0]
        assert (from_agent[0]["start_ms"], from_agent[0]["end_ms"]) == (
            agent_said["start_ms"], agent_said["end_ms"])
        assert (from_cust[0]["start_ms"], from_cust[0]["end_ms"]) == (
            said[0]["start_ms"], said[0]["end_ms"])
        assert said[0]["start_ms"] == agent_said["end_ms"] + 300  # the scripted pause
        # The recording holds both voices where they spoke, and silence before the agent.
        rec_start = cust_tl["bridges"][0]["start_ms"]
        a0, a1 = agent_said["start_ms"] - rec_start, agent_said["end_ms"] - rec_start
        c0, c1 = said[0]["start_ms"] - rec_start, said[0]["end_ms"] - rec_start
        # silence (below 30, far from speech's 300: a loaded machine may shift the onset a frame)
        assert rms_between(pcm, 0, a0 - 20) < 30
        assert rms_between(pcm, a0, a1) > 300
        assert rms_between(pcm, c0, min(c1, duration_ms)) > 300

        status, _ = await client.call("POST", f"/bridges/{bsid}/actions/stop")
        assert status == 202
        await bridge_sink.wait_for(lambda e: e.name == "bridge_terminal")
        names = bridge_sink.names()
        assert names[:3] == ["bridge_created", "leg_joined_bridge", "leg_joined_bridge"]
        assert names[-3:] == ["leg_left_bridge", "leg_left_bridge", "bridge_terminal"]
        assert "recording_started" in names and "recording_stopped" in names
        joined = [e for e in bridge_sink.events if e.name == "leg_joined_bridge"]
        assert {e.payload["data"]["leg_sid"] for e in joined} == {cust, agent_sid}
        assert all(e.payload["data"]["leg_sids"] == [cust, agent_sid] for e in joined)
        assert all(e.payload["event_type"] == "bridge_lifecycle_event" for e in joined)
        status, body = await client.call("GET", f"/bridges/{bsid}")
        assert status == 200 and body["response"]["data"]["state"] == "terminated"
        assert body["response"]["data"]["recordings"][0]["url"] == url
        status, _ = await client.call("POST", f"/bridges/{bsid}/actions/start_recording")
        assert status == 409
        # Both legs are still up after the bridge ends.
        await wait_leg_state(client, cust, "answered")
        await wait_leg_state(client, agent_sid, "answered")


async def test_hangup_in_a_bridge_ends_the_bridge() -> None:
    config = fast_config(agents={AGENT: AgentProfile(answer_ms=50, talk_ms=300,
                                                     greeting_clip="dtmf_1")})
    async with SimServer(config) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        cust = await client.create_leg(CUSTOMER, sink.url)
        agent_sid = await client.create_leg(AGENT, sink.url)
        await wait_leg_state(client, cust, "answered")
        await wait_leg_state(client, agent_sid, "answered")
        status, body = await client.call("POST", "/bridges", {"leg_sids": [cust, agent_sid]})
        assert status == 202
        bsid = body["response"]["data"]["bridge_sid"]
        status, body = await client.call("POST", "/bridges", {"leg_sids": [cust, agent_sid]})
        assert status == 409 and "already in bridge" in body["response"]["error_data"]["message"]
        # The agent hangs up after talk_ms; the bridge ends, the customer stays.
        ended = await wait_leg_state(client, agent_sid, "terminated")
        assert ended["termination_reason"] == "agent_hangup"
        await sink.wait_for(lambda e: e.name == "bridge_terminal")
        assert (await client.call("GET", f"/bridges/{bsid}"))[1]["response"]["data"][
            "state"] == "terminated"
        assert (await wait_leg_state(client, cust, "answered"))["bridge_status"] == "none"
