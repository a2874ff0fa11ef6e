"""Parse and validate API request bodies into frozen commands (pure).

Each ``parse_*`` takes the decoded JSON body and returns a command or raises
:class:`~exotel_sim.errors.BadRequest` naming the field. ExoML (``POST .../actions``) parses
into a tuple of :class:`Verb`. Call these before touching any state, so a bad request never
changes the emulator.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from exotel_sim.errors import BadRequest

CONTACT_RE = re.compile(r"^(\+?\d{3,15}|sip:[^\s@]+@[^\s]+|sip:[^\s]+)$")
EXOPHONE_RE = re.compile(r"^\+?\d{3,15}$")
MAX_CUSTOM_PARAMS = 3
MAX_CUSTOM_PARAMS_CHARS = 256
MAX_EXOML_CHARS = 16_000


@dataclass(frozen=True, slots=True)
class CreateLeg:
    contact_uri: str
    exophone: str
    leg_event_endpoint: str
    network_type: str = "pstn"
    custom_param: str = ""
    time_limit: int = 14_400
    timeout: int = 30
    ring_timeout: int = 30
    setup_timeout: int = 30
    reference_leg_sid: str = ""
    amd_enable: bool = False
    async_amd: bool = False
    priority: str = "normal"


@dataclass(frozen=True, slots=True)
class UpdateLeg:
    custom_param: str | None = None
    time_limit: int | None = None
    leg_event_endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class StreamFormat:
    """How a stream carries audio: ``mulaw`` at 8 kHz, or ``pcm16`` at 8/16/24 kHz."""

    encoding: str
    sample_rate: int

    @property
    def chunk_ms(self) -> int:
        """Exotel's pace: 20 ms chunks for mu-law, 100 ms for raw PCM."""
        return 20 if self.encoding == "mulaw" else 100

    @property
    def bytes_per_ms(self) -> int:
        return self.sample_rate // 1000 * (1 if self.encoding == "mulaw" else 2)


@dataclass(frozen=True, slots=True)
class StartStream:
    url: str
    direction: str = "bidirectional"
    content_type: str = "audio/x-mulaw;rate=8000"
    fmt: StreamFormat = StreamFormat("mulaw", 8000)
    custom_parameters: tuple[tuple[str, str], ...] = ()
    action_custom_param: str = ""


@dataclass(frozen=True, slots=True)
class StartSay:
    text: str
    loop: int = 1
    action_custom_param: str = ""


@dataclass(frozen=True, slots=True)
class StartPlay:
    url: str
    loop: int = 1
    action_custom_param: str = ""


@dataclass(frozen=True, slots=True)
class CreateBridge:
    leg_sids: tuple[str, str]
    bridge_event_endpoint: str = ""
    absorb_dtmf: bool = False


@dataclass(frozen=True, slots=True)
class Verb:
    """One ExoML verb: ``name`` (lower case, e.g. ``startstream``) and its parsed command."""

    name: str
    command: StartStream | StartSay | StartPlay | str | None = None


def _obj(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object", field="body")
    return body


def _str(body: dict[str, Any], key: str, default: str | None = None) -> str:
    if key not in body or body[key] is None:
        if default is None:
            raise BadRequest(f"{key}: is required", field=key)
        return default
    value = body[key]
    if not isinstance(value, str):
        raise BadRequest(f"{key}: must be a string, got {type(value).__name__}", field=key)
    return value


def _int(body: dict[str, Any], key: str, default: int, lo: int = 0, hi: int = 10**7) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key}: must be an integer, got {type(value).__name__}", field=key)
    if not lo <= value <= hi:
        raise BadRequest(f"{key}: must be within {lo}..{hi}", field=key)
    return value


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"{key}: must be true or false", field=key)
    return value


