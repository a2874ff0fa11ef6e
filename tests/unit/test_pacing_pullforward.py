"""Pull-forward: the bot-first pacer's offer decision (pure) and the simulation that drives it.

When agents are ready, forecast calls are offered one at once; a true forecast takes the agent
(wait 0), a false one declines after the few seconds the bot needs to ask."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pacing_helpers import RecordingBotFirst, bot_floor, customers, warm_bot_first

from dialer.pacing.botfirst import BotFirstPacer
from dialer.pacing.sim import Dist, ForecastModel, Scenario, simulate
from dialer.pacing.types import (
    BotCallEnded,
    BusyAgent,
    CustomerAbandoned,
    CustomerConnected,
    ForecastedCall,
    OfferResolved,
    PacerState,
    PullForwardPacer,
)


def _warm(use_forecasts: bool = True, **kw: Any) -> BotFirstPacer:
    return warm_bot_first(use_forecasts, pull_forward=True, **kw)


FRESH = ForecastedCall(bot_elapsed_s=35.0, age_s=5.0, within_s=30.0)  # due in about 25 s
DUE = ForecastedCall(bot_elapsed_s=58.0, age_s=28.0, within_s=30.0)  # due in about 2 s


# --- the decision -------------------------------------------------------------------------------


def test_offers_only_with_pull_forward_ready_agents_and_forecasts() -> None:
    state = PacerState(now=500.0, agents_ready=3, forecasts=(FRESH, FRESH))
    assert _warm().offers_now(state) == (0, 1)
    off = _warm()
    off.pull_forward = False
    assert off.offers_now(state) == ()
    # agents that the waiting customers take are not free to offer
    assert _warm().offers_now(dataclasses.replace(state, waiting=(1.0, 0.5, 0.1))) == ()
    assert _warm().offers_now(dataclasses.replace(state, waiting=(1.0,))) == (0, 1)
    assert _warm().offers_now(dataclasses.replace(state, waiting=(1.0, 0.5))) == (0,)
    assert _warm().offers_now(dataclasses.replace(state, forecasts=())) == ()
    assert isinstance(_warm(), PullForwardPacer)


def test_offers_go_to_the_likeliest_then_the_closest_to_their_stated_time() -> None:
    unsure = dataclasses.replace(DUE, likelihood=0.5)
    state = PacerState(now=500.0, agents_ready=1, forecasts=(FRESH, unsure, DUE))
    assert _warm().offers_now(state) == (2,)
    loose = _warm(reserve_risk=1.0)  # no reserve: the order alone
    assert loose.offers_now(dataclasses.replace(state, agents_ready=2)) == (2, 0)
    assert _warm().offers_now(dataclasses.replace(state, agents_ready=5)) == (2, 0, 1)
    # with two agents the reserve keeps one for the unsure call, which is due
    assert _warm().offers_now(dataclasses.replace(state, agents_ready=2)) == (2,)


def test_a_reserve_is_kept_for_escalations_that_come_without_a_forecast() -> None:
    # forecasts ignored: 20 % of bot calls escalate at 60 s, so ten calls at 55 s bring
    # about two escalations within the next 10 s, with no busy agent freeing by then
    blind = _warm(use_forecasts=False)
    quiet = PacerState(now=500.0, agents_ready=3, forecasts=(FRESH,) * 3)
    assert blind.offers_now(quiet) == (0, 1, 2)
    busy = dataclasses.replace(quiet, bot_calls=(55.0,) * 10)
    assert blind.offers_now(busy) == ()
    # agents about to finish their wrap-up cover them: offers again
    freeing = dataclasses.replace(busy, busy_agents=(BusyAgent("wrap", 19.0),) * 4)
    assert len(blind.offers_now(freeing)) >= 2
    # a looser reserve offers more
    assert len(_warm(use_forecasts=False, reserve_risk=0.5).offers_now(busy)) >= 1


def test_due_forecasts_are_offered_even_when_agents_are_short() -> None:
    # five forecast calls about to escalate, three agents: offering risks nothing more
    state = PacerState(now=500.0, agents_ready=3, forecasts=(DUE,) * 5)
    assert len(_warm().offers_now(state)) == 3


def test_declines_are_learned_and_reserved_agents_count_as_supply() -> None:
    pacer = _warm()
    assert pacer.decline_rate() == pytest.approx(0.0)  # every forecast came true so far
    for accepted in (True, False, False, True):
        pacer.observe(OfferResolved(10.0, 4.0, accepted))
    assert pacer.decline_rate() == pytest.approx(0.5)
    assert pacer.control.recent_rate == 0.0  # offers are not customers waiting
    base = PacerState(now=500.0, agents_ready=0, bot_calls=(10.0,) * 10)
    offering = dataclasses.replace(base, offering=(1.0, 2.0))
    assert offering.agents_logged_in == 2 and offering.bot_lines == 12
    plain = [h.supply_mean for h in pacer.horizons(base)]
    reserved = [h.supply_mean for h in pacer.horizons(offering)]
    # half of them decline and are free again; the others talk, rarely done within a minute
    for a, b in zip(plain, reserved, strict=True):
        assert 1.0 <= b - a <= 1.2
    with pytest.raises(ValueError):
        OfferResolved(1.0, -1.0, True)


# --- the simulation -----------------------------------------------------------------------------


def _floor(**kw: Any) -> Scenario:
    return bot_floor(ForecastModel(), hours=1.0, **kw)


class _Recorder(RecordingBotFirst):
    def __init__(self, offer: bool = True, **kw: Any) -> None:
        super().__init__(pull_forward=True, **kw)
        self.offer = offer
        self.offer_states = 0

    def _check(self, state: PacerState) -> None:
        assert state.agents_logged_in == 5  # reserved agents are neither ready nor busy
        self.offer_states += bool(state.offering)

    def dials_now(self, state: PacerState) -> int:
        self._check(state)
        return super().dials_now(state)

    def offers_now(self, state: PacerState) -> tuple[int, ...]:
        self._check(state)
        return super().offers_now(state) if self.offer else ()


def test_sim_pull_forward_hands_true_forecasts_over_and_declines_false_ones() -> None:
    pacer = _Recorder()
    result = simulate(_floor(), pacer, 5)
    resolved = [o for o in pacer.seen if isinstance(o, OfferResolved)]
    taken = [o for o in resolved if o.accepted]
    assert result.offers == len(resolved) > 10 and pacer.offer_states > 0
    assert result.accepted == len(taken) and 0 < len(taken) < len(resolved)
    assert all(2.0 <= o.offer_s <= 8.0 for o in resolved)
    assert result.offer_s == pytest.approx(sum(o.offer_s for o in resolved), abs=8.0)
    # an accepted offer: the bot call ends there as an escalation, the customer waits 0 s
    for i, obs in enumerate(pacer.seen):
        if isinstance(obs, OfferResolved) and obs.accepted:
            ended, connected = pacer.seen[i + 1], pacer.seen[i + 2]
            assert isinstance(ended, BotCallEnded) and ended.escalated
            assert ended.forecast_at_s is not None
            assert isinstance(connected, CustomerConnected) and connected.wait_s == 0.0
    # every escalation is counted once in the waits, pulled forward or not
    escalated = [o for o in pacer.seen if isinstance(o, BotCallEnded) and o.escalated]
    waited = [o for o in pacer.seen if isinstance(o, CustomerConnected | CustomerAbandoned)]
    assert len(result.waits) >= len(escalated) - 5  # a few may still wait at the end
    assert len(result.waits) <= len(escalated)
    assert len(waited) >= len(result.waits)
    # declined offers are false forecasts: those calls never escalate
    declined = len(resolved) - len(taken)
    false = [o for o in pacer.seen if isinstance(o, BotCallEnded) and o.forecast_at_s is not None]
    assert declined <= sum(1 for o in false if not o.escalated)


def test_sim_without_offers_is_the_plain_bot_first_floor() -> None:
    plain = simulate(_floor(), BotFirstPacer(stream_limit=15), 6)
    idle = simulate(_floor(), _Recorder(offer=False), 6)
    assert idle.offers == 0
    assert customers(plain) == customers(idle)


def test_sim_offers_make_agents_idle_for_the_offer_time() -> None:
    quick = simulate(_floor(offer=Dist(0.5, 0.0, 0.5, 0.5)), _Recorder(), 7)
    slow = simulate(_floor(offer=Dist(8.0, 0.0, 8.0, 8.0)), _Recorder(), 7)
    assert quick.offer_s == pytest.approx(0.5 * quick.offers, abs=0.5)
    assert slow.offer_s == pytest.approx(8.0 * slow.offers, abs=8.0)


class _Greedy(BotFirstPacer):
    def offers_now(self, state: PacerState) -> tuple[int, ...]:
        return (0, 0) if state.forecasts and state.agents_ready >= 2 else ()


def test_sim_refuses_offers_past_the_rules() -> None:
    with pytest.raises(ValueError, match="offers_now"):
        simulate(_floor(), _Greedy(stream_limit=15), 8)
