"""Telephony stream dialects spoken to an external bot: Exotel's and Twilio Media Streams.

Sans-I/O. The relay plays the telephony side: a :class:`StreamEncoder` turns what happens on
the call into the JSON text frames the external bot expects, and :func:`decode_bot_message`
turns the bot's frames into :data:`BotMessage` values. Audio on our side is always PCM16 at the
relay's rate; :class:`Dialect` says what travels on the wire.

* ``exotel``: Exotel's bidirectional stream (snake_case, ``sequence_number``, ``stream_sid``),
  raw PCM16 (``audio/x-raw``) at 8/16/24 kHz or mu-law 8 kHz (``audio/x-mulaw``).
  https://support.exotel.com/support/solutions/articles/3000108630
* ``twilio``: Twilio Media Streams (``connected``/``start``/``media``/``dtmf``/``mark``/
  ``stop``, camelCase fields, ``streamSid``), always mu-law 8 kHz. The caller numbers go in
  ``start.customParameters`` as ``from_number``/``to_number`` (where pipecat's runner reads
  them).
  https://www.twilio.com/docs/voice/media-streams/websocket-messages

Bot to relay, in both dialects: ``media`` (``media.payload``), ``mark`` (``mark.name``),
``clear``, and voxgate's two custom messages::

    {"event": "transfer", "transfer": {"reason": "wants_agent", "skills": ["sales"]}}
    {"event": "hangup", "hangup": {"reason": "done"}}

(``reason``/``skills`` are also accepted at the top level.) Relay to bot, voxgate adds one
message to each dialect: ``clear`` when the caller barged in over the bot's audio (what was
not yet heard has been dropped). Both field spellings
(``stream_sid``/``streamSid``) are accepted on input whatever the dialect.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from bot_adapters.audio import pcm16_to_ulaw, ulaw_to_pcm16
from bot_adapters.contract import SUPPORTED_ADAPTER_RATES, CallInfo

DialectName = Literal["exotel", "twilio"]
Encoding = Literal["pcm16", "mulaw"]
MAX_BOT_MESSAGE_BYTES = 1_000_000
"""Frames from the bot larger than this are refused (the WebSocket ``max_size``)."""
MAX_NAME_CHARS = 256


class BotProtocolError(ValueError):
    """A frame from the external bot that cannot be understood (logged, counted, skipped)."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """What travels between the relay and the external bot."""

    name: DialectName
    encoding: Encoding = "mulaw"
    sample_rate: int = 8000

    def __post_init__(self) -> None:
        if self.name not in ("exotel", "twilio"):
            raise ValueError(f"unknown dialect {self.name!r} (exotel or twilio)")
        if self.encoding not in ("pcm16", "mulaw"):
            raise ValueError(f"unknown encoding {self.encoding!r} (pcm16 or mulaw)")
        if self.sample_rate not in SUPPORTED_ADAPTER_RATES:
            raise ValueError(f"unsupported sample rate {self.sample_rate}")
        if self.encoding == "mulaw" and self.sample_rate != 8000:
            raise ValueError("mu-law is 8 kHz only")
        if self.name == "twilio" and self.encoding != "mulaw":
            raise ValueError("Twilio Media Streams carry mu-law 8 kHz only")

    def to_wire(self, pcm: bytes) -> bytes:
        """Our PCM16 to the dialect's audio bytes."""
        return pcm16_to_ulaw(pcm) if self.encoding == "mulaw" else pcm

    def from_wire(self, audio: bytes) -> bytes:
        """The dialect's audio bytes to our PCM16."""
        if self.encoding == "mulaw":
            return ulaw_to_pcm16(audio)
        if len(audio) % 2:
            raise BotProtocolError("PCM16 media payload has an odd number of bytes")
        return audio


# -- bot to relay ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BotMedia:
    """Audio to play to the caller, PCM16 at the dialect's rate."""

    pcm: bytes


@dataclass(frozen=True, slots=True)
class BotMark:
    """Tell the bot once the caller has heard everything sent before this."""

    name: str


@dataclass(frozen=True, slots=True)
class BotClear:
    """Drop the bot audio not yet played."""


@dataclass(frozen=True, slots=True)
class BotTransfer:
    reason: str
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BotHangup:
    reason: str


@dataclass(frozen=True, slots=True)
class BotOther:
    """An event the relay has no use for (``connected`` echoes, bot-specific extras)."""

    event: str


BotMessage = BotMedia | BotMark | BotClear | BotTransfer | BotHangup | BotOther


def decode_bot_message(frame: str | bytes, dialect: Dialect) -> BotMessage:
    """Parse one frame from the external bot; raises :class:`BotProtocolError`."""
    if isinstance(frame, bytes):
        raise BotProtocolError("binary frames are not part of the stream protocol")
    if len(frame) > MAX_BOT_MESSAGE_BYTES:
        raise BotProtocolError(f"frame of {len(frame)} characters is too large")
    try:
        msg = json.loads(frame)
    except ValueError as exc:
        raise BotProtocolError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise BotProtocolError("frame is not a JSON object")
    event = msg.get("event")
    if not isinstance(event, str):
        raise BotProtocolError("frame has no 'event' string")
    if event == "media":
        payload = _section(msg, "media").get("payload")
        if not isinstance(payload, str):
            raise BotProtocolError("media frame without a 'media.payload' string")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise BotProtocolError("media payload is not base64") from None
        return BotMedia(dialect.from_wire(audio))
    if event == "mark":
        return BotMark(_name(_section(msg, "mark").get("name"), "mark.name"))
    if event == "clear":
        return BotClear()
    if event == "transfer":
        body = {**msg, **_section(msg, "transfer", required=False)}
        skills = body.get("skills", [])
        if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
            raise BotProtocolError("transfer.skills must be a list of strings")
        reason = _name(body.get("reason", "bot_transfer"), "transfer.reason")
        return BotTransfer(reason, tuple(skills))
    if event == "hangup":
        body = {**msg, **_section(msg, "hangup", required=False)}
        return BotHangup(_name(body.get("reason", "bot_hangup"), "hangup.reason"))
    return BotOther(event[:MAX_NAME_CHARS])


