"""The bot-first pacer: bots take every answer, agents take the escalations, nobody waits.

Bot lines are cheap but bounded: by the line limit (the account's channels, the exophone) in
:class:`PacerState` and by ``stream_limit``, the concurrent streams the gateway and the account's
stream throttle allow. Agents are the scarce part: a customer who asks for a human should get one
within ``target_wait_s`` (2 s). So the pacer forecasts, for a dial placed now, when its
conversation would escalate (ring time of live answers plus the bot time before an escalation,
at three quantiles), how many escalations from waiting customers, bot calls in progress (given
how long each has run), ringing lines and the other new dials will claim an agent before it,
and how many agents will be free by then. It dials while the last dial's risk of finding no
agent stays under a limit that a :class:`RiskController` tunes so that the share of escalations
waiting past the target tracks ``aim`` (2 %: the p95 wait must stay under the target on every
shift, and escalations come in bursts; at 3 % one 2-hour 100-agent shift in seven reached 3.2 s).

Transfer forecasts: a bot that knows ahead that it will ask for a human says so
(``CallControl.forecast_transfer``; the dialer shows such calls in ``PacerState.forecasts``).
Once ``warmup_forecasts`` forecast calls have ended, the pacer stops treating every bot call
alike: a forecast call claims an agent around the time its bot said (the gap between the
stated and the actual time, and how often a forecast comes true, learned from recent forecast
calls, scaled by each forecast's stated likelihood), and a call without one is weighed by how
often calls still *unforecast* at its age escalate (:class:`UnforecastWindow`: low when bots
rarely escalate without warning). Before that, forecast calls count as plain bot calls.

Pull-forward (``pull_forward=True``; :class:`~dialer.pacing.types.PullForwardPacer`): when
agents are ready, :meth:`BotFirstPacer.offers_now` picks forecast calls to offer one at once;
a customer who wants the human now takes the agent (wait 0), one who does not declines and the
agent is ready again a few seconds later. It keeps a reserve: it makes ``n`` offers only while
the chance that the escalations expected within ``reserve_window_s`` (calls without a forecast,
forecast calls not offered, offers accepted at the recent rate) outnumber the agents ready plus
those freeing by then stays under ``reserve_risk``, or under that chance with no offer at all
(forecast calls about to escalate take an agent anyway). Offers go to the forecast calls most
likely to come true, then the closest to their stated time. Agents reserved for an offer count,
in the pacing forecast, as free again after a decline (at the recent decline rate) or busy from
now on.

Cold start (too few observed dials, escalations or talks): at most ``cold_lines_per_agent``
lines (ringing plus bot) per logged-in agent. :meth:`BotFirstPacer.restore` seeds every
estimator and the risk limit from an earlier shift's :meth:`BotFirstPacer.snapshot` instead.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

from dialer.pacing.estimators import OutcomeWindow, UnforecastWindow
from dialer.pacing.forecast import (
    Horizon,
    RiskController,
    ServiceEstimator,
    group_busy,
    max_dials,
    shortage_risk,
)
from dialer.pacing.types import (
    SNAPSHOT_VERSION,
    BotCallEnded,
    BusyAgent,
    CustomerConnected,
    DialOutcome,
    DialResolved,
    ForecastedCall,
    Observation,
    OfferResolved,
    PacerState,
    check_snapshot,
)

__all__ = ["BotFirstPacer"]

_ESCALATION_POINTS = (0.25, 0.5, 0.75)


class BotFirstPacer:
    """Bot-first pacing under an escalation-wait target (see the module docstring)."""

    name = "voxgate-bot-first"

    def __init__(
        self,
        stream_limit: int = 100,
        target_wait_s: float = 2.0,
        aim: float = 0.02,
        ceiling: float = 0.05,
        warmup_dials: int = 40,
        warmup_escalations: int = 8,
        warmup_talks: int = 5,
        cold_lines_per_agent: float = 3.0,
        start_risk: float = 0.03,
        flow_boost: float = 1.3,
        burst_s: float = 5.0,
        use_forecasts: bool = True,
        warmup_forecasts: int = 20,
        pull_forward: bool = False,
        reserve_window_s: float = 10.0,
        reserve_risk: float = 0.05,
    ) -> None:
        if stream_limit < 1 or target_wait_s < 0 or cold_lines_per_agent <= 0:
            raise ValueError("stream_limit >= 1, target_wait_s >= 0, cold_lines_per_agent > 0")
        self.stream_limit = stream_limit
        self.target_wait_s = target_wait_s
        self.warmup_dials = warmup_dials
        self.warmup_escalations = warmup_escalations
        self.cold_lines_per_agent = cold_lines_per_agent
        self.flow_boost = flow_boost
        self.burst_s = burst_s
        self._tokens = 0.0
        self._last: float | None = None
        self.rings = OutcomeWindow()
        self.bots = OutcomeWindow()
        self.escalations = 0
        self.use_forecasts = use_forecasts
        self.warmup_forecasts = warmup_forecasts
        self.unforecast = UnforecastWindow()
        # forecast calls: (seconds from the forecast to the end) - the seconds the bot stated
        self.forecast_fit = OutcomeWindow()
        self._likelihoods: deque[float] = deque(maxlen=600)
        self.pull_forward = pull_forward
        self.reserve_window_s = reserve_window_s
        self.reserve_risk = reserve_risk
        # recent offers: whether each was accepted (not part of the snapshot)
        self.offers: deque[bool] = deque(maxlen=200)
        self.service = ServiceEstimator(warmup_talks)
        self.control = RiskController(
            aim=aim, ceiling=ceiling, start=start_risk, high=min(0.3, 4 * ceiling)
        )

    def observe(self, obs: Observation) -> None:
        if self.service.observe(obs):
            return
        if isinstance(obs, DialResolved):
            self.rings.add(obs.ring_s, obs.outcome is DialOutcome.LIVE)
        elif isinstance(obs, BotCallEnded):
            self.bots.add(obs.bot_s, obs.escalated)
            self.escalations += obs.escalated
            escalated_s = obs.bot_s if obs.escalated else None
            if obs.forecast_at_s is None:
                self.unforecast.add(obs.bot_s, escalated_s)
            else:
                self.unforecast.add(obs.forecast_at_s, escalated_s)
                lead = obs.bot_s - obs.forecast_at_s
                self.forecast_fit.add(lead - obs.forecast_within_s, obs.escalated)
                self._likelihoods.append(obs.forecast_likelihood)
        elif isinstance(obs, CustomerConnected):
            self.control.count(bad=obs.wait_s > self.target_wait_s)
        elif isinstance(obs, OfferResolved):
            self.offers.append(obs.accepted)
        else:  # CustomerAbandoned
            self.control.count(bad=True)

    def snapshot(self) -> dict[str, Any]:
        """Recent rings, bot conversations, forecasts, talks, wrap-ups and the tuned risk
        limit (see ``WarmStartPacer``)."""
        return {
            "version": SNAPSHOT_VERSION,
            "pacer": self.name,
            "rings": self.rings.samples(),
            "bots": self.bots.samples(),
            "unforecast": self.unforecast.samples(),
            "forecast_fit": self.forecast_fit.samples(),
            "likelihoods": list(self._likelihoods),
            "service": self.service.snapshot(),
            "risk_limit": self.control.limit,
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Seed a fresh pacer from a :meth:`snapshot` (a warm start)."""
        check_snapshot(snapshot, self.name)
        self.rings.load(snapshot.get("rings", ()))
        self.bots.load(snapshot.get("bots", ()))
        self.escalations += sum(1 for _, escalated in self.bots.samples() if escalated)
        self.unforecast.load(snapshot.get("unforecast", ()))
        self.forecast_fit.load(snapshot.get("forecast_fit", ()))
        for likelihood in snapshot.get("likelihoods", ()):
            if isinstance(likelihood, bool) or not isinstance(likelihood, int | float):
                raise ValueError(f"a stored likelihood must be a number, got {likelihood!r}")
            self._likelihoods.append(float(likelihood))
        self.service.restore(snapshot.get("service", {}))
        if "risk_limit" in snapshot:
            self.control.restore_limit(snapshot["risk_limit"])

    def warm(self, agents: int) -> bool:
        """Enough dials and escalations observed to estimate answers and escalations from."""
        return len(self.rings) >= self.warmup_dials and self.escalations >= self.warmup_escalations

    def forecasting(self) -> bool:
        """Forecasts are in use: enabled, and enough forecast calls ended to learn from."""
        return self.use_forecasts and len(self.forecast_fit) >= self.warmup_forecasts

    def forecast_claim(self, call: ForecastedCall, horizon: float) -> float:
        """P(this forecast call escalates within ``horizon`` s), from recent forecast calls
        (timing and how often they came true) scaled by its likelihood against theirs."""
        mean = sum(self._likelihoods) / len(self._likelihoods) if self._likelihoods else 1.0
        p = self.forecast_fit.hit_within(call.age_s - call.within_s, horizon)
        return min(1.0, p * call.likelihood / max(mean, 1e-3))

    def _bot_claims(self, state: PacerState, tau: float) -> tuple[float, float]:
        """Mean and variance of how many bot calls in progress escalate within ``tau``."""
        mean = var = 0.0
        forecasting = self.forecasting()
        pool = state.bot_calls
        if not forecasting:
            pool = pool + tuple(f.bot_elapsed_s for f in state.forecasts)
        for elapsed, count in Counter(2 * round(elapsed / 2) for elapsed in pool).items():
            if forecasting:
                p = self.unforecast.escalates_within(elapsed, tau)
            else:
                p = self.bots.hit_within(elapsed, tau)
            mean += count * p
            var += count * p * (1.0 - p)
        if forecasting:
            for call in state.forecasts:
                p = self.forecast_claim(call, tau)
                mean += p
                var += p * (1.0 - p)
        return mean, var

    def horizons(self, state: PacerState) -> list[Horizon]:
        """The risk picture at three likely escalation times of a dial placed now."""
        p_live = self.rings.hit_rate(0.0)
        p_escalate = self.bots.hit_rate(0.0)
        ring = self.rings.hit_quantile(0.5, 10.0)
        service = self.service.model(state.agents_logged_in)
        ringing = Counter(round(elapsed) for elapsed in state.ringing)
        busy = group_busy(state.busy_agents)
        decline = self.decline_rate()
        result = []
        for q in _ESCALATION_POINTS:
            tau = ring + self.bots.hit_quantile(q, 60.0)
            bot_mean, bot_var = self._bot_claims(state, tau)
            claims = len(state.waiting) + bot_mean
            claims_var = bot_var
            for elapsed, count in ringing.items():
                answer = self.rings.hit_within(elapsed, math.inf)
                p = answer * p_escalate * self.bots.hit_cdf(tau - max(0.0, ring - elapsed))
                claims += count * p
                claims_var += count * p * (1.0 - p)
            freed, supply_var = service.supply(busy, tau + self.target_wait_s)
            if state.offering:
                # a reserved agent is ready again after a decline, or talking from about now
                f = decline + (1.0 - decline) * service.free_within(
                    BusyAgent("talk", 0.0), tau + self.target_wait_s
                )
                freed += len(state.offering) * f
                supply_var += len(state.offering) * f * (1.0 - f)
            supply = state.agents_ready + freed
            per_dial = p_live * p_escalate * self.bots.hit_cdf(tau - ring)
            result.append(Horizon(claims, claims_var, supply, supply_var, per_dial))
        return result

    def decline_rate(self) -> float:
        """Share of recent offers declined; before any, the share of forecasts not come true."""
        if self.offers:
            return 1.0 - sum(self.offers) / len(self.offers)
        return 1.0 - self.forecast_fit.hit_rate(1.0)

    def offers_now(self, state: PacerState) -> tuple[int, ...]:
        """Positions in ``state.forecasts`` to offer a ready agent now (see the module
        docstring and :class:`~dialer.pacing.types.PullForwardPacer`)."""
        free = state.agents_ready - len(state.waiting)
        if not self.pull_forward or free <= 0 or not state.forecasts:
            return ()
        forecasts = state.forecasts
        order = sorted(
            range(len(forecasts)),
            key=lambda i: (-forecasts[i].likelihood, forecasts[i].within_s - forecasts[i].age_s),
        )
        window = self.reserve_window_s
        # escalations expected within the window from calls without a forecast (and ringing
        # lines are too far from escalating to matter), against agents freeing by then
        base_mean = base_var = 0.0
        forecasting = self.forecasting()
        for elapsed in state.bot_calls:
            if forecasting:
                p = self.unforecast.escalates_within(elapsed, window)
            else:
                p = self.bots.hit_within(elapsed, window)
            base_mean += p
            base_var += p * (1.0 - p)
        freed, freed_var = self.service.model(state.agents_logged_in).supply(
            group_busy(state.busy_agents), window
        )
        claims = [self._claim_now(forecasts[i], window, forecasting) for i in order]
        accept = 1.0 - self.decline_rate()

        def risk(n: int) -> float:
            """P(more escalations within the window than agents left) with the best ``n``
            calls offered: each takes its agent if it accepts, the others may escalate."""
            mean = base_mean + n * accept
            var = base_var + freed_var + n * accept * (1.0 - accept)
            for p in claims[n:]:
                mean += p
                var += p * (1.0 - p)
            return shortage_risk(mean - freed - free - 1, var)

        # never past the limit, nor past the risk of offering nothing (due calls would
        # claim an agent anyway, and an offer claims one only if it is accepted)
        limit = max(self.reserve_risk, risk(0))
        for n in range(min(free, len(order)), 0, -1):
            if risk(n) <= limit:
                return tuple(order[:n])
        return ()

    def _claim_now(self, call: ForecastedCall, window: float, forecasting: bool) -> float:
        """P(this forecast call escalates within ``window`` if not offered an agent)."""
        if forecasting:
            return self.forecast_claim(call, window)
        return self.bots.hit_within(call.bot_elapsed_s, window)

    def _stream_room(self, state: PacerState) -> int:
        """New dials that keep expected concurrent bot streams within ``stream_limit``."""
        p_live = self.rings.hit_rate(1.0)
        expected = state.bot_lines + len(state.waiting) + len(state.ringing) * p_live
        return max(0, math.floor((self.stream_limit - expected) / max(p_live, 1e-3)))

    def _flow(self, state: PacerState) -> int:
        """Dials allowed by the token bucket: escalations may be started no faster than
        ``flow_boost`` times the rate at which the pool frees agents. Without it a long
        escalation delay lets one decision commit minutes of future agent supply at once."""
        # the bucket starts full: the first decision may use a whole burst
        elapsed = self.burst_s if self._last is None else max(0.0, state.now - self._last)
        self._last = state.now
        service = self.service.mean_service_s()
        per_dial = max(1e-3, self.rings.hit_rate(0.0) * self.bots.hit_rate(0.0))
        rate = self.flow_boost * state.agents_logged_in / service / per_dial
        self._tokens = min(rate * self.burst_s, self._tokens + rate * elapsed)
        return math.floor(self._tokens)

    def dials_now(self, state: PacerState) -> int:
        self.control.update(state.now, self.control.recent_rate)
        cap = min(state.free_lines, self._stream_room(state))
        if not self.warm(state.agents_logged_in):
            lines = len(state.ringing) + state.bot_lines
            wanted = math.floor(self.cold_lines_per_agent * state.agents_logged_in) - lines
            return max(0, min(wanted, cap))
        if cap <= 0:
            return 0
        n = max_dials(self.horizons(state), self.control.limit, min(cap, self._flow(state)))
        self._tokens -= n
        return n
