"""exotel_sim against voxgate's gateway (echo adapter): audio round-trips in both media formats."""

from __future__ import annotations

from pathlib import Path

import pytest

import audio_fixtures
from exotel_sim.config import CustomerProfile
from exotel_sim.server import SimServer
from exotel_sim.testing import HttpEventSink, SimClient, fast_config, wait_leg_state
from gateway.config import GatewayConfig
from gateway.server import GatewayServer

CUSTOMER = "+919000000007"


@pytest.mark.parametrize(
    ("content_type", "query"),
    [
        ("audio/x-mulaw;rate=8000", {}),
        ("audio/x-raw;rate=8000", {}),
        ("audio/x-raw", {"sample-rate": 16000}),
    ],
)
async def test_echo_round_trip(content_type: str, query: dict[str, int]) -> None:
    profile = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0).with_script(
        "wait 200", "say cust_hello", "wait 1500", "hangup")
    config = fast_config(customers={CUSTOMER: profile})
    async with SimServer(config) as sim, HttpEventSink() as sink, \
            GatewayServer(GatewayConfig(port=0)) as gw, \
            SimClient(sim.api_base, sim.api_key, sim.api_token) as client:
        sid = await client.create_leg(CUSTOMER, sink.url)
        await wait_leg_state(client, sid, "answered")
        url = gw.stream_url("echo", vx_call="c1", **query)
        status, _ = await client.action(sid, "start_stream",
                                        {"url": url, "content_type": content_type})
        assert status == 202
        await sink.wait_for(lambda e: e.name == "stream_started")
        await sink.wait_for(lambda e: e.name == "leg_terminated", wait_s=15)
        await sink.wait_for(lambda e: e.name == "stream_stopped")
        detail = await client.inspect(f"/legs/{sid}")
        stream = detail["streams"][0]
        assert stream["stop_reason"] == "callended" and stream["bad_messages"] == 0
        assert stream["short_chunks"] == 0  # the gateway keeps Exotel's chunk rules
        assert stream["bot_chunks"] > 0
        # The echo returns what it got: as much audio came back as the customer's line carried
        # while the bot was answering (all but the last moments before the hang-up).
        assert stream["bot_ms"] >= stream["sent_chunks"] * (20 if "mulaw" in content_type
                                                            else 100) // 2
        timeline = await client.inspect(f"/legs/{sid}/timeline")
        speech = timeline["speech"][0]
        heard = [i for i in timeline["heard"] if i["source"] == "stream"]
        assert heard, "the customer heard its own words echoed by the bot"
        assert heard[0]["start_ms"] > speech["start_ms"]
        heard_ms = sum(i["end_ms"] - i["start_ms"] for i in heard)
        clip_ms = audio_fixtures.load("cust_hello").duration_ms
        assert clip_ms // 3 <= heard_ms <= clip_ms + 200
        assert gw.metrics.frames_in > 0


async def test_dynamic_url_resolves_through_the_gateway() -> None:
    """``start_stream`` with an http(s) URL: the emulator GETs ``{"url": "ws..."}`` first."""
    profile = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0).with_script(
        "wait 200", "say cust_hello", "wait 1000", "hangup")
    config = fast_config(customers={CUSTOMER: profile})
    async with SimServer(config) as sim, HttpEventSink() as sink, \
            GatewayServer(GatewayConfig(port=0)) as gw, \
            SimClient(sim.api_base, sim.api_key, sim.api_token) as client:
        sid = await client.create_leg(CUSTOMER, sink.url)
        await wait_leg_state(client, sid, "answered")
        url = f"http://127.0.0.1:{gw.port}/url/echo?vx_call=c7&sample-rate=16000"
        status, _ = await client.action(sid, "start_stream",
                                        {"url": url, "content_type": "audio/x-raw"})
        assert status == 202
        started = await sink.wait_for(lambda e: e.name == "stream_started")
        assert started.payload["event_data"]["url"].startswith(f"{gw.base_url}/stream/echo?")
        await sink.wait_for(lambda e: e.name == "leg_terminated", wait_s=15)
        stream = (await client.inspect(f"/legs/{sid}"))["streams"][0]
        assert (stream["encoding"], stream["sample_rate"]) == ("pcm16", 16000)
        assert stream["bot_chunks"] > 0 and stream["bad_messages"] == 0
        # A dynamic URL that answers no url fails the stream, not the call.
        sid2 = await client.create_leg(CUSTOMER, sink.url)
        await wait_leg_state(client, sid2, "answered")
        await client.action(sid2, "start_stream", {"url": f"{sim.base_url}/sim/stats"})
        failed = await sink.wait_for(lambda e: e.name == "stream_stopped"
                                     and e.payload["data"]["leg_sid"] == sid2)
        assert failed.payload["event_data"]["status"] == "failed"
        assert "no url" in failed.payload["event_data"]["reason"]


TLS = Path(__file__).resolve().parent / "tls"  # the gateway tests' self-signed certificate


@pytest.mark.parametrize("verify", [False, True])
async def test_wss_and_https_to_a_self_signed_gateway(verify: bool) -> None:
    config = fast_config(tls_verify=verify)
    gw_config = GatewayConfig(port=0, ssl_certfile=str(TLS / "localhost-cert.pem"),
                              ssl_keyfile=str(TLS / "localhost-key.pem"))
    async with SimServer(config) as sim, HttpEventSink() as sink, \
            GatewayServer(gw_config) as gw, \
            SimClient(sim.api_base, sim.api_key, sim.api_token) as client:
        sid = await client.create_leg(CUSTOMER, sink.url)
        await wait_leg_state(client, sid, "answered")
        await client.action(sid, "start_stream",
                            {"url": f"https://127.0.0.1:{gw.port}/url/echo?vx_call=c8"})
        event = await sink.wait_for(lambda e: e.name in ("stream_started", "stream_stopped"))
        if verify:  # Exotel checks certificates: a self-signed one fails the stream
            assert event.name == "stream_stopped"
            assert event.payload["event_data"]["status"] == "failed"
        else:
            assert event.name == "stream_started"
            assert event.payload["event_data"]["url"].startswith("wss://127.0.0.1:")
            await client.action(sid, "hangup")
            await sink.wait_for(lambda e: e.name == "stream_stopped")
