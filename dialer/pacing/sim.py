"""A seeded discrete-event simulation of a dialling floor, driving the real pacer code.

Virtual time, no asyncio, no I/O: a heap of timed events, one :class:`random.Random` seeded per
run. Every ``tick_s`` the pacer is shown the same :class:`PacerState` the campaign runner shows
it and asked how many lines to dial; every resolution is fed back through ``observe`` exactly as
the runner does. Call :func:`simulate` with a :class:`Scenario`, a fresh pacer and a seed; it
returns the :class:`SimResult` figures ``bench/pacing.py`` prints.

Agent-first: a live answer takes the longest-idle ready agent, or waits; with no agent within
``grace_s`` (2 s) it is abandoned (the dialer plays its message and hangs up). Bot-first: a live
answer goes to a bot; ``escalation_rate`` of them escalate after a bot conversation and wait for
an agent (an escalation waiting past ``escalation_limit_s`` is abandoned in the ledger; the
customer hangs up after ``patience_s``). Answering machines are detected (AMD) and hung up; they
are never live answers.

Transfer forecasts (bot-first, ``Scenario.forecast``, a :class:`ForecastModel`): the bot of an
escalating call forecasts the transfer with probability ``share`` (the rest escalate with no
warning: misses), ``lead`` seconds before escalating (never before its conversation starts);
calls that will not escalate get false forecasts, so that ``false_share`` of all forecasts do
not come true (made ``lead`` before the call ends). Every forecast states ``within_s`` and
``likelihood``, as a bot would from its script step, whatever the actual lead. Forecasts draw
from their own random stream: a scenario's customers are the same with and without them.

Pull-forward (a :class:`~dialer.pacing.types.PullForwardPacer`): whenever an agent becomes
ready, a forecast arrives or the floor is paced, the pacer is asked which forecast calls to
offer a ready agent. The agent is reserved (neither ready nor busy: idle, not occupancy) for
``Scenario.offer`` seconds while the bot asks its customer. A true forecast (the call would
escalate) accepts: the bot conversation ends there as an escalation, the customer talks to the
agent (wait 0, counted in the waits, the pacer's observations and every figure like any
escalation) and wraps up as usual. A false one declines: the agent is ready again (the same
idle stretch goes on) and the call goes on as a bot call with its forecast withdrawn. A call
whose bot escalates during the offer takes the reserved agent at once; one that ends during
the offer declines then. Offer times draw from their own random stream.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from dialer.pacing.ledger import AbandonmentLedger
from dialer.pacing.types import (
    AgentTalkEnded,
    AgentWrapEnded,
    BotCallEnded,
    BusyAgent,
    CustomerAbandoned,
    CustomerConnected,
    DialOutcome,
    DialResolved,
    ForecastedCall,
    OfferResolved,
    Pacer,
    PacerState,
    PullForwardPacer,
)

__all__ = ["Dist", "ForecastModel", "Scenario", "SimResult", "simulate"]


@dataclass(frozen=True, slots=True)
class Dist:
    """A log-normal distribution given by its mean and standard deviation, clipped to [lo, hi]."""

    mean: float
    sd: float
    lo: float = 0.0
    hi: float = math.inf

    def __post_init__(self) -> None:
        if self.mean <= 0 or self.sd < 0 or self.lo > self.hi:
            raise ValueError(f"bad distribution {self!r}")

    def sample(self, rng: random.Random) -> float:
        if self.sd == 0:
            value = self.mean
        else:
            sigma2 = math.log(1.0 + (self.sd / self.mean) ** 2)
            value = rng.lognormvariate(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2))
        return min(self.hi, max(self.lo, value))


@dataclass(frozen=True, slots=True)
class ForecastModel:
    """How well bots forecast their transfers (see the module docstring)."""

    share: float = 0.8
    lead: Dist = Dist(22.0, 6.0, 8.0, 45.0)
    false_share: float = 0.2
    within_s: float = 20.0
    likelihood: float = 0.8

    def __post_init__(self) -> None:
        if not 0 <= self.share <= 1 or not 0 <= self.false_share < 1:
            raise ValueError("share must be within 0..1 and false_share within 0..1 (open)")
        if self.within_s < 0 or not 0 < self.likelihood <= 1:
            raise ValueError("within_s >= 0 and likelihood within (0, 1]")


@dataclass(frozen=True, slots=True)
class Scenario:
    """One dialling floor: agents, customers' behaviour, and the shift length."""

    name: str
    agents: int
    live_rate: float
    mode: Literal["agent_first", "bot_first"] = "agent_first"
    machine_rate: float = 0.10
    busy_rate: float = 0.08
    failed_rate: float = 0.04
    ring_timeout_s: float = 30.0
    live_ring: Dist = Dist(9.0, 5.0, 2.0, 30.0)
    machine_ring: Dist = Dist(14.0, 6.0, 4.0, 30.0)
    busy_ring: Dist = Dist(4.0, 2.0, 1.0, 10.0)
    failed_ring: Dist = Dist(2.0, 1.0, 0.5, 8.0)
    talk: Dist = Dist(240.0, 180.0, 20.0, 1800.0)
    wrap: Dist = Dist(20.0, 10.0, 3.0, 120.0)
    grace_s: float = 2.0
    hours: float = 4.0
    tick_s: float = 1.0
    line_limit: int = 100_000
    bot_talk: Dist = Dist(75.0, 45.0, 10.0, 600.0)
    escalation_rate: float = 0.2
    escalation_at: Dist = Dist(50.0, 30.0, 8.0, 300.0)
    escalation_limit_s: float = 2.0
    patience_s: float = 60.0
    forecast: ForecastModel | None = None
    offer: Dist = Dist(4.0, 1.0, 2.0, 8.0)

    def __post_init__(self) -> None:
        rates = (self.live_rate, self.machine_rate, self.busy_rate, self.failed_rate)
        if self.agents < 1 or any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError(f"bad scenario {self.name!r}")
        if self.mode not in ("agent_first", "bot_first"):
            raise ValueError(f"unknown mode {self.mode!r}")


