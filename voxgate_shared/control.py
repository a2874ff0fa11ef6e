"""The control hook: how the gateway (media plane) asks the dialer (control plane) to act.

A bot adapter's ``transfer()``/``hangup()``/``forecast_transfer()`` and the customer's
escalation DTMF become a :class:`ControlRequest` for the call's leg. So does a bot that failed:
when a hook raised, overran its deadline, blocked the event loop or fell behind, or the adapter
could not be built, the gateway sends ``bot_failed`` (reason :data:`BOT_FAILURES`, e.g.
``adapter_error:on_audio``) *before* it closes the stream with 4006/4007, so the dialer applies
its stream fallback instead of reading the close as a bot that finished. The dialer implements
:class:`ControlHook`; the gateway holds one. Two wirings, same requests:

* one process: the dialer's hook object is passed to the gateway directly;
* separate processes: the gateway uses an HTTP client hook that POSTs the request as JSON to
  the dialer's control API, ``POST {control_url}/v1/control``, body
  ``{"kind": "transfer"|"hangup"|"transfer_forecast"|"bot_failed", "call_sid": ...,
  "stream_sid": ..., "custom_parameters": {...}, "reason": ..., "skills": [...]}`` (a
  ``transfer_forecast`` also carries ``"within_s"`` and ``"likelihood"``, numbers), answered
  ``202`` (accepted), ``400`` (malformed), ``403`` (not bound to the call, below), ``404`` (no
  such call). The token (:func:`voxgate_shared.control_token.read_control_token`: the environment's
  ``VOXGATE_CONTROL_TOKEN``, else the dialer's token file) is sent as ``Authorization: Bearer
  TOKEN``; the dialer's control API wants it (``401`` without).

**Binding.** A request acts on a call only when it proves it comes from that call's stream:
the dialer hands Exotel ``vx_call=CALL_ID~MAC`` (:data:`VX_CALL_SEP`; an HMAC under a dialer
secret, :mod:`dialer.call_binding`) and accepts a request only when the MAC verifies *and* its
``call_sid`` (Exotel's ``start.call_sid``, which the gateway forwards) is that call's customer
leg; otherwise ``403`` over HTTP, :class:`dialer.errors.ControlRefused` in one process. Bots see
the plain call id (:func:`bot_parameters`).

**Greeting gate.** ``greeting_wait`` is answered (``202``) once the call's greeting has stopped
(at once when it has none): the gateway holds the bot's first audio until then
(:mod:`gateway.greeting_gate`).

Until a dialer is attached, :class:`RecordingControlHook` logs the requests and keeps them for
tests to read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from bot_adapters.contract import check_forecast

__all__ = ["BOT_FAILURES", "CONTROL_KINDS", "VX_CALL", "VX_CALL_SEP", "VX_OWNER_SEP",
           "ControlHook", "ControlKind", "ControlRequest", "RecordingControlHook",
           "bot_parameters", "check_dialer_id", "split_vx_call", "vx_call_owner"]

log = logging.getLogger(__name__)


ControlKind = Literal["transfer", "hangup", "transfer_forecast", "bot_failed", "greeting_wait"]
CONTROL_KINDS: tuple[str, ...] = (
    "transfer", "hangup", "transfer_forecast", "bot_failed", "greeting_wait",
)

VX_CALL = "vx_call"
"""The custom parameter carrying the dialer's call id (``CALL_ID~MAC`` on the wire)."""
VX_CALL_SEP = "~"
"""Between the call id and its MAC in ``vx_call``: never URL-encoded, never in a MAC."""


VX_OWNER_SEP = "."
"""Between the MAC and the owning dialer's id in ``vx_call`` (``CALL_ID~MAC.OWNER``): a MAC
(base64url) and an owner id (``[A-Za-z0-9_-]``) never hold it, so a call id may hold anything."""


def split_vx_call(value: str) -> tuple[str, str]:
    """``"c1~MAC"`` or ``"c1~MAC.OWNER"`` -> ``("c1", "MAC")``; a value without a MAC ->
    ``(value, "")``."""
    call_id, sep, tail = value.rpartition(VX_CALL_SEP)
    return (call_id, tail.partition(VX_OWNER_SEP)[0]) if sep else (value, "")


_DIALER_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def check_dialer_id(owner: str) -> str:
    """``owner`` when it is a valid dialer id (1-32 of ``A-Z a-z 0-9 _ -``) or empty, else
    :class:`ValueError`."""
    if owner and not _DIALER_ID.fullmatch(owner):
        raise ValueError(f"dialer id {owner!r} must be 1-32 of A-Z a-z 0-9 _ -")
    return owner


def vx_call_owner(value: str) -> str:
    """The owning dialer's id named in a ``vx_call`` value (``CALL_ID~MAC.OWNER``), else ``""``
    (a dialer without an id, or no MAC)."""
    _, sep, tail = value.rpartition(VX_CALL_SEP)
    return tail.partition(VX_OWNER_SEP)[2] if sep else ""


