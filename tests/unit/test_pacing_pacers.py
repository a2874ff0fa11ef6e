"""Each pacer's decisions from plain states and observations: no I/O, no clock, no mocks."""

from __future__ import annotations

import pytest

from dialer.pacing.adaptive import AdaptiveBaselinePacer
from dialer.pacing.botfirst import BotFirstPacer
from dialer.pacing.predictive import PredictivePacer
from dialer.pacing.progressive import ProgressivePacer, progressive_dials
from dialer.pacing.types import (
    AgentTalkEnded,
    AgentWrapEnded,
    BotCallEnded,
    BusyAgent,
    CustomerAbandoned,
    CustomerConnected,
    DialOutcome,
    DialResolved,
    PacerState,
)


def talking(n: int, elapsed: float = 30.0) -> tuple[BusyAgent, ...]:
    return tuple(BusyAgent("talk", elapsed) for _ in range(n))


# --- progressive -------------------------------------------------------------------------------
def test_progressive_one_line_per_uncovered_ready_agent() -> None:
    pacer = ProgressivePacer()
    pacer.observe(CustomerConnected(0.0, 0.0))  # learns nothing
    assert pacer.dials_now(PacerState(now=0.0, agents_ready=3)) == 3
    assert pacer.dials_now(PacerState(now=0.0, agents_ready=3, ringing=(1.0,), waiting=(0.5,))) == 1
    assert pacer.dials_now(PacerState(now=0.0, agents_ready=1, ringing=(1.0, 2.0))) == 0
    limited = PacerState(now=0.0, agents_ready=5, lines_in_use=8, line_limit=10)
    assert progressive_dials(limited) == 2


# --- VICIdial-like adaptive baseline -----------------------------------------------------------
def wrapping(n: int, elapsed: float = 5.0) -> tuple[BusyAgent, ...]:
    return tuple(BusyAgent("wrap", elapsed) for _ in range(n))


def test_adaptive_dials_level_times_active_agents_not_those_in_wrap_up() -> None:
    pacer = AdaptiveBaselinePacer(start_level=2.0, update_s=100.0)
    pacer.dials_now(PacerState(now=0.0, agents_ready=0, busy_agents=talking(10)))
    assert pacer.level == 2.0  # no idle agent, no waiting call: the level holds
    # 4 ready + 6 talking are active; the 5 in wrap-up are not dialled for (VICIdial's DEAD)
    state = PacerState(
        now=1.0, agents_ready=4, busy_agents=talking(6) + wrapping(5), ringing=(1.0,) * 3
    )
    assert pacer.dials_now(state) == round(2.0 * 10) - (3 + 6)
    # at level 1.0 it is progressive: one line per ready agent not covered by a call
    pacer.level = 1.0
    assert pacer.dials_now(state) == 4 - 3
    older = AdaptiveBaselinePacer(update_s=100.0, count_wrap_up=True)
    older.dials_now(PacerState(now=0.0, agents_ready=0, busy_agents=talking(10)))
    assert older.dials_now(state) == (4 + 6 + 5) - (3 + 6)  # a line for each wrap-up too
    waiting = PacerState(now=2.0, agents_ready=4, busy_agents=wrapping(5), waiting=(0.5,) * 4)
    assert pacer.dials_now(waiting) == 0


def test_adaptive_scales_the_level_by_the_minutes_idle_differential_every_15_s() -> None:
    pacer = AdaptiveBaselinePacer()
    # all 10 idle: level * (1 + 10/10) at the first update
    assert pacer.dials_now(PacerState(now=0.0, agents_ready=10)) == 20
    assert pacer.level == pytest.approx(2.0)
    # within 15 s the level holds, however the floor changes
    pacer.dials_now(PacerState(now=5.0, agents_ready=0, busy_agents=talking(10)))
    assert pacer.level == pytest.approx(2.0)
    # the minute's averages: differential (10 + 0 + 5) / 3 = 5 over 10 agents -> x 1.5, capped
    pacer.dials_now(PacerState(now=15.0, agents_ready=5, busy_agents=talking(5)))
    assert pacer.level == 3.0
    # calls waiting and no idle agent for a minute bring it down, never under 1.0
    for t in range(16, 400):
        pacer.dials_now(
            PacerState(now=float(t), agents_ready=0, busy_agents=talking(10), waiting=(0.5,) * 4)
        )
    assert pacer.level == 1.0


