"""Warm start: pacers' estimators saved as a snapshot and seeded from it (a campaign's history),
the store that keeps one per campaign, and the runner that restores and saves it."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from dialer.campaign.model import CampaignSpec
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignStore
from dialer.pacing.adaptive import AdaptiveBaselinePacer
from dialer.pacing.botfirst import BotFirstPacer
from dialer.pacing.estimators import DurationWindow, OutcomeWindow, UnforecastWindow
from dialer.pacing.predictive import PredictivePacer
from dialer.pacing.progressive import ProgressivePacer
from dialer.pacing.sim import Dist, ForecastModel, Scenario, simulate
from dialer.pacing.types import PacerState, WarmStartPacer


def _json(snapshot: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(snapshot))
    return result


def test_windows_export_and_load_their_samples() -> None:
    durations = DurationWindow(size=3)
    durations.load([1.0, 2, 3.0, 4.0])
    assert durations.samples() == [2.0, 3.0, 4.0]
    outcomes = OutcomeWindow()
    outcomes.load(_json({"s": [(9.0, True), (-2.5, False)]})["s"])  # residuals may be negative
    assert outcomes.samples() == [(9.0, True), (-2.5, False)] and outcomes.hit_rate(0) == 0.5
    pool = UnforecastWindow()
    pool.load([[10.0, 30.0], [50.0, None]])
    assert pool.samples() == [(10.0, 30.0), (50.0, None)]
    bad_samples: list[list[Any]] = [[-1.0], ["3"], [float("nan")], [True], [float("inf")]]
    for bad in bad_samples:
        with pytest.raises(ValueError):
            DurationWindow().load(bad)
    with pytest.raises(ValueError):
        OutcomeWindow().load([(1.0, 1)])


def _cold_and_warm(scenario: Scenario, make: Any) -> tuple[Any, Any]:
    """A pacer after one shift, and a fresh one seeded from its snapshot (through JSON)."""
    first = make()
    simulate(scenario, first, 1)
    warm = make()
    warm.restore(_json(first.snapshot()))
    return first, warm


def test_predictive_pacer_restored_skips_the_cold_start() -> None:
    scenario = Scenario("af", 20, 0.35, hours=0.5)
    first, warm = _cold_and_warm(scenario, PredictivePacer)
    cold = PredictivePacer()
    assert isinstance(warm, WarmStartPacer)
    assert isinstance(warm, PredictivePacer) and not cold.warm(20) and warm.warm(20)
    assert warm.control.limit == first.control.limit != cold.control.limit
    assert warm.rings.samples() == first.rings.samples()
    assert warm.service.talk.samples() == first.service.talk.samples()
    # twenty ready agents, nothing in flight: the cold pacer dials progressively (20 lines),
    # the warm one at the answer rate it learnt (more than one line per agent)
    state = PacerState(now=0.0, agents_ready=20)
    assert cold.dials_now(state) == 20 < warm.dials_now(state)


def test_bot_first_pacer_restored_forecasts_at_once() -> None:
    scenario = Scenario(
        "bf", 10, 0.35, mode="bot_first", hours=0.5, tick_s=2.0, line_limit=50,
        talk=Dist(180.0, 120.0, 20.0, 1800.0), forecast=ForecastModel(),
    )  # fmt: skip
    first, warm = _cold_and_warm(scenario, lambda: BotFirstPacer(stream_limit=30))
    assert first.forecasting() and warm.forecasting() and warm.warm(10)
    assert warm.escalations == sum(1 for _, hit in first.bots.samples() if hit)
    assert warm.unforecast.samples() == first.unforecast.samples()
    assert warm.control.limit == first.control.limit


def test_baseline_keeps_its_dial_level_clamped() -> None:
    pacer = AdaptiveBaselinePacer()
    pacer.level = 2.4
    fresh = AdaptiveBaselinePacer()
    fresh.restore(_json(pacer.snapshot()))
    assert fresh.level == 2.4
    fresh.restore({**pacer.snapshot(), "level": 9.0})
    assert fresh.level == 3.0
    with pytest.raises(ValueError):
        fresh.restore({**pacer.snapshot(), "level": "high"})


@pytest.mark.parametrize(
    "change", [{"pacer": "voxgate-bot-first"}, {"version": 99}, {"risk_limit": "x"}]
)
def test_restore_refuses_a_snapshot_that_does_not_fit(change: dict[str, Any]) -> None:
    snapshot = PredictivePacer().snapshot()
    with pytest.raises(ValueError):
        PredictivePacer().restore({**snapshot, **change})


def test_store_keeps_the_latest_snapshot_per_campaign_and_pacer(tmp_path: Any) -> None:
    store = CampaignStore(str(tmp_path / "c.db"))
    assert store.pacer_snapshot("c1", "p", 0.0) is None
    store.save_pacer_snapshot("c1", "p", {"version": 1, "n": 1}, 100.0)
    store.save_pacer_snapshot("c1", "p", {"version": 1, "n": 2}, 200.0)
    store.save_pacer_snapshot("c2", "p", {"version": 1, "n": 3}, 200.0)
    assert store.pacer_snapshot("c1", "p", 300.0) == {"version": 1, "n": 2}
    assert store.pacer_snapshot("c1", "q", 300.0) is None
    assert store.pacer_snapshot("c1", "p", 200.0 + 15 * 86_400) is None  # too old
    assert store.pacer_snapshot("c1", "p", 300.0, max_age_s=50.0) is None
    store.close()
    reopened = CampaignStore(str(tmp_path / "c.db"))  # it outlives the process
    assert reopened.pacer_snapshot("c2", "p", 300.0) == {"version": 1, "n": 3}


def _runner(store: CampaignStore, pacer: Any, now: float = 1000.0) -> CampaignRunner:
    dialer: Any = SimpleNamespace(config=SimpleNamespace(customer_ring_timeout=30.0))
    return CampaignRunner(dialer, store, "c1", pacer=pacer, wall_clock=lambda: now)


def test_runner_restores_from_the_store_and_saves_back(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = CampaignStore(str(tmp_path / "c.db"))
    store.create_campaign(CampaignSpec("c1", pacer="predictive"), 0.0)
    first, _ = _cold_and_warm(Scenario("af", 20, 0.35, hours=0.25), PredictivePacer)
    yesterday = _runner(store, first, now=500.0)
    assert yesterday.save_pacer()
    today = _runner(store, PredictivePacer())
    today._restore_pacer()
    assert today.warmed_from == 500.0 and today.pacer.warm(20)  # type: ignore[attr-defined]
    today._restore_pacer()  # once per runner: samples are not loaded twice
    assert len(today.pacer.rings) == len(first.rings)  # type: ignore[attr-defined]

    cold = _runner(store, PredictivePacer(), now=500.0 + 30 * 86_400)  # a month later
    cold._restore_pacer()
    assert cold.warmed_from is None and not cold.pacer.warm(20)  # type: ignore[attr-defined]

    store.save_pacer_snapshot("c1", "voxgate-predictive", {"version": 0}, 900.0)
    with caplog.at_level(logging.WARNING):
        bad = _runner(store, PredictivePacer())
        bad._restore_pacer()
    assert bad.warmed_from is None and "snapshot not used" in caplog.text

    off = CampaignRunner(
        SimpleNamespace(config=SimpleNamespace(customer_ring_timeout=30.0)),  # type: ignore[arg-type]
        store, "c1", pacer=PredictivePacer(), warm_start=False,
    )  # fmt: skip
    assert not off.save_pacer()
    assert not _runner(store, ProgressivePacer()).save_pacer()  # keeps no history
