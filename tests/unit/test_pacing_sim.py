"""The discrete-event simulation: seeded, deterministic, and its figures add up."""

from __future__ import annotations

import math
import random

import pytest

from dialer.pacing.adaptive import AdaptiveBaselinePacer
from dialer.pacing.botfirst import BotFirstPacer
from dialer.pacing.predictive import PredictivePacer
from dialer.pacing.progressive import ProgressivePacer
from dialer.pacing.sim import Dist, Scenario, SimResult, simulate
from dialer.pacing.types import Observation, PacerState


def test_dist_samples_within_bounds_with_the_right_mean() -> None:
    rng = random.Random(1)
    dist = Dist(10.0, 5.0, 2.0, 30.0)
    samples = [dist.sample(rng) for _ in range(5000)]
    assert min(samples) >= 2.0 and max(samples) <= 30.0
    assert sum(samples) / len(samples) == pytest.approx(10.0, rel=0.05)
    assert Dist(7.0, 0.0).sample(rng) == 7.0
    with pytest.raises(ValueError):
        Dist(0.0, 1.0)
    with pytest.raises(ValueError):
        Dist(1.0, 1.0, lo=5.0, hi=2.0)


def test_scenario_validation() -> None:
    with pytest.raises(ValueError):
        Scenario("x", 0, 0.2)
    with pytest.raises(ValueError):
        Scenario("x", 5, 0.9)  # live + machine + busy + failed > 1
    with pytest.raises(ValueError):
        Scenario("x", 5, 0.2, mode="blended")  # type: ignore[arg-type]


def test_same_seed_same_result_other_seed_other_result() -> None:
    scenario = Scenario("small", 5, 0.35, hours=0.5)
    a = simulate(scenario, PredictivePacer(), 7)
    b = simulate(scenario, PredictivePacer(), 7)
    c = simulate(scenario, PredictivePacer(), 8)
    assert (a.dials, a.live, a.talk_s, a.waits) == (b.dials, b.live, b.talk_s, b.waits)
    assert (a.dials, a.talk_s) != (c.dials, c.talk_s)


def test_progressive_never_abandons_and_figures_are_consistent() -> None:
    result = simulate(Scenario("p", 5, 0.35, hours=1.0), ProgressivePacer(), 1)
    assert result.abandoned == 0 and result.abandon_rate == 0.0
    assert 0 < result.live - 1 <= result.connects <= result.live  # one may still wait at the end
    assert 0 < result.talk_min_per_agent_hour < 60
    assert result.talk_s / (result.agent_hours * 3600) < result.occupancy <= 1.0
    assert result.dials_per_agent_hour == pytest.approx(result.dials / 5.0)
    assert result.mean_wait_between_calls_s > 0


def test_over_dialling_pacer_abandons_and_the_ledger_peak_sees_it() -> None:
    class Flood:
        name = "flood"

        def observe(self, obs: Observation) -> None:
            pass

        def dials_now(self, state: PacerState) -> int:
            return min(3, state.free_lines)

    result = simulate(Scenario("f", 5, 0.35, hours=1.0, line_limit=40), Flood(), 1)
    assert result.abandoned > 0
    assert result.abandon_rate == pytest.approx(result.abandoned / result.live)
    assert result.peak_rate_30d > 0
    assert result.wait_p95_s == pytest.approx(2.0)  # abandoned answers waited the 2 s grace


def test_bot_first_escalations_wait_and_are_counted() -> None:
    scenario = Scenario(
        "b",
        3,
        0.35,
        mode="bot_first",
        hours=1.0,
        line_limit=60,
        escalation_rate=0.5,
        patience_s=20.0,
    )
    result = simulate(scenario, AdaptiveBaselinePacer(), 2)
    assert result.live > 0 and result.connects > 0
    assert result.abandoned > 0  # escalations waiting past 2 s with only 3 agents
    assert max(result.waits) <= 20.0  # nobody waits past their patience
    ours = simulate(scenario, BotFirstPacer(stream_limit=30), 2)
    assert ours.wait_p95_s <= result.wait_p95_s


def test_empty_result_figures_are_zero() -> None:
    empty = SimResult("s", "p", 1, agents=2, hours=1.0)
    assert empty.abandon_rate == 0.0
    assert empty.mean_wait_between_calls_s == 0.0
    assert empty.wait_p95_s == 0.0
    assert not math.isnan(empty.occupancy)


def test_patient_escalations_connect_within_the_limit_and_no_live_means_no_peak() -> None:
    patient = Scenario(
        "pb",
        3,
        0.35,
        mode="bot_first",
        hours=0.5,
        line_limit=30,
        escalation_rate=0.5,
        escalation_limit_s=60.0,
        patience_s=120.0,
    )
    result = simulate(patient, AdaptiveBaselinePacer(), 3)
    waited = [w for w in result.waits if 0 < w <= 60.0]
    assert waited  # some escalations waited, and got an agent within the limit
    assert max(result.waits) <= 120.0
    nobody = simulate(Scenario("n", 2, 0.0, hours=1.0), ProgressivePacer(), 1)
    assert nobody.live == 0 and nobody.peak_rate_30d == 0.0
