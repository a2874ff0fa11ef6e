"""What goes into a call flow (inputs) and what comes out (commands). Frozen, slotted, pure.

Inputs are Exotel events (from :mod:`dialer.events`) plus the ones here: results of commands
(``LegCreated``, ``BridgeCreated``, ``ActionFailed``), requests from the media plane
(``Transfer``, ``HangupRequest``, ``BotFailed``), the agent pool's answers (``AgentOffered``,
``NoAgentFree``, ``AgentAvailable``) and timers (``TimerFired``).

Commands are what the runner must do: Exotel requests, agent-pool operations, timers,
progress notifications and ``Finish``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal

from dialer.events import ExotelEvent

Role = Literal["customer", "agent"]
NoAgentReason = Literal["busy", "skill", "tried"]


class Timer(enum.StrEnum):
    """The flow's timers (``SetTimer``/``CancelTimer``/``TimerFired`` names; a StrEnum member
    compares and hashes as its value, so a runner may hand back the plain string)."""

    STREAM = "stream"  # the stream must start within stream_start_timeout
    AGENT_RING = "agent_ring"  # an agent leg rings at most agent_ring_timeout
    ABANDON = "abandon"  # agent-first: no agent abandon_after the answer
    AMD = "amd"  # no AMD result: treated as human
    MESSAGE = "message"  # a fallback or goodbye message overran
    ENDING = "ending"  # the hang-up's leg_terminated did not come
    RECORDING = "recording"  # the last wait for recording_available
    QUEUE = "queue"  # bot-first: the longest wait for an agent
    WATCHDOG = "watchdog"  # the runner's: no Exotel event for longer than the stage allows


class Op(enum.StrEnum):
    """What a command does (its ``op``; an ``ActionFailed`` names the failed one)."""

    CREATE_LEG = "create_leg"
    START_STREAM = "start_stream"
    STOP_STREAM = "stop_stream"
    START_SAY = "start_say"
    STOP_SAY = "stop_say"
    START_PLAY = "start_play"
    STOP_PLAY = "stop_play"
    CREATE_BRIDGE = "create_bridge"
    START_RECORDING = "start_recording"
    HANGUP = "hangup"
    PICK_AGENT = "pick_agent"
    AGENT_ON_CALL = "agent_on_call"
    RELEASE_AGENT = "release_agent"
    SET_TIMER = "set_timer"
    CANCEL_TIMER = "cancel_timer"
    NOTIFY = "notify"
    FINISH = "finish"


def _need(value: str, what: str) -> None:
    if not value:
        raise ValueError(f"{what} must not be empty")


# -- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaceCall:
    """Begin the call (dial the customer): the flow's first input. (The gateway's stream
    ``Start`` event is another thing: ``gateway.protocol.Start``.)"""


@dataclass(frozen=True, slots=True)
class LegCreated:
    """``POST /legs`` answered with ``leg_sid``."""

    role: Role
    leg_sid: str
    tag: str = ""  # the CreateLeg's tag (the agent id for agent legs)

    def __post_init__(self) -> None:
        _need(self.leg_sid, "LegCreated.leg_sid")


@dataclass(frozen=True, slots=True)
class BridgeCreated:
    """``POST /bridges`` answered with ``bridge_sid``."""

    bridge_sid: str

    def __post_init__(self) -> None:
        _need(self.bridge_sid, "BridgeCreated.bridge_sid")


@dataclass(frozen=True, slots=True)
class ActionFailed:
    """A command failed. ``op`` is the command's :class:`Op`; ``status`` the HTTP status or 0."""

    op: str  # an Op (a runner may pass the plain string)
    role: Role = "customer"
    status: int = 0
    message: str = ""
    tag: str = ""  # the failed command's tag, when it had one


@dataclass(frozen=True, slots=True)
class Transfer:
    """The bot or the customer's DTMF asks for a live agent."""

    reason: str
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HangupRequest:
    """The bot asks to end the call."""

    reason: str = "bot_hangup"


@dataclass(frozen=True, slots=True)
class BotFailed:
    """The gateway says the bot adapter failed and it is closing the stream (control kind
    ``bot_failed``); ``reason`` names the failure (e.g. ``adapter_error:on_audio``)."""

    reason: str

    def __post_init__(self) -> None:
        _need(self.reason, "BotFailed.reason")


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str  # a Timer (or a runner's own wake-up name, which the flow ignores)


@dataclass(frozen=True, slots=True)
class AgentOffered:
    """The pool reserved an agent. ``nailed_leg_sid`` is set for a live pre-dialled leg."""

    agent_id: str
    number: str
    nailed_leg_sid: str = ""

    def __post_init__(self) -> None:
        _need(self.agent_id, "AgentOffered.agent_id")


