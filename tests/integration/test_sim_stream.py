"""exotel_sim stream client against a scripted bot server: the Exotel stream protocol exactly."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import numpy as np

import audio_fixtures
from exotel_sim.audio import from_wire, to_wire
from exotel_sim.config import CustomerProfile
from exotel_sim.server import SimServer
from exotel_sim.testing import (
    BotCall,
    FakeBotServer,
    HttpEventSink,
    SimClient,
    fast_config,
    tone,
    wait_leg_state,
)

TALKER = "+919000000005"


async def streamed_call(
    on_call: Callable[[BotCall], Awaitable[None]] | None,
    body: dict[str, Any] | None = None,
    profile: CustomerProfile | None = None,
    url_path: str = "/stream",
    stream_after_s: float = 0.0,
) -> tuple[SimServer, SimClient, HttpEventSink, FakeBotServer, str, Any]:
    """Start a sim, a sink and a bot; answer a leg and start its stream (``stream_after_s``
    after the answer). Caller closes ``stack``."""
    stack = AsyncExitStack()
    customers = {TALKER: profile} if profile else {}
    server = await stack.enter_async_context(SimServer(fast_config(customers=customers)))
    sink = await stack.enter_async_context(HttpEventSink())
    bot = await stack.enter_async_context(FakeBotServer(on_call))
    client = await stack.enter_async_context(
        SimClient(server.api_base, server.api_key, server.api_token))
    sid = await client.create_leg(TALKER, sink.url)
    await wait_leg_state(client, sid, "answered")
    await asyncio.sleep(stream_after_s)
    status, reply = await client.action(sid, "start_stream",
                                        {"url": bot.url(url_path), **(body or {})})
    assert status == 202, reply
    return server, client, sink, bot, sid, stack


async def test_handshake_start_and_mulaw_pace() -> None:
    _server, client, sink, bot, sid, stack = await streamed_call(
        None, url_path="/bot?vx_call=c9&lang=hi")
    async with stack:
        first = await bot.wait_call()
        await first.wait_for(lambda m: m.get("event") == "media")
        await client.action(sid, "stop_stream")
        await client.action(sid, "hangup")
        # restart on a fresh leg with credentials in the URL
        sid2 = await client.create_leg(TALKER, sink.url)
        await wait_leg_state(client, sid2, "answered")
        await client.action(sid2, "start_stream",
                            {"url": bot.url("/bot?vx_call=c10", userinfo="KEY:TOKEN")})
        call = await bot.wait_call(2)
        await call.wait_for(lambda m: m.get("event") == "media" and m["media"]["chunk"] == "10")
        assert [m["event"] for m in first.messages[:2]] == ["connected", "start"]
        start = first.start["start"]
        assert start["call_sid"] == sid and start["account_sid"] == "ACsim"
        assert start["custom_parameters"] == {"vx_call": "c9", "lang": "hi"}
        assert start["media_format"]["encoding"] == "audio/x-mulaw"
        assert first.path == "/bot?vx_call=c9&lang=hi"
        assert "authorization" not in first.headers
        assert call.headers["authorization"] == "Basic " + base64.b64encode(b"KEY:TOKEN").decode()
        media = call.of("media")[:10]
        assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for m in media)
        assert [m["media"]["chunk"] for m in media] == [str(i) for i in range(1, 11)]
        assert [int(m["media"]["timestamp"]) for m in media] == list(range(0, 200, 20))
        seqs = [int(m["sequence_number"]) for m in call.messages[1:12]]
        assert seqs == list(range(1, 12))


async def test_pcm_rates_send_100ms_chunks() -> None:
    for rate, ctype in ((16000, "audio/x-raw;rate=16000"), (24000, "raw")):
        _server, _client, _sink, bot, _sid, stack = await streamed_call(
            None, {"content_type": ctype}, url_path=f"/s?sample-rate={rate}")
        async with stack:
            call = await bot.wait_call()
            await call.wait_for(lambda m: m.get("event") == "media" and m["media"]["chunk"] == "3")
            fmt = call.start["start"]["media_format"]
            assert fmt == {"encoding": "audio/x-raw", "sample_rate": str(rate), "bit_rate": "16"}
            sizes = {len(base64.b64decode(m["media"]["payload"])) for m in call.of("media")}
            assert sizes == {rate // 10 * 2}
            stamps = [int(m["media"]["timestamp"]) for m in call.of("media")[:3]]
            assert stamps == [0, 100, 200]


async def test_customer_speech_and_dtmf_reach_the_bot() -> None:
    profile = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0).with_script(
        "wait 100", "say cust_yes", "dtmf 5")
    _server, client, _sink, bot, sid, stack = await streamed_call(None, profile=profile)
    async with stack:
        call = await bot.wait_call()
        dtmf = await call.wait_for(lambda m: m.get("event") == "dtmf")
        assert dtmf["dtmf"]["digit"] == "5"
        pcm = np.frombuffer(from_wire(call.inbound_audio(), "mulaw", 8000),
                            dtype="<i2").astype(np.int64)
        frames = pcm[: len(pcm) // 160 * 160].reshape(-1, 160)
        loud = int((np.sqrt((frames ** 2).mean(axis=1)) > 300).sum())
        clip_frames = audio_fixtures.load("cust_yes").duration_ms // 20
        assert loud > clip_frames // 3  # the utterance (with its pauses) went out
        timeline = await client.inspect(f"/legs/{sid}/timeline")
        assert [s["detail"] for s in timeline["speech"]] == ["cust_yes", "dtmf_5"]


async def test_a_key_before_the_stream_is_lost_and_streaming_waits_for_it() -> None:
    """A key pressed before the stream is up reaches no bot (Exotel has nowhere to send it);
    ``streaming MS`` waits until the stream has been up MS, however late it starts."""
    profile = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0).with_script(
        "dtmf 1", "streaming 100", "dtmf 5", "wait 5000", "hangup")
    # the stream starts 0.6 s after the answer: "dtmf 1" goes nowhere
    _server, client, _sink, bot, sid, stack = await streamed_call(
        None, profile=profile, stream_after_s=0.6)
    async with stack:
        call = await bot.wait_call()
        dtmf = await call.wait_for(lambda m: m.get("event") == "dtmf")
        timeline = await client.inspect(f"/legs/{sid}/timeline")
    assert dtmf["dtmf"]["digit"] == "5" and len(call.of("dtmf")) == 1
    assert [s["detail"] for s in timeline["speech"]] == ["dtmf_1", "dtmf_5"]
    started = next(m for m in call.messages if m.get("event") == "start")
    assert call.messages.index(started) < call.messages.index(dtmf)


async def test_marks_echo_after_the_audio_before_them_has_played() -> None:
    sent_at: dict[str, int] = {}

    async def bot(call: BotCall) -> None:
        await call.send_mulaw(tone(1000))  # five 200 ms chunks
        await call.send_mark("after-1s")
        sent_at["after-1s"] = len(call.of("media"))
        await call.send_mark("also-after-1s")

    _server, client, _sink, botsrv, sid, stack = await streamed_call(bot)
    async with stack:
        call = await botsrv.wait_call()
        await call.wait_for(lambda m: m.get("event") == "mark"
                            and m["mark"]["name"] == "also-after-1s")
        marks = call.of("mark")
        assert [m["mark"]["name"] for m in marks] == ["after-1s", "also-after-1s"]
        index = call.messages.index(marks[0])
        media_before_mark = sum(1 for m in call.messages[:index] if m["event"] == "media")
        # At 20 ms a chunk, a second of audio spans 50 inbound chunks.
        assert media_before_mark - sent_at["after-1s"] >= 45
        timeline = await client.inspect(f"/legs/{sid}/timeline")
        stream = [i for i in timeline["heard"] if i["source"] == "stream"]
        assert len(stream) == 1 and stream[0]["end_ms"] - stream[0]["start_ms"] == 1000


async def test_clear_drops_queued_audio_but_the_playing_chunk_finishes() -> None:
    async def bot(call: BotCall) -> None:
        await call.send_mulaw(tone(2000))  # ten 200 ms chunks
        await call.send_mark("end-of-utterance")
        n = len(call.of("media"))
        await call.wait_for(lambda m: len(call.of("media")) >= n + 15)  # about 300 ms later
        await call.send_clear()

    _server, client, _sink, botsrv, sid, stack = await streamed_call(bot)
    async with stack:
        call = await botsrv.wait_call()
        await call.wait_for(lambda m: m.get("event") == "mark")
        await asyncio.sleep(0.1)
        timeline = await client.inspect(f"/legs/{sid}/timeline")
        stream = [i for i in timeline["heard"] if i["source"] == "stream"]
        assert len(stream) == 1
        played = stream[0]["end_ms"] - stream[0]["start_ms"]
        assert played % 200 == 0 and 200 <= played < 2000
        detail = await client.inspect(f"/legs/{sid}")
        assert detail["streams"][0]["clears"] == 1


async def test_stop_stream_and_hangup_send_stop() -> None:
    _server, client, sink, bot, sid, stack = await streamed_call(None)
    async with stack:
        call = await bot.wait_call()
        await call.wait_for(lambda m: m.get("event") == "media")
        assert (await client.action(sid, "stop_stream"))[0] == 202
        stop = await call.wait_for(lambda m: m.get("event") == "stop")
        assert stop["stop"] == {"call_sid": sid, "account_sid": "ACsim", "reason": "stopped"}
        await asyncio.wait_for(call.closed.wait(), 5)
        stopped = await sink.wait_for(lambda e: e.name == "stream_stopped")
        assert stopped.payload["event_data"]["reason"] == "stopped"
        assert (await wait_leg_state(client, sid, "answered"))["stream_status"] == "none"
        await client.action(sid, "start_stream", {"url": bot.url()})
        second = await bot.wait_call(2)
        await second.wait_for(lambda m: m.get("event") == "media")
        await client.action(sid, "hangup")
        stop = await second.wait_for(lambda m: m.get("event") == "stop")
        assert stop["stop"]["reason"] == "callended"
        assert stop is second.messages[-1]


async def test_bad_bot_messages_are_counted_not_fatal() -> None:
    async def bot(call: BotCall) -> None:
        await call.ws.send("this is not json")
        await call.ws.send(b"\x00\x01binary")
        await call.ws.send(json.dumps({"event": "media", "media": {"payload": "%%%"}}))
        await call.ws.send(json.dumps({"event": "teleport"}))
        await call.send_mark("still-alive")

    _server, client, _sink, botsrv, sid, stack = await streamed_call(bot)
    async with stack:
        call = await botsrv.wait_call()
        await call.wait_for(lambda m: m.get("event") == "mark")
        detail = await client.inspect(f"/legs/{sid}")
        assert detail["streams"][0]["bad_messages"] == 4
        assert detail["stream_status"] == "streaming"
        stats = await client.inspect("/stats")
        assert stats["counters"]["stream_bad_messages"] == 4 and stats["task_failures"] == 0


async def test_unidirectional_stream_ignores_bot_audio() -> None:
    async def bot(call: BotCall) -> None:
        await call.send_media(to_wire(tone(200), "mulaw", 8000))

    _server, client, _sink, botsrv, sid, stack = await streamed_call(
        bot, {"direction": "unidirectional"})
    async with stack:
        call = await botsrv.wait_call()
        n = len(call.of("media"))
        await call.wait_for(lambda m: len(call.of("media")) > n + 10)
        timeline = await client.inspect(f"/legs/{sid}/timeline")
        assert timeline["heard"] == []
        assert (await client.inspect(f"/legs/{sid}"))["streams"][0]["ignored_media"] == 1


async def test_unreachable_bot_reports_a_failed_stream() -> None:
    _server, client, sink, _bot, sid, stack = await streamed_call(None)
    async with stack:
        await client.action(sid, "hangup")
        sid2 = await client.create_leg(TALKER, sink.url)
        await wait_leg_state(client, sid2, "answered")
        await client.action(sid2, "start_stream", {"url": "ws://127.0.0.1:9/nothing"})
        failed = await sink.wait_for(lambda e: e.name == "stream_stopped"
                                     and e.payload["data"]["leg_sid"] == sid2)
        assert failed.payload["event_data"]["status"] == "failed"
        assert (await wait_leg_state(client, sid2, "answered"))["stream_status"] == "none"


async def test_leg_exoml_mute_hold_digits_and_recording() -> None:
    import io
    import wave

    import aiohttp

    go = asyncio.Event()

    async def bot(call: BotCall) -> None:
        await go.wait()
        await call.send_mulaw(tone(600))

    profile = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0).with_script(
        "wait 500", "say cust_yes")
    _server, client, sink, botsrv, sid, stack = await streamed_call(bot, profile=profile)
    async with stack:
        async def flow(xml: str) -> int:
            status, _ = await client.call("POST", f"/legs/{sid}/actions",
                                          {"exoml": f"<Flow>{xml}</Flow>"})
            return status

        assert await flow("<Mute/><StartRecording/><Hold/>") == 202
        call = await botsrv.wait_call()
        await asyncio.sleep(0.6)  # the customer talks while muted, on hold
        assert await flow('<UnHold/><SendDigits digits="12"/>') == 202
        go.set()
        await call.wait_for(lambda m: m.get("event") == "media" and int(m["media"]["chunk"]) > 60)
        assert await flow("<StopRecording/>") == 202
        available = await sink.wait_for(lambda e: e.name == "recording_available")
        timeline = await client.inspect(f"/legs/{sid}/timeline")
        sources = [(i["source"], i["detail"]) for i in timeline["heard"]]
        assert ("play", "hold_music") in sources
        assert ("dtmf", "dtmf_1") in sources and ("dtmf", "dtmf_2") in sources
        assert any(s == "stream" for s, _ in sources)
        assert timeline["speech"][0]["detail"] == "cust_yes"
        inbound = np.frombuffer(from_wire(call.inbound_audio(), "mulaw", 8000), dtype="<i2")
        assert int(np.abs(inbound.astype(np.int32)).max()) < 50  # muted: the bot heard nothing
        async with aiohttp.ClientSession() as http, \
                http.get(available.payload["event_data"]["url"]) as resp:
            wav_data = await resp.read()
        with wave.open(io.BytesIO(wav_data)) as wav:
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        assert abs(len(pcm) / 8 - available.payload["event_data"]["duration_ms"]) <= 1
        assert int(np.abs(pcm.astype(np.int32)).max()) > 1000  # hold music, digits, bot, speech
        status, reply = await client.call("DELETE", f"/legs/{sid}")
        assert status == 202 and reply["response"]["data"]["action_sid"]
        assert (await wait_leg_state(client, sid, "terminated"))["termination_reason"] == \
            "api_hangup"
