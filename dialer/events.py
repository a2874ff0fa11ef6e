"""Typed Exotel callback events and their parser (pure: no I/O, no asyncio).

Call :func:`parse_event` on the JSON body of an HTTPS callback (or the dict made from a gRPC
``CallbackEvent``); it returns one frozen event or raises :class:`MalformedEvent`. The shapes
follow docs/exotel.md section 3: ``{event_sid, event_type, event_name, event_timestamp, action_sid,
action_custom_parameter, event_data:{...}, data:{leg_sid, ...}}``.

Three event classes, one per ``event_type``:

* :class:`LegLifecycle` -- ``leg_connecting`` ... ``leg_terminated``, ``amd_result_success``
* :class:`LegAction` -- ``stream_started``, ``play_completed``, ``recording_available`` ...
* :class:`BridgeLifecycle` -- ``bridge_created``, ``bridge_terminal``, ``leg_joined_bridge`` ...

Unknown event *names* within a known type are kept (Exotel adds events); unknown types are
malformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dialer.errors import MalformedEvent

LEG_LIFECYCLE = "leg_lifecycle_event"
LEG_ACTION = "leg_action_event"
BRIDGE_LIFECYCLE = "bridge_lifecycle_event"
EVENT_TYPES = frozenset({LEG_LIFECYCLE, LEG_ACTION, BRIDGE_LIFECYCLE})

# Lifecycle order of a leg; an event of lower rank than one already seen is stale.
LEG_RANK: Mapping[str, int] = MappingProxyType(
    {
        "leg_connecting": 1,
        "leg_ringing": 2,
        "leg_answered": 3,
        "amd_result_success": 4,
        "leg_terminated": 9,
        "leg_failed_to_create": 9,
    }
)
TERMINAL_LEG_EVENTS = frozenset({"leg_terminated", "leg_failed_to_create"})

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen(m: Mapping[str, Any]) -> Mapping[str, Any]:
    return m if isinstance(m, MappingProxyType) else MappingProxyType(dict(m))


@dataclass(frozen=True, slots=True)
class _Base:
    event_sid: str
    name: str
    timestamp: str
    data: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False)
    event_data: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False)

    def __post_init__(self) -> None:
        if not self.event_sid:
            raise MalformedEvent("event_sid must not be empty")
        if not self.name:
            raise MalformedEvent("event_name must not be empty")
        object.__setattr__(self, "data", _frozen(self.data))
        object.__setattr__(self, "event_data", _frozen(self.event_data))


@dataclass(frozen=True, slots=True)
class LegLifecycle(_Base):
    """A leg changed phase. ``leg_sid`` is always set."""

    leg_sid: str = ""

    def __post_init__(self) -> None:
        _Base.__post_init__(self)
        if not self.leg_sid:
            raise MalformedEvent(f"{self.name}: data.leg_sid is missing")

    @property
    def rank(self) -> int:
        """Order within a leg's life (0 for names we do not know)."""
        return LEG_RANK.get(self.name, 0)

    @property
    def terminal(self) -> bool:
        return self.name in TERMINAL_LEG_EVENTS

    @property
    def terminal_status(self) -> str:
        """Why the leg ended (``completed``, ``busy``, ``no-answer``, ``failed`` ...) or ``""``."""
        for src in (self.event_data, self.data):
            for key in ("terminal_status", "termination_reason", "status", "reason"):
                value = src.get(key)
                if isinstance(value, str) and value:
                    return value
        return ""

    @property
    def amd_machine(self) -> bool:
        """For ``amd_result_success``: True when the answering party was a machine."""
        for key in ("result", "amd_result", "answered_by"):
            value = self.event_data.get(key)
            if isinstance(value, str):
                return "machine" in value.lower()
        return False


@dataclass(frozen=True, slots=True)
class LegAction(_Base):
    """An action on a leg (stream, play, say, recording) progressed."""

    leg_sid: str = ""
    action_sid: str = ""
    action_custom_parameter: str = ""

    def __post_init__(self) -> None:
        _Base.__post_init__(self)
        if not self.leg_sid:
            raise MalformedEvent(f"{self.name}: data.leg_sid is missing")

    @property
    def url(self) -> str:
        """``recording_available``'s recording URL (or ``""``)."""
        value = self.event_data.get("url") or self.event_data.get("recording_url")
        return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class BridgeLifecycle(_Base):
    """A bridge changed phase, or a leg joined/left it. ``bridge_sid`` is always set."""

    bridge_sid: str = ""
    leg_sids: tuple[str, ...] = ()
    leg_sid: str = ""  # for leg_joined_bridge / leg_left_bridge

    def __post_init__(self) -> None:
        _Base.__post_init__(self)
        if not self.bridge_sid:
            raise MalformedEvent(f"{self.name}: bridge_sid is missing")
        object.__setattr__(self, "leg_sids", tuple(self.leg_sids))

    @property
    def url(self) -> str:
        """A recording URL carried by a bridge-level ``recording_available`` (or ``""``)."""
        value = self.event_data.get("url") or self.event_data.get("recording_url")
        return value if isinstance(value, str) else ""


ExotelEvent = LegLifecycle | LegAction | BridgeLifecycle


def _str(body: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise MalformedEvent(f"field {key!r} is missing")
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise MalformedEvent(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def _obj(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise MalformedEvent(f"field {key!r} must be an object")
    return value


def _first_str(key: str, *sources: Mapping[str, Any]) -> str:
    for src in sources:
        value = src.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def parse_event(body: Any) -> ExotelEvent:
    """Parse one callback body into a typed event; raises :class:`MalformedEvent`."""
    if not isinstance(body, Mapping):
        raise MalformedEvent("event body must be a JSON object")
    event_sid = _str(body, "event_sid", required=True)
    event_type = _str(body, "event_type", required=True)
    name = _str(body, "event_name", required=True)
    timestamp = _str(body, "event_timestamp")
    data = _obj(body, "data")
    event_data = _obj(body, "event_data")
    if event_type == LEG_LIFECYCLE:
        return LegLifecycle(
            event_sid, name, timestamp, data, event_data,
            leg_sid=_first_str("leg_sid", data, event_data),
        )
    if event_type == LEG_ACTION:
        leg_sid = _first_str("leg_sid", data, event_data)
        bridge_sid = _first_str("bridge_sid", data, event_data)
        if not leg_sid and bridge_sid:
            # An action on a bridge (its recording): keep it with the bridge.
            return BridgeLifecycle(
                event_sid, name, timestamp, data, event_data, bridge_sid=bridge_sid
            )
        return LegAction(
            event_sid, name, timestamp, data, event_data,
            leg_sid=_first_str("leg_sid", data, event_data),
            action_sid=_str(body, "action_sid"),
            action_custom_parameter=_str(body, "action_custom_parameter"),
        )
    if event_type == BRIDGE_LIFECYCLE:
        raw_legs = data.get("leg_sids", event_data.get("leg_sids", ()))
        if not isinstance(raw_legs, (list, tuple)) or not all(
            isinstance(s, str) for s in raw_legs
        ):
            raise MalformedEvent("bridge leg_sids must be a list of strings")
        return BridgeLifecycle(
            event_sid, name, timestamp, data, event_data,
            bridge_sid=_first_str("bridge_sid", data, event_data),
            leg_sids=tuple(raw_legs),
            leg_sid=_first_str("leg_sid", event_data, data),
        )
    raise MalformedEvent(f"unknown event_type {event_type!r}")
