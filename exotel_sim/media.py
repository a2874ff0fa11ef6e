"""Say and play: audio sources put into parties' ears, and the audio they come from.

:class:`AudioLibrary` holds the fixtures (as 8 kHz PCM16) and a bounded cache of WAV files
fetched for ``start_play``. :class:`Playback` is one say or play running for one or more ears
(a leg, or both legs of a bridge): :meth:`Playback.begin` schedules the audio into the
timelines and a completion timer; :meth:`Playback.stop` cuts it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import aiohttp

import audio_fixtures
from exotel_sim.audio import Placed, decode_wav, duration_ms, resample
from exotel_sim.tasks import SimClock, TaskSet
from exotel_sim.timeline import PartyTimeline

MAX_PLAY_BYTES = 20 * 1024 * 1024
PLAY_CACHE_SIZE = 64


class AudioLibrary:
    """Fixtures by name and fetched WAV files by URL, all as 8 kHz PCM16."""

    def __init__(self) -> None:
        self._fixtures: dict[str, bytes] = {}
        self._fetched: OrderedDict[str, bytes] = OrderedDict()
        self.names = frozenset(audio_fixtures.names())

    def fixture(self, name: str) -> bytes:
        """Fixture ``name`` as 8 kHz PCM16; raises ``FileNotFoundError``."""
        if name not in self._fixtures:
            clip = audio_fixtures.load(name)
            self._fixtures[name] = resample(clip.pcm, clip.sample_rate, 8000)
        return self._fixtures[name]

    def say_clip(self, text: str) -> str:
        """The fixture a ``start_say`` text plays: the one named by the text, else greeting."""
        name = text.strip()
        return name if name in self.names else "greeting"

    async def fetch(self, session: aiohttp.ClientSession, url: str) -> bytes:
        """GET a WAV file over HTTP (cached); raises ``ValueError`` if it cannot be played."""
        if url in self._fetched:
            self._fetched.move_to_end(url)
            return self._fetched[url]
        try:
            async with session.get(url) as resp:
                if resp.status != 200:
                    raise ValueError(f"GET {url} answered {resp.status}")
                data = await resp.content.read(MAX_PLAY_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ValueError(f"GET {url} failed: {type(exc).__name__}") from exc
        if len(data) > MAX_PLAY_BYTES:
            raise ValueError(f"{url} is larger than {MAX_PLAY_BYTES} bytes")
        pcm = decode_wav(data)
        self._fetched[url] = pcm
        if len(self._fetched) > PLAY_CACHE_SIZE:
            self._fetched.popitem(last=False)
        return pcm


def play_detail(url: str) -> str:
    """A play's timeline detail: the file's stem (``hold_message`` for .../hold_message.wav)."""
    return PurePosixPath(urlsplit(url).path).stem or url


@dataclass(eq=False, slots=True)
class Recording:
    """A recording of a leg or a bridge, from ``start_ms`` to ``end_ms``."""

    sid: str
    owner_sid: str
    start_ms: float
    action_sid: str
    custom_param: str
    end_ms: float | None = None


EmitFn = Callable[[str, dict[str, Any]], None]


@dataclass(eq=False, slots=True)
class Playback:
    """One say or play heard by ``ears``; ``emit(name, event_data)`` reports its events."""

    kind: str  # "say" | "play"
    detail: str
    ears: list[PartyTimeline]
    action_sid: str
    emit: EmitFn
    clock: SimClock
    start_ms: float = 0.0
    end_ms: float = 0.0
    done: bool = False
    audio: bytes = b""
    _timer: asyncio.Task[Any] | None = field(default=None)

    def begin(self, pcm: bytes, loops: int, tasks: TaskSet) -> None:
        """Start now: the audio (``loops`` times) enters every ear; completion is timed."""
        audio = pcm * loops
        self.audio = audio
        self.start_ms = self.clock.now_ms()
        self.end_ms = self.start_ms + duration_ms(audio)
        for ear in self.ears:
            ear.hear(self.kind, self.detail, self.start_ms, self.end_ms, audio)
        if self.kind == "play":
            self.emit("play_started", self._data("started"))
        self._timer = tasks.spawn(self._complete(), f"{self.kind}:{self.action_sid}")

    async def _complete(self) -> None:
        await self.clock.sleep_until(self.end_ms)
        if self.done:
            return
        self.done = True
        self.emit(f"{self.kind}_completed", self._data("completed"))

    def stop(self, *, emit: bool = True, at: float | None = None) -> None:
        """Cut the audio now (or at ``at``); reports ``play_interrupted`` / ``say_completed``
        with status ``interrupted`` unless ``emit`` is false (the leg hung up)."""
        if self.done:
            return
        self.done = True
        now = self.clock.now_ms() if at is None else at
        if self.audio:
            self.end_ms = min(self.end_ms, now)
        for ear in self.ears:
            ear.cut(self.kind, now, self.detail)
        if self._timer is not None:
            self._timer.cancel()
        if emit:
            name = "play_interrupted" if self.kind == "play" else "say_completed"
            self.emit(name, self._data("interrupted"))

    def placed(self) -> Placed | None:
        """The audio as it was (or will be) heard, for recordings; None before it began."""
        return Placed(self.start_ms, self.end_ms, self.audio) if self.audio else None

    def _data(self, status: str) -> dict[str, Any]:
        return {"status": status, "source": self.detail,
                "start_ms": round(self.start_ms), "end_ms": round(self.end_ms)}


async def fetch_then(
    fetch: Awaitable[bytes], on_ok: Callable[[bytes], None], on_fail: Callable[[str], None]
) -> None:
    """Await a fetch, then call ``on_ok(pcm)`` or ``on_fail(reason)``."""
    try:
        pcm = await fetch
    except ValueError as exc:
        on_fail(str(exc))
        return
    on_ok(pcm)
