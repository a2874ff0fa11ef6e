"""Transfer forecasts, end to end on the pure side: the contract and control request that carry
them, the scripted bot that makes them, the estimators and the bot-first pacer that use them,
and the simulation that models them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pacing_helpers import RecordingBotFirst, bot_floor, customers, warm_bot_first

from bot_adapters.contract import BotAdapter, CallControl, forecast_transfer
from bot_adapters.scripted.adapter import ScriptedBot
from bot_adapters.scripted.engine import ForecastTransfer, ScriptEngine, TransferCall
from bot_adapters.scripted.script import Forecast, ScriptError, parse_script
from bot_adapters.testing import FakeCall, TransferForecast
from dialer.pacing.botfirst import BotFirstPacer
from dialer.pacing.estimators import UnforecastWindow
from dialer.pacing.sim import ForecastModel, Scenario, simulate
from dialer.pacing.types import (
    BotCallEnded,
    ForecastedCall,
    PacerState,
)
from voxgate_shared.control import ControlRequest

# --- the control request ----------------------------------------------------------------------


def test_transfer_forecast_request_round_trips_through_json() -> None:
    req = ControlRequest(
        "transfer_forecast", "CA1", "MZ1", "closing", {"vx_call": "c1"}, within_s=12.5,
        likelihood=0.7,
    )  # fmt: skip
    body = req.to_json()
    assert body["within_s"] == 12.5 and body["likelihood"] == 0.7
    assert ControlRequest.from_json(body) == req
    # other kinds keep their old body
    assert "within_s" not in ControlRequest("transfer", "CA1", "MZ1", "x").to_json()
    assert ControlRequest.from_json({**body, "within_s": 3}).within_s == 3.0


@pytest.mark.parametrize(
    "change",
    [
        {"within_s": -1},
        {"within_s": 3601},
        {"within_s": "10"},
        {"within_s": True},
        {"likelihood": 1.5},
        {"likelihood": -0.1},
        {"likelihood": None},
        {"kind": "forecast"},
    ],
)
def test_malformed_transfer_forecast_is_refused(change: dict[str, Any]) -> None:
    body = {"kind": "transfer_forecast", "call_sid": "CA1", "reason": "r", "within_s": 5}
    with pytest.raises(ValueError):
        ControlRequest.from_json({**body, **change})


# --- FakeCall -----------------------------------------------------------------------------------


class _Forecaster(BotAdapter):
    """Forecasts on start, withdraws on key 1, transfers on key 0."""

    call: CallControl | None = None

    async def on_start(self, call: CallControl) -> None:
        self.call = call
        assert await forecast_transfer(call, 20.0, 0.6)

    async def on_dtmf(self, digit: str) -> None:
        assert self.call is not None
        if digit == "1":
            await forecast_transfer(self.call, 0.0, 0.0)
        else:
            await self.call.transfer("closing")


async def test_fake_call_records_forecasts_and_withdrawals() -> None:
    call = FakeCall(_Forecaster())
    await call.start()
    assert call.forecasts == [TransferForecast(20.0, 0.6, 0)]
    assert call.forecast == call.forecasts[0]
    await call.send_silence(1000)
    await call.press("1")
    assert call.forecast is None and call.forecasts[-1] == TransferForecast(0.0, 0.0, 1000)
    assert "0 forecast_transfer 20s p=0.6" in call.log
    with pytest.raises(ValueError):
        await call.forecast_transfer(-1.0)
    with pytest.raises(ValueError):
        await call.forecast_transfer(5.0, 2.0)


# --- the scripted bot ---------------------------------------------------------------------------

SCRIPT = """
[script]
start = "ask"
[prompts]
p = "fixture:bot_transfer"
[states.ask]
say = ["p"]
dtmf = { "1" = "closing", "2" = "human", "9" = "cancel" }
[states.closing]
say = ["p"]
forecast_transfer = { within_s = 15, likelihood = 0.8 }
dtmf = { "0" = "human", "9" = "cancel" }
[states.human]
say = ["p"]
forecast_transfer = 4
action = "transfer"
[states.cancel]
say = ["p"]
forecast_transfer = { within_s = 0, likelihood = 0 }
action = "hangup"
"""


def test_script_reads_forecasts() -> None:
    script = parse_script(SCRIPT)
    assert script.states["closing"].forecast == Forecast(15.0, 0.8)
    assert script.states["human"].forecast == Forecast(4.0, 1.0)
    assert script.states["ask"].forecast is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"soon"', "forecast_transfer: must be a number"),
        ("-3", "forecast_transfer: must be a number"),
        ("{ likelihood = 0.5 }", "forecast_transfer.within_s: required"),
        ("{ within_s = 5, likelihood = 2 }", "forecast_transfer.likelihood: must be a number"),
        ("{ within_s = 5, when = 2 }", "forecast_transfer.when: unknown key"),
    ],
)
def test_script_refuses_bad_forecasts(value: str, message: str) -> None:
    text = SCRIPT.replace("forecast_transfer = 4", f"forecast_transfer = {value}")
    with pytest.raises(ScriptError, match=message):
        parse_script(text)


def test_engine_forecasts_on_entering_the_state_before_its_prompts() -> None:
    engine = ScriptEngine(parse_script(SCRIPT))
    engine.start(0)
    out = engine.digit("1", 100)
    assert out[1] == ForecastTransfer(15.0, 0.8)  # after clearing the prompt, before the next
    out = engine.digit("0", 200)
    assert ForecastTransfer(4.0, 1.0) in out
    engine.heard(engine._awaiting or "", 300)
    assert not any(isinstance(c, TransferCall) for c in out)


async def test_sales_script_forecasts_its_transfer_before_making_it() -> None:
    call = FakeCall(ScriptedBot({"script": "sales"}))
    await call.start()
    await call.send_silence(500)
    await call.press("0")
    assert call.forecasts == [TransferForecast(4.0, 0.95, 500)]
    assert not call.transfers  # the transfer comes once "connecting you" has been heard
    await call.wait_playout()
    await call.send_silence(100)
    assert call.transfers and call.transfers[0].reason == "lead_asked_for_human"
    assert call.forecasts[0].at_ms < call.transfers[0].at_ms


class _OldCallControl:
    """A call control from before transfer forecasts (as a gateway's wrapper may still be)."""

    def __init__(self, inner: FakeCall) -> None:
        self.inner = inner
        self.info = inner.info
        self.sample_rate = inner.sample_rate
        self.play = inner.play
        self.mark = inner.mark
        self.clear = inner.clear
        self.hangup = inner.hangup
        self.transfer = inner.transfer


async def test_scripted_bot_withdraws_and_skips_forecasts_on_an_old_gateway() -> None:
    script = parse_script(SCRIPT)

    def bot() -> ScriptedBot:
        made = ScriptedBot({})
        made.script, made.engine = script, ScriptEngine(script)
        made.prompts = {"p": made.prompts["transfer"]}
        return made

    call = FakeCall(bot())
    await call.start()
    await call.press("1")
    await call.press("9")
    assert [f.likelihood for f in call.forecasts] == [0.8, 0.0] and call.forecast is None

    inner = FakeCall(bot())
    old = _OldCallControl(inner)
    assert not await forecast_transfer(old, 5.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await forecast_transfer(old, 5.0, 7.0)  # type: ignore[arg-type]  # checked even so
    old_bot = bot()
    await old_bot.on_start(old)  # type: ignore[arg-type]
    await old_bot.on_dtmf("1")  # a forecasting state: skipped quietly, the call goes on
    assert inner.forecasts == [] and inner.played_labels and not inner.hangups


# --- estimators and the pacer -------------------------------------------------------------------


def test_unforecast_window_counts_escalations_still_ahead_of_calls_without_a_forecast() -> None:
    window = UnforecastWindow(refresh=1)
    assert window.escalates_within(0.0, 30.0) == 0.0
    window.add(10.0, 30.0)  # forecast at 10 s, escalated at 30 s
    window.add(40.0, 40.0)  # escalated at 40 s with no forecast
    window.add(50.0, None)  # ended at 50 s, no escalation, no forecast
    window.add(20.0, None)  # false forecast at 20 s
    # at 5 s every call is still unforecast; within 30 s only the first escalates
    assert window.escalates_within(5.0, 30.0) == pytest.approx(1 / 4)
    # at 15 s the first call has been forecast: it left the pool
    assert window.escalates_within(15.0, 30.0) == pytest.approx(1 / 3)
    assert window.escalates_within(15.0, 20.0) == 0.0
    assert window.escalates_within(45.0, 30.0) == 0.0  # only the call ending at 50 s is left
    assert window.escalates_within(100.0, 30.0) == 0.0
    assert window.escalates_within(5.0, 0.0) == 0.0
    with pytest.raises(ValueError):
        window.add(30.0, 10.0)


def test_bot_first_pacer_counts_forecast_calls_and_discounts_the_rest() -> None:
    pacer = warm_bot_first()
    assert pacer.forecasting() and not warm_bot_first(False).forecasting()
    assert not BotFirstPacer().forecasting()
    due = ForecastedCall(bot_elapsed_s=50.0, age_s=20.0, within_s=30.0)
    assert pacer.forecast_claim(due, 30.0) == pytest.approx(1.0)
    assert pacer.forecast_claim(dataclasses.replace(due, likelihood=0.5), 30.0) == 0.5
    # calls at 40 s with no forecast: every escalation would have been forecast by then
    assert pacer.unforecast.escalates_within(40.0, 60.0) == 0.0
    plain = PacerState(now=500.0, agents_ready=3, bot_calls=(40.0,) * 5)
    forecast = PacerState(now=500.0, agents_ready=3, forecasts=(due,) * 5)
    assert plain.bot_lines == forecast.bot_lines == 5
    # five forecast calls due: five claims ahead of a new dial; five unforecast calls: none
    assert [h.claims_mean for h in pacer.horizons(forecast)] == pytest.approx([5.0] * 3)
    assert [h.claims_mean for h in pacer.horizons(plain)] == pytest.approx([0.0] * 3)
    blind = warm_bot_first(False)  # the same calls seen blind: 20 % of bot calls escalate
    assert [h.claims_mean for h in blind.horizons(forecast)] == pytest.approx([1.0] * 3)
    assert [h.claims_mean for h in blind.horizons(plain)] == pytest.approx([1.0] * 3)


def test_forecast_observations_are_validated() -> None:
    with pytest.raises(ValueError):
        BotCallEnded(0.0, 10.0, True, forecast_at_s=11.0)
    with pytest.raises(ValueError):
        BotCallEnded(0.0, 10.0, True, forecast_at_s=1.0, forecast_likelihood=0.0)
    with pytest.raises(ValueError):
        ForecastedCall(1.0, 1.0, 1.0, likelihood=1.5)


# --- the simulation -----------------------------------------------------------------------------


def _bot_floor(forecast: ForecastModel | None) -> Scenario:
    return bot_floor(forecast, hours=0.5)


class _Recorder(RecordingBotFirst):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.forecast_states = 0

    def dials_now(self, state: PacerState) -> int:
        self.forecast_states += bool(state.forecasts)
        for call in state.forecasts:
            assert call.age_s <= call.bot_elapsed_s and call.within_s == 20.0
        return super().dials_now(state)


def test_sim_models_forecasts_with_misses_and_false_ones() -> None:
    pacer = _Recorder()
    simulate(_bot_floor(ForecastModel()), pacer, 3)
    ended = [o for o in pacer.seen if isinstance(o, BotCallEnded)]
    forecast = [o for o in ended if o.forecast_at_s is not None]
    escalated = [o for o in ended if o.escalated]
    assert pacer.forecast_states > 0 and forecast
    assert any(not o.escalated for o in forecast), "some forecasts are false"
    assert any(o.forecast_at_s is None for o in escalated), "some escalations are missed"
    true = [o for o in forecast if o.escalated]
    assert len(true) / len(escalated) == pytest.approx(0.8, abs=0.2)
    for o in forecast:
        assert o.forecast_likelihood == 0.8 and o.forecast_within_s == 20.0


def test_sim_customers_are_the_same_with_and_without_forecasts() -> None:
    blind = simulate(_bot_floor(None), BotFirstPacer(stream_limit=15), 4)
    ignoring = simulate(_bot_floor(ForecastModel()), BotFirstPacer(15, use_forecasts=False), 4)
    assert customers(blind) == customers(ignoring)


def test_forecast_model_validation() -> None:
    with pytest.raises(ValueError):
        ForecastModel(share=1.2)
    with pytest.raises(ValueError):
        ForecastModel(false_share=1.0)
    with pytest.raises(ValueError):
        ForecastModel(likelihood=0.0)


# --- the campaign runner ------------------------------------------------------------------------


def test_campaign_runner_hands_forecasts_to_the_pacer(tmp_path: Any) -> None:
    from types import SimpleNamespace

    from dialer.campaign.live_calls import LiveCall
    from dialer.campaign.model import CampaignSpec
    from dialer.campaign.runner import CampaignRunner
    from dialer.campaign.store import CampaignStore
    from dialer.progress import forecast_detail, from_notification

    store = CampaignStore(str(tmp_path / "c.db"))
    store.create_campaign(CampaignSpec("c1", mode="bot_first", pacer="bot_first"), 0.0)
    clock = [0.0]
    dialer: Any = SimpleNamespace(
        config=SimpleNamespace(customer_ring_timeout=30.0), clock=lambda: clock[0], pool=[]
    )
    pacer = _Recorder()
    runner = CampaignRunner(dialer, store, "c1", pacer=pacer, wall_clock=lambda: 1000.0)

    def event(at: float, kind: str, call: str, detail: str = "") -> None:
        clock[0] = at
        runner._on_progress(from_notification(kind, call, detail))

    for call in ("a", "b"):
        runner._live[call] = LiveCall(placed=0.0)
        event(10.0, "answered", call)
        event(10.0, "live", call)
    event(30.0, "transfer_forecast", "a", forecast_detail(20.0, 0.8))
    event(31.0, "transfer_forecast", "b", forecast_detail(20.0, 0.8))
    event(32.0, "transfer_forecast", "b", forecast_detail(0.0, 0.0))  # withdrawn
    clock[0] = 35.0
    state = runner.pacer_state()
    assert state.forecasts == (ForecastedCall(25.0, 5.0, 20.0, 0.8),)
    assert state.bot_calls == (25.0,) and state.bot_lines == 2
    event(50.0, "escalated", "a")
    event(52.0, "escalated", "b")
    ended = [o for o in pacer.seen if isinstance(o, BotCallEnded)]
    assert ended == [
        BotCallEnded(50.0, 40.0, True, forecast_at_s=20.0, forecast_within_s=20.0,
                     forecast_likelihood=0.8),
        BotCallEnded(52.0, 42.0, True),
    ]  # fmt: skip
    assert runner.pacer_state().forecasts == ()
