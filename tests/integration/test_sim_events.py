"""exotel_sim event delivery over real sockets: HTTPS JSON and gRPC, retries, duplicates, order."""

from __future__ import annotations

import base64

from exotel_sim.config import CustomerProfile
from exotel_sim.server import SimServer
from exotel_sim.testing import (
    FakeBotServer,
    GrpcEventSink,
    HttpEventSink,
    SimClient,
    fast_config,
    wait_leg_state,
)

LIFECYCLE = ["leg_connecting", "leg_ringing", "leg_answered", "leg_terminated"]
PAYLOAD_KEYS = {"event_sid", "event_type", "event_name", "event_timestamp", "action_sid",
                "action_custom_parameter", "event_data", "data"}
DATA_KEYS = {"leg_sid", "account_sid", "contact_uri", "exophone", "state", "start_time",
             "end_time", "date_created", "date_updated"}  # what Exotel documents, no more


async def _answered_call_with_stream(client: SimClient, sink_url: str, bot: FakeBotServer) -> str:
    sid = await client.create_leg("+919000000001", sink_url, custom_param="vx_call=42")
    await wait_leg_state(client, sid, "answered")
    await client.action(sid, "start_stream", {"url": bot.url(), "action_custom_param": "s1"})
    await bot.wait_call()
    return sid


async def test_https_events_payload_headers_and_order() -> None:
    config = fast_config(event_auth=("hook", "secret"))
    async with SimServer(config) as server, HttpEventSink() as sink, FakeBotServer() as bot, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await _answered_call_with_stream(client, sink.url, bot)
        started = await sink.wait_for(lambda e: e.name == "stream_started")
        await client.action(sid, "start_say", {"text": "greeting"})  # no action_custom_param
        await client.action(sid, "stop_say")
        await sink.wait_for(lambda e: e.name == "say_completed")
        await client.action(sid, "hangup")
        await sink.wait_for(lambda e: e.name == "leg_terminated")
        await sink.wait_for(lambda e: e.name == "stream_stopped")
        names = sink.names(sid)
        assert [n for n in names if n in LIFECYCLE] == LIFECYCLE
        assert names.index("stream_started") > names.index("leg_answered")
        assert names.index("stream_stopped") < names.index("leg_terminated")
        for event in sink.events:
            assert set(event.payload) == PAYLOAD_KEYS
            assert set(event.payload["data"]) == DATA_KEYS
            assert event.headers["User-Agent"].startswith("Exotel-Hermix/")
            assert event.headers["X-Exotel-Event-Sid"] == event.payload["event_sid"]
            assert event.headers["X-Exotel-Request-Id"] == event.payload["event_sid"] + "-1"
            assert event.headers["Authorization"] == "Basic " + base64.b64encode(
                b"hook:secret").decode()
        assert started.payload["event_type"] == "leg_action_event"
        assert started.payload["action_custom_parameter"] == "s1"
        said = next(e for e in sink.events if e.name == "say_completed")
        assert said.payload["action_custom_parameter"] == ""  # none given, none reported
        assert started.payload["event_data"]["stream_sid"] == bot.calls[0].stream_sid
        answered = next(e for e in sink.events if e.name == "leg_answered")
        assert answered.payload["event_type"] == "leg_lifecycle_event"
        assert answered.payload["data"]["state"] == "answered"
        ended = next(e for e in sink.events if e.name == "leg_terminated")
        assert ended.payload["data"]["state"] == "terminated"
        assert ended.payload["event_data"]["terminal_status"] == "completed"
        assert ended.payload["event_data"]["termination_reason"] == "api_hangup"


async def test_grpc_events_carry_the_same_payload() -> None:
    async with SimServer(fast_config()) as server, GrpcEventSink() as sink, \
            FakeBotServer() as bot, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await _answered_call_with_stream(client, sink.url, bot)
        await sink.wait_for(lambda e: e.name == "stream_started")
        await client.action(sid, "hangup")
        await sink.wait_for(lambda e: e.name == "leg_terminated")
        assert [n for n in sink.names(sid) if n in LIFECYCLE] == LIFECYCLE
        for event in sink.events:
            assert set(event.payload) >= PAYLOAD_KEYS
            assert event.payload["data"]["leg_sid"] == sid
            assert event.headers["x-exotel-event-sid"] == event.payload["event_sid"]
            assert event.headers["x-exotel-request-id"].endswith("-1")
        records = await client.settled_events(f"leg_sid={sid}")
        assert records and all(r["outcome"] == "delivered" for r in records)
        assert all(r["attempts"][0]["status"] == "grpc OK" for r in records)


