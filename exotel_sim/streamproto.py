"""Exotel's side of the stream WebSocket protocol (pure: text in, text and times out).

:class:`StreamCodec` builds what Exotel sends (``connected``, ``start``, ``media``, ``dtmf``,
``mark``, ``stop``) with running ``sequence_number``/``chunk`` counters; :func:`parse_bot_message`
parses what the bot sends (``media``, ``mark``, ``clear``; ``stream_sid`` or ``streamSid``).
:class:`Playout` is the customer's loudspeaker: bot chunks play back to back at real-time pace,
a mark is due when the audio queued before it has played, and ``clear`` drops queued chunks
while the one playing finishes. See docs/exotel.md section 1.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import struct
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exotel_sim.requests import StreamFormat

try:  # websockets' C helper; the pure-Python one is the same function, slower
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover
    from websockets.utils import apply_mask


class ProtocolError(ValueError):
    """The bot sent something that is not a valid stream message."""


@dataclass(frozen=True, slots=True)
class BotMedia:
    payload: bytes


@dataclass(frozen=True, slots=True)
class BotMark:
    name: str


@dataclass(frozen=True, slots=True)
class BotClear:
    pass


BotMessage = BotMedia | BotMark | BotClear


def parse_bot_message(text: str | bytes) -> BotMessage:
    """Parse one text frame from the bot; raises :class:`ProtocolError`."""
    if isinstance(text, bytes):
        raise ProtocolError("binary frames are not part of the protocol")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {exc.msg}") from exc
    if not isinstance(msg, dict):
        raise ProtocolError("message is not a JSON object")
    event = msg.get("event")
    if event == "media":
        media = msg.get("media")
        if not isinstance(media, dict) or not isinstance(media.get("payload"), str):
            raise ProtocolError("media message without media.payload")
        try:
            payload = base64.b64decode(media["payload"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("media.payload is not base64") from exc
        return BotMedia(payload)
    if event == "mark":
        mark = msg.get("mark")
        if not isinstance(mark, dict) or not isinstance(mark.get("name"), str):
            raise ProtocolError("mark message without mark.name")
        return BotMark(mark["name"])
    if event == "clear":
        return BotClear()
    raise ProtocolError(f"unknown event {event!r}")


@dataclass(slots=True)
class StreamCodec:
    """Builds Exotel's outbound messages for one stream."""

    stream_sid: str
    call_sid: str
    account_sid: str
    from_number: str
    to_number: str
    fmt: StreamFormat
    custom_parameters: Mapping[str, str] = field(default_factory=dict)
    sequence: int = 0
    chunk: int = 0

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence

    def connected(self) -> str:
        return json.dumps({"event": "connected"})

    def media_format(self) -> dict[str, str]:
        if self.fmt.encoding == "mulaw":
            return {"encoding": "audio/x-mulaw", "sample_rate": "8000", "bit_rate": "8"}
        return {"encoding": "audio/x-raw", "sample_rate": str(self.fmt.sample_rate),
                "bit_rate": "16"}

    def start(self) -> str:
        return self._dump("start", {
            "stream_sid": self.stream_sid,
            "call_sid": self.call_sid,
            "account_sid": self.account_sid,
            "from": self.from_number,
            "to": self.to_number,
            "custom_parameters": dict(self.custom_parameters),
            "media_format": self.media_format(),
        })

    def media(self, payload: bytes, timestamp_ms: int) -> str:
        """One ``media`` message; ``timestamp_ms`` is the chunk's offset in the stream."""
        return self.media_b64(base64.b64encode(payload).decode("ascii"), timestamp_ms)

    def media_b64(self, b64: str, timestamp_ms: int) -> str:
        """Like :meth:`media` with the payload already base64 encoded (cached silence)."""
        seq = self._next()
        self.chunk += 1
        chunk = self.chunk
        return (
            f'{{"event":"media","sequence_number":"{seq}","stream_sid":"{self.stream_sid}",'
            f'"media":{{"chunk":"{chunk}","timestamp":"{timestamp_ms}","payload":"{b64}"}}}}'
        )

    def dtmf(self, digit: str, duration_ms: int = 100) -> str:
        return self._dump("dtmf", {"digit": digit, "duration": str(duration_ms)})

    def mark(self, name: str) -> str:
        return self._dump("mark", {"name": name})

    def stop(self, reason: str) -> str:
        return self._dump(
            "stop",
            {"call_sid": self.call_sid, "account_sid": self.account_sid, "reason": reason},
        )

    def _dump(self, event: str, body: dict[str, Any]) -> str:
        return json.dumps({
            "event": event,
            "sequence_number": str(self._next()),
            "stream_sid": self.stream_sid,
            event: body,
        })


@dataclass(slots=True)
class Playout:
    """Bot audio scheduled into the customer's ear; times are ms on the emulator's clock."""

    busy_until: float = 0.0
    chunks: deque[tuple[float, float]] = field(default_factory=deque)
    marks: deque[tuple[float, str]] = field(default_factory=deque)

    def add_media(self, now: float, dur_ms: float, gap_ms: float = 0.0) -> tuple[float, float]:
        """Queue a chunk; returns when it plays. ``gap_ms`` of silence follows it (Exotel
        leaves a 20 ms gap after a chunk that is not a whole number of frames)."""
        while self.chunks and self.chunks[0][1] <= now:
            self.chunks.popleft()
        start = max(now, self.busy_until)
        end = start + dur_ms
        self.chunks.append((start, end))
        self.busy_until = end + gap_ms
        return start, end

    def add_mark(self, now: float, name: str) -> float:
        """Queue a mark; returns when it is due (the audio before it has played)."""
        due = max(now, self.busy_until)
        self.marks.append((due, name))
        return due

    def clear(self, now: float) -> float:
        """Drop queued chunks; the one playing finishes. Returns when the ear falls silent.
        Pending marks fall due then (the audio before them is done: played or dropped)."""
        keep_until = now
        for start, end in self.chunks:
            if start <= now < end:
                keep_until = end
        self.chunks = deque((s, e) for s, e in self.chunks if s <= now < e)
        self.busy_until = keep_until
        self.marks = deque((min(due, keep_until), name) for due, name in self.marks)
        return keep_until

    def due_marks(self, now: float) -> list[str]:
        """Marks due by ``now``, in order; they are removed."""
        names: list[str] = []
        while self.marks and self.marks[0][0] <= now:
            names.append(self.marks.popleft()[1])
        return names

    def next_mark_due(self) -> float | None:
        return self.marks[0][0] if self.marks else None

    def playing(self, now: float) -> bool:
        return self.busy_until > now


def client_text_frame(text: str, mask: bytes | None = None) -> bytes:
    """One unfragmented WebSocket text frame as a client sends it (RFC 6455 5.2: FIN, opcode
    1, masked with a fresh 4-byte key). The emulator writes media frames with this, skipping
    the per-message bookkeeping of the WebSocket library on its hottest path."""
    data = text.encode()
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    key = mask if mask is not None else secrets.token_bytes(4)
    return head + key + apply_mask(data, key)