def test_adaptive_hard_limit_after_50_calls_when_the_days_rate_passes_target() -> None:
    over = PacerState(now=0.0, agents_ready=2, busy_agents=talking(8), abandon_rate_24h=0.031)
    early = AdaptiveBaselinePacer(start_level=2.5)
    early.dials_now(over)  # too few calls today for the hard limit: the level still adapts
    assert early.level == pytest.approx(2.5 * (1 + 2 / 10))
    pacer = AdaptiveBaselinePacer(start_level=2.5)
    for i in range(51):
        pacer.observe(DialResolved(float(i), 5.0, DialOutcome.NO_ANSWER))
    assert pacer.dials_now(over) == 2  # level 1.0: one line per ready agent
    assert pacer.level == 1.0


def test_adaptive_validates_its_settings() -> None:
    with pytest.raises(ValueError):
        AdaptiveBaselinePacer(start_level=0.5)
    with pytest.raises(ValueError):
        AdaptiveBaselinePacer(update_s=0)
    pacer = AdaptiveBaselinePacer()
    pacer.observe(CustomerAbandoned(0.0, 2.0))  # reads state, not observations
    assert pacer.level == 1.0


# --- voxgate predictive --------------------------------------------------------------------------
def warm_predictive(live_share: float = 0.25, **kwargs: float) -> PredictivePacer:
    pacer = PredictivePacer(**kwargs)  # type: ignore[arg-type]
    for i in range(200):
        live = i % round(1 / live_share) == 0
        outcome = DialOutcome.LIVE if live else DialOutcome.NO_ANSWER
        pacer.observe(DialResolved(float(i), 8.0 + i % 5 if live else 30.0, outcome))
    for i in range(30):
        pacer.observe(AgentTalkEnded(float(i), 200.0 + 10 * i))
        pacer.observe(AgentWrapEnded(float(i), 15.0 + i % 10))
    return pacer


def test_predictive_cold_start_and_small_pool_fall_back_to_progressive() -> None:
    cold = PredictivePacer()
    state = PacerState(now=0.0, agents_ready=4, busy_agents=talking(6))
    assert not cold.warm(10)
    assert cold.dials_now(state) == 4
    warm = warm_predictive(min_agents=3)
    assert warm.warm(10)
    tiny = PacerState(now=0.0, agents_ready=2)
    assert warm.dials_now(tiny) == 2  # 2 agents < min_agents: progressive


def test_predictive_dials_several_lines_per_free_agent_at_a_low_answer_rate() -> None:
    pacer = warm_predictive(live_share=0.25)
    state = PacerState(now=100.0, agents_ready=5, busy_agents=talking(15))
    n = pacer.dials_now(state)
    assert n > 5  # one line per free agent would leave them idle
    assert n < 5 / 0.25 * 2  # but nowhere near flooding them


def test_predictive_holds_back_when_nobody_will_be_free() -> None:
    pacer = warm_predictive()
    state = PacerState(now=100.0, agents_ready=0, busy_agents=talking(20, elapsed=5.0))
    assert pacer.dials_now(state) == 0
    # answered customers already waiting use the free agents first
    waiting = PacerState(now=100.0, agents_ready=2, busy_agents=talking(18), waiting=(0.5, 1.0))
    assert pacer.dials_now(waiting) == 0


def test_predictive_dials_ahead_for_agents_finishing_wrap_up() -> None:
    pacer = warm_predictive()
    wrapping = tuple(BusyAgent("wrap", 14.0) for _ in range(10))
    state = PacerState(now=100.0, agents_ready=0, busy_agents=wrapping + talking(10))
    assert pacer.dials_now(state) > 0


