"""The abandonment ledger: abandoned calls over live answers, per campaign, over 24 h and 30 days.

A live answer (answering machines excluded: AMD said human) is recorded with
:meth:`AbandonmentLedger.record_live` when it happens. If the customer then gets no agent in time
(agent-first: no agent on the line within 2 s of the answer; bot-first: an escalation waiting
past its limit), :meth:`AbandonmentLedger.record_abandoned` records it too. The rate is
abandoned / live answers over the last 24 hours (Ofcom's window) and over the last 30 days
(the FCC's per-campaign window).

Memory is bounded: counts live in fixed-width time buckets (one minute for the 24-hour window,
one hour for the 30-day window) with running totals, so a query is O(1) amortised. Records must
come in roughly time order; one older than the newest bucket is counted in the newest bucket.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DAY_S", "MONTH_S", "AbandonmentLedger", "LedgerBook", "LedgerView"]

DAY_S = 86_400.0
MONTH_S = 30 * DAY_S


@dataclass(frozen=True, slots=True)
class LedgerView:
    """Counts at one instant. ``rate_*`` is 0.0 when there were no live answers."""

    live_24h: int
    abandoned_24h: int
    live_30d: int
    abandoned_30d: int

    @property
    def rate_24h(self) -> float:
        return self.abandoned_24h / self.live_24h if self.live_24h else 0.0

    @property
    def rate_30d(self) -> float:
        return self.abandoned_30d / self.live_30d if self.live_30d else 0.0


class _Window:
    """Running totals over the last ``span`` seconds, in buckets of ``bucket_s`` seconds."""

    __slots__ = ("_bucket_s", "_buckets", "_n_buckets", "abandoned", "live")

    def __init__(self, span_s: float, bucket_s: float) -> None:
        self._bucket_s = bucket_s
        self._n_buckets = max(1, round(span_s / bucket_s))
        # each entry: [bucket index, live, abandoned]
        self._buckets: deque[list[int]] = deque()
        self.live = 0
        self.abandoned = 0

    def add(self, at: float, live: int, abandoned: int) -> None:
        index = int(at // self._bucket_s)
        if self._buckets and index <= self._buckets[-1][0]:
            bucket = self._buckets[-1]
        else:
            bucket = [index, 0, 0]
            self._buckets.append(bucket)
        bucket[1] += live
        bucket[2] += abandoned
        self.live += live
        self.abandoned += abandoned
        self.expire(at)

    def expire(self, now: float) -> None:
        oldest = int(now // self._bucket_s) - self._n_buckets + 1
        while self._buckets and self._buckets[0][0] < oldest:
            _, live, abandoned = self._buckets.popleft()
            self.live -= live
            self.abandoned -= abandoned


class AbandonmentLedger:
    """One campaign's abandonment accounting. Call ``view(now)`` for the rates the pacer and the
    progress display need; a restarted runner rebuilds it with :meth:`replay` from stored calls."""

    def __init__(self, day_s: float = DAY_S, month_s: float = MONTH_S) -> None:
        if day_s <= 0 or month_s < day_s:
            raise ValueError("need 0 < day_s <= month_s")
        self._day = _Window(day_s, day_s / 1440)
        self._month = _Window(month_s, month_s / 720)
        self.total_live = 0
        self.total_abandoned = 0

    def record_live(self, at: float) -> None:
        """A live answer (never an answering machine) at ``at``."""
        self._day.add(at, 1, 0)
        self._month.add(at, 1, 0)
        self.total_live += 1

    def record_abandoned(self, at: float) -> None:
        """A live-answered customer got no agent in time (already counted by ``record_live``)."""
        self._day.add(at, 0, 1)
        self._month.add(at, 0, 1)
        self.total_abandoned += 1

    def replay(self, events: Iterable[tuple[float, bool]]) -> None:
        """Rebuild from stored ``(answered_at, abandoned)`` pairs in time order."""
        for at, abandoned in events:
            self.record_live(at)
            if abandoned:
                self.record_abandoned(at)

    def view(self, now: float) -> LedgerView:
        """Counts over the 24 hours and 30 days ending at ``now``."""
        self._day.expire(now)
        self._month.expire(now)
        return LedgerView(
            live_24h=self._day.live,
            abandoned_24h=self._day.abandoned,
            live_30d=self._month.live,
            abandoned_30d=self._month.abandoned,
        )

    def rate_24h(self, now: float) -> float:
        return self.view(now).rate_24h

    def rate_30d(self, now: float) -> float:
        return self.view(now).rate_30d


class LedgerBook:
    """Ledgers kept per campaign id; a campaign's ledger is created on first use."""

    def __init__(self, day_s: float = DAY_S, month_s: float = MONTH_S) -> None:
        self._day_s = day_s
        self._month_s = month_s
        self._ledgers: dict[str, AbandonmentLedger] = {}

    def __getitem__(self, campaign_id: str) -> AbandonmentLedger:
        ledger = self._ledgers.get(campaign_id)
        if ledger is None:
            ledger = AbandonmentLedger(self._day_s, self._month_s)
            self._ledgers[campaign_id] = ledger
        return ledger

    def campaigns(self) -> tuple[str, ...]:
        return tuple(sorted(self._ledgers))
