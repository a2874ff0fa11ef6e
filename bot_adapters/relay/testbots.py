"""External test bots speaking the Exotel or Twilio stream dialect, on 127.0.0.1.

For testing and benchmarking the relay (and for bot developers checking a relay setup): a
real WebSocket server that behaves like a simple voice bot. Use it as an async context
manager; ``bot.url`` is where to point the relay::

    async with DialectTestBot("twilio", greeting=pcm) as bot:
        relay = RelayAdapter({"url": bot.url, "dialect": "twilio"})

Behaviour (``mode``):

* ``normal``: on ``start`` sends ``greeting`` then mark ``greeting``; on DTMF ``0`` asks for a
  transfer (reason ``caller_pressed_0``, skills ``sales``), ``#`` a hang-up (reason
  ``caller_pressed_hash``), ``5`` sends ``long_audio`` then mark ``long``, ``9`` a ``clear``.
* ``echo``: every caller media frame is sent straight back (latency measurement).
* ``silent``: accepts the call and never speaks (the relay's answer deadline fires).
* ``drop``: speaks the greeting, then drops the connection after ``drop_after_s`` (the TCP
  connection is aborted: no close frame, as when the bot's process dies).
* ``end``: speaks the greeting, then closes the WebSocket after ``drop_after_s`` with
  ``close_code`` (1000 by default: how pipecat's serializers end a call).

Everything received is kept in :attr:`DialectTestBot.received` (decoded JSON objects).
"""

from __future__ import annotations

import asyncio
import base64
import json
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bot_adapters.relay.dialects import Dialect, DialectName, Encoding

MODES = ("normal", "echo", "silent", "drop", "end")


class DialectTestBot:
    """A test bot server; see the module docstring."""

    def __init__(
        self,
        dialect: DialectName,
        *,
        mode: str = "normal",
        greeting: bytes = b"\x00\x00" * 1600,
        long_audio: bytes = b"\x00\x00" * 16000,
        encoding: Encoding | None = None,
        sample_rate: int = 8000,
        drop_after_s: float = 0.2,
        close_code: int = 1000,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown test bot mode {mode!r}")
        self.dialect = Dialect(
            dialect, encoding or ("mulaw" if dialect == "twilio" else "pcm16"), sample_rate
        )
        self.mode = mode
        self.greeting = greeting
        self.long_audio = long_audio
        self.drop_after_s = drop_after_s
        self.close_code = close_code
        self.received: list[dict[str, Any]] = []
        self.connections = 0
        self.closed = asyncio.Event()
        self._server: Server | None = None
        self._sid_key = "streamSid" if dialect == "twilio" else "stream_sid"

    @property
    def url(self) -> str:
        assert self._server is not None, "use the test bot as an async context manager"
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}/bot"

    async def __aenter__(self) -> DialectTestBot:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    # -- what the tests read ------------------------------------------------------------------

    def events(self, name: str) -> list[dict[str, Any]]:
        """Received frames with ``event == name``."""
        return [m for m in self.received if m.get("event") == name]

    def audio_received(self) -> bytes:
        """Caller audio received, as PCM16."""
        return b"".join(
            self.dialect.from_wire(base64.b64decode(m["media"]["payload"]))
            for m in self.events("media")
        )

    # -- the bot ------------------------------------------------------------------------------

    def _out(self, event: str, body: dict[str, Any] | None = None, sid: str = "") -> str:
        msg: dict[str, Any] = {"event": event, self._sid_key: sid}
        if body is not None:
            msg[event] = body
        return json.dumps(msg)

    def _media(self, pcm: bytes, sid: str) -> str:
        payload = base64.b64encode(self.dialect.to_wire(pcm)).decode("ascii")
        return self._out("media", {"payload": payload}, sid)

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        sid = ""
        try:
            async for frame in ws:
                if self.mode == "echo" and '"media"' in frame[:40]:
                    # fast path: swap the payload into a bot-to-call media frame
                    msg = json.loads(frame)
                    await ws.send(self._out("media", {"payload": msg["media"]["payload"]}, sid))
                    continue
                msg = json.loads(frame)
                self.received.append(msg)
                await self._on(ws, msg, sid)
                if msg.get("event") == "start":
                    sid = msg["start"].get("streamSid") or msg["start"].get("stream_sid", "")
                    await self._on_start(ws, sid)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def _on_start(self, ws: ServerConnection, sid: str) -> None:
        if self.mode in ("normal", "drop", "end"):
            await ws.send(self._media(self.greeting, sid))
            await ws.send(self._out("mark", {"name": "greeting"}, sid))
        if self.mode == "drop":
            await asyncio.sleep(self.drop_after_s)
            ws.transport.abort()
        elif self.mode == "end":
            await asyncio.sleep(self.drop_after_s)
            await ws.close(self.close_code)

    async def _on(self, ws: ServerConnection, msg: dict[str, Any], sid: str) -> None:
        if msg.get("event") != "dtmf" or self.mode != "normal":
            return
        digit = msg["dtmf"]["digit"]
        if digit == "0":
            body = {"reason": "caller_pressed_0", "skills": ["sales"]}
            await ws.send(self._out("transfer", body, sid))
        elif digit == "#":
            await ws.send(self._out("hangup", {"reason": "caller_pressed_hash"}, sid))
        elif digit == "5":
            await ws.send(self._media(self.long_audio, sid))
            await ws.send(self._out("mark", {"name": "long"}, sid))
        elif digit == "9":
            await ws.send(self._out("clear", None, sid))
