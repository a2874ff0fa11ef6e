"""Pacer inputs validate on creation; the abandonment ledger counts over 24 h and 30 days."""

from __future__ import annotations

import math

import pytest

from dialer.pacing.ledger import DAY_S, AbandonmentLedger, LedgerBook, LedgerView
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


def test_observations_reject_negative_and_nan_durations() -> None:
    for make in (
        lambda v: DialResolved(0.0, v, DialOutcome.LIVE),
        lambda v: CustomerConnected(0.0, v),
        lambda v: CustomerAbandoned(0.0, v),
        lambda v: AgentTalkEnded(0.0, v),
        lambda v: AgentWrapEnded(0.0, v),
        lambda v: BotCallEnded(0.0, v, False),
        lambda v: BusyAgent("talk", v),
    ):
        with pytest.raises(ValueError):
            make(-1.0)
        with pytest.raises(ValueError):
            make(math.nan)
        make(1.5)  # a valid one constructs


def test_dial_outcome_coerced_from_string_and_unknown_rejected() -> None:
    assert DialResolved(0.0, 3.0, "busy").outcome is DialOutcome.BUSY  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DialResolved(0.0, 3.0, "voicemail")  # type: ignore[arg-type]


def test_busy_agent_phase_checked() -> None:
    with pytest.raises(ValueError, match="phase"):
        BusyAgent("lunch", 1.0)  # type: ignore[arg-type]


def test_pacer_state_derived_counts_and_validation() -> None:
    state = PacerState(
        now=10.0,
        agents_ready=2,
        busy_agents=[BusyAgent("talk", 5.0), BusyAgent("wrap", 1.0)],  # type: ignore[arg-type]
        ringing=[1.0],  # type: ignore[arg-type]
        lines_in_use=4,
        line_limit=6,
    )
    assert state.agents_logged_in == 4
    assert state.free_lines == 2
    assert isinstance(state.busy_agents, tuple) and isinstance(state.ringing, tuple)
    assert PacerState(now=0.0, agents_ready=0, lines_in_use=9, line_limit=6).free_lines == 0
    with pytest.raises(ValueError):
        PacerState(now=0.0, agents_ready=-1)
    with pytest.raises(ValueError):
        PacerState(now=0.0, agents_ready=0, line_limit=-1)
    with pytest.raises(ValueError):
        PacerState(now=0.0, agents_ready=0, abandon_rate_24h=1.5)


def test_ledger_rate_is_abandoned_over_live_answers() -> None:
    ledger = AbandonmentLedger()
    assert ledger.view(0.0) == LedgerView(0, 0, 0, 0)
    assert ledger.rate_24h(0.0) == 0.0 and ledger.rate_30d(0.0) == 0.0
    for i in range(40):
        ledger.record_live(float(i))
    ledger.record_abandoned(40.0)
    assert ledger.rate_24h(41.0) == pytest.approx(1 / 40)
    assert ledger.rate_30d(41.0) == pytest.approx(1 / 40)
    assert (ledger.total_live, ledger.total_abandoned) == (40, 1)


def test_ledger_24h_window_forgets_what_the_30_day_window_keeps() -> None:
    ledger = AbandonmentLedger()
    ledger.record_live(0.0)
    ledger.record_abandoned(0.0)
    later = 2 * DAY_S
    for i in range(3):
        ledger.record_live(later + i)
    view = ledger.view(later + 10)
    assert (view.live_24h, view.abandoned_24h) == (3, 0)
    assert (view.live_30d, view.abandoned_30d) == (4, 1)
    assert view.rate_30d == pytest.approx(0.25)
    # after 31 days the first day is gone from the 30-day window too
    gone = ledger.view(31 * DAY_S)
    assert (gone.live_30d, gone.abandoned_30d) == (3, 0)


def test_ledger_late_record_counts_in_newest_bucket_and_replay_rebuilds() -> None:
    ledger = AbandonmentLedger()
    ledger.record_live(1000.0)
    ledger.record_live(10.0)  # out of order: counted, not lost
    assert ledger.view(1000.0).live_24h == 2
    rebuilt = AbandonmentLedger()
    rebuilt.replay([(1.0, False), (2.0, True), (3.0, False)])
    assert rebuilt.view(4.0) == LedgerView(3, 1, 3, 1)


def test_ledger_rejects_bad_windows_and_book_keeps_one_per_campaign() -> None:
    with pytest.raises(ValueError):
        AbandonmentLedger(day_s=0)
    with pytest.raises(ValueError):
        AbandonmentLedger(day_s=10, month_s=5)
    book = LedgerBook(day_s=60, month_s=600)
    book["b"].record_live(1.0)
    assert book["b"] is book["b"]
    assert book["a"].view(1.0).live_24h == 0
    assert book["b"].view(1.0).live_24h == 1
    assert book.campaigns() == ("a", "b")