def _section(msg: dict[str, Any], key: str, *, required: bool = True) -> dict[str, Any]:
    section = msg.get(key)
    if section is None and not required:
        return {}
    if not isinstance(section, dict):
        raise BotProtocolError(f"{msg.get('event')} frame without a '{key}' object")
    return section


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_CHARS:
        raise BotProtocolError(f"{where} must be a string of 1-{MAX_NAME_CHARS} characters")
    return value


# -- relay to bot ---------------------------------------------------------------------------


class StreamEncoder:
    """Builds the frames the external bot receives for one call, numbering them as the
    dialect does. Call :meth:`connected` and :meth:`start` first, :meth:`stop` last."""

    def __init__(self, dialect: Dialect, info: CallInfo) -> None:
        self.dialect = dialect
        self.info = info
        self._seq = 0
        self._chunk = 0
        self._audio_ms = 0.0

    def _next(self) -> str:
        self._seq += 1
        return str(self._seq)

    def _frame(self, event: str, body: dict[str, Any] | None = None) -> str:
        if self.dialect.name == "twilio":
            msg: dict[str, Any] = {
                "event": event,
                "sequenceNumber": self._next(),
                "streamSid": self.info.stream_sid,
            }
        else:
            msg = {
                "event": event,
                "sequence_number": self._next(),
                "stream_sid": self.info.stream_sid,
            }
        if body is not None:
            msg[event] = body
        return json.dumps(msg, separators=(",", ":"))

    def connected(self) -> str:
        if self.dialect.name == "twilio":
            return '{"event":"connected","protocol":"Call","version":"1.0.0"}'
        return '{"event":"connected"}'

    def start(self) -> str:
        info, d = self.info, self.dialect
        if d.name == "twilio":
            return self._frame(
                "start",
                {
                    "accountSid": info.account_sid,
                    "streamSid": info.stream_sid,
                    "callSid": info.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self._twilio_parameters(),
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            )
        encoding = "audio/x-mulaw" if d.encoding == "mulaw" else "audio/x-raw"
        return self._frame(
            "start",
            {
                "stream_sid": info.stream_sid,
                "call_sid": info.call_sid,
                "account_sid": info.account_sid,
                "from": info.from_number,
                "to": info.to_number,
                "custom_parameters": dict(info.custom_parameters),
                "media_format": {
                    "encoding": encoding,
                    "sample_rate": str(d.sample_rate),
                    "bit_rate": "8" if d.encoding == "mulaw" else "16",
                },
            },
        )

    def _twilio_parameters(self) -> dict[str, str]:
        """The call's custom parameters plus the caller numbers as pipecat's runner reads
        them (``from_number``/``to_number``; Twilio's ``start`` has no ``from``/``to``)."""
        params = dict(self.info.custom_parameters)
        for key, number in (("from_number", self.info.from_number),
                            ("to_number", self.info.to_number)):
            if number:
                params[key] = number
        return params

    def media(self, pcm: bytes) -> str:
        """Caller audio (PCM16 at the dialect's rate) as a media frame."""
        self._chunk += 1
        timestamp = int(self._audio_ms)
        self._audio_ms += len(pcm) * 1000 / (2 * self.dialect.sample_rate)
        payload = base64.b64encode(self.dialect.to_wire(pcm)).decode("ascii")
        body: dict[str, Any] = {
            "chunk": str(self._chunk),
            "timestamp": str(timestamp),
            "payload": payload,
        }
        if self.dialect.name == "twilio":
            body = {"track": "inbound", **body}
        return self._frame("media", body)

    def dtmf(self, digit: str) -> str:
        if self.dialect.name == "twilio":
            return self._frame("dtmf", {"track": "inbound_track", "digit": digit})
        return self._frame("dtmf", {"digit": digit, "duration": "100"})

    def mark(self, name: str) -> str:
        """The caller has heard the bot's audio up to its mark ``name``."""
        return self._frame("mark", {"name": name})

    def clear(self) -> str:
        """voxgate's notice (both dialects): the caller barged in and the bot's audio not yet
        heard was dropped. Bots that do not know it ignore an unknown event."""
        return self._frame("clear")

    def stop(self, reason: str) -> str:
        """The call's stream ended. Exotel knows two reasons: ``callended`` (the call is over:
        the caller or the bot hung up) and ``stopped`` (the flow moved on, e.g. a transfer)."""
        info = self.info
        if self.dialect.name == "twilio":
            return self._frame("stop", {"accountSid": info.account_sid, "callSid": info.call_sid})
        exotel_reason = "callended" if reason in ("callended", "hangup") else "stopped"
        return self._frame(
            "stop",
            {"call_sid": info.call_sid, "account_sid": info.account_sid, "reason": exotel_reason},
        )
