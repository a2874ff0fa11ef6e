"""What the campaign runner tracks of its calls in flight and of its agents, and the pacer's
view built from them: the :class:`~dialer.pacing.types.PacerState` for each tick, the
observations an agent's change of state gives, and the agents' occupancy. Pure: times in, values
out (times on the dialer's clock)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from dialer.agents import Agent, AgentState
from dialer.campaign.progress import CampaignSnapshot
from dialer.campaign.store.types import CampaignStats, PendingLeads
from dialer.pacing.ledger import LedgerView
from dialer.pacing.types import (
    AgentTalkEnded,
    AgentWrapEnded,
    BotCallEnded,
    BusyAgent,
    ForecastedCall,
    Observation,
    PacerState,
)

__all__ = ["AgentClock", "LiveCall", "agent_change", "occupancy", "pacer_state"]

_OFF_DUTY = (AgentState.IDLE, AgentState.OFFLINE, AgentState.PAUSED)


@dataclass(slots=True)
class LiveCall:
    """What the runner tracks of one call in flight (times on the dialer's clock)."""

    placed: float
    answered: float | None = None
    waiting_since: float | None = None  # answered (agent-first) or escalated (bot-first)
    resolved: bool = False  # the pacer was told how the ringing ended
    live: bool = False  # a live answer (not a machine): counts as answered while in flight
    escalated: bool = False  # needs an agent (asked for one, or answered live in agent-first)
    connected: bool = False  # ... and reached one
    forecast: tuple[float, float, float] | None = None  # bot's (at, within_s, likelihood)

    def bot_ended(self, now: float, escalated: bool) -> BotCallEnded:
        """The pacer's observation of this call's bot conversation ending now."""
        assert self.answered is not None
        bot_s = max(0.0, now - self.answered)
        if self.forecast is None:
            return BotCallEnded(now, bot_s, escalated)
        at, within, likelihood = self.forecast
        return BotCallEnded(
            now,
            bot_s,
            escalated,
            forecast_at_s=min(bot_s, max(0.0, at - self.answered)),
            forecast_within_s=within,
            forecast_likelihood=likelihood,
        )


@dataclass(slots=True)
class AgentClock:
    """An agent's state and since when (the dialer's clock)."""

    state: AgentState
    since: float


def agent_change(
    before: AgentClock, state: AgentState, now: float
) -> tuple[float, list[Observation]]:
    """An agent went from ``before`` to ``state`` at ``now``: the seconds it was busy (not idle
    or offline) in ``before``, and the pacer's observations (a talk or a wrap-up ended)."""
    held = now - before.since
    busy = held if before.state not in _OFF_DUTY else 0.0
    seen: list[Observation] = []
    if before.state is AgentState.TALKING and state is not AgentState.TALKING:
        seen.append(AgentTalkEnded(now, held))
        if state is AgentState.IDLE:
            seen.append(AgentWrapEnded(now, 0.0))
    elif before.state is AgentState.WRAP_UP and state is not AgentState.WRAP_UP:
        seen.append(AgentWrapEnded(now, held))
    return busy, seen


def occupancy(
    now: float,
    started: float,
    busy_s: float,
    agents: int,
    clocks: Iterable[AgentClock],
) -> float:
    """Share of agent time (``agents`` x time since ``started``) spent not idle: ``busy_s``
    already counted, plus the time the agents now busy have been so."""
    elapsed = now - started
    busy = busy_s + sum(now - c.since for c in clocks if c.state not in _OFF_DUTY)
    return min(1.0, busy / (max(1, agents) * elapsed)) if elapsed > 0 else 0.0


def pacer_state(
    now: float,
    agents: Iterable[Agent],
    clocks: dict[str, AgentClock],
    calls: Mapping[str, LiveCall],
    *,
    bot_first: bool,
    line_limit: int,
    view: LedgerView,
) -> PacerState:
    """The lines and agents at ``now``, as the pacer sees them. An agent ``clocks`` does not
    know yet is entered there, as in its state since ``now``."""
    ready = 0
    busy: list[BusyAgent] = []
    for agent in agents:
        clock = clocks.setdefault(agent.agent_id, AgentClock(agent.state, now))
        if agent.state is AgentState.IDLE:
            ready += 1
        elif agent.state is AgentState.WRAP_UP:
            busy.append(BusyAgent("wrap", now - clock.since))
        elif agent.state in (AgentState.RINGING, AgentState.TALKING):
            busy.append(BusyAgent("talk", now - clock.since))
    live = calls.values()
    ringing = tuple(now - c.placed for c in live if c.answered is None)
    waiting = tuple(now - c.waiting_since for c in live if c.waiting_since is not None)
    bots: list[float] = []
    forecasts: list[ForecastedCall] = []
    if bot_first:
        for c in live:
            if c.answered is None or c.waiting_since is not None:
                continue
            if c.forecast is None:
                bots.append(now - c.answered)
            else:
                at, within, likelihood = c.forecast
                forecasts.append(ForecastedCall(now - c.answered, now - at, within, likelihood))
    return PacerState(
        now=now,
        agents_ready=ready,
        busy_agents=tuple(busy),
        ringing=ringing,
        waiting=waiting,
        bot_calls=tuple(bots),
        forecasts=tuple(forecasts),
        lines_in_use=len(calls),
        line_limit=line_limit,
        abandon_rate_24h=view.rate_24h,
        live_answers_24h=view.live_24h,
    )


def snapshot(campaign: str, stats: CampaignStats, pending: PendingLeads,
             live: Collection[LiveCall], *, now: float, wall: float, elapsed_s: float,
             occupancy: float, agents: Mapping[str, int]) -> CampaignSnapshot:
    """The campaign's figures now (the live view, the closing summary, the dashboard): the
    store's counts with the calls in flight counted as soon as they are answered live or reach
    an agent."""
    waits = [now - c.waiting_since for c in live if c.waiting_since is not None]
    return CampaignSnapshot(
        campaign=campaign,
        status=stats.status,
        elapsed_s=elapsed_s,
        leads=stats.leads,
        done=stats.done,
        pending=stats.pending,
        in_flight=len(live),
        attempts=stats.attempts,
        answered=stats.answered + sum(c.live for c in live),
        escalated=stats.escalated + sum(c.escalated for c in live),
        bridged=stats.connected + sum(c.connected for c in live),
        abandoned=stats.abandoned,
        abandon_rate_24h=stats.rate_24h,
        abandon_rate_30d=stats.rate_30d,
        occupancy=occupancy,
        agents=dict(agents),
        due_now=min(stats.pending, pending.due_now),  # the two reads are not one transaction
        next_due_at=pending.next_due_at,
        wall_time=wall,
        waiting_for_agent=len(waits),
        longest_wait_s=max(waits, default=0.0),
    )
