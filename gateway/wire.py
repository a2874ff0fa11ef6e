"""One TCP connection of the gateway: HTTP handshake and WebSocket framing, no tasks.

:class:`WebSocketWire` is an ``asyncio.Protocol``. The HTTP upgrade goes through websockets'
sans-I/O :class:`websockets.server.ServerProtocol` (request parsing, ``Sec-WebSocket-Accept``,
the host's rejections such as 401 and 503). Only the request's bytes are fed to it: once the
connection is open, frames are parsed by the sans-I/O :class:`gateway.frames.FrameParser`
(RFC 6455 section 5; its module lists the rules), because a stream carries nothing but small
unfragmented text frames, and websockets' generator-based parser with its event and
``data_to_send`` round trips cost about a quarter of the gateway's CPU under load (see the
README's Load section).

A framing error sends a close frame with its code, half-closes, and tells the sink.
Pings are answered with pongs; the closing handshake is echoed; after it the server half-closes
first (RFC 6455 section 7.1.1) and aborts a peer that does not finish within the close timeout.

Outbound text frames are framed here too (a server's frames are unmasked), several messages in
one write. There is no reader task per connection and no asyncio stream: reading costs one
callback per socket read.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from enum import Enum
from typing import Protocol, cast

from websockets.http11 import Request, Response
from websockets.protocol import OPEN as WS_OPEN
from websockets.server import ServerProtocol

from gateway.frames import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Control,
    Frame,
    FrameParser,
    FramingError,
)
from voxgate_shared.redact import RedactingFilter

log = logging.getLogger(__name__)
_ws_log = logging.getLogger("websockets.server")
_ws_log.addFilter(RedactingFilter())  # its DEBUG lines print every request header

SERVER_HEADER = "voxgate-gateway"
_MAX_REQUEST = 16 * 1024  # bytes of HTTP request head kept before its end is seen


class WireState(Enum):
    CONNECTING = "connecting"  # the HTTP request is being read or answered
    OPEN = "open"
    CLOSING = "closing"  # a close frame was sent; waiting for the peer to finish
    CLOSED = "closed"


class MessageSink(Protocol):
    """Whoever consumes an open WebSocket's messages (the call's driver)."""

    def message_received(self, message: str | bytes) -> None:
        """A whole message (text as ``str``, binary as ``bytes``)."""

    def wire_closed(self, code: int | None) -> None:
        """No more messages will come: the peer closed or vanished (``code`` None), or the
        framing failed and the wire sent close ``code`` (1009 too big, 1002, 1007)."""


class WireHost(Protocol):
    """The server side of a wire: routing and bookkeeping."""

    def wire_opened(self, wire: WebSocketWire) -> None:
        """A TCP connection was accepted."""

    def wire_lost(self, wire: WebSocketWire) -> None:
        """A TCP connection ended."""

    def respond(self, wire: WebSocketWire, request: Request) -> Response | None:
        """An HTTP response for ``request``, or None to upgrade it to a WebSocket."""

    def stream_opened(self, wire: WebSocketWire, request: Request) -> MessageSink | None:
        """The upgrade succeeded: who gets the messages (None: the host closed the wire)."""


def frame_header(opcode: int, length: int) -> bytes:
    """The header of one unmasked, final frame (what a server sends)."""
    if length < 126:
        return bytes((0x80 | opcode, length))
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length)
    return struct.pack("!BBQ", 0x80 | opcode, 127, length)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame."""
    return frame_header(OP_TEXT, len(payload)) + payload


def close_payload(code: int, reason: str = "") -> bytes:
    """A close frame's body: the code, then the reason cut to fit 125 bytes of UTF-8."""
    return struct.pack("!H", code) + reason.encode()[:123].decode(errors="ignore").encode()


