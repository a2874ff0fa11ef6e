"""The wait for an agent as a machine (pure): waiting, queued, the queue limit.

::

    IDLE --wait--> WAITING            agent-first: no agent free, the abandon timer decides
    IDLE --queue--> QUEUED            bot-first: no agent free, wait on hold (effect
                                      notify_queued, once per escalation)
    QUEUED --offered--> QUEUED_ASKING --queue--> QUEUED     (no second notification)
    IDLE | QUEUED_ASKING --limit--> OVER    the queue limit passed while an agent rings:
                                            it may still answer, nobody else is tried
    any --reset--> IDLE               an escalation begins, falls back, is bridged, or ends

``waiting`` (a customer waits for an agent to become free) is ``WAITING`` or ``QUEUED``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from dialer.flows.machine import Machine


class QueueState(enum.Enum):
    IDLE = "idle"  # not waiting (asking the pool, an agent ringing, or no escalation)
    WAITING = "waiting"  # agent-first: waiting for a free agent
    QUEUED = "queued"  # bot-first: waiting in the queue
    QUEUED_ASKING = "queued_asking"  # was queued in this escalation; an agent was offered
    OVER = "over"  # the queue limit passed while an agent was ringing


class QueueInput(enum.Enum):
    WAIT = "wait"
    QUEUE = "queue"
    OFFERED = "offered"
    LIMIT = "limit"
    RESET = "reset"


class QueueEffect(enum.Enum):
    NOTIFY_QUEUED = "notify_queued"


_S, _I = QueueState, QueueInput
WAITING = frozenset({_S.WAITING, _S.QUEUED})

QUEUE_TABLE: Mapping[tuple[QueueState, QueueInput],
                     tuple[QueueState, tuple[QueueEffect, ...]]] = MappingProxyType({
    **{(s, _I.RESET): (_S.IDLE, ()) for s in QueueState},
    (_S.IDLE, _I.WAIT): (_S.WAITING, ()),
    (_S.IDLE, _I.QUEUE): (_S.QUEUED, (QueueEffect.NOTIFY_QUEUED,)),
    (_S.IDLE, _I.OFFERED): (_S.IDLE, ()),
    (_S.IDLE, _I.LIMIT): (_S.OVER, ()),
    (_S.WAITING, _I.WAIT): (_S.WAITING, ()),
    (_S.WAITING, _I.OFFERED): (_S.IDLE, ()),
    (_S.QUEUED, _I.QUEUE): (_S.QUEUED, ()),
    (_S.QUEUED, _I.OFFERED): (_S.QUEUED_ASKING, ()),
    (_S.QUEUED_ASKING, _I.QUEUE): (_S.QUEUED, ()),
    (_S.QUEUED_ASKING, _I.OFFERED): (_S.QUEUED_ASKING, ()),
    (_S.QUEUED_ASKING, _I.LIMIT): (_S.OVER, ()),
})


def queue_machine() -> Machine[QueueState, QueueInput, QueueEffect]:
    return Machine("queue", QUEUE_TABLE, _S.IDLE)
