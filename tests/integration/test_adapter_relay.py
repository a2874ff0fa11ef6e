"""The relay adapter against real external test bots (Exotel and Twilio dialects) on
127.0.0.1, with the fake call on the telephony side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from peers.ports import free_port
from websockets.asyncio.server import ServerConnection, serve

import audio_fixtures
from bot_adapters.metrics import counter_families
from bot_adapters.relay import FALLBACK_LABEL, RelayAdapter
from bot_adapters.relay.adapter import CLOSED_LABEL
from bot_adapters.relay.dialects import DialectName, Encoding
from bot_adapters.relay.testbots import DialectTestBot
from bot_adapters.testing import FakeCall
from gateway.metrics import GatewayMetrics

DIALECTS: list[DialectName] = ["twilio", "exotel"]
GREETING = audio_fixtures.load("bot_goodbye").pcm[:3200]  # 200 ms of speech
LONG = audio_fixtures.load("bot_ask_interest").pcm[:32000]  # 2 s


async def until(predicate: Callable[[], bool], within_s: float = 5.0) -> None:
    """Wait (bounded) for something the other side of a socket will do. Polls: the fake call
    and the test bot record plain lists, not events."""
    async with asyncio.timeout(within_s):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


@pytest.fixture(params=DIALECTS)
async def bot(request: pytest.FixtureRequest) -> AsyncIterator[DialectTestBot]:
    async with DialectTestBot(request.param, greeting=GREETING, long_audio=LONG) as server:
        yield server


async def relayed(bot: DialectTestBot, **options: str) -> tuple[RelayAdapter, FakeCall]:
    relay = RelayAdapter({"url": bot.url, "dialect": bot.dialect.name, **options})
    call = FakeCall(relay)
    await call.start()
    await until(lambda: "greeting" in call.played_labels)
    return relay, call


async def test_start_greeting_audio_and_mark_round_trip(bot: DialectTestBot) -> None:
    relay, call = await relayed(bot)
    assert [m["event"] for m in bot.received[:2]] == ["connected", "start"]
    start = bot.events("start")[0]["start"]
    if bot.dialect.name == "twilio":
        assert start["callSid"] == call.info.call_sid
        assert start["mediaFormat"] == {
            "encoding": "audio/x-mulaw",
            "sampleRate": 8000,
            "channels": 1,
        }
        assert start["customParameters"] == {  # the numbers where pipecat's runner reads them
            "vx_call": "call-test-1",
            "from_number": call.info.from_number,
            "to_number": call.info.to_number,
        }
        # mu-law both ways: the greeting arrives close to, not equal to, what was sent
        assert len(call.played_pcm) == len(GREETING) and call.played_pcm != GREETING
    else:
        assert start["call_sid"] == call.info.call_sid
        assert start["media_format"]["encoding"] == "audio/x-raw"
        assert start["media_format"]["sample_rate"] == "8000"
        assert call.played_pcm == GREETING  # raw PCM16 passes unchanged
    assert not bot.events("mark")
    await call.send_silence(200)  # the caller hears the greeting
    await until(lambda: bool(bot.events("mark")))
    assert bot.events("mark")[0]["mark"]["name"] == "greeting"
    speech = audio_fixtures.load("cust_yes").pcm[:1600]
    await call.send_audio(speech)
    await until(lambda: len(bot.audio_received()) >= 3200 + 1600)
    heard = bot.audio_received()[-1600:]
    if bot.dialect.name == "exotel":
        assert heard == speech
    else:
        assert max(abs(a - b) for a, b in zip(heard[1::2], speech[1::2], strict=True)) <= 8
    await call.stop()
    await until(lambda: bool(bot.events("stop")))
    assert relay.stats.bad_frames == 0 and relay.fallback_cause is None


async def test_dtmf_reaches_the_bot(bot: DialectTestBot) -> None:
    _, call = await relayed(bot)
    await call.press("7")
    await until(lambda: bool(bot.events("dtmf")))
    assert bot.events("dtmf")[0]["dtmf"]["digit"] == "7"
    await call.stop()


async def test_bot_asks_for_transfer(bot: DialectTestBot) -> None:
    relay, call = await relayed(bot)
    await call.press("0")
    await until(lambda: bool(call.transfers))
    assert (call.transfers[0].reason, call.transfers[0].skills) == ("caller_pressed_0", ("sales",))
    await call.stop("stopped")
    assert relay.stats.events == ["transfer:caller_pressed_0"]


async def test_bot_asks_for_hangup(bot: DialectTestBot) -> None:
    _, call = await relayed(bot)
    await call.press("#")
    await until(lambda: bool(call.hangups))
    assert call.hangups[0].reason == "caller_pressed_hash"
    await call.stop("hangup")


async def test_bot_clear_drops_audio_and_its_marks(bot: DialectTestBot) -> None:
    relay, call = await relayed(bot)
    await call.send_silence(200)
    await call.press("5")
    await until(lambda: "long" in call.played_labels)
    await call.send_silence(300)
    await call.press("9")
    await until(lambda: bool(call.clears))
    assert call.clears[0].heard_ms < call.clears[0].total_ms
    await call.send_silence(500)
    marks = [m["mark"]["name"] for m in bot.events("mark")]
    if bot.dialect.name == "twilio":  # Twilio hands cleared marks back at once
        await until(lambda: len(bot.events("mark")) == 2)
        marks = [m["mark"]["name"] for m in bot.events("mark")]
        assert marks == ["greeting", "long"] and relay.stats.marks_echoed == 1
    else:
        assert marks == ["greeting"] and relay.stats.marks_echoed == 0
    assert "long" not in call.finished
    await call.stop()


async def test_barge_in_drops_the_bots_marks(bot: DialectTestBot) -> None:
    relay, call = await relayed(bot)
    await call.press("5")
    await until(lambda: "long" in call.played_labels)
    await call.send_silence(400)
    position = await call.speech_start()
    assert position is not None
    assert relay.stats.events == [f"barge_in:{position.label}"]
    expected = 1 if bot.dialect.name == "twilio" else 0
    assert relay.stats.marks_echoed == expected
    await until(lambda: bool(bot.events("clear")))  # the bot is told its audio was cut
    await call.stop()


async def test_barge_in_notice_can_be_turned_off(bot: DialectTestBot) -> None:
    _, call = await relayed(bot, forward_barge_in="false")
    await call.press("5")
    await until(lambda: "long" in call.played_labels)
    await call.send_silence(100)
    assert await call.speech_start() is not None
    await call.press("1")  # a marker: frames reach the bot in order
    await until(lambda: bool(bot.events("dtmf")))
    assert not bot.events("clear")
    await call.stop()


# -- fallbacks --------------------------------------------------------------------------------


async def run_fallback(relay: RelayAdapter, call: FakeCall) -> None:
    await until(lambda: FALLBACK_LABEL in call.played_labels)
    await call.wait_playout()
    await until(lambda: bool(call.transfers or call.hangups))


async def test_unreachable_bot_falls_back_to_a_transfer() -> None:
    relay = RelayAdapter(
        {"url": f"ws://127.0.0.1:{free_port()}/", "dialect": "twilio", "fallback_skills": "a,b"}
    )
    call = FakeCall(relay)
    await call.start()
    await run_fallback(relay, call)
    assert relay.fallback_cause == "unreachable"
    assert call.played[-1].pcm == audio_fixtures.load("hold_message").pcm
    assert (call.transfers[0].reason, call.transfers[0].skills) == ("relay_unreachable", ("a", "b"))
    await call.stop("stopped")


async def test_silent_bot_falls_back_to_message_and_hangup() -> None:
    async with DialectTestBot("exotel", mode="silent") as bot:
        relay = RelayAdapter(
            {
                "url": bot.url,
                "dialect": "exotel",
                "answer_deadline_ms": "150",
                "fallback": "hangup",
            }
        )
        call = FakeCall(relay)
        await call.start()
        await run_fallback(relay, call)
        assert relay.fallback_cause == "slow"
        assert call.played[-1].pcm == audio_fixtures.load("bot_goodbye").pcm
        assert call.hangups[0].reason == "relay_slow" and not call.transfers
        await call.stop("hangup")
        await until(bot.closed.is_set)


async def test_caller_talking_over_the_fallback_message_is_transferred_at_once() -> None:
    # The barge-in cuts the message, so its mark never comes back: the relay must act on the
    # barge-in rather than wait out the rest of the message plus its grace in silence.
    async with DialectTestBot("exotel", mode="silent") as bot:
        relay = RelayAdapter({"url": bot.url, "dialect": "exotel", "answer_deadline_ms": "150"})
        call = FakeCall(relay)
        await call.start()
        await until(lambda: FALLBACK_LABEL in call.played_labels)
        await call.send_silence(300)
        heard = await call.speech_start()
        assert heard is not None and heard.label == FALLBACK_LABEL
        await until(lambda: bool(call.transfers), within_s=1.0)
        assert call.transfers[0].reason == "relay_slow"
        await call.stop("stopped")


async def test_slow_reply_after_caller_speech_falls_back() -> None:
    async with DialectTestBot("twilio", greeting=GREETING) as bot:
        relay, call = await relayed(bot, reply_deadline_ms="150", fallback_reason="bot_stalled")
        await call.say(audio_fixtures.load("cust_yes").pcm[:4000])
        await run_fallback(relay, call)
        assert relay.fallback_cause == "slow"
        assert call.transfers[0].reason == "bot_stalled"
        await call.stop("stopped")


async def test_bot_dropping_mid_call_falls_back(bot: DialectTestBot) -> None:
    bot.mode = "drop"
    relay, call = await relayed(bot)
    await run_fallback(relay, call)
    assert relay.fallback_cause == "dropped"
    assert call.transfers[0].reason == "relay_dropped"
    await call.press("1")  # nothing is forwarded after the fallback
    await call.stop("stopped")
    assert not bot.events("dtmf")


async def test_bad_frames_are_counted_and_skipped() -> None:
    async def garbage_bot(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.send("not json")
        await ws.send('{"event": "media", "media": {"payload": "@@@"}}')
        await ws.send('{"event": "mark", "mark": {}}')
        await ws.send(b"\x00binary")
        await ws.send('{"event": "custom_thing"}')
        await ws.send('{"event": "media", "stream_sid": "x", "media": {"payload": "AAAAAA=="}}')
        await ws.wait_closed()

    async with serve(garbage_bot, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        relay = RelayAdapter({"url": f"ws://127.0.0.1:{port}/", "dialect": "exotel"})
        call = FakeCall(relay)
        await call.start()
        await until(lambda: bool(call.played))
        assert relay.stats.bad_frames == 4
        assert call.played[0].pcm == b"\x00" * 4
        await call.stop()
        assert relay.fallback_cause is None


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="url"):
        RelayAdapter({"url": "http://x"})
    with pytest.raises(ValueError, match="unknown option"):
        RelayAdapter({"url": "ws://x", "colour": "red"})
    with pytest.raises(ValueError, match="mu-law"):
        RelayAdapter({"url": "ws://x", "dialect": "twilio", "encoding": "pcm16"})


def test_rate_picks_the_adapter_class() -> None:
    relay = RelayAdapter({"url": "ws://x", "dialect": "exotel", "sample_rate": "16000"})
    assert isinstance(relay, RelayAdapter) and relay.sample_rate == 16000
    assert RelayAdapter({"url": "ws://x"}).sample_rate == 8000


@pytest.mark.parametrize(("encoding", "rate"), [("pcm16", 16000), ("mulaw", 8000)])
async def test_exotel_dialect_other_formats(encoding: Encoding, rate: int) -> None:
    greeting = audio_fixtures.load("cust_hello_16k" if rate == 16000 else "cust_hello").pcm[:3200]
    async with DialectTestBot(
        "exotel",
        greeting=greeting,
        encoding=encoding,
        sample_rate=rate,
    ) as bot:
        relay = RelayAdapter(
            {"url": bot.url, "dialect": "exotel", "encoding": encoding, "sample_rate": str(rate)}
        )
        assert relay.sample_rate == rate  # the gateway resamples the call to the bot's rate
        call = FakeCall(relay)
        await call.start()
        await until(lambda: "greeting" in call.played_labels)
        fmt = bot.events("start")[0]["start"]["media_format"]
        assert fmt["sample_rate"] == str(rate)
        assert fmt["encoding"] == ("audio/x-mulaw" if encoding == "mulaw" else "audio/x-raw")
        assert len(call.played_pcm) == len(greeting)
        assert (call.played_pcm == greeting) == (encoding == "pcm16")
        await call.send_silence(100)
        await until(lambda: len(bot.audio_received()) == rate * 2 // 10)
        await call.stop()


async def test_bot_flooding_audio_is_dropped_and_counted() -> None:
    async with DialectTestBot("exotel", greeting=LONG) as bot:  # 2 s at once
        relay = RelayAdapter({"url": bot.url, "dialect": "exotel"})
        call = FakeCall(relay, max_queued_ms=1000)
        await call.start()
        await until(lambda: relay.stats.dropped_from_bot == 1)
        assert "greeting" in call.played_labels and not call.played_pcm  # the mark still goes
        await call.stop()
        assert relay.fallback_cause is None


async def test_handshake_timeout_counts_as_unreachable_and_bounds_the_queue() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts TCP, never answers the WebSocket handshake
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        relay = RelayAdapter(
            {"url": f"ws://127.0.0.1:{port}/", "connect_timeout_ms": "300", "max_queue": "10"}
        )
        call = FakeCall(relay)
        await call.start()
        await call.send_silence(1000)  # 50 frames for a queue of 10 while connecting
        assert relay.stats.dropped_to_bot == 50 + 2 - 10
        await run_fallback(relay, call)
        assert relay.fallback_cause == "unreachable"
        await call.stop("stopped")


# -- a bot that ends the call by closing (pipecat) ------------------------------------------


def counts() -> dict[str, dict[str, int]]:
    """The relay's process-wide counters now (tests compare before and after)."""
    return {f.name: dict(f.counts) for f in counter_families() if f.name.startswith("relay_")}


