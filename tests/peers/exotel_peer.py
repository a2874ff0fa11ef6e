"""A scripted Exotel-side stream client for the gateway's tests and load bench.

It does what Exotel does on a bidirectional stream: connects, sends ``connected`` and
``start``, streams the customer's audio as ``media`` (PCM16 or mu-law, base64), sends
``dtmf`` and ``stop``. With ``playback=True`` it also plays the bot's audio out in real
time like Exotel: chunks queue up, each "plays" for its duration, a ``mark`` is echoed once
everything before it has played, and ``clear`` drops what has not started while the playing
chunk finishes. It records what it received with arrival times.

It is not the project's emulator (``exotel_sim``); it exists so the gateway's tests do not
depend on it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


@dataclass
class Received:
    """What the peer got back from the gateway."""

    audio: bytearray = field(default_factory=bytearray)  # wire-format bytes, in order
    chunks: list[tuple[float, int]] = field(default_factory=list)  # (arrival, nbytes)
    marks: list[str] = field(default_factory=list)  # mark names as received
    clears: list[float] = field(default_factory=list)  # arrival times of clear
    played: int = 0  # bytes fully "played" (playback mode)
    echoed_marks: list[str] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""


class ExotelPeer:
    """One simulated Exotel stream. Use as ``async with ExotelPeer(url, ...) as peer``."""

    def __init__(
        self,
        url: str,
        *,
        encoding: str = "audio/x-raw",
        sample_rate: int = 8000,
        stream_sid: str = "MZ0001",
        call_sid: str = "CA0001",
        custom_parameters: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        playback: bool = False,
        numbers_as_strings: bool = True,
    ) -> None:
        self.url = url
        self.encoding = encoding
        self.mulaw = "mulaw" in encoding
        self.sample_rate = sample_rate
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.custom_parameters = custom_parameters or {}
        self.headers = headers or {}
        self.playback = playback
        self.numbers_as_strings = numbers_as_strings
        self.received = Received()
        self.ws: ClientConnection | None = None
        self._seq = 0
        self._chunk = 0
        self._timestamp_ms = 0
        self._queue: deque[tuple[str, bytes | str]] = deque()
        self._queued = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._got = asyncio.Event()

    # ---- lifecycle -----------------------------------------------------------------------
    async def __aenter__(self) -> ExotelPeer:
        self.ws = await connect(
            self.url, additional_headers=self.headers, compression=None, max_size=2**22,
            ping_interval=None,
        )
        self._tasks.append(asyncio.create_task(self._receive()))
        if self.playback:
            self._tasks.append(asyncio.create_task(self._play()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass

    def _num(self, value: int) -> int | str:
        return str(value) if self.numbers_as_strings else value

    async def send_json(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def send_raw(self, text: str | bytes) -> None:
        assert self.ws is not None
        await self.ws.send(text)

    async def start(self, media_format: dict[str, Any] | None = None) -> None:
        """Send ``connected`` and ``start`` (with this peer's media format by default)."""
        await self.send_json({"event": "connected"})
        self._seq += 1
        if media_format is None:
            media_format = {
                "encoding": self.encoding,
                "sample_rate": self._num(self.sample_rate),
                "bit_rate": self._num(8 if self.mulaw else 16),
            }
        await self.send_json(
            {
                "event": "start",
                "sequence_number": self._num(self._seq),
                "stream_sid": self.stream_sid,
                "start": {
                    "stream_sid": self.stream_sid,
                    "call_sid": self.call_sid,
                    "account_sid": "AC0001",
                    "from": "+919800000001",
                    "to": "+918000000002",
                    "custom_parameters": self.custom_parameters,
                    "media_format": media_format,
                },
            }
        )

    def to_wire(self, pcm: bytes) -> bytes:
        """PCM16 at this peer's rate to its wire encoding."""
        return audioop.lin2ulaw(pcm, 2) if self.mulaw else pcm

    def media_message(self, wire: bytes) -> str:
        self._seq += 1
        self._chunk += 1
        duration_ms = len(wire) * 1000 // (self.sample_rate * (1 if self.mulaw else 2))
        payload = base64.b64encode(wire).decode()
        message = (
            f'{{"event":"media","sequence_number":"{self._seq}","stream_sid":'
            f'"{self.stream_sid}","media":{{"chunk":"{self._chunk}","timestamp":'
            f'"{self._timestamp_ms}","payload":"{payload}"}}}}'
        )
        self._timestamp_ms += duration_ms
        return message

    async def send_media(self, wire: bytes) -> None:
        await self.send_raw(self.media_message(wire))

    async def stream(self, pcm: bytes, chunk_ms: int = 100, realtime: bool = False) -> int:
        """Send PCM16 (at this peer's rate) as wire chunks of ``chunk_ms``; returns the number
        of wire bytes sent. With ``realtime`` it paces sends at the audio's speed."""
        step = self.sample_rate * chunk_ms // 1000 * 2
        sent = 0
        begin = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), step)):
            piece = pcm[offset : offset + step]
            if len(piece) % 2:
                piece = piece[:-1]
            wire = self.to_wire(piece)
            await self.send_media(wire)
            sent += len(wire)
            if realtime:
                delay = begin + (index + 1) * chunk_ms / 1000 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        return sent

    async def dtmf(self, digit: str) -> None:
        self._seq += 1
        await self.send_json(
            {
                "event": "dtmf",
                "sequence_number": self._num(self._seq),
                "stream_sid": self.stream_sid,
                "dtmf": {"digit": digit, "duration": self._num(100)},
            }
        )

    async def stop(self, reason: str = "callended") -> None:
        self._seq += 1
        await self.send_json(
            {
                "event": "stop",
                "sequence_number": self._num(self._seq),
                "stream_sid": self.stream_sid,
                "stop": {"call_sid": self.call_sid, "account_sid": "AC0001", "reason": reason},
            }
        )

    # ---- waiting -------------------------------------------------------------------------
    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``predicate(self.received)`` is true (raises ``TimeoutError``)."""
        async with asyncio.timeout(timeout):
            while not predicate(self.received):
                self._got.clear()
                await self._got.wait()

    async def wait_closed(self, timeout: float = 5.0) -> int | None:  # noqa: ASYNC109
        """Wait for the gateway to close; returns the close code."""
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            await self.ws.wait_closed()
        for task in self._tasks[:1]:
            await asyncio.wait([task], timeout=timeout)
        return self.received.close_code

    # ---- background ----------------------------------------------------------------------
    async def _receive(self) -> None:
        assert self.ws is not None
        got = self.received
        try:
            async for message in self.ws:
                now = time.monotonic()
                msg = json.loads(message)
                event = msg.get("event")
                if event == "media":
                    wire = base64.b64decode(msg["media"]["payload"])
                    got.audio += wire
                    got.chunks.append((now, len(wire)))
                    if self.playback:
                        self._queue.append(("media", wire))
                        self._queued.set()
                elif event == "mark":
                    name = msg["mark"]["name"]
                    got.marks.append(name)
                    if self.playback:
                        self._queue.append(("mark", name))
                        self._queued.set()
                elif event == "clear":
                    got.clears.append(now)
                    self._queue.clear()
                else:
                    got.other.append(msg)
                self._got.set()
        except ConnectionClosed:
            pass
        finally:
            assert self.ws is not None
            if self.ws.close_code is not None:
                got.close_code = self.ws.close_code
                got.close_reason = self.ws.close_reason or ""
            self._got.set()

    async def _play(self) -> None:
        """Real-time playout of the bot's audio, echoing marks as Exotel does."""
        bytes_per_second = self.sample_rate * (1 if self.mulaw else 2)
        while True:
            while not self._queue:
                self._queued.clear()
                await self._queued.wait()
            kind, item = self._queue.popleft()
            if kind == "media":
                assert isinstance(item, bytes)
                await asyncio.sleep(len(item) / bytes_per_second)
                self.received.played += len(item)
            else:
                assert isinstance(item, str)
                self.received.echoed_marks.append(item)
                self._seq += 1
                try:
                    await self.send_json(
                        {
                            "event": "mark",
                            "sequence_number": self._num(self._seq),
                            "stream_sid": self.stream_sid,
                            "mark": {"name": item},
                        }
                    )
                except ConnectionClosed:
                    return
            self._got.set()