@dataclass(slots=True)
class SimResult:
    """Figures over one shift of one scenario with one pacer and seed."""

    scenario: str
    pacer: str
    seed: int
    agents: int
    hours: float
    dials: int = 0
    live: int = 0
    abandoned: int = 0
    connects: int = 0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    idle_before_connect_s: float = 0.0
    peak_rate_30d: float = 0.0
    waits: list[float] = field(default_factory=list)
    offers: int = 0
    accepted: int = 0
    offer_s: float = 0.0
    late_forecast: int = 0  # escalations past 2 s whose bot had forecast them

    @property
    def escalation_share_over(self) -> float:
        """Share of the customers needing an agent who waited past 2 s."""
        return sum(1 for w in self.waits if w > 2.0) / len(self.waits) if self.waits else 0.0

    @property
    def agent_hours(self) -> float:
        return self.agents * self.hours

    @property
    def talk_min_per_agent_hour(self) -> float:
        return self.talk_s / 60.0 / self.agent_hours

    @property
    def occupancy(self) -> float:
        return (self.talk_s + self.wrap_s) / (self.agent_hours * 3600.0)

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0

    @property
    def mean_wait_between_calls_s(self) -> float:
        return self.idle_before_connect_s / self.connects if self.connects else 0.0

    @property
    def wait_p95_s(self) -> float:
        if not self.waits:
            return 0.0
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def dials_per_agent_hour(self) -> float:
        return self.dials / self.agent_hours


# event kinds
(
    _TICK,
    _RING_END,
    _GRACE_END,
    _TALK_END,
    _WRAP_END,
    _BOT_END,
    _ESCALATE,
    _LIMIT,
    _PATIENCE,
    _HOUR,
    _FORECAST,
    _OFFER_END,
) = range(12)


@dataclass(slots=True)
class _Agent:
    phase: Literal["ready", "talk", "wrap", "offer"] = "ready"
    since: float = 0.0
    talk_s: float = 0.0
    ready_at: float = 0.0  # start of the current idle stretch (offers do not end it)


