"""A live call's state as persisted at each step (the ``live_calls`` table of the records
store), so that a dialer restarted on the same database can settle it (:mod:`dialer.restart`).

Pure: :func:`snapshot` builds a JSON-ready dict from the call's request and flow outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

VERSION = 1


def snapshot(*, call_id: str, request: Mapping[str, Any], stage: str, started_at: float,
             outcome: Mapping[str, Any], timeline: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """The state of one live call: its id, request, legs, bridge, stage, start and timeline
    (``(event, seconds since dial)``)."""
    return {
        "version": VERSION,
        "call_id": call_id,
        "request": dict(request),
        "stage": stage,
        "started_at": started_at,
        "customer_leg_sid": str(outcome.get("customer_leg_sid", "")),
        "agent_leg_sid": str(outcome.get("agent_leg_sid", "")),
        "agent_id": str(outcome.get("agent_id", "")),
        "agent_nailed": bool(outcome.get("agent_nailed", False)),
        "bridge_sid": str(outcome.get("bridge_sid", "")),
        "answered": bool(outcome.get("answered", False)),
        "bridged": bool(outcome.get("bridged", False)),
        "escalated": bool(outcome.get("escalated", False)),
        "timeline": [[name, t] for name, t in timeline],
    }


def changed(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> bool:
    """Whether ``current`` says something ``previous`` did not (a write is worth it)."""
    return previous is None or any(previous.get(k) != v for k, v in current.items())