def bot_parameters(params: Mapping[str, str]) -> Mapping[str, str]:
    """The custom parameters a bot sees: ``vx_call`` without its MAC (the plain call id)."""
    signed = params.get(VX_CALL, "")
    if VX_CALL_SEP not in signed:
        return params
    return MappingProxyType({**params, VX_CALL: split_vx_call(signed)[0]})

BOT_FAILURES: tuple[str, ...] = (
    "adapter_init", "adapter_error", "adapter_timeout", "adapter_blocked", "adapter_overflow",
)
"""What a ``bot_failed`` request's reason starts with (then ``:hook`` where one failed):
the adapter could not be built or loaded (close 4006, or 4005 for an unknown adapter), a hook
raised (4006), a hook overran its deadline (4007), a hook returned past its deadline without
giving the event loop back (4007), the adapter fell behind its notices (4007)."""


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A request from the media plane about one leg (``call_sid``).

    ``bot_failed`` says the bot adapter failed and the gateway is closing the stream: the
    dialer treats it as a failed stream (its ``stream_fallback``); ``reason`` names the failure
    (:data:`BOT_FAILURES`).

    ``greeting_wait`` asks to be answered once the call's greeting has stopped (the gateway's
    greeting gate); it changes nothing.

    ``within_s`` and ``likelihood`` belong to ``transfer_forecast`` (the bot expects to ask for
    an agent within that many seconds, that likely; ``likelihood`` 0 withdraws the forecast)."""

    kind: ControlKind
    call_sid: str
    stream_sid: str
    reason: str
    custom_parameters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    skills: tuple[str, ...] = ()
    within_s: float = 0.0
    likelihood: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in CONTROL_KINDS:
            raise ValueError(f"unknown control request kind {self.kind!r}")
        check_forecast(self.within_s, self.likelihood)
        if self.kind == "bot_failed" and not self.reason:
            raise ValueError("a bot_failed request needs a reason (what failed)")
        if not self.call_sid:
            raise ValueError("ControlRequest.call_sid must not be empty")
        if not isinstance(self.custom_parameters, MappingProxyType):
            object.__setattr__(
                self, "custom_parameters", MappingProxyType(dict(self.custom_parameters))
            )
        object.__setattr__(self, "skills", tuple(self.skills))

    def to_json(self) -> dict[str, Any]:
        """The control API's JSON body."""
        body: dict[str, Any] = {
            "kind": self.kind,
            "call_sid": self.call_sid,
            "stream_sid": self.stream_sid,
            "reason": self.reason,
            "custom_parameters": dict(self.custom_parameters),
            "skills": list(self.skills),
        }
        if self.kind == "transfer_forecast":
            body["within_s"] = self.within_s
            body["likelihood"] = self.likelihood
        return body

    @classmethod
    def from_json(cls, body: Any) -> ControlRequest:
        """Parse the control API's JSON body; raises ``ValueError`` with a field-level message."""
        if not isinstance(body, dict):
            raise ValueError("control request must be a JSON object")
        for name in ("kind", "call_sid", "reason"):
            if not isinstance(body.get(name), str):
                raise ValueError(f"control request field {name!r} must be a string")
        params = body.get("custom_parameters", {})
        if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items()
        ):
            raise ValueError("control request field 'custom_parameters' must map str to str")
        skills = body.get("skills", [])
        if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
            raise ValueError("control request field 'skills' must be a list of strings")
        stream_sid = body.get("stream_sid", "")
        if not isinstance(stream_sid, str):
            raise ValueError("control request field 'stream_sid' must be a string")
        numbers = {"within_s": 0.0, "likelihood": 1.0}
        for name in numbers:
            value = body.get(name, numbers[name])
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"control request field {name!r} must be a number")
            numbers[name] = float(value)
        return cls(
            kind=body["kind"],
            call_sid=body["call_sid"],
            stream_sid=stream_sid,
            reason=body["reason"],
            custom_parameters=params,
            skills=tuple(skills),
            within_s=numbers["within_s"],
            likelihood=numbers["likelihood"],
        )


class ControlHook(Protocol):
    """Implemented by the dialer. ``submit`` returns once the request is accepted (not done)."""

    async def submit(self, request: ControlRequest) -> None: ...


class RecordingControlHook:
    """Default hook with no dialer attached: logs every request and keeps it in ``requests``."""

    def __init__(self) -> None:
        self.requests: list[ControlRequest] = []

    async def submit(self, request: ControlRequest) -> None:
        log.info(
            "control request %s for call %s (stream %s): %s skills=%s%s",
            request.kind,
            request.call_sid,
            request.stream_sid,
            request.reason,
            ",".join(request.skills) or "-",
            f" within {request.within_s:g} s, likelihood {request.likelihood:g}"
            if request.kind == "transfer_forecast"
            else "",
        )
        self.requests.append(request)
