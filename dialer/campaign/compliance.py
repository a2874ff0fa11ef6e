"""Compliance checks made before every dial: calling window in the lead's local time,
do-not-call list, attempt limits per local day and in total.

Pure functions of their arguments (times are epoch seconds). A lead's ``timezone`` is one IANA
zone or several separated by spaces (a number whose area spans zones,
:mod:`dialer.campaign.zones`): the lead may be called only when ``now`` is inside the window in
**every** one of them (the intersection of their windows), and when that intersection is empty
it is never called (``no_common_window``, final). Its calendar day (the per-day limit's key) is
the first zone's. The store calls
:func:`check_dial` while claiming a lead, inside the claim's transaction, so the do-not-call list
is scrubbed at the moment of each dial, not once at import. A lead outside its window is not
dialled; its due time moves to the next opening (``Verdict.not_before``). The minimum ring time
is enforced on the campaign's settings (:class:`~dialer.campaign.model.Limits`).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dialer.campaign.model import CallingWindow, Limits

__all__ = ["Verdict", "check_dial", "in_window", "local_day", "next_window_open"]

HORIZON_S = 8 * 86_400.0
"""How far :func:`next_window_open` looks for a moment inside every zone's window."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """``allowed``, or why not: ``final`` reasons end the lead, others set ``not_before``."""

    allowed: bool
    reason: str = ""
    not_before: float | None = None
    final: bool = False


def _zones(timezone: str) -> list[str]:
    zones = timezone.split()
    if not zones:
        raise ValueError("no time zone")
    return zones


def _local(now: float, zone: str) -> datetime:
    return datetime.fromtimestamp(now, UTC).astimezone(ZoneInfo(zone))


def local_day(now: float, timezone: str) -> str:
    """The lead's local calendar day (``YYYY-MM-DD``) at ``now`` in its (first) zone: the
    per-day limit's key."""
    return _local(now, _zones(timezone)[0]).date().isoformat()


def _inside(now: float, zone: str, window: CallingWindow) -> bool:
    return window.start <= _local(now, zone).time() < window.end


def in_window(now: float, timezone: str, window: CallingWindow) -> bool:
    """Whether ``now`` falls within the calling window in ``timezone`` (in each of its
    zones)."""
    return all(_inside(now, zone, window) for zone in _zones(timezone))


def _opens(now: float, zone: str, window: CallingWindow) -> float:
    """When the window next opens in one ``zone`` at or after ``now`` (``now`` if inside)."""
    if _inside(now, zone, window):
        return now
    local = _local(now, zone)
    day = local.date() if local.time() < window.start else local.date() + timedelta(days=1)
    return datetime.combine(day, window.start, tzinfo=ZoneInfo(zone)).timestamp()


def next_window_open(now: float, timezone: str, window: CallingWindow) -> float | None:
    """The first moment at or after ``now`` inside the window in every zone of ``timezone``
    (``now`` itself when inside); ``None`` when the zones' windows share no moment within
    :data:`HORIZON_S` (their intersection is empty)."""
    zones = _zones(timezone)
    at = now
    for _ in range(10 * len(zones) + 10):  # each step passes one zone's opening: 8 days' worth
        latest = max(_opens(at, zone, window) for zone in zones)
        if latest == at:
            return at
        if latest - now > HORIZON_S:
            return None
        at = latest  # nothing before it is inside every window
    return None


def check_dial(
    *,
    now: float,
    phone: str,
    timezone: str,
    window: CallingWindow,
    limits: Limits,
    dnc: Container[str],
    attempts_total: int,
    attempts_today: int,
) -> Verdict:
    """May this lead be dialled at ``now``? Checked in order: do-not-call, total attempts,
    attempts today (local day), calling window (``no_common_window``, final, when the windows
    of the lead's zones never overlap)."""
    if phone in dnc:
        return Verdict(False, "dnc", final=True)
    if attempts_total >= limits.max_attempts:
        return Verdict(False, "max_attempts", final=True)
    if attempts_today >= limits.max_attempts_per_day:
        first = _zones(timezone)[0]
        midnight = datetime.combine(
            _local(now, first).date() + timedelta(days=1), datetime.min.time(), ZoneInfo(first)
        )
        tomorrow = next_window_open(midnight.timestamp(), timezone, window)
        if tomorrow is None:
            return Verdict(False, "no_common_window", final=True)
        return Verdict(False, "daily_limit", not_before=tomorrow)
    if not in_window(now, timezone, window):
        opens = next_window_open(now, timezone, window)
        if opens is None:
            return Verdict(False, "no_common_window", final=True)
        return Verdict(False, "outside_window", not_before=opens)
    return Verdict(True)