async def test_retries_then_delivered_makes_attempts_visible() -> None:
    async with SimServer(fast_config()) as server, HttpEventSink(fail_first=2) as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg("+919000000001", sink.url)
        answered = await sink.wait_for(lambda e: e.name == "leg_answered")
        assert answered.headers["X-Exotel-Request-Id"].endswith("-3")
        assert sink.attempts[answered.payload["event_sid"]] == 3
        records = (await client.inspect(f"/events?leg_sid={sid}&name=leg_answered"))["events"]
        assert [a["status"] for a in records[0]["attempts"]] == ["503", "503", "200"]
        assert records[0]["outcome"] == "delivered"


async def test_gives_up_after_three_attempts_and_moves_on() -> None:
    async with SimServer(fast_config()) as server, HttpEventSink(fail_first=5) as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg("+919000000001", sink.url)
        await wait_leg_state(client, sid, "answered")
        await client.action(sid, "hangup")
        await wait_leg_state(client, sid, "terminated")
        records = await client.settled_events(f"leg_sid={sid}")
        assert [r["event_name"] for r in records] == LIFECYCLE
        assert all(r["outcome"] == "failed" and len(r["attempts"]) == 3 for r in records)
        assert sink.events == []
        assert all(n == 3 for n in sink.attempts.values())


async def test_unreachable_endpoint_is_retried_and_recorded() -> None:
    async with SimServer(fast_config()) as server, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg("+919000000001", "http://127.0.0.1:9/nothing")
        await wait_leg_state(client, sid, "answered")
        records = await client.settled_events(f"leg_sid={sid}&name=leg_connecting")
        attempts = records[0]["attempts"]
        assert len(attempts) == 3 and attempts[0]["status"].startswith("error")


async def test_slow_acknowledgement_is_retried_so_the_event_arrives_twice() -> None:
    async with SimServer(fast_config()) as server, HttpEventSink(slow_first_s=1.3) as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg("+919000000001", sink.url)
        await sink.wait_for(lambda e: e.name == "leg_connecting"
                            and e.headers["X-Exotel-Request-Id"].endswith("-2"))
        copies = [e for e in sink.events if e.name == "leg_connecting"]
        assert len(copies) == 2 and copies[0].payload == copies[1].payload
        records = await client.settled_events(f"leg_sid={sid}&name=leg_connecting")
        assert [a["status"] for a in records[0]["attempts"]] == ["timeout", "200"]


async def test_duplicate_switch_delivers_every_event_twice() -> None:
    async with SimServer(fast_config(duplicate_probability=1.0)) as server, \
            HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg("+919000000001", sink.url)
        await wait_leg_state(client, sid, "answered")
        await sink.wait_for(lambda e: e.name == "leg_answered"
                            and e.headers["X-Exotel-Request-Id"].endswith("-2"))
        answered = [e for e in sink.events if e.name == "leg_answered"]
        assert len(answered) == 2
        assert answered[0].payload == answered[1].payload  # same event_sid, same body
        assert [e.headers["X-Exotel-Request-Id"][-2:] for e in answered] == ["-1", "-2"]


async def test_reorder_switch_swaps_events_within_a_leg() -> None:
    profile = CustomerProfile(outcome="busy")
    config = fast_config(reorder=True, event_latency_ms=50, setup_ms=0,
                         customers={"+919000000002": profile})
    async with SimServer(config) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg("+919000000002", sink.url)
        await sink.wait_for(lambda e: e.name == "leg_connecting")
        await sink.wait_for(lambda e: e.name == "leg_terminated")
        assert sink.names(sid) == ["leg_terminated", "leg_connecting"]
