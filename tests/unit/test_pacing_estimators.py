"""Estimators answer conditional questions from recent samples, lazily and within bounds."""

from __future__ import annotations

import math

import pytest

from dialer.pacing.estimators import DurationWindow, OutcomeWindow
from dialer.pacing.forecast import Horizon, RiskController, ServiceModel, max_dials, shortage_risk
from dialer.pacing.types import BusyAgent


def test_duration_window_mean_quantile_cdf_and_bound() -> None:
    window = DurationWindow(size=3, refresh=1)
    assert window.mean(7.0) == 7.0
    assert window.quantile(0.5, 9.0) == 9.0
    assert window.cdf(5.0) == 0.0
    for value in (10.0, 20.0, 30.0, 40.0):  # the first falls out
        window.add(value)
    assert len(window) == 3
    assert window.mean(0.0) == pytest.approx(30.0)
    assert window.quantile(0.0, 0.0) == 20.0
    assert window.quantile(1.0, 0.0) == 40.0
    assert window.cdf(30.0) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        DurationWindow(size=0)


def test_duration_window_conditional_end_and_memoryless_tail() -> None:
    window = DurationWindow(refresh=1)
    for value in (10.0, 20.0, 30.0, 40.0):
        window.add(value)
    # lasted 15 s: of 20, 30, 40 only 20 ends within 10 s more
    assert window.ends_within(15.0, 10.0, 0.0) == pytest.approx(1 / 3)
    assert window.ends_within(15.0, 0.0, 0.0) == 0.0
    # past every sample: exponential tail with the window's mean (25 s)
    assert window.ends_within(50.0, 25.0, 0.0) == pytest.approx(1 - math.exp(-1))
    empty = DurationWindow()
    assert empty.ends_within(0.0, 10.0, 10.0) == pytest.approx(1 - math.exp(-1))


def test_sorted_view_refreshes_only_every_refresh_samples_once_large() -> None:
    window = DurationWindow(refresh=2)
    for _ in range(8):  # 8 = 4 * refresh: from here on, refresh every 2 samples
        window.add(1.0)
    assert window.cdf(1.0) == 1.0
    window.add(100.0)
    assert window.cdf(1.0) == 1.0  # stale view: one new sample is not enough
    window.add(100.0)
    assert window.cdf(1.0) == pytest.approx(8 / 10)


def test_outcome_window_hit_rate_quantiles_and_conditional_hits() -> None:
    window = OutcomeWindow(size=4, refresh=1)
    assert window.hit_rate(0.3) == 0.3
    assert window.hit_quantile(0.5, 9.0) == 9.0
    assert window.hit_cdf(5.0) == 0.0
    assert window.hit_within(0.0, 5.0) == 0.0
    assert window.still_going(3.0) == 1.0
    assert window.hit_rate_upper() == 1.0  # nothing known: assume the worst
    for duration, hit in ((99.0, True), (5.0, True), (30.0, False), (10.0, True), (30.0, False)):
        window.add(duration, hit)  # the first (a hit) falls out
    assert len(window) == 4
    assert window.hit_rate(0.0) == pytest.approx(0.5)
    assert window.hit_quantile(0.5, 0.0) == 5.0
    assert window.hit_cdf(7.0) == pytest.approx(0.5)
    # rang 6 s: of 10 (hit), 30, 30 one ends as a hit within 5 s more
    assert window.hit_within(6.0, 5.0) == pytest.approx(1 / 3)
    assert window.hit_within(6.0, 0.0) == 0.0
    assert window.hit_within(40.0, 5.0) == 0.0  # nothing lasted that long
    assert window.still_going(10.0) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        OutcomeWindow(size=0)


def test_shortage_risk_normal_tail_and_degenerate_cases() -> None:
    assert shortage_risk(0.0, 0.0) == 1.0
    assert shortage_risk(-1.0, 0.0) == 0.0
    assert shortage_risk(-0.5, 1.0) == pytest.approx(0.5)
    assert shortage_risk(-5.0, 1.0) < 0.001


def test_max_dials_stops_at_the_risk_limit_and_the_cap() -> None:
    horizon = Horizon(
        claims_mean=0.0, claims_var=0.0, supply_mean=3.0, supply_var=0.0, per_dial=1.0
    )
    # certain answers, 3 agents: the 4th dial is the first with no agent
    assert max_dials([horizon], 0.01, cap=10) == 3
    assert max_dials([horizon], 0.01, cap=2) == 2
    assert max_dials([], 0.01, cap=10) == 0
    # worst-case mode counts the new dial itself among the claims
    assert max_dials([horizon], 0.01, cap=10, worst=True) == 2


def test_service_model_frees_wrapping_and_talking_agents() -> None:
    talk, wrap = DurationWindow(refresh=1), DurationWindow(refresh=1)
    for value in (100.0, 200.0):
        talk.add(value)
    for value in (10.0, 10.0, 10.0):
        wrap.add(value)
    model = ServiceModel(talk, wrap, 180.0, 20.0)
    assert model.free_within(BusyAgent("wrap", 5.0), 6.0) == 1.0
    assert model.free_within(BusyAgent("wrap", 5.0), 4.0) == 0.0
    # talking 150 s: only the 200 s talk is left, it ends at 200 + 10 s wrap
    assert model.free_within(BusyAgent("talk", 150.0), 60.0) == 1.0
    assert model.free_within(BusyAgent("talk", 150.0), 30.0) == 0.0
    assert model.free_within(BusyAgent("talk", 150.0), 5.0) == 0.0  # shorter than any wrap-up


def test_risk_controller_moves_the_limit_toward_the_aim() -> None:
    with pytest.raises(ValueError):
        RiskController(aim=0.05, ceiling=0.03, start=0.02)
    with pytest.raises(ValueError):
        RiskController(aim=0.02, ceiling=0.03, start=0.5, high=0.3)
    control = RiskController(aim=0.02, ceiling=0.03, start=0.02, period_s=60, min_events=10)
    assert control.recent_rate == 0.0
    control.update(0.0, 0.0)  # first call only schedules
    control.update(30.0, 0.0)  # not due yet
    assert control.limit == 0.02
    control.update(60.0, 0.0)  # due, but too few outcomes: unchanged
    assert control.limit == 0.02
    for _ in range(100):
        control.count(bad=False)
    control.update(120.0, 0.0)
    assert control.limit > 0.02  # nothing bad: more dials
    raised = control.limit
    control.update(180.0, 0.025)  # ledger above aim: never up
    assert control.limit <= raised
    for _ in range(50):
        control.count(bad=True)
    control.update(240.0, 0.0)
    assert control.limit < raised  # too many bad outcomes: fewer dials
    lowered = control.limit
    control.update(300.0, 0.04)  # ledger above the ceiling: halve
    assert control.limit == pytest.approx(max(0.002, lowered / 2))


def test_hit_rate_upper_bound_shrinks_toward_the_rate_as_samples_grow() -> None:
    few, many = OutcomeWindow(size=10_000), OutcomeWindow(size=10_000)
    for i in range(40):
        few.add(9.0, i % 10 == 0)
    for i in range(4000):
        many.add(9.0, i % 10 == 0)
    assert few.hit_rate(0.0) == many.hit_rate(0.0) == pytest.approx(0.1)
    assert few.hit_rate_upper() > 0.18  # 4 in 40 could well be 20 %
    assert 0.1 < many.hit_rate_upper() < 0.11
