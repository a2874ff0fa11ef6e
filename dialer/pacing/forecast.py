"""The arithmetic shared by the predictive and bot-first pacers: how many more dials keep the
chance that the next one finds no agent under a risk limit, and the loop that tunes that limit.

A pacer builds one :class:`Horizon` per instant ``tau`` at which its next dial would need an
agent (when it answers, or when its bot conversation escalates): the customers expected to claim
an agent before then (mean and variance of a sum of independent Bernoulli trials) and the agents
expected to be free by then. :func:`max_dials` then adds dials one by one while the newest one's
risk, averaged over the horizons, stays within the limit. Sums of Bernoulli trials are taken as
normal with a continuity correction: cheap (O(lines + agents) per decision) and close enough at
the 1-10 % tail a pacer works in.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dialer.pacing.estimators import DurationWindow
from dialer.pacing.types import AgentTalkEnded, AgentWrapEnded, BusyAgent, Observation

__all__ = ["Horizon", "RiskController", "ServiceModel", "group_busy", "max_dials", "shortage_risk"]

_WRAP_POINTS = (0.2, 0.5, 0.8)


@dataclass(slots=True)
class Horizon:
    """Claims ahead of the next dial and agents free by the time it needs one.

    ``per_dial`` is the probability that each further new dial claims an agent first."""

    claims_mean: float
    claims_var: float
    supply_mean: float
    supply_var: float
    per_dial: float


def shortage_risk(mean_gap: float, var: float) -> float:
    """P(claims - supply >= 0) for an integer-valued gap with this mean and variance."""
    if var < 1e-12:
        return 1.0 if mean_gap > -0.5 else 0.0
    return 0.5 * (1.0 + math.erf((mean_gap + 0.5) / math.sqrt(2.0 * var)))


def _risk(horizons: Sequence[Horizon], others: int, worst: bool) -> float:
    risks = []
    for h in horizons:
        p = h.per_dial
        gap = h.claims_mean + others * p - h.supply_mean
        var = h.claims_var + others * p * (1.0 - p) + h.supply_var
        risks.append(shortage_risk(gap, var))
    return max(risks) if worst else sum(risks) / len(risks)


def max_dials(horizons: Sequence[Horizon], risk_limit: float, cap: int, worst: bool = False) -> int:
    """The most new dials (at most ``cap``) within ``risk_limit``.

    Default: the last dial's own risk (claims ahead of it: ``n - 1`` other new dials), averaged
    over the horizons. ``worst=True``: the risk that *any* customer claiming by a horizon finds
    no agent (all ``n`` new dials count), at the worst horizon; use it when the new dials'
    claims spread widely in time and can overtake the ones in flight."""
    if not horizons:
        return 0
    n = 0
    while n < cap and _risk(horizons, n + 1 if worst else n, worst) <= risk_limit:
        n += 1
    return n


class ServiceModel:
    """When busy agents free up: recent talk and wrap-up times, frozen for one decision.

    Build one per decision (it caches the wrap-up quantiles), then ask :meth:`free_within` for
    one busy agent or :meth:`supply` for a group. ``cache`` may be kept across decisions while
    both windows' :attr:`DurationWindow.revision` stay the same (see :class:`SupplyCache`).
    A phase not trusted yet (``trust_talk``/``trust_wrap`` false: too few samples) never frees
    an agent: early samples are the short ones, and would make agents look about to free."""

    __slots__ = ("_cache", "_talk", "_talk_mean", "_trust", "_wrap", "_wrap_mean", "_wrap_points")

    def __init__(
        self,
        talk: DurationWindow,
        wrap: DurationWindow,
        talk_default: float,
        wrap_default: float,
        cache: dict[tuple[str, int, float], float] | None = None,
        *,
        trust_talk: bool = True,
        trust_wrap: bool = True,
    ) -> None:
        self._cache = {} if cache is None else cache
        self._talk = talk
        self._wrap = wrap
        self._talk_mean = talk.mean(talk_default)
        self._wrap_mean = wrap.mean(wrap_default)
        self._wrap_points = tuple(wrap.quantile(q, self._wrap_mean) for q in _WRAP_POINTS)
        self._trust = {"talk": trust_talk, "wrap": trust_wrap}

    def free_within(self, agent: BusyAgent, horizon: float) -> float:
        """P(this busy agent is ready within ``horizon`` seconds): the rest of the talk plus a
        wrap-up (taken at three quantiles of recent wrap-ups), or the rest of the wrap-up."""
        return self._free(agent.phase, agent.elapsed_s, horizon)

    def _free(self, phase: str, elapsed: float, horizon: float) -> float:
        if not self._trust[phase]:
            return 0.0  # too few samples yet: assume the agent stays busy (the safe side)
        if phase == "wrap":
            return self._wrap.ends_within(elapsed, horizon, self._wrap_mean)
        total = 0.0
        for wrap in self._wrap_points:
            left = horizon - wrap
            if left > 0:
                total += self._talk.ends_within(elapsed, left, self._talk_mean)
        return total / len(self._wrap_points)

    def supply(self, groups: Counter[tuple[str, int]], horizon: float) -> tuple[float, float]:
        """Mean and variance of how many of the grouped busy agents (see :func:`group_busy`)
        are ready within ``horizon`` seconds."""
        mean = var = 0.0
        cache = self._cache
        for (phase, elapsed), count in groups.items():
            key = (phase, elapsed, horizon)
            f = cache.get(key)
            if f is None:
                f = cache[key] = self._free(phase, elapsed, horizon)
            mean += count * f
            var += count * f * (1.0 - f)
        return mean, var


class SupplyCache:
    """Per-agent answers kept between decisions until the talk or wrap-up window changes."""

    def __init__(self, limit: int = 50_000) -> None:
        self._key: tuple[int, int, bool, bool] = (-1, -1, True, True)
        self._limit = limit
        self.entries: dict[tuple[str, int, float], float] = {}

    def model(
        self,
        talk: DurationWindow,
        wrap: DurationWindow,
        talk_default: float,
        wrap_default: float,
        *,
        trust_talk: bool = True,
        trust_wrap: bool = True,
    ) -> ServiceModel:
        key = (talk.revision, wrap.revision, trust_talk, trust_wrap)
        if key != self._key or len(self.entries) > self._limit:
            self._key = key
            self.entries = {}
        return ServiceModel(
            talk,
            wrap,
            talk_default,
            wrap_default,
            self.entries,
            trust_talk=trust_talk,
            trust_wrap=trust_wrap,
        )


def group_busy(agents: Iterable[BusyAgent]) -> Counter[tuple[str, int]]:
    """Busy agents by phase and whole seconds busy: agents alike are evaluated once."""
    return Counter((agent.phase, round(agent.elapsed_s)) for agent in agents)


class RiskController:
    """Tunes the per-dial risk limit so that the share of bad outcomes (abandoned answers, or
    escalations waiting too long) tracks ``aim``.

    Call :meth:`count` for every outcome and :meth:`update` about once a second; every
    ``period_s`` it compares the recent bad share (exponentially weighted, ``half_life_s``) with
    ``aim`` and scales the limit up or down. ``guard`` (the day's ledger rate) above ``aim`` stops
    any increase, above ``ceiling`` halves the limit each period: a burst never compounds.
    """

    def __init__(
        self,
        aim: float,
        ceiling: float,
        start: float,
        low: float = 0.002,
        high: float = 0.3,
        period_s: float = 60.0,
        half_life_s: float = 900.0,
        gain: float = 0.4,
        max_up: float = 0.15,
        min_events: float = 20.0,
    ) -> None:
        if not 0 < aim <= ceiling < 1 or not 0 < low <= start <= high < 1:
            raise ValueError("need 0 < aim <= ceiling < 1 and 0 < low <= start <= high < 1")
        self.aim = aim
        self.ceiling = ceiling
        self.limit = start
        self.low = low
        self.high = high
        self.period_s = period_s
        self.gain = gain
        self.max_up = max_up
        self.min_events = min_events
        self._decay = 0.5 ** (period_s / half_life_s)
        self._events = 0.0
        self._bad = 0.0
        self._next: float | None = None

    def restore_limit(self, limit: float) -> None:
        """Start from a stored risk limit (a warm start), kept within ``low``..``high``."""
        if isinstance(limit, bool) or not isinstance(limit, int | float) or limit != limit:
            raise ValueError(f"a stored risk limit must be a number, got {limit!r}")
        self.limit = min(self.high, max(self.low, float(limit)))

    def count(self, bad: bool) -> None:
        self._events += 1.0
        self._bad += 1.0 if bad else 0.0

    @property
    def recent_rate(self) -> float:
        return self._bad / self._events if self._events > 0 else 0.0

    def update(self, now: float, guard: float) -> None:
        if self._next is None:
            self._next = now + self.period_s
            return
        if now < self._next:
            return
        self._next = now + self.period_s
        if guard > self.ceiling:
            self.limit = max(self.low, self.limit * 0.5)
        elif self._events >= self.min_events:
            error = (self.aim - self.recent_rate) / self.aim
            step = math.exp(max(-1.0, min(self.max_up, self.gain * error)))
            if guard > self.aim:
                step = min(step, 1.0)
            self.limit = min(self.high, max(self.low, self.limit * step))
        self._events *= self._decay
        self._bad *= self._decay


class ServiceEstimator:
    """Agents' talk and wrap-up times seen so far, and the :class:`ServiceModel` built on them.

    Talks are trusted once they number half the pool (and at least ``warmup``), wrap-ups after
    ``warmup``: before that agents in that phase are taken as staying busy (the first to end are
    the short ones, and would make every agent look about to free up). Shared by the pacers that
    forecast agent supply.
    """

    def __init__(
        self, warmup: int, talk_default: float = 180.0, wrap_default: float = 20.0
    ) -> None:
        self.warmup = warmup
        self.talk_default = talk_default
        self.wrap_default = wrap_default
        self.talk = DurationWindow()
        self.wrap = DurationWindow()
        self._supply = SupplyCache()

    def observe(self, obs: Observation) -> bool:
        """Take a talk or wrap-up end; returns whether ``obs`` was one."""
        if isinstance(obs, AgentTalkEnded):
            self.talk.add(obs.talk_s)
        elif isinstance(obs, AgentWrapEnded):
            self.wrap.add(obs.wrap_s)
        else:
            return False
        return True

    def model(self, agents: int) -> ServiceModel:
        """The service model for a pool of ``agents``."""
        return self._supply.model(
            self.talk,
            self.wrap,
            self.talk_default,
            self.wrap_default,
            trust_talk=len(self.talk) >= max(self.warmup, agents // 2),
            trust_wrap=len(self.wrap) >= self.warmup,
        )

    def snapshot(self) -> dict[str, list[float]]:
        """Recent talk and wrap-up times, for a warm start (:meth:`restore`)."""
        return {"talk": self.talk.samples(), "wrap": self.wrap.samples()}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Take talk and wrap-up times from a :meth:`snapshot` (e.g. yesterday's shift)."""
        self.talk.load(snapshot.get("talk", ()))
        self.wrap.load(snapshot.get("wrap", ()))

    def mean_service_s(self) -> float:
        """Mean talk plus wrap-up time of one call (defaults until observed)."""
        return self.talk.mean(self.talk_default) + self.wrap.mean(self.wrap_default)
