"""Compliance checks made before every dial: calling window in the lead's local time,
do-not-call list, attempt limits per local day and in total.

Pure functions of their arguments (times are epoch seconds, zones IANA names). The store calls
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


@dataclass(frozen=True, slots=True)
class Verdict:
    """``allowed``, or why not: ``final`` reasons end the lead, others set ``not_before``."""

    allowed: bool
    reason: str = ""
    not_before: float | None = None
    final: bool = False


def _local(now: float, timezone: str) -> datetime:
    return datetime.fromtimestamp(now, UTC).astimezone(ZoneInfo(timezone))


def local_day(now: float, timezone: str) -> str:
    """The lead's local calendar day (``YYYY-MM-DD``) at ``now``: the per-day limit's key."""
    return _local(now, timezone).date().isoformat()


def in_window(now: float, timezone: str, window: CallingWindow) -> bool:
    """Whether ``now`` falls within the calling window in ``timezone``."""
    local = _local(now, timezone).time()
    return window.start <= local < window.end


def next_window_open(now: float, timezone: str, window: CallingWindow) -> float:
    """When the window next opens at or after ``now`` (``now`` itself when inside it)."""
    if in_window(now, timezone, window):
        return now
    local = _local(now, timezone)
    day = local.date() if local.time() < window.start else local.date() + timedelta(days=1)
    opening = datetime.combine(day, window.start, tzinfo=ZoneInfo(timezone))
    return opening.timestamp()


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
    attempts today (local day), calling window."""
    if phone in dnc:
        return Verdict(False, "dnc", final=True)
    if attempts_total >= limits.max_attempts:
        return Verdict(False, "max_attempts", final=True)
    if attempts_today >= limits.max_attempts_per_day:
        local = _local(now, timezone)
        midnight = datetime.combine(
            local.date() + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(timezone)
        )
        return Verdict(
            False,
            "daily_limit",
            not_before=next_window_open(midnight.timestamp(), timezone, window),
        )
    if not in_window(now, timezone, window):
        return Verdict(False, "outside_window", not_before=next_window_open(now, timezone, window))
    return Verdict(True)
