"""voxgate's predictive pacer (agent-first): as many dials as keep abandonment under target.

From recent observations it estimates the live-answer rate and the ring time of live answers
(:class:`OutcomeWindow`), talk and wrap-up times (:class:`DurationWindow`), and from the current
state which agents are about to free up (given how long each has been busy) and which ringing
lines are about to answer (given how long each has rung). A new dial needs an agent when it
answers, at ``tau``, taken at three quantiles of the live ring time; it is abandoned if the
customers answering before it (waiting now, ringing lines, the other new dials) use up every
agent free by ``tau`` plus the 2 s grace. The pacer places dials while the last one's risk stays
under a limit, and a :class:`RiskController` tunes that limit so that the abandonment rate over
live answers tracks ``aim`` (below the legal ``target``).

Warm start: :meth:`PredictivePacer.restore` seeds the estimators and the risk limit from a
:meth:`PredictivePacer.snapshot` of an earlier shift (the campaign store keeps one per
campaign), which skips the cold start below.

Fallbacks: progressive pacing (one line per free agent) during a cold start (too few observed
dials or talks to estimate from), for pools smaller than ``min_agents``, and for pools under
``small_pool`` agents while the day's abandonment is at or above ``small_pool_fallback`` (80 %)
of the target; below
``small_pool`` agents the aim is scaled by the square of the pool's share of it (5 of 10
agents: a quarter) and the forecast does not count on agents freeing within the grace period
(only by the answer time), because a small pool's abandonment swings far more from the same
per-dial risk (one abandon in a 5-agent shift is ~0.7 %). The risk limit starts low
(``start_risk``) and rises only as answers prove it safe.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from dialer.pacing.estimators import OutcomeWindow
from dialer.pacing.forecast import (
    Horizon,
    RiskController,
    ServiceEstimator,
    ServiceModel,
    group_busy,
    max_dials,
)
from dialer.pacing.progressive import progressive_dials
from dialer.pacing.types import (
    SNAPSHOT_VERSION,
    CustomerAbandoned,
    CustomerConnected,
    DialOutcome,
    DialResolved,
    Observation,
    PacerState,
    check_snapshot,
)

__all__ = ["PredictivePacer"]

_ANSWER_POINTS = (0.25, 0.5, 0.75)


class PredictivePacer:
    """Agent-first predictive pacing under an abandonment target (see the module docstring)."""

    name = "voxgate-predictive"

    def __init__(
        self,
        target: float = 0.03,
        aim: float = 0.02,
        grace_s: float = 2.0,
        min_agents: int = 2,
        small_pool: int = 10,
        warmup_dials: int = 40,
        warmup_talks: int = 8,
        start_risk: float = 0.005,
        max_lines_per_agent: float = 12.0,
        small_pool_fallback: float = 0.8,
    ) -> None:
        if grace_s < 0 or min_agents < 1 or max_lines_per_agent < 1:
            raise ValueError("grace_s >= 0, min_agents >= 1, max_lines_per_agent >= 1")
        self.grace_s = grace_s
        self.min_agents = min_agents
        self.small_pool = small_pool
        self.aim = aim
        self.warmup_dials = warmup_dials
        self.max_lines_per_agent = max_lines_per_agent
        self.small_pool_fallback = small_pool_fallback
        self.rings = OutcomeWindow()
        self.service = ServiceEstimator(warmup_talks)
        self.control = RiskController(aim=aim, ceiling=target, start=start_risk)

    def observe(self, obs: Observation) -> None:
        if self.service.observe(obs):
            return
        if isinstance(obs, DialResolved):
            self.rings.add(obs.ring_s, obs.outcome is DialOutcome.LIVE)
        elif isinstance(obs, CustomerConnected):
            self.control.count(bad=False)
        elif isinstance(obs, CustomerAbandoned):
            self.control.count(bad=True)

    def snapshot(self) -> dict[str, Any]:
        """Recent rings, talks, wrap-ups and the tuned risk limit (see ``WarmStartPacer``)."""
        return {
            "version": SNAPSHOT_VERSION,
            "pacer": self.name,
            "rings": self.rings.samples(),
            "service": self.service.snapshot(),
            "risk_limit": self.control.limit,
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Seed a fresh pacer from a :meth:`snapshot` (a warm start)."""
        check_snapshot(snapshot, self.name)
        self.rings.load(snapshot.get("rings", ()))
        self.service.restore(snapshot.get("service", {}))
        if "risk_limit" in snapshot:
            self.control.restore_limit(snapshot["risk_limit"])

    def warm(self, agents: int) -> bool:
        """Enough dials observed to estimate answer rate and ring time from."""
        return len(self.rings) >= self.warmup_dials

    def _small_pool_over(self, state: PacerState) -> bool:
        """A small pool dials progressively while the day's rate is at or above
        ``small_pool_fallback`` of the target: one burst there is a large share of its answers."""
        return (
            state.agents_logged_in < self.small_pool
            and state.abandon_rate_24h >= self.small_pool_fallback * self.control.ceiling
        )

    def horizons(self, state: PacerState) -> list[Horizon]:
        """The risk picture at three likely answer times of a dial placed now."""
        p_live = self.rings.hit_rate_upper()  # a few unlucky early dials must not flood agents
        if state.next_live is not None:  # the pickup model's figure for the next leads
            p_live *= state.next_live / max(1e-6, self.rings.hit_rate(state.next_live))
            p_live = min(1.0, p_live)
        service = self.service.model(state.agents_logged_in)
        # lines dialled together have rung equally long: evaluate each distinct second once
        ringing = Counter(round(elapsed) for elapsed in state.ringing)
        busy = group_busy(state.busy_agents)
        # a small pool does not count on agents freeing within the grace period
        grace = self.grace_s if state.agents_logged_in >= self.small_pool else 0.0
        result = []
        for q in _ANSWER_POINTS:
            tau = self.rings.hit_quantile(q, 10.0)
            claims, claims_var = self.claims(state, ringing, tau)
            freed, supply_var = self.freed(state, service, busy, tau + grace)
            supply = state.agents_ready + freed
            per_dial = p_live * self.rings.hit_cdf(tau)
            result.append(Horizon(claims, claims_var, supply, supply_var, per_dial))
        return result

    def claims(
        self, state: PacerState, ringing: Counter[int], tau: float
    ) -> tuple[float, float]:
        """Mean and variance of the customers needing an agent by ``tau``: those waiting now
        and the ringing lines (grouped by whole seconds rung) that answer live by then; with
        ``state.ringing_live``, each line's chance is scaled by its lead's P(live) over the
        campaign average, and the expectation is their sum.
        (``bench/pacing_oracle.py`` overrides this and :meth:`freed` with the simulation's
        truth, to measure what exact knowledge would be worth.)"""
        mean = float(len(state.waiting))
        var = 0.0
        if state.ringing_live:  # per-dial probabilities: the sum of each line's own
            average = max(1e-6, self.rings.hit_rate(0.2))
            for elapsed_s, p_lead in zip(state.ringing, state.ringing_live, strict=True):
                p = min(1.0, self.rings.hit_within(round(elapsed_s), tau) * p_lead / average)
                mean += p
                var += p * (1.0 - p)
            return mean, var
        for elapsed, count in ringing.items():
            p = self.rings.hit_within(elapsed, tau)
            mean += count * p
            var += count * p * (1.0 - p)
        return mean, var

    def freed(
        self,
        state: PacerState,
        service: ServiceModel,
        busy: Counter[tuple[str, int]],
        horizon: float,
    ) -> tuple[float, float]:
        """Mean and variance of the busy agents ready within ``horizon`` seconds."""
        return service.supply(busy, horizon)

    def dials_now(self, state: PacerState) -> int:
        agents = state.agents_logged_in
        self.control.aim = self.aim * max(0.1, min(1.0, agents / self.small_pool) ** 2)
        self.control.update(state.now, state.abandon_rate_24h)
        if agents < self.min_agents or not self.warm(agents) or self._small_pool_over(state):
            return progressive_dials(state)
        in_flight = len(state.ringing) + len(state.waiting)
        cap = int(self.max_lines_per_agent * agents) - in_flight
        cap = min(cap, state.free_lines)
        if cap <= 0:
            return 0
        return max_dials(self.horizons(state), self.control.limit, cap)
