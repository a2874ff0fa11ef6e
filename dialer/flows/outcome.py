"""What a call flow is configured with and what it records (pure): :class:`FlowSettings`,
:class:`CallOutcome`, the audio playing to the customer, and the flow's constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dialer.flows.messages import Timer

Mode = Literal["bot_first", "agent_first"]
STREAM_FAILURE_EVENTS = frozenset({"stream_failed", "stream_failed_to_start", "stream_stopped"})
CALL_ENDED_REASONS = frozenset({"callended", "call_ended", "hangup", "customer_hangup"})
RECORDING_EVENT = "recording_available"
SHUTDOWN = "shutdown"  # HangupRequest reason used by the dialer when it stops
TIMERS = tuple(Timer)
AUDIO_DONE_EVENTS = frozenset({"say_completed", "play_completed", "play_interrupted",
                               "play_failed_to_start"})
TAG_PREFIX = "vx:"  # our action_custom_param tags: vx:<purpose>:<n>, vx:stream_stop:<n>
STREAM_STOP_TAG = TAG_PREFIX + "stream_stop:"
REENTRIES_EXHAUSTED = "bot_reentries_exhausted"  # hangup_reason, timeline mark, progress kind
MIN_HOLD_RUN = 1.0  # a hold audio that ends sooner than this after its start is not restarted


@dataclass(frozen=True, slots=True)
class FlowSettings:
    """The call-flow knobs (a subset of ``DialerConfig``; see there for meanings)."""

    greeting_text: str = ""
    greeting_url: str = ""
    hold_url: str = ""
    hold_text: str = "Please hold while we connect you to an agent."
    fallback_text: str = "Sorry, no agent is free right now."
    goodbye_text: str = "Sorry, we could not continue this call. Goodbye."
    stream_start_timeout: float = 5.0
    agent_ring_timeout: float = 20.0
    max_agent_attempts: int = 3
    escalation_fallback: Literal["bot", "callback"] = "bot"
    stream_fallback: Literal["agent", "hangup"] = "agent"
    abandon_after: float = 2.0
    amd_timeout: float = 5.0  # no AMD result this long after the answer: treat as human
    message_timeout: float = 5.0
    ending_timeout: float = 10.0
    recording_wait: float = 2.0
    record_bridges: bool = True
    hold_loops: int = 10  # the hold repeats, and starts again while the customer still waits
    escalation_queue_timeout: float = 60.0  # bot-first: longest wait for an agent, from the ask
    max_bot_reentries: int = 1  # back to the bot after failed escalations; then the goodbye
    # the watchdog (dialer.flows.watchdog): the longest silence from Exotel between the dial
    # and its first event (the customer's ring timeout + a setup margin), and once answered
    watchdog_dial_after: float = 45.0
    watchdog_interval: float = 60.0

    def __post_init__(self) -> None:
        if self.max_agent_attempts < 1:
            raise ValueError("max_agent_attempts must be at least 1")
        if self.max_bot_reentries < 0:
            raise ValueError("max_bot_reentries must be at least 0")
        if self.hold_loops < 1:
            raise ValueError("hold_loops must be at least 1")
        if self.watchdog_dial_after <= 0 or self.watchdog_interval <= 0:
            raise ValueError("watchdog_dial_after and watchdog_interval must be positive")
        if self.escalation_queue_timeout <= 0:
            raise ValueError("escalation_queue_timeout must be positive")
        if self.escalation_fallback not in ("bot", "callback"):
            raise ValueError("escalation_fallback must be 'bot' or 'callback'")
        if self.stream_fallback not in ("agent", "hangup"):
            raise ValueError("stream_fallback must be 'agent' or 'hangup'")


@dataclass(frozen=True, slots=True)
class Audio:
    """What we say or play to the customer right now."""

    kind: str  # say | play
    purpose: str  # greeting | hold | fallback | goodbye
    tag: str  # its action_custom_param
    started: float


@dataclass(slots=True)
class CallOutcome:
    """What happened, filled in as the call goes; final once ``Finish`` was emitted."""

    call_id: str
    mode: Mode
    number: str
    customer_leg_sid: str = ""
    agent_leg_sid: str = ""
    agent_id: str = ""
    agent_nailed: bool = False
    bridge_sid: str = ""
    answered: bool = False
    machine: bool = False
    abandoned: bool = False
    escalated: bool = False
    escalation_reason: str = ""
    hangup_reason: str = ""  # why the bot (or the API) asked to hang up, e.g. "entered:42"
    bridged: bool = False
    disposition: str = ""
    ended_in: str = ""  # phase when the customer leg ended (ringing, bot, hold ...)
    terminal_status: str = ""
    failure: str = ""
    recording_url: str = ""
    agent_attempts: int = 0
    stream_attempts: int = 0
    timeline: list[tuple[str, float]] = field(default_factory=list)


