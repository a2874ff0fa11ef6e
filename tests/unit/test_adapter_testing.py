"""The adapter developers' fake call (bot_adapters.testing) behaves like the gateway."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot_adapters.contract import BotAdapter, CallControl, PlayedPosition, PlayoutOverflow
from bot_adapters.testing import CallEnded, FakeCall, default_call_info
from gateway.session import PlaybackFinished, Session, SessionSettings

RATE = 8000


def tone(ms: int) -> bytes:
    return b"\x10\x00" * (RATE * ms // 1000)


class Recorder(BotAdapter):
    """Plays two labelled utterances on start and records every hook."""

    def __init__(self, options: object = None) -> None:
        self.events: list[str] = []
        self.call: CallControl | None = None

    async def on_start(self, call: CallControl) -> None:
        self.call = call
        self.events.append("start")
        call.play(tone(100), "u1")
        call.play(tone(200), "u2")

    async def on_audio(self, pcm: bytes) -> None:
        self.events.append(f"audio:{len(pcm)}")

    async def on_dtmf(self, digit: str) -> None:
        self.events.append(f"dtmf:{digit}")
        if digit == "#":
            assert self.call is not None
            await self.call.hangup("pressed_hash")
        if digit == "0":
            assert self.call is not None
            await self.call.transfer("pressed_zero", ["sales"])

    async def on_speech_start(self) -> None:
        self.events.append("speech_start")

    async def on_speech_end(self) -> None:
        self.events.append("speech_end")

    async def on_barge_in(self, heard: PlayedPosition) -> None:
        self.events.append(f"barge:{heard.label}:{heard.heard_ms}")

    async def on_playback_finished(self, label: str) -> None:
        self.events.append(f"heard:{label}")

    async def on_stop(self, reason: str) -> None:
        self.events.append(f"stop:{reason}")


async def test_playout_follows_audio_time() -> None:
    bot = Recorder()
    call = FakeCall(bot)
    await call.start()
    assert call.played_labels == ["u1", "u2"]
    assert call.queued_ms == 300
    await call.send_silence(100)
    assert call.finished == ["u1"]
    await call.send_silence(180)
    assert call.finished == ["u1"] and call.is_playing
    await call.send_silence(20)
    assert call.finished == ["u1", "u2"] and not call.is_playing
    assert bot.events.count("audio:320") == 15  # 20 ms chunks at 8 kHz


async def test_barge_in_clears_and_reports_heard_position() -> None:
    bot = Recorder()
    call = FakeCall(bot)
    await call.start()
    await call.send_silence(130)  # u1 heard, 30 ms into u2
    heard = await call.speech_start()
    assert heard == PlayedPosition("u2", 40, 200)  # the playing 20 ms chunk finishes
    assert bot.events[-2:] == ["speech_start", "barge:u2:40"]
    await call.send_silence(100)
    assert call.finished == ["u1"]  # u2's mark was dropped
    assert not call.is_playing


async def test_clear_lists_dropped_utterances() -> None:
    bot = Recorder()
    call = FakeCall(bot)
    await call.start()
    await call.send_silence(50)
    position = call.clear()
    assert position.label == "u1" and position.dropped_labels == ("u2",)
    assert call.clears == [position]


class Announcer(Recorder):
    """Opts out of barge-in, as the echo adapter does."""

    allow_barge_in = False


@pytest.mark.parametrize("barge_in_after_ms", [0, 40])
async def test_adapter_that_opts_out_is_never_barged_in(barge_in_after_ms: int) -> None:
    bot = Announcer()
    call = FakeCall(bot, barge_in_after_ms=barge_in_after_ms)
    await call.start()
    await call.send_silence(50)
    assert await call.speech_start() is None
    await call.say(tone(100))
    assert call.barge_ins == [] and call.clears == []
    assert "speech_start" in bot.events and not any(e.startswith("barge") for e in bot.events)
    await call.send_silence(200)
    assert call.finished == ["u1", "u2"]  # everything queued was heard


async def test_speech_without_bot_audio_is_not_a_barge_in() -> None:
    bot = Recorder()
    call = FakeCall(bot)
    await call.start()
    await call.wait_playout()
    assert await call.speech_start() is None
    await call.speech_end()
    assert not call.barge_ins and bot.events[-2:] == ["speech_start", "speech_end"]


async def test_hangup_stops_the_call() -> None:
    bot = Recorder()
    call = FakeCall(bot)
    await call.start()
    await call.press("#")
    assert [h.reason for h in call.hangups] == ["pressed_hash"]
    assert call.stop_reason == "hangup" and bot.events[-1] == "stop:hangup"
    with pytest.raises(CallEnded):
        await call.press("1")


async def test_transfer_is_recorded_with_skills() -> None:
    call = FakeCall(Recorder())
    await call.start()
    await call.send_silence(40)
    await call.press("0")
    assert call.transfers[0].reason == "pressed_zero"
    assert call.transfers[0].skills == ("sales",) and call.transfers[0].at_ms == 40
    assert not call.ended


async def test_bad_input_is_rejected() -> None:
    call = FakeCall(Recorder())
    with pytest.raises(RuntimeError):
        await call.press("1")  # not started
    await call.start()
    with pytest.raises(ValueError):
        await call.press("x")
    with pytest.raises(ValueError):
        call.play(b"\x00")


async def test_bounded_queue_overflows() -> None:
    call = FakeCall(Recorder(), max_queued_ms=500)
    await call.start()
    with pytest.raises(PlayoutOverflow):
        call.play(tone(300))


async def test_custom_info_and_stop_once() -> None:
    info = default_call_info(call_sid="CA9", custom_parameters={"vx_call": "c9"})
    bot = Recorder()
    call = FakeCall(bot, info)
    await call.start()
    assert call.info.call_sid == "CA9" and call.sample_rate == RATE
    await call.stop()
    await call.stop("again")
    assert bot.events.count("stop:callended") == 1 and call.stop_reason == "callended"


async def test_say_barges_in_after_the_gateways_threshold() -> None:
    bot = Recorder()
    call = FakeCall(bot, barge_in_after_ms=200)
    await call.start()
    await call.send_silence(40)
    await call.say(tone(400))
    assert bot.events.index("speech_start") < bot.events.index("barge:u2:160")
    # 240 ms: u1, 140 ms of u2, and the 20 ms chunk that starts then (the gateway's Playout
    # counts a chunk as playing from its start; FakeCall said 140 before it used that model)
    assert call.barge_ins == [PlayedPosition("u2", 160, 200)]
    assert bot.events[-1] == "speech_end"
    with pytest.raises(ValueError):
        FakeCall(Recorder(), barge_in_after_ms=-1)


class Thinker(BotAdapter):
    """Does its slow work (a fake speech service) in a task of its own, as docs/adapters.md
    advises: the answer is played, and the hang-up made, from that task, outside any hook."""

    def __init__(self) -> None:
        self.call: CallControl | None = None
        self.task: asyncio.Task[None] | None = None
        self.service: asyncio.Queue[str] = asyncio.Queue()

    async def on_start(self, call: CallControl) -> None:
        self.call = call

    async def on_speech_end(self) -> None:
        self.task = asyncio.create_task(self.think())

    async def think(self) -> None:
        assert self.call is not None
        await asyncio.sleep(0)  # the service call: more than one step of the task
        words = await self.service.get()
        self.call.play(tone(100), f"answer:{words}")

    async def on_playback_finished(self, label: str) -> None:
        assert self.call is not None
        self.task = asyncio.create_task(self.call.hangup(label))

    async def on_stop(self, reason: str) -> None:
        if self.task is not None:
            await self.task


async def test_the_adapters_own_tasks_run_while_audio_time_passes() -> None:
    bot = Thinker()
    bot.service.put_nowait("hello")
    call = FakeCall(bot)
    await call.start()
    await call.say(tone(200), trailing_silence_ms=40)
    assert call.played_labels == ["answer:hello"]  # played from the task, between hooks
    await call.wait_playout()
    assert [h.reason for h in call.hangups] == ["answer:hello"]
    assert call.stop_reason == "hangup"  # a hang-up from a task stops the call, as the gateway


async def test_play_takes_bytes_and_str_labels_only_as_the_gateway() -> None:
    call = FakeCall(Recorder())
    await call.start()
    for pcm in (bytearray(tone(20)), memoryview(tone(20))):
        with pytest.raises(TypeError, match="bytes"):
            call.play(pcm)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="label"):
        call.play(tone(20), 7)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="label"):
        call.mark(None)  # type: ignore[arg-type]
    call.mark("m" * 256)
    with pytest.raises(ValueError, match="max 256"):  # the gateway's limit on mark names
        call.mark("m" * 257)
    assert call.played_labels == ["u1", "u2", "m" * 256]


class Script(BotAdapter):
    """Plays ``(ms, label)`` pieces of tone on start."""

    def __init__(self, pieces: list[tuple[int, str | None]]) -> None:
        self.pieces = pieces

    async def on_start(self, call: CallControl) -> None:
        for ms, label in self.pieces:
            call.play(tone(ms), label)


def gateway_session(encoding: str) -> Session:
    """The gateway's session core on a stream of ``encoding`` at 8 kHz, 20 ms chunks."""
    session = Session(SessionSettings(vad_enabled=False, chunk_target_ms=20))
    wire = {"mulaw": "audio/x-mulaw", "pcm16": "audio/x-raw"}[encoding]
    session.receive(json.dumps({"event": "start", "stream_sid": "MZ1", "start": {
        "stream_sid": "MZ1", "call_sid": "CA1", "account_sid": "AC1", "from": "+911",
        "to": "+912", "media_format": {"encoding": wire, "sample_rate": "8000"}}}), 0.0)
    return session


