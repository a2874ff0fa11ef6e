"""Exotel's bidirectional stream protocol, sans I/O.

Feed every text (or binary) message Exotel sends to :meth:`StreamProtocol.receive`; it
returns one small immutable event or raises a :class:`~gateway.errors.ProtocolError` whose
``close_code`` the driver closes the stream with. Ask it for the messages the bot side
sends (:meth:`~StreamProtocol.media`, :meth:`~StreamProtocol.mark`,
:meth:`~StreamProtocol.clear`); they carry ``stream_sid`` in snake case.

Every documented variant is accepted: numbers as strings or integers, ``stream_sid`` or
``streamSid``, encodings ``audio/x-raw``, ``raw`` and ``audio/x-mulaw``. Unknown event
types come back as :class:`UnknownEvent` (log, count and ignore them). Wire format:
docs/exotel.md section 1 (developer.exotel.com, "Voicebot applet" / "Stream" docs).

Bounds (a peer must not make the gateway keep what it sends): an unknown event's name is cut
to ``MAX_LOGGED_NAME`` characters; a mark name over ``MAX_MARK_NAME`` characters is refused
(4000; the gateway never sends one that long); ``custom_parameters`` must be a flat object of
string, number or boolean values (4000 otherwise). JSON nesting is bounded by orjson (1024
levels, then a parse error: 4000), which does not recurse on the Python stack.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

import orjson
import pybase64

from gateway.errors import BadAudio, BadPayload, MalformedMessage, OutOfOrder, shown
from gateway.media_format import MediaFormat, parse_media_format

_EMPTY: Mapping[str, str] = MappingProxyType({})
MAX_MARK_NAME = 256  # characters; longer mark names are refused (ours are never longer)
MAX_LOGGED_NAME = 64  # characters of an unknown event's name that are kept


@dataclass(frozen=True, slots=True)
class Connected:
    """The peer's first message; carries nothing we use."""


@dataclass(frozen=True, slots=True)
class Start:
    """The stream started: who the call is and the media format of its audio."""

    stream_sid: str
    call_sid: str
    account_sid: str
    from_number: str
    to_number: str
    media_format: MediaFormat
    custom_parameters: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    sequence_number: int | None = None

    def __post_init__(self) -> None:
        if not self.stream_sid:
            raise MalformedMessage("start without a stream_sid")


@dataclass(frozen=True, slots=True)
class Media:
    """One inbound audio chunk, still in the call's wire encoding."""

    payload: bytes
    chunk: int | None = None
    timestamp: int | None = None
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Dtmf:
    """The customer pressed a key."""

    digit: str
    duration_ms: int | None = None

    def __post_init__(self) -> None:
        if len(self.digit) != 1 or self.digit not in "0123456789*#ABCD":
            raise MalformedMessage(f"bad DTMF digit {shown(self.digit)}")


@dataclass(frozen=True, slots=True)
class Mark:
    """Exotel finished playing the audio sent before the mark ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class Stop:
    """The stream ended: ``stopped`` (the flow moved on) or ``callended`` (caller hung up)."""

    reason: str
    call_sid: str = ""


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event type this gateway does not know; log it, count it, go on."""

    event: str


Event = Connected | Start | Media | Dtmf | Mark | Stop | UnknownEvent


class StreamState(Enum):
    AWAITING_START = "awaiting_start"
    STREAMING = "streaming"
    STOPPED = "stopped"


# The one state table: (state, event type) -> next state. Pairs not listed are out of order.
TRANSITIONS: dict[tuple[StreamState, type], StreamState] = {
    (StreamState.AWAITING_START, Connected): StreamState.AWAITING_START,
    (StreamState.AWAITING_START, Start): StreamState.STREAMING,
    (StreamState.AWAITING_START, Stop): StreamState.STOPPED,
    (StreamState.AWAITING_START, UnknownEvent): StreamState.AWAITING_START,
    (StreamState.STREAMING, Media): StreamState.STREAMING,
    (StreamState.STREAMING, Dtmf): StreamState.STREAMING,
    (StreamState.STREAMING, Mark): StreamState.STREAMING,
    (StreamState.STREAMING, UnknownEvent): StreamState.STREAMING,
    (StreamState.STREAMING, Stop): StreamState.STOPPED,
}


