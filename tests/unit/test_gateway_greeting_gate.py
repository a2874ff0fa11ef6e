"""The greeting gate: bot audio waits for the dialer's answer to ``greeting_wait``, then flows
in order; bounded by ``max_hold``; calls without ``vx_call`` or a control channel pass."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from bot_adapters.contract import (
    BotAdapter,
    CallControl,
    CallInfo,
    PlayedPosition,
    forecast_transfer,
)
from gateway.greeting_gate import GreetingGate


class Recorder:
    """A minimal CallControl that records what reaches the gateway."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self._info = CallInfo("MZ1", "CA1", "AC1", "+1", "+2", params)
        self.played: list[tuple[int, str | None]] = []
        self.cleared = 0
        self.requests: list[str] = []
        self.greeting_stopped = asyncio.Event()  # the dialer's answer to greeting_wait

    async def wait_greeting(self) -> None:
        self.requests.append("greeting_wait")
        await self.greeting_stopped.wait()

    @property
    def info(self) -> CallInfo:
        return self._info

    @property
    def sample_rate(self) -> int:
        return 8000

    def play(self, pcm: bytes, label: str | None = None) -> None:
        self.played.append((len(pcm), label))

    def mark(self, label: str) -> None:
        self.play(b"", label)

    def clear(self) -> PlayedPosition:
        self.cleared += 1
        return PlayedPosition(None, 0, 0)

    async def hangup(self, reason: str = "bot_hangup") -> None:
        self.requests.append("hangup")

    async def transfer(self, reason: str, skills: Sequence[str] = ()) -> None:
        self.requests.append("transfer")

    async def forecast_transfer(self, within_s: float, likelihood: float = 1.0) -> None:
        self.requests.append(f"forecast {within_s:g} {likelihood:g}")


class Talker(BotAdapter):
    """Speaks at once on start; hangs up on DTMF 9, transfers on 0."""

    allow_barge_in = False

    def __init__(self, options: Mapping[str, str]) -> None:
        self.call: CallControl | None = None

    async def on_start(self, call: CallControl) -> None:
        self.call = call
        call.play(b"\x00" * 320, "hello")
        call.mark("after-hello")

    async def on_dtmf(self, digit: str) -> None:
        assert self.call is not None
        if digit == "9":
            await self.call.hangup()
        elif digit == "8":
            assert await forecast_transfer(self.call, 15, 0.5)
        else:
            await self.call.transfer("asked")


class NoChannel(Recorder):
    """A call control with no control channel (e.g. the adapter test harness)."""

    wait_greeting = None  # type: ignore[assignment]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_audio_held_until_the_dialer_answers_then_flushed_in_order() -> None:
    gate = GreetingGate()
    adapter = gate.wrap(Talker)({})
    call = Recorder({"vx_call": "c1"})
    await adapter.on_start(call)
    await adapter.on_audio(b"\x00" * 160)
    await settle()
    assert call.played == [] and call.requests == ["greeting_wait"]  # the greeting plays
    call.greeting_stopped.set()
    await settle()  # sent when the answer comes, not at the next hook
    assert call.played == [(320, "hello"), (0, "after-hello")]
    assert adapter.allow_barge_in is False and adapter.sample_rate == 8000
    assert (gate.held_calls, gate.released_calls, gate.timeouts) == (1, 1, 0)


async def test_calls_not_placed_by_the_dialer_pass_through() -> None:
    gate = GreetingGate()
    for call in (Recorder({}), NoChannel({"vx_call": "c9"})):
        adapter = gate.wrap(Talker)({})
        await adapter.on_start(call)
        assert call.played == [(320, "hello"), (0, "after-hello")]
        await adapter.on_dtmf("9")
        await adapter.on_dtmf("8")
        await adapter.on_dtmf("0")
        assert call.requests == ["hangup", "forecast 15 0.5", "transfer"]
    assert gate.held_calls == 0


async def test_gate_never_holds_longer_than_max_hold() -> None:
    gate = GreetingGate(max_hold=0.05)
    adapter = gate.wrap(Talker)({})
    call = Recorder({"vx_call": "c2"})  # the dialer never answers
    await adapter.on_start(call)
    assert call.played == []
    waiting = adapter._call._task  # type: ignore[attr-defined]
    async with asyncio.timeout(5):
        await waiting  # gives up after max_hold and sends what it held
    assert len(call.played) == 2 and gate.timeouts == 1


async def test_an_ended_call_stops_asking() -> None:
    gate = GreetingGate()
    adapter = gate.wrap(Talker)({})
    call = Recorder({"vx_call": "c5"})
    await adapter.on_start(call)
    await settle()
    await adapter.on_stop("callended")
    call.greeting_stopped.set()
    await settle()
    assert call.played == [] and gate.released_calls == 0


async def test_clear_drops_held_audio_and_reports_its_labels() -> None:
    gate = GreetingGate()
    adapter = gate.wrap(Talker)({})
    call = Recorder({"vx_call": "c3"})
    await adapter.on_start(call)
    assert isinstance(adapter, BotAdapter)
    inner_call = adapter._call  # type: ignore[attr-defined]
    pos = inner_call.clear()
    assert pos.dropped_labels == ("hello", "after-hello") and call.cleared == 1
    call.greeting_stopped.set()
    await settle()
    await adapter.on_playback_finished("x")
    await adapter.on_barge_in(PlayedPosition(None, 0, 0))
    await adapter.on_stop("callended")
    assert call.played == []


async def test_held_audio_is_type_checked_as_the_gateway_would() -> None:
    gate = GreetingGate()
    adapter = gate.wrap(Talker)({})
    call = Recorder({"vx_call": "c4"})
    await adapter.on_start(call)
    inner_call = adapter._call  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="bytes of PCM16, not bytearray"):
        inner_call.play(bytearray(320), "x")
    with pytest.raises(TypeError, match="a label is a str, not int"):
        inner_call.play(b"\x00" * 320, 7)
    with pytest.raises(ValueError, match="even number"):
        inner_call.play(b"\x00" * 3)
    call.greeting_stopped.set()
    await settle()
    assert call.played == [(320, "hello"), (0, "after-hello")]  # the refused ones never queued
