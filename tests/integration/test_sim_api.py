"""exotel_sim REST API over real sockets: every endpoint's happy path and its error statuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from exotel_sim.config import CustomerProfile, SimConfig
from exotel_sim.server import SimServer
from exotel_sim.testing import FakeBotServer, HttpEventSink, SimClient, fast_config, wait_leg_state

SLOW = "+919000000009"  # rings for a long time


@pytest.fixture
async def world() -> AsyncIterator[tuple[SimServer, SimClient, HttpEventSink]]:
    config = fast_config(customers={SLOW: CustomerProfile(outcome="answer", ring_ms=(20_000,
                                                                                      20_000))})
    async with SimServer(config) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        yield server, client, sink


def data(body: dict[str, Any]) -> Any:
    return body["response"]["data"]


def error(body: dict[str, Any]) -> dict[str, Any]:
    err: dict[str, Any] = body["response"]["error_data"]
    assert body["response"]["data"] is None
    return err


async def test_leg_create_get_update_list_and_hangup(world: Any) -> None:
    _server, client, sink = world
    status, body = await client.call("POST", "/legs", {
        "contact_uri": "+919000000001", "exophone": "+918000000000",
        "leg_event_endpoint": sink.url, "custom_param": "vx_call=7"})
    assert status == 202 and body["http_code"] == 202 and body["method"] == "POST"
    assert body["request_id"]
    created = data(body)
    assert set(created) >= {"leg_sid", "created_at", "account_sid", "contact_uri",
                            "network_type", "exophone"}
    assert (created["account_sid"], created["network_type"]) == ("ACsim", "pstn")
    sid = created["leg_sid"]
    leg = await wait_leg_state(client, sid, "answered")
    assert leg["contact_uri"] == "+919000000001" and leg["direction"] == "outbound"
    assert leg["terminal_status"] is None
    status, body = await client.call("PUT", f"/legs/{sid}", {"custom_param": "vx_call=8"})
    assert status == 202 and data(body)["custom_param"] == "vx_call=8"
    status, body = await client.call("GET", "/legs")  # Exotel documents no list of legs
    assert status == 404 and "list_legs" in error(body)["message"]
    status, body = await client.action(sid, "hangup")
    assert status == 202 and data(body)["action_sid"]
    leg = await wait_leg_state(client, sid, "terminated")
    assert (leg["terminal_status"], leg["termination_reason"]) == ("completed", "api_hangup")
    ended = await sink.wait_for(lambda e: e.name == "leg_terminated")
    assert set(ended.payload["data"]) == {  # only what Exotel documents (docs/exotel.md section 3)
        "leg_sid", "account_sid", "contact_uri", "exophone", "state", "start_time", "end_time",
        "date_created", "date_updated"}


async def test_lenient_options_list_legs_and_put_custom_param_in_events() -> None:
    config = fast_config(list_legs=True, event_custom_param=True)
    async with SimServer(config) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg("+919000000001", sink.url, custom_param="vx_call=7")
        await wait_leg_state(client, sid, "answered")
        status, body = await client.call("PUT", f"/legs/{sid}", {"custom_param": "vx_call=8"})
        assert status == 202 and data(body)["custom_param"] == "vx_call=8"
        status, body = await client.call("GET", "/legs")
        assert status == 200 and sid in [x["leg_sid"] for x in data(body)["legs"]]
        status, body = await client.call("GET", "/legs?custom_param=vx_call%3D8")
        assert [x["leg_sid"] for x in data(body)["legs"]] == [sid]
        status, body = await client.call("GET", "/legs?contact_uri=%2B910000")
        assert data(body)["legs"] == []
        await client.action(sid, "hangup")
        ended = await sink.wait_for(lambda e: e.name == "leg_terminated")
        assert ended.payload["data"]["custom_param"] == "vx_call=8"


async def test_auth_and_account_errors(world: Any) -> None:
    server, _client, _ = world
    async with aiohttp.ClientSession() as anon:
        async with anon.get(f"{server.api_base}/legs/x") as resp:
            assert resp.status == 401
            assert error(await resp.json())["code"] == 401
    async with aiohttp.ClientSession(
            headers={"Authorization": aiohttp.encode_basic_auth("sim_key", "wrong")}) as bad:
        async with bad.get(f"{server.api_base}/legs/x") as resp:
            assert resp.status == 401
    other = SimClient(f"{server.base_url}/v2/accounts/ACother", server.api_key,
                      server.api_token)
    async with other:
        status, body = await other.call("GET", "/legs/x")
    assert status == 403 and error(body)["error"] == "forbidden"


async def test_unknown_sids_are_404(world: Any) -> None:
    _, client, _ = world
    for method, path, body in [
        ("GET", "/legs/nope", None),
        ("PUT", "/legs/nope", {"custom_param": "x"}),
        ("POST", "/legs/nope/actions/start_say", {"text": "hi"}),
        ("POST", "/legs/nope/actions", {"exoml": "<Flow><Hangup/></Flow>"}),
        ("GET", "/bridges/nope", None),
        ("POST", "/bridges/nope/actions/stop", None),
        ("POST", "/bridges", {"leg_sids": ["nope1", "nope2"]}),
    ]:
        status, reply = await client.call(method, path, body)
        assert status == 404, (method, path)
        assert error(reply)["code"] == 404


async def test_bad_bodies_are_400_with_the_field(world: Any) -> None:
    _, client, sink = world
    status, body = await client.call("POST", "/legs", raw=b"{not json")
    assert status == 400 and error(body)["field"] == "body"
    status, body = await client.call("POST", "/legs", {
        "contact_uri": 919, "exophone": "+918000000000", "leg_event_endpoint": sink.url})
    assert status == 400 and error(body)["field"] == "contact_uri"
    assert "must be a string" in error(body)["message"]
    sid = await client.create_leg("+919000000001", sink.url)
    await wait_leg_state(client, sid, "answered")
    for name, payload, field in [
        ("start_stream", {"url": "file:///nope"}, "url"),
        ("start_say", {"text": 5}, "text"),
        ("start_play", {"url": "http://h/x.wav", "loop": "twice"}, "loop"),
        ("stop_say", {"surprise": True}, "surprise"),
    ]:
        status, body = await client.action(sid, name, payload)
        assert status == 400 and error(body)["field"] == field, name
    status, body = await client.call("POST", f"/legs/{sid}/actions", {"exoml": "<Flow><Gather/>"
                                                                                "</Flow>"})
    assert status == 400 and error(body)["field"] == "exoml"
    status, body = await client.action(sid, "dance")
    assert status == 404 and error(body)["code"] == 404
    status, body = await client.call("PATCH", f"/legs/{sid}", {})
    assert status == 405 and error(body)["code"] == 405
    status, body = await client.call("POST", "/legs", raw=b"{" + b" " * 300_000 + b"}")
    assert status == 413 and error(body)["code"] == 413


async def test_actions_that_do_not_fit_the_state_are_409(world: Any) -> None:
    _, client, sink = world
    ringing = await client.create_leg(SLOW, sink.url)
    await wait_leg_state(client, ringing, "ringing")
    status, body = await client.action(ringing, "start_say", {"text": "greeting"})
    assert status == 409 and "ringing" in error(body)["message"]
    done = await client.create_leg("+919000000002", sink.url)
    await wait_leg_state(client, done, "answered")
    await client.action(done, "hangup")
    await wait_leg_state(client, done, "terminated")
    live = await client.create_leg("+919000000003", sink.url)
    await wait_leg_state(client, live, "answered")
    status, body = await client.call("POST", "/bridges", {"leg_sids": [live, done]})
    assert status == 409 and "terminated" in error(body)["message"]
    status, _ = await client.action(done, "hangup")
    assert status == 404  # Exotel answers 404 to a hang-up of a leg that has ended
    status, _ = await client.action(ringing, "hangup")
    assert status == 202  # cancelling a ringing leg is fine
    leg = await wait_leg_state(client, ringing, "terminated")
    assert leg["terminal_status"] == "canceled"
    assert (await client.call("GET", f"/legs/{live}"))[1]["response"]["data"]["state"] == \
        "answered"


async def test_say_play_and_exoml_actions(world: Any) -> None:
    server, client, sink = world
    sid = await client.create_leg("+919000000001", sink.url)
    await wait_leg_state(client, sid, "answered")
    status, body = await client.action(sid, "start_say", {"text": "greeting",
                                                          "action_custom_param": "g1"})
    assert status == 202
    say_sid = data(body)["action_sid"]
    assert (await client.action(sid, "stop_say"))[0] == 202
    said = await sink.wait_for(lambda e: e.name == "say_completed")
    assert said.payload["action_sid"] == say_sid
    assert said.payload["action_custom_parameter"] == "g1"
    assert said.payload["event_data"]["status"] == "interrupted"
    status, _ = await client.action(sid, "start_play", {"url": server.audio_url("hold_music")})
    assert status == 202
    started = await sink.wait_for(lambda e: e.name == "play_started")
    assert started.payload["event_data"]["source"] == "hold_music"
    assert (await client.action(sid, "stop_play"))[0] == 202
    await sink.wait_for(lambda e: e.name == "play_interrupted")
    await client.action(sid, "start_play", {"url": server.base_url + "/sim/audio/none.wav"})
    await sink.wait_for(lambda e: e.name == "play_failed_to_start")
    status, body = await client.call("POST", f"/legs/{sid}/actions", {
        "exoml": "<Flow><StartSay>hold_message</StartSay><Hangup/></Flow>"})
    assert status == 202 and data(body)["verbs"] == ["startsay", "hangup"]
    await wait_leg_state(client, sid, "terminated")
    timeline = await client.inspect(f"/legs/{sid}/timeline")
    details = [(i["source"], i["detail"]) for i in timeline["heard"]]
    assert ("say", "greeting") in details and ("play", "hold_music") in details
    assert ("say", "hold_message") in details


async def test_an_exophone_not_on_the_account_is_400() -> None:
    config = SimConfig.from_toml('[account]\nexophones = ["+918047112233"]\n')
    async with SimServer(replace(config, rest_latency_ms=0)) as server, \
            HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        status, body = await client.call("POST", "/legs", {
            "contact_uri": "+919000000001", "exophone": "+918000000000",
            "leg_event_endpoint": sink.url})
        assert status == 400 and error(body)["field"] == "exophone"
        assert "+918047112233" in error(body)["message"]
        assert (await client.inspect("/stats"))["active_legs"] == 0
        status, body = await client.call("POST", "/legs", {
            "contact_uri": "+919000000001", "exophone": "+918047112233",
            "leg_event_endpoint": sink.url})
        assert status == 202, body


async def test_rate_limit_is_429() -> None:
    async with SimServer(fast_config(rate_limit_per_s=0.1, rate_burst=2)) as server, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        codes = [(await client.call("GET", "/legs/x"))[0] for _ in range(3)]
        assert codes == [404, 404, 429]
        stats = await client.inspect("/stats")
        assert stats["counters"]["rate_limited"] == 1


async def test_channel_limit_and_stream_throttle() -> None:
    async with SimServer(fast_config(channel_limit=2, stream_throttle=1)) as server, \
            HttpEventSink() as sink, FakeBotServer() as bot, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        a = await client.create_leg("+919000000001", sink.url)
        b = await client.create_leg("+919000000002", sink.url)
        status, body = await client.call("POST", "/legs", {
            "contact_uri": "+919000000003", "exophone": "+918000000000",
            "leg_event_endpoint": sink.url})
        assert status == 429 and "channel limit" in error(body)["message"]
        await wait_leg_state(client, a, "answered")
        await wait_leg_state(client, b, "answered")
        assert (await client.action(a, "start_stream", {"url": bot.url()}))[0] == 202
        status, body = await client.action(b, "start_stream", {"url": bot.url()})
        assert status == 429 and "throttle" in error(body)["message"]
        status, body = await client.call("POST", "/legs/" + a + "/actions/start_stream",
                                         {"url": bot.url()})
        assert status == 409  # one stream per leg
        async with aiohttp.ClientSession(
                headers={"Authorization": aiohttp.encode_basic_auth("sim_key", "sim_token")}) as s:
            url = f"{server.base_url}/v1/Accounts/ACsim/ActiveStreams"
            async with s.get(url) as resp:
                assert await resp.json() == {"ActiveStreamCount": 1, "ThrottleLimit": 1}
        await client.action(a, "hangup")
        await wait_leg_state(client, a, "terminated")
        c = await client.create_leg("+919000000003", sink.url)  # a channel is free again
        assert c


async def test_bad_requests_do_not_disturb_a_live_call() -> None:
    async with SimServer(fast_config()) as server, HttpEventSink() as sink, \
            FakeBotServer() as bot, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg("+919000000001", sink.url)
        await wait_leg_state(client, sid, "answered")
        await client.action(sid, "start_stream", {"url": bot.url()})
        call = await bot.wait_call()
        await call.wait_for(lambda m: m.get("event") == "media")
        before = len(call.of("media"))
        junk: list[tuple[str, str, Any]] = [
            ("POST", "/legs", {"contact_uri": ["x"]}),
            ("POST", "/legs", None),
            ("POST", f"/legs/{sid}/actions/start_stream", {"url": 7}),
            ("POST", f"/legs/{sid}/actions", {"exoml": "<Flow><Dance/></Flow>"}),
            ("POST", f"/legs/{sid}/actions", {"exoml": "<<<"}),
            ("POST", "/bridges", {"leg_sids": [sid, sid]}),
            ("POST", "/bridges", {"leg_sids": [sid, "ghost"]}),
            ("PUT", f"/legs/{sid}", {"time_limit": -5}),
            ("PUT", f"/legs/{sid}", {}),
        ]
        statuses = [(await client.call(m, p, b))[0] for m, p, b in junk]
        assert statuses == [400, 400, 400, 400, 400, 400, 404, 400, 400]
        await asyncio.sleep(0.3)
        leg = await wait_leg_state(client, sid, "answered")
        assert leg["stream_status"] == "streaming" and leg["bridge_status"] == "none"
        assert len(call.of("media")) > before  # media kept flowing
        stats = await client.inspect("/stats")
        assert stats["task_failures"] == 0 and stats["active_legs"] == 1
