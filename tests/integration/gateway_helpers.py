"""Test adapters for the gateway's integration tests (plugged in via ``adapters=``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import ClassVar

import audio_fixtures
from bot_adapters.contract import BotAdapter, CallControl, PlayedPosition, forecast_transfer


class Recorder(BotAdapter):
    """Records every hook; subclasses act in ``on_start``."""

    instances: ClassVar[list[Recorder]] = []

    def __init__(self, options: Mapping[str, str]) -> None:
        self.options = dict(options)
        self.call: CallControl | None = None
        self.events: list[tuple[str, object]] = []
        self.audio = bytearray()
        self.stopped = asyncio.Event()
        type(self).instances.append(self)

    async def on_start(self, call: CallControl) -> None:
        self.call = call
        self.events.append(("start", call.info))

    async def on_audio(self, pcm: bytes) -> None:
        self.audio += pcm

    async def on_dtmf(self, digit: str) -> None:
        self.events.append(("dtmf", digit))

    async def on_speech_start(self) -> None:
        self.events.append(("speech_start", None))

    async def on_speech_end(self) -> None:
        self.events.append(("speech_end", None))

    async def on_barge_in(self, heard: PlayedPosition) -> None:
        self.events.append(("barge_in", heard))

    async def on_playback_finished(self, label: str) -> None:
        self.events.append(("finished", label))

    async def on_stop(self, reason: str) -> None:
        self.events.append(("stop", reason))
        self.stopped.set()

    def named(self, kind: str) -> list[object]:
        return [value for name, value in self.events if name == kind]


class Talker(Recorder):
    """Plays the fixture in option ``clip`` (label = clip name) when the call starts."""

    instances: ClassVar[list[Recorder]] = []

    async def on_start(self, call: CallControl) -> None:
        await super().on_start(call)
        for name in self.options.get("clips", "bot_ask_interest").split(","):
            clip = audio_fixtures.load(name)
            call.play(clip.pcm, label=name)


class Marker(Recorder):
    """Plays two short utterances with labels and a bare mark."""

    instances: ClassVar[list[Recorder]] = []

    async def on_start(self, call: CallControl) -> None:
        await super().on_start(call)
        pcm = audio_fixtures.load("bot_goodbye").pcm
        call.play(pcm[:9600], label="a")  # 600 ms
        call.play(pcm[9600:16000], label="b")  # 400 ms
        call.mark("c")


class Crasher(Recorder):
    """Raises in the hook named by option ``raise_in``, or hangs in ``hang_in``."""

    instances: ClassVar[list[Recorder]] = []

    async def on_audio(self, pcm: bytes) -> None:
        if self.options.get("raise_in") == "on_audio":
            raise RuntimeError("bot bug")
        if self.options.get("hang_in") == "on_audio":
            await asyncio.sleep(3600)


class HangsUp(Recorder):
    """Forecasts a transfer on DTMF 8, transfers on DTMF 9 and hangs up on DTMF #."""

    instances: ClassVar[list[Recorder]] = []

    async def on_dtmf(self, digit: str) -> None:
        await super().on_dtmf(digit)
        assert self.call is not None
        if digit == "8":
            self.events.append(("forecast_sent", await forecast_transfer(self.call, 20, 0.7)))
        elif digit == "9":
            await self.call.transfer("customer_asked", skills=["sales", "hindi"])
        elif digit == "#":
            await self.call.hangup("bot_done")


class SlowTalker(Recorder):
    """Plays a clip, then keeps its ``on_start`` hook busy (within the deadline)."""

    instances: ClassVar[list[Recorder]] = []

    async def on_start(self, call: CallControl) -> None:
        await super().on_start(call)
        call.play(audio_fixtures.load("bot_goodbye").pcm, label="bye")
        await asyncio.sleep(1.0)
        self.events.append(("start_done", None))


class BadStart(Recorder):
    """Fails in ``on_start`` (option ``how``: ``raise`` or ``rate``)."""

    instances: ClassVar[list[Recorder]] = []

    async def on_start(self, call: CallControl) -> None:
        await super().on_start(call)
        if self.options.get("how") == "rate":
            self.sample_rate = 11025  # type: ignore[misc]
        else:
            raise ValueError("cannot start")


def broken_factory(options: Mapping[str, str]) -> BotAdapter:
    raise RuntimeError("no model")
