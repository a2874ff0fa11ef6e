"""Answering-machine detection as a machine (pure): what the call waits for before a bridge.

::

    OFF                          the leg was created without amd_enable: nothing to wait for
    ARMED --answer--> PENDING    answered: the result (or the amd timer) is awaited
    PENDING --agent_ready--> AGENT_WAITING    an agent is on the line, bridged once human
    PENDING | AGENT_WAITING --abandon_limit--> ABANDON_DUE    a human result now abandons
    PENDING --human--> DECIDED                  (AGENT_WAITING: + connect_agent,
                                                 ABANDON_DUE: + abandon)
    any answered --machine--> DECIDED           the flow hangs up (disposition machine)

``agent_gone`` (the agent was given back) is legal everywhere; an agent getting ready during
``ABANDON_DUE`` changes nothing (a human result abandons anyway).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from dialer.flows.machine import Machine


class AmdState(enum.Enum):
    OFF = "off"
    ARMED = "armed"
    PENDING = "pending"
    AGENT_WAITING = "agent_waiting"
    ABANDON_DUE = "abandon_due"
    DECIDED = "decided"


class AmdInput(enum.Enum):
    ANSWER = "answer"
    AGENT_READY = "agent_ready"
    AGENT_GONE = "agent_gone"
    ABANDON_LIMIT = "abandon_limit"
    HUMAN = "human"  # amd_result_success human, or the amd timer: treated as human
    MACHINE = "machine"


class AmdEffect(enum.Enum):
    SET_TIMER = "set_timer"  # the amd timer
    CANCEL_TIMER = "cancel_timer"
    CONNECT_AGENT = "connect_agent"  # bridge the agent who waited (if the call still holds)
    ABANDON = "abandon"  # the abandonment limit passed meanwhile (if the call still holds)


_S, _I, _E = AmdState, AmdInput, AmdEffect
PENDING = frozenset({_S.PENDING, _S.AGENT_WAITING, _S.ABANDON_DUE})

AMD_TABLE: Mapping[tuple[AmdState, AmdInput], tuple[AmdState, tuple[AmdEffect, ...]]] = (
    MappingProxyType({
        (_S.OFF, _I.ANSWER): (_S.OFF, ()),
        (_S.OFF, _I.AGENT_GONE): (_S.OFF, ()),
        (_S.OFF, _I.MACHINE): (_S.DECIDED, (_E.CANCEL_TIMER,)),  # a result without amd_enable
        (_S.ARMED, _I.ANSWER): (_S.PENDING, (_E.SET_TIMER,)),
        (_S.ARMED, _I.AGENT_GONE): (_S.ARMED, ()),
        (_S.PENDING, _I.AGENT_READY): (_S.AGENT_WAITING, ()),
        (_S.PENDING, _I.AGENT_GONE): (_S.PENDING, ()),
        (_S.PENDING, _I.ABANDON_LIMIT): (_S.ABANDON_DUE, ()),
        (_S.PENDING, _I.HUMAN): (_S.DECIDED, (_E.CANCEL_TIMER,)),
        (_S.PENDING, _I.MACHINE): (_S.DECIDED, (_E.CANCEL_TIMER,)),
        (_S.AGENT_WAITING, _I.AGENT_READY): (_S.AGENT_WAITING, ()),
        (_S.AGENT_WAITING, _I.AGENT_GONE): (_S.PENDING, ()),
        (_S.AGENT_WAITING, _I.ABANDON_LIMIT): (_S.ABANDON_DUE, ()),
        (_S.AGENT_WAITING, _I.HUMAN): (_S.DECIDED, (_E.CANCEL_TIMER, _E.CONNECT_AGENT)),
        (_S.AGENT_WAITING, _I.MACHINE): (_S.DECIDED, (_E.CANCEL_TIMER,)),
        (_S.ABANDON_DUE, _I.AGENT_READY): (_S.ABANDON_DUE, ()),
        (_S.ABANDON_DUE, _I.AGENT_GONE): (_S.ABANDON_DUE, ()),
        (_S.ABANDON_DUE, _I.HUMAN): (_S.DECIDED, (_E.CANCEL_TIMER, _E.ABANDON)),
        (_S.ABANDON_DUE, _I.MACHINE): (_S.DECIDED, (_E.CANCEL_TIMER,)),
        (_S.DECIDED, _I.AGENT_GONE): (_S.DECIDED, ()),
        (_S.DECIDED, _I.MACHINE): (_S.DECIDED, (_E.CANCEL_TIMER,)),  # human, then machine
    })
)


def amd_machine(enabled: bool) -> Machine[AmdState, AmdInput, AmdEffect]:
    """The machine for a leg created with (``enabled``) or without ``amd_enable``."""
    return Machine("amd", AMD_TABLE, _S.ARMED if enabled else _S.OFF)