@dataclass(frozen=True, slots=True)
class NoAgentFree:
    """The pool had no idle agent with the skills (excluding those already tried).

    ``reason``: ``busy`` (agents with the skills exist, none is free now), ``skill`` (no agent
    in the pool has them at all: waiting is pointless) or ``tried`` (the only free ones were
    already tried in this escalation)."""

    reason: NoAgentReason = "busy"

    def __post_init__(self) -> None:
        if self.reason not in ("busy", "skill", "tried"):
            raise ValueError(f"NoAgentFree.reason must be busy, skill or tried: {self.reason!r}")


@dataclass(frozen=True, slots=True)
class AgentAvailable:
    """An agent became idle; a call waiting for one may ask again."""


FlowInput = (
    ExotelEvent
    | PlaceCall
    | LegCreated
    | BridgeCreated
    | ActionFailed
    | Transfer
    | HangupRequest
    | BotFailed
    | TimerFired
    | AgentOffered
    | NoAgentFree
    | AgentAvailable
)

# -- commands ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateLeg:
    role: Role
    number: str
    custom_param: str
    reference_leg_sid: str = ""
    tag: str = ""  # echoed in LegCreated/ActionFailed (the agent id for agent legs)
    op: Op = Op.CREATE_LEG


@dataclass(frozen=True, slots=True)
class StartStream:
    """Start the bidirectional stream to the gateway (the runner builds the URL)."""

    leg_sid: str
    attempt: int = 1
    op: Op = Op.START_STREAM


@dataclass(frozen=True, slots=True)
class StopStream:
    """Stop the stream. ``tag`` goes out as ``action_custom_param``: the ``stream_stopped``
    that answers it carries it back, so the flow knows that stop was its own."""

    leg_sid: str
    tag: str = field(default="", compare=False)
    op: Op = Op.STOP_STREAM


@dataclass(frozen=True, slots=True)
class StartSay:
    """Say ``text`` ``loop`` times (0: once). ``tag`` goes out as ``action_custom_param`` and
    comes back on the ``say_completed`` of this say, so it cannot be taken for another
    audio's end (a correlation id: not part of the command's identity)."""

    leg_sid: str
    text: str
    purpose: str  # greeting | hold | fallback | goodbye
    loop: int = 0
    tag: str = field(default="", compare=False)
    op: Op = Op.START_SAY


@dataclass(frozen=True, slots=True)
class StopSay:
    leg_sid: str
    purpose: str = ""  # what is being stopped (greeting, hold ...), when known
    op: Op = Op.STOP_SAY


@dataclass(frozen=True, slots=True)
class StartPlay:
    """Play ``url`` ``loop`` times (0: once); ``tag`` as for :class:`StartSay`."""

    leg_sid: str
    url: str
    purpose: str
    loop: int = 0
    tag: str = field(default="", compare=False)
    op: Op = Op.START_PLAY


@dataclass(frozen=True, slots=True)
class StopPlay:
    leg_sid: str
    purpose: str = ""
    op: Op = Op.STOP_PLAY


@dataclass(frozen=True, slots=True)
class CreateBridge:
    leg_a: str
    leg_b: str
    op: Op = Op.CREATE_BRIDGE


@dataclass(frozen=True, slots=True)
class StartRecording:
    bridge_sid: str
    op: Op = Op.START_RECORDING


@dataclass(frozen=True, slots=True)
class Hangup:
    leg_sid: str
    role: Role = "customer"
    op: Op = Op.HANGUP


@dataclass(frozen=True, slots=True)
class PickAgent:
    """Reserve an agent with ``skills``, not one of ``exclude``: a free nailed-up agent first
    (bridged at once), else the one idle longest."""

    skills: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    op: Op = Op.PICK_AGENT


@dataclass(frozen=True, slots=True)
class AgentOnCall:
    """The reserved agent answered its leg: the pool marks it on this call (an explicit pool
    change, not a side effect of the ``agent_answered`` progress notification)."""

    agent_id: str
    op: Op = Op.AGENT_ON_CALL


@dataclass(frozen=True, slots=True)
class ReleaseAgent:
    """Give the agent back (``wrap_up``: after a conversation, so wrap-up first)."""

    agent_id: str
    wrap_up: bool
    op: Op = Op.RELEASE_AGENT


@dataclass(frozen=True, slots=True)
class SetTimer:
    name: str  # a Timer
    seconds: float
    op: Op = Op.SET_TIMER


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str  # a Timer
    op: Op = Op.CANCEL_TIMER


@dataclass(frozen=True, slots=True)
class Notify:
    """Progress for subscribers: ringing, answered, bot_connected, escalated, bridged ..."""

    kind: str
    detail: str = ""
    op: Op = Op.NOTIFY


@dataclass(frozen=True, slots=True)
class Finish:
    """The call is over; :attr:`CallFlow.outcome` is final."""

    op: Op = Op.FINISH


Command = (
    CreateLeg
    | StartStream
    | StopStream
    | StartSay
    | StopSay
    | StartPlay
    | StopPlay
    | CreateBridge
    | StartRecording
    | Hangup
    | PickAgent
    | AgentOnCall
    | ReleaseAgent
    | SetTimer
    | CancelTimer
    | Notify
    | Finish
)
