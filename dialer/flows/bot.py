"""The bot side of a call as two machines (pure): the bot session and its stream.

The **session** says whether the bot may take the call back after a failed escalation::

    NONE --connected--> UP --return--> RETURNING --restart--> UP      (fallback message, then
      |                  |                 \\--cancel_return--> UP       a new stream)
      \\--lose--> LOST <--/  (the stream failed: the stream fallback)
    any but RETURNING --fail--> FAILED   (the gateway reported the bot failed: never back)

While ``RETURNING`` the old, stopped session's news (its stream events, a ``BotFailed``) is
ignored by the flow, so ``fail``/``lose``/``connected`` are illegal there.

The **stream** says whether a stream is running that is ours to stop (the liveness machine of
:mod:`dialer.flows.liveness`): ``up`` makes it ``LIVE``; ``stop`` of a live stream sends the
tagged ``StopStream`` (effect ``send_stop``); ``down`` (it ended by itself, or the customer
left) forgets it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from dialer.flows.liveness import (
    LIVENESS_TABLE,
    Liveness,
    LivenessEffect,
    LivenessInput,
    liveness_machine,
)
from dialer.flows.machine import Machine


class BotState(enum.Enum):
    NONE = "none"  # the bot never had the call
    UP = "up"  # the bot had the call (stream up, not failed): it may take it back
    RETURNING = "returning"  # back to the bot: the fallback message, then a new stream
    LOST = "lost"  # its stream failed: the stream fallback ran
    FAILED = "failed"  # the gateway reported the bot failed


class BotInput(enum.Enum):
    CONNECTED = "connected"  # stream_started, or a transfer while connecting (the bot talks)
    RETURN = "return"  # a failed escalation goes back to the bot
    RESTART = "restart"  # the new stream starts
    CANCEL_RETURN = "cancel_return"  # an escalation or the goodbye instead
    LOSE = "lose"  # the stream fallback (stream failed or lost)
    FAIL = "fail"  # BotFailed


class BotEffect(enum.Enum):
    """The session machine has no effects of its own: the flow reads its state."""


StreamState = Liveness  # the stream's machine is the liveness machine (dialer.flows.liveness)
StreamInput = LivenessInput
StreamEffect = LivenessEffect


_B, _BI = BotState, BotInput
_NO: tuple[BotEffect, ...] = ()

BOT_TABLE: Mapping[tuple[BotState, BotInput], tuple[BotState, tuple[BotEffect, ...]]] = (
    MappingProxyType({
        (_B.NONE, _BI.CONNECTED): (_B.UP, _NO),
        (_B.NONE, _BI.CANCEL_RETURN): (_B.NONE, _NO),
        (_B.NONE, _BI.LOSE): (_B.LOST, _NO),
        (_B.NONE, _BI.FAIL): (_B.FAILED, _NO),
        (_B.UP, _BI.CONNECTED): (_B.UP, _NO),
        (_B.UP, _BI.RETURN): (_B.RETURNING, _NO),
        (_B.UP, _BI.CANCEL_RETURN): (_B.UP, _NO),
        (_B.UP, _BI.LOSE): (_B.LOST, _NO),
        (_B.UP, _BI.FAIL): (_B.FAILED, _NO),
        (_B.RETURNING, _BI.RESTART): (_B.UP, _NO),
        (_B.RETURNING, _BI.CANCEL_RETURN): (_B.UP, _NO),
        (_B.LOST, _BI.CONNECTED): (_B.UP, _NO),
        (_B.LOST, _BI.CANCEL_RETURN): (_B.LOST, _NO),
        (_B.LOST, _BI.LOSE): (_B.LOST, _NO),
        (_B.LOST, _BI.FAIL): (_B.FAILED, _NO),
        (_B.FAILED, _BI.CONNECTED): (_B.FAILED, _NO),  # a closing stream's late start
        (_B.FAILED, _BI.CANCEL_RETURN): (_B.FAILED, _NO),
        (_B.FAILED, _BI.LOSE): (_B.FAILED, _NO),  # the fallback after the failure itself
    })
)

STREAM_TABLE = LIVENESS_TABLE


def bot_machine() -> Machine[BotState, BotInput, BotEffect]:
    return Machine("bot", BOT_TABLE, _B.NONE)


def stream_machine() -> Machine[StreamState, StreamInput, StreamEffect]:
    return liveness_machine("stream")