def test_predictive_respects_line_limit_and_lines_per_agent_cap() -> None:
    pacer = warm_predictive()
    full = PacerState(now=100.0, agents_ready=10, lines_in_use=50, line_limit=50)
    assert pacer.dials_now(full) == 0
    capped = warm_predictive(max_lines_per_agent=1.0)
    state = PacerState(now=100.0, agents_ready=10, ringing=(1.0,) * 10)
    assert capped.dials_now(state) == 0


def test_predictive_risk_limit_follows_abandonment() -> None:
    pacer = warm_predictive()
    start = pacer.control.limit
    pacer.observe(BotCallEnded(0.0, 60.0, True))  # not its business: ignored
    for _ in range(100):
        pacer.observe(CustomerAbandoned(0.0, 2.0))
    for t in (0.0, 60.0, 120.0):
        pacer.dials_now(PacerState(now=t, agents_ready=1, busy_agents=talking(9)))
    assert pacer.control.limit < start


def test_predictive_small_pool_aims_lower() -> None:
    pacer = warm_predictive()
    pacer.dials_now(PacerState(now=0.0, agents_ready=5))
    assert pacer.control.aim == pytest.approx(0.02 * 0.25)  # half the pool: a quarter
    pacer.dials_now(PacerState(now=1.0, agents_ready=50))
    assert pacer.control.aim == pytest.approx(0.02)
    with pytest.raises(ValueError):
        PredictivePacer(min_agents=0)


def test_predictive_small_pool_does_not_count_on_the_grace_period() -> None:
    wrapping = tuple(BusyAgent("wrap", 12.0) for _ in range(5))
    state = PacerState(now=100.0, agents_ready=0, busy_agents=wrapping)
    small = warm_predictive()  # 5 agents < small_pool 10: supply counted by the answer time
    graced = warm_predictive(small_pool=5)  # the same pool counted with the 2 s grace
    supply_small = [h.supply_mean for h in small.horizons(state)]
    supply_graced = [h.supply_mean for h in graced.horizons(state)]
    assert all(a < b for a, b in zip(supply_small, supply_graced, strict=True))
    assert small.dials_now(state) <= graced.dials_now(state)


def test_predictive_small_pool_dials_progressively_near_the_days_limit() -> None:
    wrapping = tuple(BusyAgent("wrap", 14.0) for _ in range(3))

    def state(
        rate: float, agents_ready: int = 2, busy: tuple[BusyAgent, ...] = wrapping
    ) -> PacerState:
        return PacerState(
            now=100.0,
            agents_ready=agents_ready,
            busy_agents=busy,
            abandon_rate_24h=rate,
            live_answers_24h=200,
        )

    pacer = warm_predictive()
    assert pacer.dials_now(state(0.0)) > 2  # dials ahead for the agents finishing wrap-up
    assert pacer.dials_now(state(0.024)) == 2  # 80 % of the 3 % target: one line per free agent
    # a pool of 10 or more keeps predicting at the same day's rate
    big = warm_predictive()
    busy = wrapping + talking(5)
    assert big.dials_now(state(0.024, 2, busy)) > 2


# --- bot-first ------------------------------------------------------------------------------------
def warm_bot_first(**kwargs: float) -> BotFirstPacer:
    pacer = BotFirstPacer(**kwargs)  # type: ignore[arg-type]
    for i in range(200):
        live = i % 3 == 0
        outcome = DialOutcome.LIVE if live else DialOutcome.BUSY
        pacer.observe(DialResolved(float(i), 9.0 if live else 4.0, outcome))
    for i in range(60):
        escalated = i % 5 == 0
        pacer.observe(BotCallEnded(float(i), 40.0 + i if escalated else 70.0 + i, escalated))
    for i in range(60):
        pacer.observe(AgentTalkEnded(float(i), 150.0 + 2 * i))
        pacer.observe(AgentWrapEnded(float(i), 15.0))
    return pacer


def test_bot_first_cold_start_keeps_three_lines_per_agent() -> None:
    pacer = BotFirstPacer()
    assert not pacer.warm(10)
    state = PacerState(now=0.0, agents_ready=10, ringing=(1.0,) * 4, bot_calls=(5.0,) * 2)
    assert pacer.dials_now(state) == 30 - 6
    assert BotFirstPacer(cold_lines_per_agent=1.0).dials_now(state) == 10 - 6