def _choice(body: dict[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    value = _str(body, key, default)
    if value not in choices:
        raise BadRequest(f"{key}: must be one of {', '.join(choices)}", field=key)
    return value


def _no_unknown(body: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field", field=unknown[0])


def check_event_endpoint(url: str, field: str) -> str:
    """An event endpoint must be ``grpc(s)://host:port`` or an ``http(s)://`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("grpc", "grpcs", "http", "https") or not parts.hostname:
        raise BadRequest(f"{field}: must be a grpc(s)://host:port or http(s):// URL",
                         field=field)
    if parts.scheme in ("grpc", "grpcs"):
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None:
            raise BadRequest(f"{field}: grpc endpoint needs host:port", field=field)
    return url


_CREATE_LEG_KEYS = {
    "contact_uri", "exophone", "leg_event_endpoint", "network_type", "custom_param",
    "time_limit", "timeout", "ring_timeout", "setup_timeout", "reference_leg_sid",
    "amd_enable", "async_amd", "priority", "caller_id",
}


def parse_create_leg(body: Any) -> CreateLeg:
    """``POST /legs``."""
    b = _obj(body)
    _no_unknown(b, _CREATE_LEG_KEYS)
    contact = _str(b, "contact_uri")
    if not CONTACT_RE.match(contact):
        raise BadRequest("contact_uri: must be a phone number or a sip: URI", field="contact_uri")
    exophone = _str(b, "exophone")
    if not exophone:
        raise BadRequest("exophone: must not be empty", field="exophone")
    if not EXOPHONE_RE.match(exophone):
        raise BadRequest(f"exophone: must be a phone number, got {exophone!r}", field="exophone")
    endpoint = check_event_endpoint(_str(b, "leg_event_endpoint"), "leg_event_endpoint")
    return CreateLeg(
        contact_uri=contact,
        exophone=exophone,
        leg_event_endpoint=endpoint,
        network_type=_choice(b, "network_type", "pstn", ("pstn", "voip")),
        custom_param=_str(b, "custom_param", ""),
        time_limit=_int(b, "time_limit", 14_400, 1, 14_400),
        timeout=_int(b, "timeout", 30, 1, 600),
        ring_timeout=_int(b, "ring_timeout", 30, 1, 600),
        setup_timeout=_int(b, "setup_timeout", 30, 1, 600),
        reference_leg_sid=_str(b, "reference_leg_sid", ""),
        amd_enable=_bool(b, "amd_enable"),
        async_amd=_bool(b, "async_amd"),
        priority=_choice(b, "priority", "normal", ("normal", "high")),
    )


def parse_update_leg(body: Any) -> UpdateLeg:
    """``PUT /legs/{sid}``: ``custom_param``, ``time_limit``, ``leg_event_endpoint``."""
    b = _obj(body)
    _no_unknown(b, {"custom_param", "time_limit", "leg_event_endpoint"})
    if not b:
        raise BadRequest("body: nothing to update", field="body")
    endpoint = None
    if "leg_event_endpoint" in b:
        endpoint = check_event_endpoint(_str(b, "leg_event_endpoint"), "leg_event_endpoint")
    return UpdateLeg(
        custom_param=_str(b, "custom_param") if "custom_param" in b else None,
        time_limit=_int(b, "time_limit", 0, 1, 14_400) if "time_limit" in b else None,
        leg_event_endpoint=endpoint,
    )


def parse_content_type(content_type: str, url_rate: int | None) -> StreamFormat:
    """``audio/x-mulaw;rate=8000`` (default), ``audio/x-raw``/``audio/l16``/``raw`` with
    ``rate=8000|16000|24000`` (or the URL's ``sample-rate``)."""
    ct = content_type.strip().lower()
    main, _, params = ct.partition(";")
    rate = url_rate
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key == "rate":
            if not value.isdigit():
                raise BadRequest("content_type: bad rate", field="content_type")
            rate = int(value)
    if "mulaw" in main or "ulaw" in main or "pcmu" in main:
        if rate not in (None, 8000):
            raise BadRequest("content_type: mu-law streams are 8000 Hz", field="content_type")
        return StreamFormat("mulaw", 8000)
    if main in ("audio/x-raw", "raw", "audio/l16", "audio/x-l16", "audio/pcm", "audio/x-pcm"):
        rate = rate or 8000
        if rate not in (8000, 16000, 24000):
            raise BadRequest("content_type: rate must be 8000, 16000 or 24000",
                             field="content_type")
        return StreamFormat("pcm16", rate)
    raise BadRequest(f"content_type: unsupported {content_type!r}", field="content_type")


def stream_url_params(url: str) -> tuple[tuple[tuple[str, str], ...], int | None]:
    """The stream URL's custom parameters (max 3, 256 characters) and its ``sample-rate``."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise BadRequest("url: must be a ws://, wss:// or http(s):// URL", field="url")
    rate: int | None = None
    params: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "sample-rate":
            if value not in ("8000", "16000", "24000"):
                raise BadRequest("url: sample-rate must be 8000, 16000 or 24000", field="url")
            rate = int(value)
        else:
            params.append((key, value))
    if len(params) > MAX_CUSTOM_PARAMS:
        raise BadRequest(f"url: at most {MAX_CUSTOM_PARAMS} custom parameters", field="url")
    if sum(len(k) + len(v) for k, v in params) > MAX_CUSTOM_PARAMS_CHARS:
        raise BadRequest(
            f"url: custom parameters exceed {MAX_CUSTOM_PARAMS_CHARS} characters", field="url"
        )
    return tuple(params), rate


def parse_start_stream(body: Any) -> StartStream:
    """``POST /legs/{sid}/actions/start_stream``. ``url`` is the bot's ``ws(s)://`` URL, or an
    ``http(s)://`` endpoint that answers ``{"url": "wss://..."}`` (resolved when the stream
    starts)."""
    b = _obj(body)
    _no_unknown(b, {"url", "direction", "content_type", "action_custom_param", "stream_type"})
    url = _str(b, "url")
    if urlsplit(url).scheme in ("http", "https"):
        # The dynamic form: an endpoint answering {"url": "wss://..."}, resolved at start.
        params: tuple[tuple[str, str], ...] = ()
        rate: int | None = None
    else:
        params, rate = stream_url_params(url)
    direction = _choice(b, "direction", "bidirectional", ("bidirectional", "unidirectional"))
    content_type = _str(b, "content_type", "audio/x-mulaw;rate=8000")
    return StartStream(
        url=url,
        direction=direction,
        content_type=content_type,
        fmt=parse_content_type(content_type, rate),
        custom_parameters=params,
        action_custom_param=_str(b, "action_custom_param", ""),
    )


def parse_start_say(body: Any) -> StartSay:
    """``POST .../actions/start_say``: ``text``, ``loop`` (0 or 1: once; N: N times)."""
    b = _obj(body)
    _no_unknown(b, {"text", "loop", "voice", "language", "action_custom_param"})
    text = _str(b, "text")
    if not text.strip():
        raise BadRequest("text: must not be empty", field="text")
    return StartSay(text, max(1, _int(b, "loop", 1, 0, 100)), _str(b, "action_custom_param", ""))


def parse_start_play(body: Any) -> StartPlay:
    """``POST .../actions/start_play``: ``url`` (http/https WAV), ``loop``."""
    b = _obj(body)
    _no_unknown(b, {"url", "loop", "action_custom_param"})
    url = _str(b, "url")
    if urlsplit(url).scheme not in ("http", "https"):
        raise BadRequest("url: must be an http(s):// URL", field="url")
    return StartPlay(url, max(1, _int(b, "loop", 1, 0, 100)), _str(b, "action_custom_param", ""))


def parse_action_param(body: Any) -> str:
    """Bodies of the stop/hang-up shortcuts: optional ``action_custom_param`` only."""
    b = _obj(body)
    _no_unknown(b, {"action_custom_param", "reason"})
    return _str(b, "action_custom_param", "")


def parse_create_bridge(body: Any) -> CreateBridge:
    """``POST /bridges``: exactly two distinct ``leg_sids``."""
    b = _obj(body)
    _no_unknown(b, {"leg_sids", "bridge_event_endpoint", "absorb_dtmf"})
    sids = b.get("leg_sids")
    if not isinstance(sids, list) or not all(isinstance(s, str) for s in sids):
        raise BadRequest("leg_sids: must be a list of two leg sids", field="leg_sids")
    if len(sids) != 2 or sids[0] == sids[1]:
        raise BadRequest("leg_sids: must name two different legs", field="leg_sids")
    endpoint = _str(b, "bridge_event_endpoint", "")
    if endpoint:
        check_event_endpoint(endpoint, "bridge_event_endpoint")
    return CreateBridge((sids[0], sids[1]), endpoint, _bool(b, "absorb_dtmf"))


# ExoML verbs the emulator understands, lower-cased.
LEG_VERBS = frozenset({
    "hangup", "startstream", "stream", "stopstream", "startsay", "say", "stopsay", "startplay",
    "play", "stopplay", "startrecording", "stoprecording", "hold", "unhold", "mute", "unmute",
    "senddigits",
})
BRIDGE_VERBS = frozenset({
    "hangup", "stopbridge", "startsay", "say", "stopsay", "startplay", "play", "stopplay",
    "startrecording", "stoprecording",
})


def parse_actions(body: Any, allowed: frozenset[str]) -> tuple[tuple[Verb, ...], str]:
    """``POST /legs/{sid}/actions`` or ``/bridges/{sid}/actions``: ``{"exoml": "<Flow>...",
    "action_custom_param": "..."}`` -> the verbs, in order, and the custom parameter."""
    b = _obj(body)
    _no_unknown(b, {"exoml", "action_custom_param"})
    exoml = _str(b, "exoml")
    param = _str(b, "action_custom_param", "")
    if len(exoml) > MAX_EXOML_CHARS:
        raise BadRequest("exoml: too long", field="exoml")
    if "<!DOCTYPE" in exoml.upper() or "<!ENTITY" in exoml.upper():
        raise BadRequest("exoml: DOCTYPE and ENTITY are not allowed", field="exoml")
    try:
        root = ET.fromstring(exoml)
    except ET.ParseError as exc:
        raise BadRequest(f"exoml: not well-formed XML ({exc})", field="exoml") from exc
    if root.tag not in ("Flow", "Response"):
        raise BadRequest("exoml: root element must be <Flow>", field="exoml")
    verbs = tuple(_verb(el, allowed, param) for el in root)
    if not verbs:
        raise BadRequest("exoml: <Flow> holds no verb", field="exoml")
    return verbs, param


def _verb(el: ET.Element, allowed: frozenset[str], param: str) -> Verb:
    name = el.tag.lower()
    if name not in allowed:
        raise BadRequest(f"exoml: unsupported verb <{el.tag}>", field="exoml")
    attrs: dict[str, Any] = dict(el.attrib)
    text = (el.text or "").strip()
    if "loop" in attrs:
        if not attrs["loop"].isdigit():
            raise BadRequest(f"exoml: <{el.tag}> loop must be a number", field="exoml")
        attrs["loop"] = int(attrs["loop"])
    attrs["action_custom_param"] = param
    try:
        if name in ("startstream", "stream"):
            if text and "url" not in attrs:
                attrs["url"] = text
            return Verb("startstream", parse_start_stream(attrs))
        if name in ("startsay", "say"):
            if text and "text" not in attrs:
                attrs["text"] = text
            return Verb("startsay", parse_start_say(attrs))
        if name in ("startplay", "play"):
            if text and "url" not in attrs:
                attrs["url"] = text
            return Verb("startplay", parse_start_play(attrs))
    except BadRequest as exc:
        raise BadRequest(f"exoml: <{el.tag}> {exc.message}", field="exoml") from exc
    if name == "senddigits":
        digits = attrs.get("digits", text)
        if not digits or any(d not in "0123456789*#w" for d in digits):
            raise BadRequest("exoml: <SendDigits> needs digits", field="exoml")
        return Verb("senddigits", digits)
    return Verb(name)
