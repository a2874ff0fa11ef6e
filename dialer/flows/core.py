"""The call flow's shared core: its state, the sub-machines, and the plumbing every part
uses (emit, goto, mark). The parts (:mod:`~dialer.flows.hold`, :mod:`~dialer.flows.streaming`,
:mod:`~dialer.flows.escalation`, :mod:`~dialer.flows.ending`) are mixins over it; the stubs at
the end declare what one part calls in another, and :class:`~dialer.flows.call.CallFlow`
joins them."""

from __future__ import annotations

from dialer.events import BridgeLifecycle, LegAction, LegLifecycle
from dialer.flows.amd import PENDING as AMD_PENDING
from dialer.flows.amd import amd_machine
from dialer.flows.bot import StreamEffect, StreamInput, bot_machine, stream_machine
from dialer.flows.liveness import liveness_machine
from dialer.flows.messages import (
    AgentOffered,
    BotFailed,
    CancelTimer,
    Command,
    FlowInput,
    HangupRequest,
    LegCreated,
    NoAgentFree,
    PlaceCall,
    SetTimer,
    StopStream,
    Transfer,
)
from dialer.flows.outcome import TAG_PREFIX, Audio, CallOutcome, FlowSettings, Mode
from dialer.flows.queue import WAITING, queue_machine
from dialer.flows.recording import recording_machine
from dialer.flows.states import CallState, check
from dialer.flows.voice import voice_machine

S = CallState