def test_bot_first_before_enough_talks_uses_a_prior_for_talking_agents() -> None:
    pacer = warm_bot_first()  # 60 talks of 150-268 s seen

    def supply_per_agent(pool: int) -> float:
        state = PacerState(now=100.0, agents_ready=0, busy_agents=talking(pool, 170.0))
        return pacer.horizons(state)[1].supply_mean / pool

    # 100 agents: the 60 talks are trusted, and say talks past 170 s end soon;
    # 200 agents: too few talks seen, the memoryless prior (mean 180 s) stands in
    assert supply_per_agent(200) < supply_per_agent(100) / 2


def test_bot_first_dials_many_bot_lines_per_free_agent_but_respects_stream_limit() -> None:
    pacer = warm_bot_first(stream_limit=1000)
    assert pacer.warm(20)
    state = PacerState(now=100.0, agents_ready=2, busy_agents=talking(18))
    first = pacer.dials_now(state)
    assert first > 2  # only ~1 in 15 dials will ever need an agent
    tight = warm_bot_first(stream_limit=20)
    streams = PacerState(now=100.0, agents_ready=10, bot_calls=(10.0,) * 20)
    assert tight.dials_now(streams) == 0


def test_bot_first_stops_when_escalations_are_waiting_for_busy_agents() -> None:
    pacer = warm_bot_first()
    waiting = PacerState(
        now=100.0, agents_ready=0, busy_agents=talking(10, elapsed=1.0), waiting=(1.0,) * 3
    )
    assert pacer.dials_now(waiting) == 0


def test_bot_first_flow_limit_spreads_dials_over_time() -> None:
    pacer = warm_bot_first(stream_limit=100_000, burst_s=1.0)
    state = PacerState(now=100.0, agents_ready=50, busy_agents=talking(50))
    assert pacer.dials_now(state) > 0  # the bucket starts with one burst
    one_second = pacer.dials_now(PacerState(now=101.0, agents_ready=50, busy_agents=talking(50)))
    # at most flow_boost * agents / service time / P(escalation per dial) in one second
    assert 0 < one_second <= 1.3 * 100 / (pacer.service.talk.mean(0) + 15.0) / (1 / 3 * 0.2) + 1


def test_bot_first_counts_escalations_waiting_past_target_as_bad() -> None:
    pacer = warm_bot_first()
    pacer.observe(CustomerConnected(0.0, 0.5))
    pacer.observe(CustomerConnected(0.0, 3.0))
    pacer.observe(CustomerAbandoned(0.0, 2.0))
    assert pacer.control.recent_rate == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        BotFirstPacer(stream_limit=0)


def test_predictive_takes_agents_as_busy_until_their_phase_has_enough_samples() -> None:
    pacer = PredictivePacer()
    for i in range(60):  # dials observed, but only two (short) talks and no wrap-up yet
        live = i % 4 == 0
        outcome = DialOutcome.LIVE if live else DialOutcome.NO_ANSWER
        pacer.observe(DialResolved(float(i), 9.0 if live else 30.0, outcome))
    pacer.observe(AgentTalkEnded(0.0, 25.0))
    pacer.observe(AgentTalkEnded(1.0, 30.0))
    assert pacer.warm(20)
    # had the two 25-30 s talks been trusted, agents talking 26 s would all look about to free
    talking_26 = PacerState(now=100.0, agents_ready=0, busy_agents=talking(20, elapsed=26.0))
    assert pacer.dials_now(talking_26) == 0
    wrapping = PacerState(
        now=101.0, agents_ready=0, busy_agents=tuple(BusyAgent("wrap", 15.0) for _ in range(20))
    )
    assert pacer.dials_now(wrapping) == 0  # no wrap-up seen yet either
    for i in range(10):
        pacer.observe(AgentWrapEnded(float(i), 16.0 + i % 3))
    assert pacer.dials_now(wrapping) > 0  # wrap-ups of ~17 s: these agents are nearly free
    assert pacer.dials_now(talking_26) == 0  # talks still untrusted