@pytest.mark.parametrize(("encoding", "pieces", "clear_ms"), [
    ("mulaw", [(100, None), (100, "x")], 50),  # unlabelled audio joins the next utterance
    ("mulaw", [(110, "a"), (100, "b")], 130),  # a's last chunk padded to a whole frame
    ("mulaw", [(100, "a"), (100, "b")], 150),  # a heard before the cut
    ("pcm16", [(100, "a"), (150, "b")], 130),  # PCM16: chunks of at least 200 ms
    ("pcm16", [(50, None), (300, "b"), (40, "c")], 250),
])
async def test_fake_call_reports_what_the_gateway_would(
    encoding: str, pieces: list[tuple[int, str | None]], clear_ms: int
) -> None:
    session = gateway_session(encoding)
    for ms, label in pieces:
        session.play(tone(ms), label, RATE, 0.0)
    assert session.fmt is not None
    queued = session.fmt.bytes_to_ms(session.playout.backlog_bytes(0.0))
    expected = session.clear(clear_ms / 1000)
    heard = [n.label for n in session.take_notices() if isinstance(n, PlaybackFinished)]

    call = FakeCall(Script(pieces), default_call_info(call_encoding=encoding))
    await call.start()
    assert call.queued_ms == queued
    await call.send_silence(clear_ms)
    assert call.clear() == expected
    await call.send_silence(20)
    assert call.finished == heard  # the labels heard up to the cut
