"""Build Exotel event payloads (pure), exactly the HTTPS JSON form of docs/exotel.md section 3.

``{event_sid, event_type, event_name, event_timestamp, action_sid, action_custom_parameter,
event_data:{...}, data:{leg_sid, account_sid, contact_uri, exophone, state, start_time,
end_time, date_created, date_updated, custom_param, ...}}``. Bridge events add ``bridge_sid``
and ``leg_sids`` to ``data``. Call :func:`build_event` with the snapshot of the leg or bridge
taken when the event happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

LEG_LIFECYCLE = "leg_lifecycle_event"
LEG_ACTION = "leg_action_event"
BRIDGE_LIFECYCLE = "bridge_lifecycle_event"

LEG_LIFECYCLE_NAMES = frozenset({
    "leg_connecting", "leg_ringing", "leg_answered", "leg_terminated", "leg_failed_to_create",
    "amd_result_success",
})
BRIDGE_NAMES = frozenset({
    "bridge_created", "bridge_failed_to_create", "bridge_terminal", "leg_joined_bridge",
    "leg_left_bridge",
})


def event_type_of(name: str) -> str:
    """Exotel's ``event_type`` for an event name."""
    if name in LEG_LIFECYCLE_NAMES:
        return LEG_LIFECYCLE
    if name in BRIDGE_NAMES:
        return BRIDGE_LIFECYCLE
    return LEG_ACTION


def rfc3339(epoch_s: float | None) -> str | None:
    """``2026-11-21T09:16:16.123Z`` or ``None``."""
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


@dataclass(frozen=True, slots=True)
class Event:
    """One event to deliver: its payload and where it goes (``channel`` orders delivery)."""

    event_sid: str
    name: str
    endpoint: str
    channel: str
    payload: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not self.event_sid or not self.name:
            raise ValueError("Event needs an event_sid and a name")


def build_event(
    *,
    event_sid: str,
    name: str,
    now_epoch_s: float,
    data: Mapping[str, Any],
    event_data: Mapping[str, Any] | None = None,
    action_sid: str = "",
    action_custom_parameter: str = "",
) -> dict[str, Any]:
    """The JSON payload of one event."""
    return {
        "event_sid": event_sid,
        "event_type": event_type_of(name),
        "event_name": name,
        "event_timestamp": rfc3339(now_epoch_s),
        "action_sid": action_sid,
        "action_custom_parameter": action_custom_parameter,
        "event_data": dict(event_data or {}),
        "data": dict(data),
    }
