"""Campaign tests that are not about calling windows must not depend on the hour they run at.

Leads without a time zone take the campaign's (Asia/Kolkata by default), and the default window
is 09:00-21:00 there: a suite run in the Indian night would find every lead waiting. Those tests
give their campaign :func:`daytime_zone` instead.
"""

from __future__ import annotations

import time
from datetime import datetime
from datetime import time as clock
from zoneinfo import ZoneInfo


def daytime_zone(now: float | None = None) -> str:
    """An ``Etc/GMT`` zone whose local time is between 11:00 and 19:00 at ``now``: the default
    window stays open for at least two hours, and tomorrow's opens more than an hour away."""
    moment = time.time() if now is None else now
    for offset in range(-12, 15):  # the offsets span 27 hours: one of them is always midday
        zone = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"
        if clock(11) <= datetime.fromtimestamp(moment, ZoneInfo(zone)).time() < clock(19):
            return zone
    raise AssertionError("unreachable: some UTC offset is always at midday")
