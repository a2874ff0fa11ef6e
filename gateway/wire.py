"""One TCP connection of the gateway: HTTP handshake and WebSocket framing, no tasks.

:class:`WebSocketWire` is an ``asyncio.Protocol`` that drives websockets' sans-I/O
:class:`websockets.server.ServerProtocol`: bytes from the socket go to
``protocol.receive_data``, the events it parses are acted on at once (a request is routed by
the :class:`WireHost`, i.e. the server; a message is handed to the connection's
:class:`MessageSink`, i.e. the call's driver), and what the protocol has to send is written
with one ``transport.write``. There is no reader task per connection and no asyncio stream:
reading costs one callback per socket read.

Outbound text frames are framed here (RFC 6455 section 5.2: a server's frames are unmasked;
no extension is ever negotiated), several messages in one write; control frames (close,
pong) and the closing handshake stay with websockets' protocol.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Protocol, cast

from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import CONNECTING, OPEN
from websockets.server import ServerProtocol

log = logging.getLogger(__name__)
_ws_log = logging.getLogger("websockets.server")

SERVER_HEADER = "voxgate-gateway"
_INVALID_DATA = 1007
OP_TEXT, OP_BINARY, OP_CONT, OP_CLOSE = Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.CLOSE


class MessageSink(Protocol):
    """Whoever consumes an open WebSocket's messages (the call's driver)."""

    def message_received(self, message: str | bytes) -> None:
        """A whole message (text as ``str``, binary as ``bytes``)."""

    def wire_closed(self, code: int | None) -> None:
        """No more messages will come: the peer closed or vanished (``code`` None), or the
        protocol failed the connection and sent close ``code`` (1009 too big, 1002, 1007)."""


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


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame (what a server sends)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


class WebSocketWire(asyncio.Protocol):
    """One connection from accept to close (see the module docstring)."""

    def __init__(
        self, host: WireHost, *, max_size: int, handshake_timeout: float, close_timeout: float
    ) -> None:
        self.host = host
        self.protocol = ServerProtocol(max_size=max_size, logger=_ws_log)
        self.request: Request | None = None
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self._sink: MessageSink | None = None
        self._receiving = True  # False once we close, fail, or the peer closed
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode = OP_TEXT
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
        protocol = self.protocol
        protocol.receive_data(data)
        events = protocol.events_received()
        self._write_pending()
        for event in events:
            if type(event) is Frame:
                if self._receiving:
                    self._frame(event)
            elif isinstance(event, Request):
                self._handshake(event)
        if protocol.close_expected() and self._timer is None:
            self._timer = self.loop.call_later(self._close_timeout, self._expire)
        if self._receiving and protocol.parser_exc is not None:
            self._stop_receiving(protocol.close_sent.code if protocol.close_sent else None)

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._write_pending()
        return None  # close the transport: WebSocket never writes after EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.receive_eof()
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
        return self.protocol.state is OPEN

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
        if self.protocol.state is not OPEN or self.transport is None:
            return
        if len(messages) == 1:
            self.transport.write(text_frame(messages[0].encode()))
        else:
            self.transport.write(b"".join([text_frame(m.encode()) for m in messages]))

    def close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake with ``code`` (no-op when closing already); the
        connection is aborted if the peer has not finished it within the close timeout."""
        self._receiving = False
        if self.protocol.state is OPEN:
            self.protocol.send_close(code, reason)
            self._write_pending()
            if self._timer is None:
                self._timer = self.loop.call_later(self._close_timeout, self._expire)
        elif self.protocol.state is CONNECTING and self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        """Until the TCP connection is gone."""
        await asyncio.shield(self._closed)

    # ---- internals -------------------------------------------------------------------------
    def _write_pending(self) -> None:
        transport = self.transport
        assert transport is not None
        data = self.protocol.data_to_send()
        if not data:
            return
        if data[-1]:
            transport.write(b"".join(data))
            return
        body = b"".join(data[:-1])  # SEND_EOF comes last
        if body:
            transport.write(body)
        if transport.can_write_eof():
            try:
                transport.write_eof()
            except Exception:  # uvloop may raise RuntimeError on a closing transport
                transport.close()
        else:
            transport.close()

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

    def _handshake(self, request: Request) -> None:
        self.request = request
        protocol = self.protocol
        response = self.host.respond(self, request)
        if response is None:
            response = protocol.accept(request)
        response.headers["Server"] = SERVER_HEADER
        protocol.send_response(response)
        self._write_pending()
        if protocol.state is OPEN:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._sink = self.host.stream_opened(self, request)
        elif protocol.handshake_exc is not None:
            log.debug("handshake failed: %s", protocol.handshake_exc)

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        data = bytes(frame.data)  # parsed frames hold bytes already: no copy
        if opcode is OP_TEXT or opcode is OP_BINARY:
            if not frame.fin:
                self._fragments = [data]
                self._fragment_opcode = opcode
                return
            self._deliver(opcode, data)
        elif opcode is OP_CONT:
            self._fragments.append(data)
            if frame.fin:
                data = b"".join(self._fragments)
                self._fragments = []
                self._deliver(self._fragment_opcode, data)
        elif opcode is OP_CLOSE:
            self._stop_receiving(None)
        # ping: the protocol answered it already; pong: nothing to do

    def _deliver(self, opcode: Opcode, data: bytes) -> None:
        sink = self._sink
        if sink is None:
            return
        if opcode is OP_TEXT:
            try:
                text = data.decode()
            except UnicodeDecodeError as exc:
                self.protocol.fail(_INVALID_DATA, f"invalid UTF-8 at position {exc.start}")
                self._write_pending()
                self._stop_receiving(_INVALID_DATA)
                return
            sink.message_received(text)
        else:
            sink.message_received(data)
