"""The gateway's error tree and the WebSocket close codes it documents.

Two families, as in h11: :class:`ProtocolError` is the *peer's* fault (Exotel, or whatever
is on the other end of the stream, sent something we cannot accept) and always carries the
close code the stream is closed with; :class:`AdapterError` is the *bot's* fault. Errors
from lower layers (``json``, ``binascii``) are converted at the boundary with
``raise ... from``. Our own misuse of an API raises the usual ``ValueError``/``TypeError``.

The close codes are listed in README.md (section ``gateway``); keep the two in step.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

_SHOWN = 64  # characters of a peer's value quoted in an error message


class CloseCode(IntEnum):
    """Close codes the gateway sends. 1xxx are RFC 6455, 4xxx are voxgate's own."""

    NORMAL = 1000  # stop received, or the bot hung up
    GOING_AWAY = 1001  # gateway shutting down (after the shutdown deadline)
    MESSAGE_TOO_BIG = 1009  # a message over the configured size limit (sent by websockets)
    INTERNAL_ERROR = 1011  # a bug in the gateway; logged with a traceback
    MALFORMED_MESSAGE = 4000  # not JSON, not an object, missing or ill-typed fields
    BAD_PAYLOAD = 4001  # media payload is not valid base64
    BAD_AUDIO = 4002  # audio that cannot be the announced format (odd-length PCM16)
    OUT_OF_ORDER = 4003  # media/dtmf/mark before start, a second start, a wrong stream_sid
    UNSUPPORTED_FORMAT = 4004  # encoding, sample rate or bit rate we do not speak
    UNKNOWN_ADAPTER = 4005  # /stream/{adapter} names no installed adapter
    ADAPTER_ERROR = 4006  # the bot adapter raised (or could not be built)
    ADAPTER_TIMEOUT = 4007  # a bot hook overran its deadline, or its queue overflowed
    IDLE_TIMEOUT = 4008  # no message from the peer for the idle timeout


def shown(value: Any) -> str:
    """A peer's value for an error message: a scalar's repr cut to a few dozen characters,
    otherwise its type name (a container's repr could be huge, or recurse)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else "int"
        return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
    return type(value).__name__


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ProtocolError(GatewayError):
    """The peer broke the stream protocol. ``kind`` labels the metric, ``close_code`` the close."""

    kind: str = "protocol"
    close_code: CloseCode = CloseCode.MALFORMED_MESSAGE


class MalformedMessage(ProtocolError):
    """Not JSON, not a JSON object, or a field is missing or of the wrong type."""

    kind = "malformed"
    close_code = CloseCode.MALFORMED_MESSAGE


class BadPayload(ProtocolError):
    """A media payload that is not valid base64."""

    kind = "bad_base64"
    close_code = CloseCode.BAD_PAYLOAD


class BadAudio(ProtocolError):
    """Audio bytes that cannot be the announced format (odd-length PCM16)."""

    kind = "bad_audio"
    close_code = CloseCode.BAD_AUDIO


class OutOfOrder(ProtocolError):
    """An event the stream's state does not allow (media before start, anything after stop)."""

    kind = "out_of_order"
    close_code = CloseCode.OUT_OF_ORDER


class UnsupportedFormat(ProtocolError):
    """A media format outside PCM16 8/16/24 kHz and mu-law 8 kHz."""

    kind = "unsupported_format"
    close_code = CloseCode.UNSUPPORTED_FORMAT


class AdapterError(GatewayError):
    """The bot adapter failed: raised, overran its deadline or could not keep up."""

    def __init__(self, message: str, close_code: CloseCode = CloseCode.ADAPTER_ERROR) -> None:
        super().__init__(message)
        self.close_code = close_code


class ControlHookError(GatewayError):
    """The control hook (the dialer) refused or failed a request. ``status`` is HTTP's, if any."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body