class _Floor:
    """The simulation's mutable world; one instance per run."""

    def __init__(self, scenario: Scenario, pacer: Pacer, seed: int) -> None:
        self.s = scenario
        self.pacer = pacer
        self.rng = random.Random(f"{seed}:{scenario.name}")
        self.forecast_rng = random.Random(f"{seed}:{scenario.name}:forecasts")
        self.end = scenario.hours * 3600.0
        self.result = SimResult(scenario.name, pacer.name, seed, scenario.agents, scenario.hours)
        self.ledger = AbandonmentLedger()
        self.agents = [_Agent() for _ in range(scenario.agents)]
        self.ready: deque[int] = deque(range(scenario.agents))
        self.ringing: dict[int, tuple[float, DialOutcome, float]] = {}
        self.waiting: dict[int, float] = {}
        self.bots: dict[int, float] = {}
        self.forecasts: dict[int, float] = {}  # call -> when its bot forecast the transfer
        self.puller = pacer if isinstance(pacer, PullForwardPacer) else None
        self.offer_rng = random.Random(f"{seed}:{scenario.name}:offers")
        self.escalates: set[int] = set()  # bot calls that will escalate (the sim's truth)
        self.offered: dict[int, tuple[int, float]] = {}  # call -> (agent, offer start)
        self.withdrawn: dict[int, float] = {}  # declined calls -> when the forecast was made
        self.late_forecasts: set[int] = set()  # waiting escalations that had been forecast
        self.abandoned_marked: set[int] = set()
        self.events: list[tuple[float, int, int, int]] = []
        self.seq = 0
        self.next_call = 0

    def at(self, t: float, kind: int, subject: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, subject))

    # --- dialling -------------------------------------------------------------------------
    def state(self, now: float) -> PacerState:
        busy = tuple(
            BusyAgent(a.phase, now - a.since) for a in self.agents if a.phase in ("talk", "wrap")
        )
        talking = sum(1 for a in self.agents if a.phase == "talk")
        view = self.ledger.view(now)
        return PacerState(
            now=now,
            agents_ready=len(self.ready),
            busy_agents=busy,
            ringing=tuple(now - t0 for t0, _, _ in self.ringing.values()),
            waiting=tuple(now - t0 for t0 in self.waiting.values()),
            bot_calls=tuple(
                now - t0
                for call, t0 in self.bots.items()
                if call not in self.forecasts and call not in self.offered
            ),
            forecasts=self.forecast_view(now),
            offering=tuple(now - t0 for _, t0 in self.offered.values()),
            lines_in_use=len(self.ringing) + len(self.waiting) + len(self.bots) + talking,
            line_limit=self.s.line_limit,
            abandon_rate_24h=view.rate_24h,
            live_answers_24h=view.live_24h,
        )

    def forecast_view(self, now: float) -> tuple[ForecastedCall, ...]:
        model = self.s.forecast
        if model is None:
            return ()
        return tuple(
            ForecastedCall(now - self.bots[call], now - at, model.within_s, model.likelihood)
            for call, at in self.forecasts.items()
            if call not in self.offered
        )

    def maybe_forecast(self, call: int, now: float, ends: float, escalates: bool) -> None:
        """Schedule the bot's forecast for a call whose bot conversation ends at ``ends``."""
        model, rng = self.s.forecast, self.forecast_rng
        if model is None:
            return
        if escalates:
            chance = model.share
        else:  # false forecasts: false_share of all forecasts
            true_per_call = self.s.escalation_rate * model.share
            false_per_call = true_per_call * model.false_share / (1.0 - model.false_share)
            chance = min(1.0, false_per_call / max(1e-9, 1.0 - self.s.escalation_rate))
        if rng.random() < chance:
            self.at(max(now, ends - model.lead.sample(rng)), _FORECAST, call)

    def dial(self, now: float) -> None:
        s, rng = self.s, self.rng
        u = rng.random()
        if u < s.live_rate:
            outcome = DialOutcome.LIVE
        elif u < s.live_rate + s.machine_rate:
            outcome = DialOutcome.MACHINE
        elif u < s.live_rate + s.machine_rate + s.busy_rate:
            outcome = DialOutcome.BUSY
        elif u < s.live_rate + s.machine_rate + s.busy_rate + s.failed_rate:
            outcome = DialOutcome.FAILED
        else:
            outcome = DialOutcome.NO_ANSWER
        self.place(now, outcome, self.ring_time(outcome))

    def ring_time(self, outcome: DialOutcome) -> float:
        """How long a dial with ``outcome`` rings (drawn from the scenario's distributions)."""
        s = self.s
        dist = {
            DialOutcome.LIVE: s.live_ring,
            DialOutcome.MACHINE: s.machine_ring,
            DialOutcome.BUSY: s.busy_ring,
            DialOutcome.FAILED: s.failed_ring,
        }.get(outcome)
        return s.ring_timeout_s if dist is None else dist.sample(self.rng)

    def place(self, now: float, outcome: DialOutcome, ring: float) -> int:
        """Start ringing a dial whose outcome and ring time are drawn; returns its call id."""
        call = self.next_call
        self.next_call += 1
        self.ringing[call] = (now, outcome, ring)
        self.result.dials += 1
        self.at(now + ring, _RING_END, call)
        return call

    # --- customers and agents -------------------------------------------------------------
    def connect(self, call: int, now: float, waited: float, index: int | None = None) -> None:
        """A customer (live answer or escalation) takes the longest-idle ready agent, or the
        agent ``index`` reserved for it by an offer."""
        if index is None:
            index = self.ready.popleft()
        agent = self.agents[index]
        self.result.idle_before_connect_s += now - agent.ready_at
        self.result.connects += 1
        agent.phase, agent.since = "talk", now
        self.result.waits.append(waited)
        if call in self.late_forecasts:
            self.late_forecasts.discard(call)
            self.result.late_forecast += waited > 2.0
        if call not in self.abandoned_marked:
            self.pacer.observe(CustomerConnected(now, waited))
        self.abandoned_marked.discard(call)
        self.at(now + self.s.talk.sample(self.rng), _TALK_END, index)

    def need_agent(self, call: int, now: float) -> None:
        if self.ready:
            self.connect(call, now, 0.0)
            return
        self.waiting[call] = now
        if self.s.mode == "agent_first":
            self.at(now + self.s.grace_s, _GRACE_END, call)
        else:
            self.at(now + self.s.escalation_limit_s, _LIMIT, call)
            self.at(now + self.s.patience_s, _PATIENCE, call)

    def abandon(self, call: int, now: float, waited: float) -> None:
        self.result.abandoned += 1
        self.ledger.record_abandoned(now)
        self.pacer.observe(CustomerAbandoned(now, waited))

    def ring_end(self, call: int, now: float) -> None:
        _t0, outcome, ring = self.ringing.pop(call)
        self.pacer.observe(DialResolved(now, ring, outcome))
        if outcome is not DialOutcome.LIVE:
            return
        self.result.live += 1
        self.ledger.record_live(now)
        if self.s.mode == "agent_first":
            self.need_agent(call, now)
            return
        self.bots[call] = now
        if self.rng.random() < self.s.escalation_rate:
            self.escalates.add(call)
            ends = now + self.s.escalation_at.sample(self.rng)
            self.at(ends, _ESCALATE, call)
            self.maybe_forecast(call, now, ends, True)
        else:
            ends = now + self.s.bot_talk.sample(self.rng)
            self.at(ends, _BOT_END, call)
            self.maybe_forecast(call, now, ends, False)

    def agent_ready(self, index: int, now: float, declined: bool = False) -> None:
        agent = self.agents[index]
        agent.phase, agent.since = "ready", now
        if declined:  # the idle stretch before the offer goes on; longest idle first again
            self.ready.appendleft(index)
        else:
            agent.ready_at = now
            self.ready.append(index)
        if self.waiting:
            call, t0 = next(iter(self.waiting.items()))
            del self.waiting[call]
            self.connect(call, now, now - t0)

    # --- pull-forward ---------------------------------------------------------------------
    def pull(self, now: float) -> None:
        """Ask a pull-forward pacer which forecast calls to offer a ready agent now."""
        if self.puller is None or not self.ready or len(self.forecasts) <= len(self.offered):
            return
        state = self.state(now)
        if state.agents_ready <= len(state.waiting):
            return
        calls = [call for call in self.forecasts if call not in self.offered]
        picks = self.puller.offers_now(state)
        if len(set(picks)) != len(picks) or len(picks) > state.agents_ready - len(state.waiting):
            raise ValueError(f"offers_now returned {picks!r} for {len(calls)} forecast calls")
        for position in picks:
            call = calls[position]  # IndexError for a position out of range
            index = self.ready.popleft()
            agent = self.agents[index]
            agent.phase, agent.since = "offer", now
            self.offered[call] = (index, now)
            self.result.offers += 1
            self.at(now + self.s.offer.sample(self.offer_rng), _OFFER_END, call)

    def resolve_offer(self, call: int, now: float, accepted: bool) -> None:
        """The customer of an offered call took the agent, or declined (see the docstring)."""
        index, t0 = self.offered.pop(call)
        self.result.offer_s += now - t0
        self.pacer.observe(OfferResolved(now, now - t0, accepted))
        if not accepted:
            self.withdrawn[call] = self.forecasts.pop(call)
            self.agent_ready(index, now, declined=True)
            return
        self.result.accepted += 1
        self.end_bot_call(call, now, escalated=True)
        self.connect(call, now, 0.0, index)

    def end_bot_call(self, call: int, now: float, escalated: bool) -> None:
        t0 = self.bots.pop(call)
        self.escalates.discard(call)
        forecast_at = self.forecasts.pop(call, None)
        if forecast_at is None:
            forecast_at = self.withdrawn.pop(call, None)
        model = self.s.forecast
        if forecast_at is None or model is None:
            self.pacer.observe(BotCallEnded(now, now - t0, escalated))
        else:
            self.pacer.observe(
                BotCallEnded(
                    now,
                    now - t0,
                    escalated,
                    forecast_at_s=forecast_at - t0,
                    forecast_within_s=model.within_s,
                    forecast_likelihood=model.likelihood,
                )
            )

    def handle(self, now: float, kind: int, subject: int) -> None:
        if kind == _TICK:
            if now < self.end:
                for _ in range(self.pacer.dials_now(self.state(now))):
                    self.dial(now)
                self.pull(now)
                self.at(now + self.s.tick_s, _TICK)
        elif kind == _RING_END:
            self.ring_end(subject, now)
        elif kind == _GRACE_END:
            if self.waiting.pop(subject, None) is not None:
                self.result.waits.append(self.s.grace_s)
                self.abandon(subject, now, self.s.grace_s)
        elif kind == _LIMIT:
            if subject in self.waiting:
                self.abandoned_marked.add(subject)
                self.abandon(subject, now, self.s.escalation_limit_s)
        elif kind == _PATIENCE:
            if self.waiting.pop(subject, None) is not None:
                self.abandoned_marked.discard(subject)
                self.result.waits.append(self.s.patience_s)
                if subject in self.late_forecasts:
                    self.result.late_forecast += 1
        elif kind == _TALK_END:
            agent = self.agents[subject]
            talk = now - agent.since
            self.result.talk_s += talk
            self.pacer.observe(AgentTalkEnded(now, talk))
            agent.phase, agent.since = "wrap", now
            self.at(now + self.s.wrap.sample(self.rng), _WRAP_END, subject)
        elif kind == _WRAP_END:
            wrap = now - self.agents[subject].since
            self.result.wrap_s += wrap
            self.pacer.observe(AgentWrapEnded(now, wrap))
            self.agent_ready(subject, now)
            self.pull(now)
        elif kind == _FORECAST:
            if subject in self.bots:  # forecasts come no later than the end
                self.forecasts[subject] = now
                self.pull(now)
        elif kind == _OFFER_END:
            if subject in self.offered:
                self.resolve_offer(subject, now, subject in self.escalates)
                self.pull(now)
        elif kind in (_BOT_END, _ESCALATE):
            if subject not in self.bots:
                return  # pulled forward: the conversation already ended at the offer
            escalated = kind == _ESCALATE
            if subject in self.offered:  # during an offer: the reserved agent is there
                self.resolve_offer(subject, now, escalated)
                if not escalated:
                    self.end_bot_call(subject, now, False)
                self.pull(now)
                return
            if escalated and subject in self.forecasts:
                self.late_forecasts.add(subject)
            self.end_bot_call(subject, now, escalated)
            if escalated:
                self.need_agent(subject, now)
        else:  # _HOUR
            view = self.ledger.view(now)
            if view.live_30d:
                self.result.peak_rate_30d = max(self.result.peak_rate_30d, view.rate_30d)

    def run(self) -> SimResult:
        self.at(0.0, _TICK)
        hour = 3600.0
        while hour <= self.end:
            self.at(hour, _HOUR)
            hour += 3600.0
        while self.events:
            now, _, kind, subject = heapq.heappop(self.events)
            if now > self.end:
                break
            self.handle(now, kind, subject)
        for agent in self.agents:  # time still being spent when the shift ends
            if agent.phase == "talk":
                self.result.talk_s += self.end - agent.since
            elif agent.phase == "offer":
                self.result.offer_s += self.end - agent.since
            elif agent.phase == "wrap":
                self.result.wrap_s += self.end - agent.since
        return self.result


def simulate(scenario: Scenario, pacer: Pacer, seed: int) -> SimResult:
    """Run one shift of ``scenario`` with ``pacer`` (fresh, not shared between runs)."""
    return _Floor(scenario, pacer, seed).run()
