"""Per-dial live probabilities in the pacer's picture, and the simulator with real leads."""

from __future__ import annotations

from collections import Counter

import pytest

from dialer.leads.population import SegmentSpec, generate, parse_segment
from dialer.leads.sim import Calendar, TodayOrder, VoxgateOrder, run_days
from dialer.pacing.predictive import PredictivePacer
from dialer.pacing.sim import Scenario
from dialer.pacing.types import DialOutcome, DialResolved, PacerState


def warm_pacer() -> PredictivePacer:
    pacer = PredictivePacer()
    for i in range(200):  # 25 % live, live answers after 5-14 s, the rest ring out at 30 s
        live = i % 4 == 0
        ring = 5.0 + i % 10 if live else 30.0
        pacer.observe(DialResolved(float(i), ring, DialOutcome.LIVE if live else
                                   DialOutcome.NO_ANSWER))
    return pacer


def test_expected_answers_in_flight_are_the_sum_of_each_dials_probability() -> None:
    pacer = warm_pacer()
    ringing = (3.0, 3.0, 4.0)
    plain = PacerState(now=0.0, agents_ready=1, ringing=ringing)
    mean, _ = pacer.claims(plain, Counter(round(e) for e in ringing), 10.0)
    # default: every line at the campaign average
    assert mean == pytest.approx(sum(pacer.rings.hit_within(round(e), 10.0) for e in ringing))
    leads = (0.5, 0.05, 0.25)  # the pickup model's P(live) of each line's lead
    state = PacerState(now=0.0, agents_ready=1, ringing=ringing, ringing_live=leads)
    mean, var = pacer.claims(state, Counter(round(e) for e in ringing), 10.0)
    each = [
        pacer.rings.hit_within(round(e), 10.0) * p / 0.25
        for e, p in zip(ringing, leads, strict=True)
    ]
    assert mean == pytest.approx(sum(each))
    assert var == pytest.approx(sum(p * (1 - p) for p in each))
    with pytest.raises(ValueError):
        PacerState(now=0.0, agents_ready=1, ringing=ringing, ringing_live=(0.5,))
    with pytest.raises(ValueError):
        PacerState(now=0.0, agents_ready=1, next_live=1.5)


def test_next_live_scales_the_new_dials_answer_chance() -> None:
    pacer = warm_pacer()
    base = pacer.horizons(PacerState(now=0.0, agents_ready=5))
    low = pacer.horizons(PacerState(now=0.0, agents_ready=5, next_live=0.125))
    assert low[1].per_dial == pytest.approx(base[1].per_dial / 2)


def test_leads_behind_the_dials_and_both_orders_keep_the_limits() -> None:
    cal = Calendar(days=1, open_h=9.0, close_h=10.0, max_attempts=2, max_per_day=1)
    segments = [SegmentSpec("a", 1.0, "morning", 0.2), parse_segment("b:1:evening:0.2:3")]
    for order in (TodayOrder, VoxgateOrder):
        population = generate(segments, 300, seed=1, deadline_share=0.1, opens=cal.spans())
        policy = order(population, cal)
        result = run_days(Scenario("tiny", 3, 0.3), PredictivePacer, policy, cal, 1)
        assert result.total("dials") > 50
        assert all(lead.attempts <= 1 for lead in population.leads)  # 1 a day
        assert 0 <= result.sla_met <= 1 and result.live_per_100 > 0
        if isinstance(policy, VoxgateOrder):
            # the model learnt every resolved dial (the last few may ring past the shift)
            learnt = sum(policy.model.total.dials)
            assert 0.9 * result.total("dials") <= learnt <= result.total("dials")
    with pytest.raises(ValueError):
        parse_segment("x:1:nosuchshape:0.2")
