"""Leg and bridge states in one table (pure: no I/O, no asyncio).

A leg goes ``created -> connecting -> ringing -> answered -> terminated``; it can end early
(busy, no answer, failed, canceled). :func:`leg_transition` is the only way to change a
leg's state and raises :class:`IllegalLegTransition` for anything not in :data:`LEG_TABLE`.
:func:`check_leg_action` says whether an API action fits the state, raising the 409/404
errors of :mod:`exotel_sim.errors` when it does not.
"""

from __future__ import annotations

import enum

from exotel_sim.errors import NotFound, StateConflict


class LegState(enum.StrEnum):
    CREATED = "created"
    CONNECTING = "connecting"
    RINGING = "ringing"
    ANSWERED = "answered"
    TERMINATED = "terminated"


class LegInput(enum.StrEnum):
    DIAL = "dial"
    RING = "ring"
    ANSWER = "answer"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAIL = "failed"
    CANCEL = "canceled"
    HANGUP = "hangup"


class TerminalStatus(enum.StrEnum):
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"


class IllegalLegTransition(Exception):
    """A state machine was fed an input its current state does not accept (our bug)."""


_S, _I, _T = LegState, LegInput, TerminalStatus
LEG_TABLE: dict[tuple[LegState, LegInput], tuple[LegState, TerminalStatus | None]] = {
    (_S.CREATED, _I.DIAL): (_S.CONNECTING, None),
    (_S.CREATED, _I.CANCEL): (_S.TERMINATED, _T.CANCELED),
    (_S.CREATED, _I.FAIL): (_S.TERMINATED, _T.FAILED),
    (_S.CONNECTING, _I.RING): (_S.RINGING, None),
    (_S.CONNECTING, _I.BUSY): (_S.TERMINATED, _T.BUSY),
    (_S.CONNECTING, _I.FAIL): (_S.TERMINATED, _T.FAILED),
    (_S.CONNECTING, _I.CANCEL): (_S.TERMINATED, _T.CANCELED),
    (_S.RINGING, _I.ANSWER): (_S.ANSWERED, None),
    (_S.RINGING, _I.BUSY): (_S.TERMINATED, _T.BUSY),
    (_S.RINGING, _I.NO_ANSWER): (_S.TERMINATED, _T.NO_ANSWER),
    (_S.RINGING, _I.FAIL): (_S.TERMINATED, _T.FAILED),
    (_S.RINGING, _I.CANCEL): (_S.TERMINATED, _T.CANCELED),
    (_S.ANSWERED, _I.HANGUP): (_S.TERMINATED, _T.COMPLETED),
}


def leg_transition(
    state: LegState, event: LegInput
) -> tuple[LegState, TerminalStatus | None]:
    """The next state (and terminal status when it ends) for ``event`` in ``state``."""
    try:
        return LEG_TABLE[(state, event)]
    except KeyError:
        raise IllegalLegTransition(f"leg in state {state} cannot take {event}") from None


class LegCommand(enum.StrEnum):
    START_STREAM = "start_stream"
    STOP_STREAM = "stop_stream"
    START_SAY = "start_say"
    STOP_SAY = "stop_say"
    START_PLAY = "start_play"
    STOP_PLAY = "stop_play"
    START_RECORDING = "start_recording"
    STOP_RECORDING = "stop_recording"
    HOLD = "hold"
    UNHOLD = "unhold"
    MUTE = "mute"
    UNMUTE = "unmute"
    SEND_DIGITS = "send_digits"
    BRIDGE = "bridge"
    UPDATE = "update"
    HANGUP = "hangup"


_LIVE = frozenset({_S.CREATED, _S.CONNECTING, _S.RINGING, _S.ANSWERED})
_ANSWERED = frozenset({_S.ANSWERED})
LEG_ACTION_STATES: dict[LegCommand, frozenset[LegState]] = {
    **{action: _ANSWERED for action in LegCommand},
    LegCommand.UPDATE: _LIVE,
    LegCommand.HANGUP: _LIVE,
}


def check_leg_action(sid: str, state: LegState, action: LegCommand) -> None:
    """Raise unless ``action`` fits a leg in ``state``.

    Hang-up of a leg that has already ended answers 404, as Exotel does; every other
    mismatch is a 409 naming the state.
    """
    if state in LEG_ACTION_STATES[action]:
        return
    if action is LegCommand.HANGUP:
        raise NotFound(f"leg {sid} is not active (state {state})")
    raise StateConflict(f"{action} not allowed on leg {sid} in state {state}")


class BridgeState(enum.StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


def check_bridge_action(sid: str, state: BridgeState, action: str) -> None:
    """Raise 409 for any action on a bridge that has ended."""
    if state is not BridgeState.ACTIVE:
        raise StateConflict(f"{action} not allowed on bridge {sid} in state {state}")
