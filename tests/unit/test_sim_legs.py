"""exotel_sim.legs: the one state table and the action checks."""

from __future__ import annotations

import pytest

from exotel_sim.errors import NotFound, StateConflict
from exotel_sim.legs import (
    LEG_TABLE,
    IllegalLegTransition,
    LegCommand,
    LegInput,
    LegState,
    TerminalStatus,
    check_leg_action,
    leg_transition,
)


def test_happy_path_to_completed() -> None:
    state = LegState.CREATED
    for inp in (LegInput.DIAL, LegInput.RING, LegInput.ANSWER):
        state, terminal = leg_transition(state, inp)
        assert terminal is None
    assert state is LegState.ANSWERED
    assert leg_transition(state, LegInput.HANGUP) == (LegState.TERMINATED,
                                                      TerminalStatus.COMPLETED)


@pytest.mark.parametrize(
    ("inp", "status"),
    [(LegInput.BUSY, TerminalStatus.BUSY), (LegInput.NO_ANSWER, TerminalStatus.NO_ANSWER),
     (LegInput.FAIL, TerminalStatus.FAILED), (LegInput.CANCEL, TerminalStatus.CANCELED)],
)
def test_ringing_ends_early(inp: LegInput, status: TerminalStatus) -> None:
    assert leg_transition(LegState.RINGING, inp) == (LegState.TERMINATED, status)


def test_everything_outside_the_table_raises() -> None:
    for state in LegState:
        for inp in LegInput:
            if (state, inp) in LEG_TABLE:
                continue
            with pytest.raises(IllegalLegTransition):
                leg_transition(state, inp)
    assert all(k[0] is not LegState.TERMINATED for k in LEG_TABLE)


def test_media_actions_need_an_answered_leg() -> None:
    check_leg_action("L", LegState.ANSWERED, LegCommand.START_STREAM)
    for state in (LegState.CREATED, LegState.RINGING, LegState.TERMINATED):
        with pytest.raises(StateConflict, match="start_stream"):
            check_leg_action("L", state, LegCommand.START_STREAM)


def test_hangup_of_an_ended_leg_is_404_like_exotel() -> None:
    check_leg_action("L", LegState.RINGING, LegCommand.HANGUP)
    with pytest.raises(NotFound):
        check_leg_action("L", LegState.TERMINATED, LegCommand.HANGUP)
    with pytest.raises(StateConflict):
        check_leg_action("L", LegState.TERMINATED, LegCommand.BRIDGE)
