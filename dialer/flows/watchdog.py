"""The per-call watchdog's policy (pure): how long a call may go without an Exotel event in
each stage before the runner asks Exotel (``GET /legs/{sid}``, ``GET /bridges/{sid}``), what
Exotel's answer means, and how soon to ask again when Exotel does not answer.

A lost ``leg_terminated`` (or every event of a leg, as when Exotel's side restarts) would
otherwise hold the call, and its agent, until the dialer stops. The runner
(:class:`~dialer.watchdog.CallWatchdog`) arms :data:`~dialer.flows.messages.Timer.WATCHDOG`
for :func:`quiet_allowed` seconds after each event and each change of stage; when it fires,
each leg :func:`legs_to_check` names is fetched and settled by :func:`verdict`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from dialer.flows.outcome import FlowSettings
from dialer.flows.states import CallState

S = CallState

# Exotel's leg states (GET /legs/{sid} "state"; its terminal_status set means ended)
LEG_ENDED = frozenset({"terminated", "completed", "ended", "failed", "busy", "no-answer",
                       "no_answer", "canceled", "cancelled", "disconnected", "hungup"})
BRIDGE_ENDED = frozenset({"terminated", "terminal", "ended", "completed", "closed",
                          "inactive", "destroyed"})
NOT_FOUND = "not_found"  # the terminal status given to a leg Exotel answers 404 for
AGENT_CHECKED = frozenset({S.AGENT_RINGING, S.BRIDGING, S.BRIDGED})


class Verdict(enum.StrEnum):
    """What Exotel's answer about a leg (or bridge) means for the call."""

    ENDED = "ended"  # terminal: settle as if its terminal event had come
    LIVE = "live"  # still up: keep waiting for its events
    NOT_FOUND = "not_found"  # 404 for a leg we think live: it ended


def quiet_allowed(state: CallState, settings: FlowSettings) -> float | None:
    """Seconds the call may go without an Exotel event in ``state``; ``None``: no watchdog
    (not dialled yet, or ended)."""
    if state in (S.NEW, S.ENDED):
        return None
    if state in (S.DIALING, S.RINGING):
        return settings.watchdog_dial_after
    return settings.watchdog_interval


def legs_to_check(state: CallState, customer_leg: str, agent_leg: str, agent_nailed: bool,
                  bridge_sid: str) -> tuple[tuple[str, str], ...]:
    """``(kind, sid)`` pairs to fetch, in order: the customer's leg, the agent's leg while it
    rings or is being bridged (a nailed agent's leg outlives calls: its keeper watches it),
    and the bridge once bridged. ``kind`` is ``customer``, ``agent`` or ``bridge``."""
    out: list[tuple[str, str]] = []
    if customer_leg:
        out.append(("customer", customer_leg))
    if agent_leg and not agent_nailed and state in AGENT_CHECKED:
        out.append(("agent", agent_leg))
    if bridge_sid and state is S.BRIDGED:
        out.append(("bridge", bridge_sid))
    return tuple(out)


def verdict(kind: str, data: Mapping[str, Any]) -> Verdict:
    """Exotel's answer for a leg or (``kind`` ``bridge``) a bridge: ended or live. A state this
    code does not know counts as live (ask again later)."""
    state = str(data.get("state") or "").strip().lower()
    if kind == "bridge":
        return Verdict.ENDED if state in BRIDGE_ENDED or data.get("ended_at") else Verdict.LIVE
    if data.get("terminal_status") or state in LEG_ENDED:
        return Verdict.ENDED
    return Verdict.LIVE


def terminal_status(data: Mapping[str, Any]) -> str:
    """The ended leg's status from Exotel's answer (as its ``leg_terminated`` would carry)."""
    for key in ("terminal_status", "termination_reason", "state"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return "terminated"


def retry_after(failures: int, settings: FlowSettings) -> float:
    """Exotel did not answer ``failures`` times in a row: ask again after 1, 2, 4 ... s, at
    most ``watchdog_interval``."""
    return float(min(2.0 ** max(failures - 1, 0), settings.watchdog_interval))
