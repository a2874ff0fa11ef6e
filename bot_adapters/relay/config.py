"""The relay adapter's options (strings from configuration) parsed into a checked value.

Call :meth:`RelayConfig.from_options` once per call (cheap); every mistake raises
``ValueError`` naming the option.

| option | meaning | default |
|---|---|---|
| ``url`` | the external bot's WebSocket URL (``ws://`` or ``wss://``) | required |
| ``dialect`` | ``exotel`` or ``twilio`` | ``exotel`` |
| ``encoding`` | ``pcm16`` or ``mulaw`` (``exotel`` dialect; ``twilio`` is mu-law) | ``pcm16`` |
| ``sample_rate`` | 8000, 16000 or 24000 (``pcm16`` only) | 8000 |
| ``connect_timeout_ms`` | connecting and the WebSocket handshake | 3000 |
| ``answer_deadline_ms`` | the bot's first audio after ``start`` | 5000 |
| ``reply_deadline_ms`` | the bot's audio after the caller stops speaking (0: off) | 0 |
| ``on_close`` | the bot's normal close (1000): ``hangup``, ``transfer`` or ``fallback`` | hangup |
| ``fallback`` | ``transfer`` or ``hangup`` when the bot fails | ``transfer`` |
| ``fallback_message`` | clip played first (``fixture:NAME`` or WAV path) | hold msg / goodbye |
| ``fallback_reason`` | reason sent with the action | ``relay_<cause>`` |
| ``fallback_skills`` | comma-separated skills for the transfer | none |
| ``max_queue`` | frames waiting to be sent to the bot (overflow is dropped and counted) | 500 |
| ``forward_barge_in`` | tell the bot with a ``clear`` when the caller barged in | ``true`` |

``on_close``: a bot that closes its WebSocket with code 1000 ended the call (pipecat's Exotel
and Twilio serializers end calls so). ``hangup`` hangs up once the caller has heard the audio
the bot sent before closing; ``transfer`` then asks for an agent (``fallback_skills``);
``fallback`` treats it as a failure (fallback message and action). Either action carries
reason ``relay_closed``. Any other close (1001, 1006, 1011 ..., or none) is a failure: the
fallback with ``relay_dropped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast
from urllib.parse import urlsplit

from bot_adapters.relay.dialects import Dialect, DialectName, Encoding

FallbackKind = Literal["transfer", "hangup"]
CloseRule = Literal["hangup", "transfer", "fallback"]
CLOSE_RULES: tuple[CloseRule, ...] = ("hangup", "transfer", "fallback")
DEFAULT_MESSAGES: Mapping[str, str] = {
    "transfer": "fixture:hold_message",
    "hangup": "fixture:bot_goodbye",
}
KNOWN_OPTIONS = frozenset(
    {
        "url", "dialect", "encoding", "sample_rate", "connect_timeout_ms",
        "answer_deadline_ms", "reply_deadline_ms", "fallback", "fallback_message",
        "fallback_reason", "fallback_skills", "max_queue", "forward_barge_in", "on_close",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RelayConfig:
    url: str
    dialect: Dialect
    connect_timeout_ms: int = 3000
    answer_deadline_ms: int = 5000
    reply_deadline_ms: int = 0
    fallback: FallbackKind = "transfer"
    fallback_message: str = "fixture:hold_message"
    fallback_reason: str | None = None
    fallback_skills: tuple[str, ...] = ()
    max_queue: int = 500
    forward_barge_in: bool = True
    on_close: CloseRule = "hangup"

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> RelayConfig:
        unknown = sorted(set(options) - KNOWN_OPTIONS)
        if unknown:
            raise ValueError(f"relay: unknown option(s) {unknown}")
        url = options.get("url", "")
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"relay: option url must be a ws:// or wss:// URL, got {url!r}")
        name = options.get("dialect", "exotel")
        if name not in ("exotel", "twilio"):
            raise ValueError(f"relay: option dialect must be exotel or twilio, got {name!r}")
        default_encoding = "mulaw" if name == "twilio" else "pcm16"
        encoding = options.get("encoding", default_encoding)
        if encoding not in ("pcm16", "mulaw"):
            raise ValueError(f"relay: option encoding must be pcm16 or mulaw, got {encoding!r}")
        try:
            dialect = Dialect(
                cast(DialectName, name),
                cast(Encoding, encoding),
                _int(options, "sample_rate", 8000, 8000, 24000),
            )
        except ValueError as exc:
            raise ValueError(f"relay: {exc}") from None
        fallback = options.get("fallback", "transfer")
        if fallback not in ("transfer", "hangup"):
            raise ValueError(f"relay: option fallback must be transfer or hangup, got {fallback!r}")
        on_close = options.get("on_close") or "hangup"
        if on_close not in CLOSE_RULES:
            raise ValueError(
                f"relay: option on_close must be hangup, transfer or fallback, got {on_close!r}"
            )
        raw_skills = options.get("fallback_skills", "").split(",")
        skills = tuple(s.strip() for s in raw_skills if s.strip())
        return cls(
            url=url,
            dialect=dialect,
            connect_timeout_ms=_int(options, "connect_timeout_ms", 3000, 1, 60_000),
            answer_deadline_ms=_int(options, "answer_deadline_ms", 5000, 1, 600_000),
            reply_deadline_ms=_int(options, "reply_deadline_ms", 0, 0, 600_000),
            fallback=cast(FallbackKind, fallback),
            fallback_message=options.get("fallback_message") or DEFAULT_MESSAGES[fallback],
            fallback_reason=options.get("fallback_reason") or None,
            fallback_skills=skills,
            max_queue=_int(options, "max_queue", 500, 1, 100_000),
            forward_barge_in=_bool(options, "forward_barge_in", True),
            on_close=on_close,
        )

    def reason_for(self, cause: str) -> str:
        """The reason sent with the fallback action for ``cause`` (unreachable, slow ...)."""
        return self.fallback_reason or f"relay_{cause}"


def _bool(options: Mapping[str, str], key: str, default: bool) -> bool:
    raw = options.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"relay: option {key} must be true or false, got {raw!r}")


def _int(options: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = options.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"relay: option {key} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"relay: option {key} must be from {low} to {high}, got {value}")
    return value