def delta(before: dict[str, dict[str, int]], name: str, key: str) -> int:
    return counts().get(name, {}).get(key, 0) - before.get(name, {}).get(key, 0)


async def closing_bot(dialect: DialectName, **options: str) -> tuple[RelayAdapter, FakeCall]:
    """A relay to a bot that greets and then closes normally; returns once the relay has
    seen the close."""
    async with DialectTestBot(dialect, mode="end", greeting=GREETING, drop_after_s=0.05) as bot:
        relay = RelayAdapter({"url": bot.url, "dialect": dialect, **options})
        call = FakeCall(relay)
        await call.start()
        rule = options.get("on_close", "hangup")
        await until(lambda: f"closed:{rule}" in relay.stats.events)
        return relay, call


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_normal_close_hangs_up_once_the_bots_audio_was_heard(dialect: DialectName) -> None:
    before = counts()
    relay, call = await closing_bot(dialect)
    assert not call.hangups and not call.transfers  # the greeting is still playing
    assert call.is_playing and FALLBACK_LABEL not in call.played_labels
    await call.wait_playout()
    await until(lambda: bool(call.hangups))
    assert call.hangups[0].reason == "relay_closed" and not call.transfers
    assert call.finished[:2] == ["greeting", CLOSED_LABEL]  # all of it heard first
    assert relay.fallback_cause is None
    assert delta(before, "relay_closes_total", "hangup") == 1
    assert delta(before, "relay_connects_total", dialect) == 1
    assert counts().get("relay_failures_total", {}) == before.get("relay_failures_total", {})
    assert 'voxgate_gateway_relay_closes_total{rule="hangup"}' in GatewayMetrics().render()


