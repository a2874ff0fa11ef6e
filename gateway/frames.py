"""RFC 6455 client-frame parsing, sans I/O: bytes in, frames out, or a :class:`FramingError`.

:class:`FrameParser` is fed whatever a socket read returned (:meth:`FrameParser.feed`) and
returns the whole frames it completes, unmasked, with fragmented messages reassembled: a data
message as ``str`` (text) or ``bytes`` (binary), a control frame as :class:`Control` (ping,
pong, close with its payload checked). A read that starts on a frame boundary (the usual case)
is parsed in place; the bytes of a partial frame wait in one ``bytearray`` that is appended to,
and parsed only once the frame's announced length has arrived, so a frame dripped a byte at a
time costs linear, not quadratic, copying.

Rules (each raises :class:`FramingError` with the close code to fail the connection with):
client frames masked, reserved bits clear (no extension is negotiated), opcodes known,
control frames final and at most 125 bytes, continuation frames only inside a fragmented
message, a message at most ``max_size`` bytes (1009, checked on the header before the payload
is buffered), text valid UTF-8 (1007), a close payload empty or a valid code with a UTF-8
reason (1002, 1007). After a :class:`FramingError` or a close frame the parser is spent: it
returns nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1002, 1007, 1009
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_UNSENDABLE_CODES = frozenset({1005, 1006, 1015})


class FramingError(Exception):
    """The peer broke RFC 6455; ``code`` is the close code to fail the connection with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.frames: list[Frame] = []  # from FrameParser.feed: the frames completed before


@dataclass(frozen=True, slots=True)
class Control:
    """A control frame: ``opcode`` is OP_PING, OP_PONG or OP_CLOSE. For a close, ``code`` is
    the peer's close code (1000 when the payload was empty)."""

    opcode: int
    payload: bytes
    code: int = 0


Frame = str | bytes | Control
"""A text message, a binary message, or a control frame."""


def close_code_of(payload: bytes) -> int:
    """The close code of a close frame's ``payload`` (1000 if empty); raises FramingError."""
    if not payload:
        return 1000
    if len(payload) == 1:
        raise FramingError(PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = (payload[0] << 8) | payload[1]
    if code in _UNSENDABLE_CODES or not (1000 <= code < 1016 or 3000 <= code < 5000):
        raise FramingError(PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        payload[2:].decode()
    except UnicodeDecodeError:
        raise FramingError(INVALID_DATA, "close reason is not UTF-8") from None
    return code


def _text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise FramingError(INVALID_DATA, f"invalid UTF-8 at position {exc.start}") from None


class FrameParser:
    """One connection's inbound frames (see the module docstring)."""

    __slots__ = ("_buf", "_done", "_fragment_opcode", "_fragment_size", "_fragments", "_need",
                 "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buf = bytearray()  # the start of a partial frame
        self._need = 0  # bytes _buf must hold before it is worth parsing again
        self._fragments: list[bytes] = []
        self._fragment_size = 0
        self._fragment_opcode = 0  # 0: no fragmented message in progress
        self._done = False

    @property
    def buffered(self) -> int:
        """Bytes of a partial frame kept for the next feed."""
        return len(self._buf)

    @property
    def done(self) -> bool:
        """A close frame or an error ended the stream of frames."""
        return self._done

    def feed(self, data: bytes) -> list[Frame]:
        """Parse ``data`` after what was kept; returns the frames completed (in order).
        Raises :class:`FramingError`, whose ``frames`` are those completed before the error."""
        if self._done:
            return []
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return []
            data = bytes(buf)
            self._buf = bytearray()
        out: list[Frame] = []
        try:
            pos = self._parse(data, out)
        except FramingError as exc:
            exc.frames = out
            self._done = True
            self._buf = bytearray()
            raise
        if pos < len(data) and not self._done:
            self._buf = bytearray(data[pos:])
        return out

    def _parse(self, data: bytes, out: list[Frame]) -> int:
        """Every whole frame of ``data`` into ``out``; returns where a partial one starts
        (and sets ``_need``, the bytes it needs before parsing it is worth trying)."""
        size = len(data)
        pos = 0
        while not self._done:
            if size - pos < 2:
                self._need = 2
                break
            b0, b1 = data[pos], data[pos + 1]
            length = b1 & 0x7F
            head = pos + 2
            if length == 126:
                if size - pos < 4:
                    self._need = 4
                    break
                length = (data[pos + 2] << 8) | data[pos + 3]
                head = pos + 4
            elif length == 127:
                if size - pos < 10:
                    self._need = 10
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                head = pos + 10
            if not b1 & 0x80:
                raise FramingError(PROTOCOL_ERROR, "unmasked client frame")
            if b0 & 0x70:
                raise FramingError(PROTOCOL_ERROR, "reserved bits set")
            if length > self.max_size:
                raise FramingError(TOO_BIG, f"frame of {length} bytes")
            end = head + 4 + length
            if end > size:
                self._need = end - pos
                break
            payload = apply_mask(data[head + 4 : end], data[head : head + 4])
            pos = end
            frame = self._frame(b0 & 0x0F, bool(b0 & 0x80), payload)
            if frame is not None:
                out.append(frame)
        return pos

    def _frame(self, opcode: int, fin: bool, payload: bytes) -> Frame | None:
        if opcode == OP_TEXT or opcode == OP_BINARY:
            if self._fragment_opcode:
                raise FramingError(PROTOCOL_ERROR, "new message inside a fragmented one")
            if fin:
                return _text(payload) if opcode == OP_TEXT else payload
            self._fragment_opcode = opcode
            self._fragments = [payload]
            self._fragment_size = len(payload)
            return None
        if opcode == OP_CONT:
            if not self._fragment_opcode:
                raise FramingError(PROTOCOL_ERROR, "continuation without a message")
            self._fragment_size += len(payload)
            if self._fragment_size > self.max_size:
                raise FramingError(TOO_BIG, f"message of over {self.max_size} bytes")
            self._fragments.append(payload)
            if not fin:
                return None
            opcode, self._fragment_opcode = self._fragment_opcode, 0
            message = b"".join(self._fragments)
            self._fragments = []
            self._fragment_size = 0
            return _text(message) if opcode == OP_TEXT else message
        if opcode in (OP_CLOSE, OP_PING, OP_PONG):
            if not fin or len(payload) > 125:
                raise FramingError(PROTOCOL_ERROR, "fragmented or oversized control frame")
            if opcode == OP_CLOSE:
                code = close_code_of(payload)
                self._done = True
                return Control(opcode, payload, code)
            return Control(opcode, payload)
        raise FramingError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