def _opt_int(value: Any, name: str) -> int | None:
    kind = type(value)
    if kind is str:  # what Exotel sends; int() allows surrounding whitespace
        try:
            return int(value)
        except ValueError:
            pass
    elif kind is int or value is None:
        return value  # type: ignore[no-any-return]
    raise MalformedMessage(f"{name} must be a number, got {shown(value)}")


def _obj(msg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = msg.get(key)
    if not isinstance(value, dict):
        raise MalformedMessage(f"{key!r} must be an object")
    return value


def _str(obj: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if isinstance(value, str):
        return value
    if value is None and default is not None:
        return default
    raise MalformedMessage(f"{key!r} must be a string, got {shown(value)}")


def _stream_sid(obj: Mapping[str, Any]) -> str | None:
    sid = obj.get("stream_sid")
    if sid is None:
        sid = obj.get("streamSid")
    if sid is None or isinstance(sid, str):
        return sid
    raise MalformedMessage(f"stream_sid must be a string, got {shown(sid)}")


def _param(key: str, value: Any) -> str:
    """One custom parameter's value as a string: only scalars (no nesting) are accepted."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise MalformedMessage(
        f"start.custom_parameters[{key[:MAX_LOGGED_NAME]!r}] must be a string or a number"
    )


def parse_start(msg: Mapping[str, Any], url_sample_rate: int | None = None) -> Start:
    """The ``start`` message to a :class:`Start` event (format per ``parse_media_format``)."""
    start = _obj(msg, "start")
    sid = _stream_sid(start) or _stream_sid(msg) or ""
    params = start.get("custom_parameters", start.get("customParameters"))
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise MalformedMessage("start.custom_parameters must be an object")
    custom = MappingProxyType({str(k): _param(k, v) for k, v in params.items()})
    fmt_obj = start.get("media_format", start.get("mediaFormat"))
    return Start(
        stream_sid=sid,
        call_sid=_str(start, "call_sid", start.get("callSid") or ""),
        account_sid=_str(start, "account_sid", start.get("accountSid") or ""),
        from_number=_str(start, "from", ""),
        to_number=_str(start, "to", ""),
        media_format=parse_media_format(fmt_obj, url_sample_rate),
        custom_parameters=custom,
        sequence_number=_opt_int(msg.get("sequence_number"), "sequence_number"),
    )


def decode_payload(text: Any) -> bytes:
    """Base64 media payload to bytes; raises :class:`BadPayload`."""
    if not isinstance(text, str):
        raise MalformedMessage("media.payload must be a string")
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadPayload(f"media payload is not valid base64: {exc}") from exc


def load_message(message: str | bytes) -> Mapping[str, Any]:
    """JSON text to the message object; raises :class:`MalformedMessage`."""
    try:
        msg = orjson.loads(message)
    except ValueError as exc:
        raise MalformedMessage(f"message is not JSON: {exc}") from exc
    if not isinstance(msg, dict):
        raise MalformedMessage("message is not a JSON object")
    return msg


def _media(msg: Mapping[str, Any]) -> Media:
    media = _obj(msg, "media")
    return Media(
        decode_payload(media.get("payload")),
        _opt_int(media.get("chunk"), "media.chunk"),
        _opt_int(media.get("timestamp"), "media.timestamp"),
        _opt_int(msg.get("sequence_number"), "sequence_number"),
    )


def parse_event(msg: Mapping[str, Any], url_sample_rate: int | None = None) -> Event:
    """One message object to its event (no ordering checks; see :class:`StreamProtocol`)."""
    kind = msg.get("event")
    if kind == "media":
        return _media(msg)
    if kind == "start":
        return parse_start(msg, url_sample_rate)
    if kind == "mark":
        name = _str(_obj(msg, "mark"), "name")
        if len(name) > MAX_MARK_NAME:
            raise MalformedMessage(f"mark name of {len(name)} characters (max {MAX_MARK_NAME})")
        return Mark(name)
    if kind == "dtmf":
        dtmf = _obj(msg, "dtmf")
        digit = dtmf.get("digit")
        if isinstance(digit, int) and not isinstance(digit, bool):
            digit = str(digit)
        if not isinstance(digit, str):
            raise MalformedMessage(f"dtmf.digit must be a string, got {shown(digit)}")
        return Dtmf(digit, _opt_int(dtmf.get("duration"), "dtmf.duration"))
    if kind == "stop":
        stop = msg.get("stop") or {}
        if not isinstance(stop, dict):
            raise MalformedMessage("'stop' must be an object")
        return Stop(_str(stop, "reason", "stopped"), _str(stop, "call_sid", ""))
    if kind == "connected":
        return Connected()
    if not isinstance(kind, str):
        raise MalformedMessage(f"'event' must be a string, got {type(kind).__name__}")
    return UnknownEvent(kind[:MAX_LOGGED_NAME])


class StreamProtocol:
    """One stream's protocol state: parses inbound messages in order, builds outbound ones."""

    __slots__ = (
        "_sample_width", "_sid_json", "media_format", "state", "stream_sid", "url_sample_rate"
    )

    def __init__(self, url_sample_rate: int | None = None) -> None:
        """``url_sample_rate`` is the stream URL's ``sample-rate`` query parameter, if any."""
        self.url_sample_rate = url_sample_rate
        self.state = StreamState.AWAITING_START
        self.stream_sid = ""
        self.media_format: MediaFormat | None = None
        self._sid_json = '""'
        self._sample_width = 1

    def receive(self, message: str | bytes) -> Event:
        """Parse and order-check one inbound message. Raises ``ProtocolError``."""
        msg = load_message(message)
        if self.state is StreamState.STREAMING and msg.get("event") == "media":
            media = _media(msg)  # the hot path: the one legal case, checked directly
            self._check_stream(msg)
            if len(media.payload) % self._sample_width:
                raise BadAudio(f"odd-length PCM16 payload ({len(media.payload)} bytes)")
            return media
        event = parse_event(msg, self.url_sample_rate)
        state = self.state
        new_state = TRANSITIONS.get((state, type(event)))
        if new_state is None:
            raise OutOfOrder(
                f"{type(event).__name__.lower()} not allowed while {state.value}"
            )
        if state is StreamState.STREAMING:
            self._check_stream(msg)
        elif type(event) is Start:
            self.stream_sid = event.stream_sid
            self.media_format = event.media_format
            self._sample_width = event.media_format.sample_width
            self._sid_json = json.dumps(event.stream_sid)
        self.state = new_state
        return event

    def _check_stream(self, msg: Mapping[str, Any]) -> None:
        sid = _stream_sid(msg)
        if sid is not None and sid != self.stream_sid:
            raise OutOfOrder(f"message for stream {shown(sid)} on stream {self.stream_sid!r}")

    def media(self, payload: bytes) -> str:
        """The ``media`` message for one outbound chunk (wire-encoded bytes)."""
        b64 = pybase64.b64encode(payload).decode("ascii")
        return f'{{"event":"media","stream_sid":{self._sid_json},"media":{{"payload":"{b64}"}}}}'

    def mark(self, name: str) -> str:
        """The ``mark`` message: Exotel echoes it once the audio before it has played."""
        name_json = json.dumps(name)
        return f'{{"event":"mark","stream_sid":{self._sid_json},"mark":{{"name":{name_json}}}}}'

    def clear(self) -> str:
        """The ``clear`` message: drop queued audio that has not started playing."""
        return f'{{"event":"clear","stream_sid":{self._sid_json}}}'