async def test_caller_talking_over_the_last_audio_hangs_up_at_once() -> None:
    _, call = await closing_bot("exotel")
    heard = await call.speech_start()
    assert heard is not None and CLOSED_LABEL in heard.dropped_labels
    await until(lambda: bool(call.hangups), within_s=1.0)
    assert call.hangups[0].reason == "relay_closed"


async def test_a_normal_close_can_transfer() -> None:
    relay, call = await closing_bot("twilio", on_close="transfer", fallback_skills="sales")
    await call.wait_playout()
    await until(lambda: bool(call.transfers))
    assert (call.transfers[0].reason, call.transfers[0].skills) == ("relay_closed", ("sales",))
    assert not call.hangups and relay.fallback_cause is None


async def test_a_normal_close_can_run_the_fallback() -> None:
    before = counts()
    relay, call = await closing_bot("exotel", on_close="fallback")
    await run_fallback(relay, call)
    assert relay.fallback_cause == "closed" and call.transfers[0].reason == "relay_closed"
    assert delta(before, "relay_fallbacks_total", "relay_closed") == 1


@pytest.mark.parametrize("code", [1001, 1011])
async def test_other_close_codes_are_failures(code: int) -> None:
    before = counts()
    async with DialectTestBot("exotel", mode="end", greeting=GREETING, drop_after_s=0.05,
                              close_code=code) as bot:
        relay = RelayAdapter({"url": bot.url, "dialect": "exotel"})
        call = FakeCall(relay)
        await call.start()
        await run_fallback(relay, call)
    assert relay.fallback_cause == "dropped" and call.transfers[0].reason == "relay_dropped"
    assert not call.hangups
    assert delta(before, "relay_failures_total", "dropped") == 1
    assert delta(before, "relay_fallbacks_total", "relay_dropped") == 1
    assert delta(before, "relay_closes_total", "hangup") == 0


async def test_a_bot_that_hung_up_and_closed_gets_one_hang_up() -> None:
    async def hangs_up(ws: ServerConnection) -> None:
        await ws.recv()  # connected
        await ws.recv()  # start
        await ws.send('{"event": "hangup", "hangup": {"reason": "goodbye_said"}}')
        await ws.close(1000)

    async with serve(hangs_up, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        relay = RelayAdapter({"url": f"ws://127.0.0.1:{port}/", "dialect": "exotel"})
        call = FakeCall(relay)
        await call.start()
        await until(lambda: "closed:hangup" in relay.stats.events)
        await call.send_silence(100)
    assert [h.reason for h in call.hangups] == ["goodbye_said"]


def test_bad_on_close_is_refused() -> None:
    with pytest.raises(ValueError, match="on_close"):
        RelayAdapter({"url": "ws://x", "on_close": "explode"})
