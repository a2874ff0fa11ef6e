"""Call states and the one table of legal transitions (pure).

A call moves only along an edge listed in :data:`TRANSITIONS`; :func:`check` raises
:class:`~dialer.errors.IllegalTransition` for anything else. Staying in the same state is not
a transition and needs no edge.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from dialer.errors import IllegalTransition


class CallState(enum.Enum):
    """Where one call is. ``phase`` names it for records ("ringing", "bot", "hold" ...)."""

    NEW = "new"
    DIALING = "dialing"  # POST /legs sent, no ringing yet
    RINGING = "ringing"
    CONNECTING = "connecting"  # answered (bot-first): stream + greeting started; or back
    # to the bot after a failed escalation: fallback message, then a new stream
    BOT = "bot"  # stream_started: the bot has the customer
    HOLD = "hold"  # customer on hold, an agent is being picked (or awaited)
    AGENT_RINGING = "agent_ringing"  # an agent leg is ringing
    BRIDGING = "bridging"  # create bridge sent
    BRIDGED = "bridged"
    GOODBYE = "goodbye"  # a last message plays, then hang up
    ENDING = "ending"  # hang-up sent, waiting for leg_terminated
    FINALIZING = "finalizing"  # customer gone; waiting briefly for recording_available
    ENDED = "ended"


S = CallState
_END = (S.ENDING, S.ENDED, S.GOODBYE)

TRANSITIONS: Mapping[CallState, frozenset[CallState]] = MappingProxyType(
    {
        S.NEW: frozenset({S.DIALING, S.ENDED}),
        S.DIALING: frozenset({S.RINGING, S.CONNECTING, S.HOLD, *_END}),
        S.RINGING: frozenset({S.CONNECTING, S.HOLD, *_END}),
        S.CONNECTING: frozenset({S.BOT, S.HOLD, *_END}),
        S.BOT: frozenset({S.HOLD, *_END}),
        # back to the bot (no agent): a new stream after the fallback message
        S.HOLD: frozenset({S.AGENT_RINGING, S.BRIDGING, S.CONNECTING, *_END}),
        S.AGENT_RINGING: frozenset({S.BRIDGING, S.HOLD, S.CONNECTING, *_END}),
        S.BRIDGING: frozenset({S.BRIDGED, *_END, S.FINALIZING}),
        S.BRIDGED: frozenset({S.ENDING, S.FINALIZING, S.ENDED}),
        S.GOODBYE: frozenset({S.ENDING, S.FINALIZING, S.ENDED}),
        S.ENDING: frozenset({S.FINALIZING, S.ENDED}),
        S.FINALIZING: frozenset({S.ENDED}),
        S.ENDED: frozenset(),
    }
)

LIVE_STATES = frozenset({S.CONNECTING, S.BOT, S.HOLD, S.AGENT_RINGING, S.BRIDGING, S.BRIDGED})


def check(current: CallState, new: CallState) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> new`` is in the table."""
    if new is not current and new not in TRANSITIONS[current]:
        raise IllegalTransition(f"call cannot go from {current.value} to {new.value}")