class FlowCore:
    """State and plumbing of one call flow (see :class:`~dialer.flows.call.CallFlow`)."""

    def __init__(
        self,
        call_id: str,
        number: str,
        mode: Mode = "bot_first",
        settings: FlowSettings | None = None,
        skills: tuple[str, ...] = (),
        amd: bool = False,
    ) -> None:
        if mode not in ("bot_first", "agent_first"):
            raise ValueError(f"unknown call mode {mode!r}")
        if not call_id or not number:
            raise ValueError("CallFlow needs a call id and a number")
        self.settings = settings or FlowSettings()
        self.state = S.NEW
        self.outcome = CallOutcome(call_id=call_id, mode=mode, number=number)
        self.skills = tuple(skills)
        self.ignored = 0
        self._now = 0.0
        self._out: list[Command] = []
        self._timers: set[str] = set()
        self._voice = voice_machine()  # which audio the customer hears (see dialer.flows.voice)
        self._customer_audio: Audio | None = None  # its details (None when silent)
        self._tags = 0  # action_custom_param tags handed out
        self._customer = liveness_machine("customer_leg")  # the customer's leg is up
        self._agent = liveness_machine("agent_leg")  # an agent leg (ours to hang up) is up
        self._stream = stream_machine()  # a stream runs that is ours to stop
        self._tried: list[str] = []  # agents not to offer again in this escalation
        self._attempts = 0  # agents tried in this escalation
        self._bot = bot_machine()  # may the bot take the call back? (see dialer.flows.bot)
        self._connect_tries = 0  # stream starts in this connecting phase (one retry)
        self._queue = queue_machine()  # waiting for an agent (see dialer.flows.queue)
        self._bot_reentries = 0  # times the call went back to the bot after a failed escalation
        self._recording = recording_machine()  # the bridge's recording (dialer.flows.recording)
        self._agent_released = False
        self.amd = amd  # the customer leg was created with amd_enable
        self._amd = amd_machine(amd)  # the AMD result awaited (see dialer.flows.amd)

    @property
    def done(self) -> bool:
        return self.state is S.ENDED

    @property
    def waiting_for_agent(self) -> bool:
        """A customer on hold waits for an agent to become free."""
        return self._queue.state in WAITING

    @property
    def machines(self) -> dict[str, str]:
        """The sub-machines' states by name (for logs and tests)."""
        return {m.name: m.state.value
                for m in (self._voice, self._bot, self._stream, self._queue, self._amd,
                          self._recording, self._customer, self._agent)}

    @property
    def _amd_pending(self) -> bool:
        return self._amd.state in AMD_PENDING

    def _stop_stream_if_live(self) -> bool:
        """Stop the stream if one runs that is ours to stop; True when a stop went out."""
        if StreamEffect.SEND_STOP in self._stream.fire(StreamInput.STOP):
            self._emit(StopStream(self.customer_leg, tag=self._tag("stream_stop")))
            return True
        return False

    @property
    def customer_leg(self) -> str:
        return self.outcome.customer_leg_sid

    @property
    def agent_leg(self) -> str:
        return self.outcome.agent_leg_sid

    def handle(self, item: FlowInput, now: float) -> list[Command]:
        """Feed one input at monotonic time ``now``; return the commands to run, in order."""
        self._now = now
        self._out = []
        if self.state is S.ENDED:
            if not isinstance(item, (PlaceCall, LegCreated)):
                self.ignored += 1
                return []
        self._dispatch(item)
        out, self._out = self._out, []
        return out

    def _emit(self, *commands: Command) -> None:
        for c in commands:
            if isinstance(c, SetTimer):
                self._timers.add(c.name)
            elif isinstance(c, CancelTimer):
                if c.name not in self._timers:
                    continue
                self._timers.discard(c.name)
            self._out.append(c)

    def _goto(self, new: CallState) -> None:
        check(self.state, new)
        self.state = new

    def _mark(self, name: str) -> None:
        self.outcome.timeline.append((name, self._now))

    def _ignore(self) -> None:
        self.ignored += 1

    def _set_disposition(self, value: str) -> None:
        if not self.outcome.disposition:
            self.outcome.disposition = value

    def _tag(self, what: str) -> str:
        self._tags += 1
        return f"{TAG_PREFIX}{what}:{self._tags}"

    def _dispatch(self, item: FlowInput) -> None:
        raise NotImplementedError

    # -- implemented by the parts (hold, streaming, escalation, ending) -----------------

    def _abandon(self) -> None:
        raise NotImplementedError

    def _after_message(self, purpose: str) -> None:
        raise NotImplementedError

    def _agent_failed(self, why: str) -> None:
        raise NotImplementedError

    def _cancel_agent(self, wrap_up: bool) -> None:
        raise NotImplementedError

    def _connect_agent(self) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        raise NotImplementedError

    def _escalate(self, reason: str, skills: tuple[str, ...]) -> None:
        raise NotImplementedError

    def _finish_or_wait(self) -> None:
        raise NotImplementedError

    def _goodbye(self, disposition: str) -> None:
        raise NotImplementedError

    def _hang_up_customer(self) -> None:
        raise NotImplementedError

    def _hold_ended(self, audio: Audio, failed: bool) -> None:
        raise NotImplementedError

    def _on_action(self, ev: LegAction) -> None:
        raise NotImplementedError

    def _on_agent_available(self) -> None:
        raise NotImplementedError

    def _on_agent_lifecycle(self, ev: LegLifecycle) -> None:
        raise NotImplementedError

    def _on_agent_offered(self, item: AgentOffered) -> None:
        raise NotImplementedError

    def _on_audio_done(self, ev: LegAction) -> None:
        raise NotImplementedError

    def _on_bot_failed(self, item: BotFailed) -> None:
        raise NotImplementedError

    def _on_bridge(self, ev: BridgeLifecycle) -> None:
        raise NotImplementedError

    def _on_bridge_created(self, bridge_sid: str) -> None:
        raise NotImplementedError

    def _on_customer_gone(self, ev: LegLifecycle) -> None:
        raise NotImplementedError

    def _on_hangup_request(self, item: HangupRequest) -> None:
        raise NotImplementedError

    def _on_no_agent(self, item: NoAgentFree) -> None:
        raise NotImplementedError

    def _on_queue_timeout(self) -> None:
        raise NotImplementedError

    def _on_recording(self, url: str) -> None:
        raise NotImplementedError

    def _on_transfer(self, item: Transfer) -> None:
        raise NotImplementedError

    def _pick_agent(self) -> None:
        raise NotImplementedError

    def _playing(self, purpose: str) -> bool:
        raise NotImplementedError

    def _restart_bot(self) -> None:
        raise NotImplementedError

    def _start_audio(self, purpose: str, text: str, url: str) -> bool:
        raise NotImplementedError

    def _start_hold(self) -> None:
        raise NotImplementedError

    def _start_stream(self) -> None:
        raise NotImplementedError

    def _stop_bot(self) -> None:
        raise NotImplementedError

    def _stop_customer_audio(self) -> str:
        raise NotImplementedError

    def _stream_failed(self, why: str) -> None:
        raise NotImplementedError
