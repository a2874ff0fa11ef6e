"""Is something of ours running that we may have to stop? A machine (pure) for the bot's stream
(:func:`~dialer.flows.bot.stream_machine`), the customer's leg and the agent's leg.

::

    OFF --up--> LIVE          it runs (started, created, answered)
    LIVE --stop--> OFF        we stop it: effect send_stop (StopStream, Hangup)
    LIVE --down--> OFF        it ended without our stop (lost, hung up, failed)
    OFF --stop|down--> OFF    nothing to stop
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from dialer.flows.machine import Machine


class Liveness(enum.Enum):
    OFF = "off"
    LIVE = "live"


class LivenessInput(enum.Enum):
    UP = "up"  # it runs
    STOP = "stop"  # we stop it
    DOWN = "down"  # it ended without our stop


class LivenessEffect(enum.Enum):
    SEND_STOP = "send_stop"  # the stop request (a tagged StopStream, a Hangup)


_T, _I, _E = Liveness, LivenessInput, LivenessEffect

LIVENESS_TABLE: Mapping[tuple[Liveness, LivenessInput],
                        tuple[Liveness, tuple[LivenessEffect, ...]]] = MappingProxyType({
    (_T.OFF, _I.UP): (_T.LIVE, ()),
    (_T.OFF, _I.STOP): (_T.OFF, ()),
    (_T.OFF, _I.DOWN): (_T.OFF, ()),
    (_T.LIVE, _I.UP): (_T.LIVE, ()),
    (_T.LIVE, _I.STOP): (_T.OFF, (_E.SEND_STOP,)),
    (_T.LIVE, _I.DOWN): (_T.OFF, ()),
})


def liveness_machine(name: str) -> Machine[Liveness, LivenessInput, LivenessEffect]:
    return Machine(name, LIVENESS_TABLE, _T.OFF)