class WebSocketWire(asyncio.Protocol):
    """One connection from accept to close (see the module docstring)."""

    def __init__(
        self, host: WireHost, *, max_size: int, handshake_timeout: float, close_timeout: float
    ) -> None:
        self.host = host
        self.protocol = ServerProtocol(max_size=max_size, logger=_ws_log)  # handshake only
        self.request: Request | None = None
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.state = WireState.CONNECTING
        self._max_size = max_size
        self._sink: MessageSink | None = None
        self._receiving = True  # False once we close, fail, or the peer closed
        self._close_sent = False
        self._reading_frames = False  # open, or we closed and await the peer's close frame
        self._head = bytearray()  # a partial HTTP request head
        self._scanned = 0  # bytes of _head searched for its end
        self._parser = FrameParser(max_size)
        self._close_timeout = close_timeout
        self._timer: asyncio.TimerHandle | None = None
        self._handshake_timeout = handshake_timeout
        self._closed: asyncio.Future[None] = self.loop.create_future()
        self._paused = False
        self._drained: asyncio.Future[None] | None = None

    # ---- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)
        self._timer = self.loop.call_later(self._handshake_timeout, self._expire)
        self.host.wire_opened(self)

    def data_received(self, data: bytes) -> None:
        if self._reading_frames:
            self._frames(data)
        elif self.state is WireState.CONNECTING:
            self._head += data
            self._request_bytes()
        # otherwise the closing handshake is over: what the peer sends is discarded

    def eof_received(self) -> bool | None:
        if self.state is WireState.CONNECTING:
            self.protocol.receive_eof()
            self._write_handshake()
        return None  # close the transport: WebSocket never writes after EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = WireState.CLOSED
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stop_receiving(None)
        if not self._closed.done():
            self._closed.set_result(None)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self.host.wire_lost(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # ---- for the call's driver -------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """True while messages can be sent."""
        return self.state is WireState.OPEN

    @property
    def paused(self) -> bool:
        """The peer reads slower than we write (the transport's buffer is over its mark)."""
        return self._paused

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its low-water mark (or the wire died)."""
        if self._paused and not self._closed.done():
            if self._drained is None or self._drained.done():
                self._drained = self.loop.create_future()
            await self._drained

    def send_texts(self, messages: list[str]) -> None:
        """Send text messages in order, in one write. Dropped once the wire is closing."""
        if self.state is not WireState.OPEN or self.transport is None:
            return
        if len(messages) == 1:
            self.transport.write(text_frame(messages[0].encode()))
        else:
            self.transport.write(b"".join([text_frame(m.encode()) for m in messages]))

    def close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake with ``code`` (no-op when closing already); the
        connection is aborted if the peer has not finished it within the close timeout."""
        self._receiving = False
        if self.state is WireState.OPEN:
            self._send_close(code, reason)
        elif self.state is WireState.CONNECTING and self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        """Until the TCP connection is gone."""
        await asyncio.shield(self._closed)

    # ---- the handshake (websockets' ServerProtocol) ----------------------------------------
    def _request_bytes(self) -> None:
        """Feed websockets the request head only; bytes after it are frames, kept for us.
        Each read's bytes are searched once (a head dripped byte by byte costs linear time)."""
        head = self._head
        end = head.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            self._scanned = len(head)
            if len(head) <= _MAX_REQUEST:
                return
            self.protocol.receive_data(bytes(head))  # websockets refuses the oversized head
            rest = b""
        else:
            self.protocol.receive_data(bytes(head[: end + 4]))
            rest = bytes(head[end + 4 :])
        self._head = bytearray()
        for event in self.protocol.events_received():
            if isinstance(event, Request):
                self._handshake(event)
        self._write_handshake()
        if self.state is WireState.OPEN and rest:
            self._frames(rest)

    def _write_handshake(self) -> None:
        transport = self.transport
        assert transport is not None
        data = self.protocol.data_to_send()
        if not data:
            return
        if data[-1]:
            transport.write(b"".join(data))
            return
        body = b"".join(data[:-1])  # SEND_EOF comes last: a refused request
        if body:
            transport.write(body)
        self.state = WireState.CLOSING
        self._receiving = False
        self._half_close()

    def _handshake(self, request: Request) -> None:
        self.request = request
        protocol = self.protocol
        response = self.host.respond(self, request)
        if response is None:
            response = protocol.accept(request)
        response.headers["Server"] = SERVER_HEADER
        protocol.send_response(response)
        if protocol.state is WS_OPEN:
            self._write_handshake()
            self.state = WireState.OPEN
            self._reading_frames = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._sink = self.host.stream_opened(self, request)
        elif protocol.handshake_exc is not None:
            log.debug("handshake failed: %s", protocol.handshake_exc)

    # ---- frames ----------------------------------------------------------------------------
    def _frames(self, data: bytes) -> None:
        """Act on every whole frame in ``data`` (the parser keeps a partial one)."""
        try:
            frames = self._parser.feed(data)
        except FramingError as exc:
            self._act(exc.frames)
            if self._reading_frames:
                self._fail(exc.code, str(exc))
            return
        self._act(frames)

    def _act(self, frames: list[Frame]) -> None:
        for frame in frames:
            if not self._reading_frames:
                return
            if not isinstance(frame, Control):  # a message: str or bytes
                sink = self._sink
                if sink is not None and self._receiving:
                    sink.message_received(frame)
                continue
            if frame.opcode == OP_PING:
                self._write(frame_header(OP_PONG, len(frame.payload)) + frame.payload)
            elif frame.opcode == OP_CLOSE:
                self._peer_closed(frame.code)

    def _peer_closed(self, code: int) -> None:
        """The peer's close frame: echo its code unless we closed first (RFC 6455 section
        5.5.1), then half-close: the server ends the TCP connection first (section 7.1.1)."""
        self._stop_receiving(None)
        if not self._close_sent:
            self._write(frame_header(OP_CLOSE, 2) + struct.pack("!H", code))
            self._close_sent = True
        self.state = WireState.CLOSING
        self._half_close()

    # ---- closing ---------------------------------------------------------------------------
    def _send_close(self, code: int, reason: str) -> None:
        """Our close frame; the peer's answer is still read (then we half-close)."""
        if not self._close_sent:
            body = close_payload(code, reason)
            self._write(frame_header(OP_CLOSE, len(body)) + body)
            self._close_sent = True
        self.state = WireState.CLOSING
        if self._timer is None:
            self._timer = self.loop.call_later(self._close_timeout, self._expire)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 section 7.1.7): close frame, half-close, tell the
        sink."""
        log.debug("failing WebSocket with %d: %s", code, reason)
        self._send_close(code, reason)
        self._half_close()
        self._stop_receiving(code)

    def _half_close(self) -> None:
        transport = self.transport
        assert transport is not None
        self._reading_frames = False  # the handshake is over either way
        self._head = bytearray()
        if self._timer is None:
            self._timer = self.loop.call_later(self._close_timeout, self._expire)
        if transport.can_write_eof():
            try:
                transport.write_eof()
            except Exception:  # uvloop may raise RuntimeError on a closing transport
                transport.close()
        else:
            transport.close()

    def _write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def _expire(self) -> None:
        """Handshake or close timeout: drop the TCP connection."""
        self._timer = None
        if self.transport is not None:
            self.transport.abort()

    def _stop_receiving(self, code: int | None) -> None:
        self._receiving = False
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.wire_closed(code)
