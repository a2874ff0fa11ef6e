"""The pickup model (dialer.leads.pickup) on synthetic histories with known answers."""

from __future__ import annotations

import functools
import json
import random
from datetime import UTC, datetime

import pytest

from dialer.leads.pickup import LeadRef, PickupModel, hour_of_week, import_history, segment_of


def evening(hour: int) -> float:
    return 0.1 if hour < 17 else 0.3  # three-fold over the day


def morning(hour: int) -> float:
    return 0.3 if hour < 12 else 0.12


@functools.cache
def synthetic(seed: int = 7) -> tuple[PickupModel, dict[str, float]]:
    """300 leads in two segments, propensities 0.5 or 1.5, dialled at random hours 9-21 on
    every day of the week: 60 attempts each."""
    rng = random.Random(seed)
    model = PickupModel()
    factors = {}
    for i in range(300):
        segment = "evening" if i % 2 else "morning"
        factor = 0.5 if i % 3 == 0 else 1.5 if i % 3 == 1 else 1.0
        factors[str(i)] = factor
        curve = evening if segment == "evening" else morning
        ref = LeadRef(str(i), segment)
        for _ in range(60):
            hour = rng.randrange(9, 21)
            how = rng.randrange(7) * 24 + hour
            model.observe(ref, how, rng.random() < curve(hour) * factor)
    return model, factors


def test_recovers_segment_curves_within_003() -> None:
    model, _ = synthetic()
    errors = []
    for day in range(7):
        for hour in range(10, 20):  # inside the dialled hours, away from the edges' smoothing
            if hour in (11, 12, 16, 17):
                continue  # the step itself is blurred by the neighbour smoothing
            how = day * 24 + hour
            errors.append(abs(model.segment_p("evening", how) - evening(hour)))
            errors.append(abs(model.segment_p("morning", how) - morning(hour)))
    assert sum(errors) / len(errors) < 0.03
    # ~100 attempts a bin: the neighbours' weight has faded (fade 30), so a bin is a little
    # noisier on these flat stretches (and sharp on peaks: test_fade_keeps_...)
    assert max(errors) < 0.075


def test_recovers_lead_propensities() -> None:
    model, factors = synthetic()
    by_factor: dict[float, list[float]] = {}
    for lead, factor in factors.items():
        segment = "evening" if int(lead) % 2 else "morning"
        by_factor.setdefault(factor, []).append(model.propensity(LeadRef(lead, segment)))
    means = {f: sum(v) / len(v) for f, v in by_factor.items()}
    # shrunk toward 1 by 2 pseudo-answers over ~12 expected: within 0.2 of the truth on average
    assert abs(means[0.5] - 0.5) < 0.2 and abs(means[1.5] - 1.5) < 0.2
    assert means[0.5] < means[1.0] < means[1.5]


def test_one_attempt_sits_near_its_segment() -> None:
    model = PickupModel.from_json(synthetic()[0].to_json())  # a copy: the cached one is shared
    fresh = LeadRef("new", "evening")
    how = 2 * 24 + 19
    before = model.p_live(fresh, how)
    model.observe(fresh, how, True)
    after = model.p_live(fresh, how)
    assert before == pytest.approx(model.segment_p("evening", how))
    assert after < 1.5 * before  # a raw estimate would say 1 of 1: certain
    assert after > before


def test_json_round_trip_and_bad_input() -> None:
    model, _ = synthetic()
    copy = PickupModel.from_json(json.loads(json.dumps(model.to_json())))
    assert copy.to_json() == model.to_json()
    for lead, segment in (("1", "evening"), ("2", "morning"), ("nobody", "other")):
        for how in (9, 40, 100, 163):
            ref = LeadRef(lead, segment)
            # the original's cached curves may lag its counts by the 2 % refresh share
            assert copy.p_live(ref, how) == pytest.approx(model.p_live(ref, how), abs=0.01)
    with pytest.raises(ValueError):
        PickupModel.from_json({"version": 99})
    with pytest.raises(ValueError):
        PickupModel.from_json({**model.to_json(), "total": [[0.0], [0.0]]})
    with pytest.raises(ValueError):
        model.observe(LeadRef("1"), 168, True)


def test_best_hours_and_explain() -> None:
    model, _ = synthetic()
    ref = LeadRef("1", "evening")
    window = range(9, 21)  # Monday 9:00-21:00
    hours = [h for h, _ in model.best_hours(ref, window, 3)]
    assert all(h >= 17 for h in hours)
    text = model.explain(ref, 19)
    assert "lead 1 at Mon 19:00" in text and "of" in text and "lead factor" in text


def test_import_history_and_helpers() -> None:
    monday_9 = datetime(2026, 12, 7, 3, 30, tzinfo=UTC).timestamp()  # 09:00 in Kolkata
    assert hour_of_week(monday_9, "Asia/Kolkata") == 9
    assert segment_of({"region": "north", "source": "web"}, ("region", "source", "x")) == (
        "region=north|source=web|x="
    )
    model = PickupModel()
    known = {"+911": (LeadRef("a", "s"), "Asia/Kolkata")}
    rows = [("+911", monday_9, "completed"), ("+911", monday_9, "no_answer"), ("+912", 0.0, "x")]
    assert import_history(model, rows, known.get) == (2, 1)
    assert model.total.dials[9] == 2 and model.total.live[9] == 1


def test_fade_keeps_a_well_sampled_hours_own_rate() -> None:
    """A sharp peak (0.6 at 10:00 between hours at 0.1), 2000 attempts an hour: with ``fade``
    the neighbours' weight shrinks as the hour's own attempts grow, so the peak is recovered;
    the fixed neighbour smoothing blurs it toward the neighbours."""
    rng = random.Random(3)
    rates = {9: 0.1, 10: 0.6, 11: 0.1}

    def fed(model: PickupModel) -> PickupModel:
        for hour, p in rates.items():
            for i in range(2000):
                model.observe(LeadRef(f"{hour}-{i}", "s"), hour, rng.random() < p)
        return model

    faded, fixed = fed(PickupModel()), fed(PickupModel(fade=0.0))
    assert abs(faded.segment_p("s", 10) - 0.6) < 0.03
    assert abs(faded.segment_p("s", 9) - 0.1) < 0.03
    assert fixed.segment_p("s", 10) < 0.45  # fade 0, the old fixed weights: blurred
    assert PickupModel.from_json(json.loads(json.dumps(faded.to_json()))).fade == 30.0
    with pytest.raises(ValueError):
        PickupModel(fade=-1.0)
