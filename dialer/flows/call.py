"""The call flow: one pure state machine per call, for bot-first and agent-first calls.

Drive it with :meth:`CallFlow.handle`: give it one input and the current monotonic time, get
back the commands to execute, in order. Commands that may run concurrently (the stream and the
greeting after the answer) come out together; the runner starts each one at once.

Bot-first (DESIGN.md "The bot-first call, end to end")::

    Start -> CreateLeg(customer) -> leg_answered -> StartStream + StartSay/Play(greeting)
    stream_started -> StopSay/Play(greeting)                      (state BOT)
    Transfer -> StopStream + PickAgent -> AgentOffered -> StartPlay/Say(hold)
                                                          + CreateLeg(agent, ref=customer)
    agent leg_answered -> StopPlay(hold) + CreateBridge -> StartRecording
    customer leg_terminated -> ReleaseAgent(wrap_up) -> Finish

The customer is never left in silence while waiting for an agent, and hears one voice at a
time:

* **One voice.** The stream is stopped when the escalation starts, before the hold audio (the
  dialer cannot see the bot's playout, and a live stream would let the bot talk over the hold
  and hear the customer on hold). A call that goes back to the bot hears the fallback message,
  then gets a new stream: a new bot session, which speaks first, where the old one, not told
  the transfer failed, stayed silent.
* **Hold for the whole wait.** The hold audio loops (``hold_loops``) and starts again whenever
  it ends while the customer still waits, whatever ``agent_ring_timeout`` x
  ``max_agent_attempts`` add up to. Audio-done events are matched to the audio they belong to
  (its ``action_custom_param`` tag; without one, by kind and not ``interrupted``), so the hold
  stopping is never taken for the end of the goodbye that replaced it.
* **A queue** (bot-first). An escalation that finds no free agent waits on hold and takes the
  first agent freed (``AgentAvailable``), for at most ``escalation_queue_timeout`` seconds from
  the request (an agent still ringing then may still answer; no other is tried). Then the
  fallback, with ``failure`` ``no_agent:queue_timeout``. No agent with the skills at all
  (``NoAgentFree("skill")``) falls back at once (``no_agent:skill``); agents that did not answer
  ``max_agent_attempts`` times give ``no_agent:not_answered (...)``. A failure already on record
  (a failed stream or bot) is kept.
* **Bounded re-entries.** A failed escalation goes back to the bot at most
  ``max_bot_reentries`` times per call (a bot that asks for an agent again at once, such as a
  relay whose bot is unreachable, would otherwise loop fallback message -> bot -> escalation);
  the next failure says the goodbye and hangs up (disposition ``no_agent``, ``hangup_reason``
  and timeline ``bot_reentries_exhausted``).

Agent-first: on answer the hold message plays and an agent is picked at once; a customer with
no agent on the line ``abandon_after`` seconds after the answer is abandoned.

Answering-machine detection (``amd=True``, the leg was created with ``amd_enable``): an agent
is reserved (and an on-demand agent dialled) at once, but bridged only after
``amd_result_success`` says human, so no agent ever hears a machine. A machine ends the call
(disposition ``machine``: never a live answer, never abandoned). The abandonment clock still
runs from the answer: when it passes before the result, a human result then means abandoned
(goodbye message) and a machine result a machine. No result within ``amd_timeout`` counts as
human (``amd_timeout`` in the timeline). Progress: ``Notify("live")`` when a live answer is
known (at the answer without AMD), ``Notify("machine")`` for a machine.

A bot that fails (``BotFailed``: the gateway reports its adapter raised, overran or could not be
built, and closes the stream) gets the stream fallback at once, with no second stream: an
agent (escalation reason ``bot_failed``) or, with ``stream_fallback = "hangup"``, the goodbye
message (disposition ``bot_failed``); ``failure`` keeps the gateway's reason, the timeline a
``bot_failed`` entry, and a ``bot_failed`` progress event carries the reason. A bot's hang-up
keeps its reason in ``hangup_reason`` and a ``hangup_requested`` progress event.

Every failure path ends in a defined outcome; see the ``_on_*`` handlers. Exotel events that
do not fit the current state are ignored and counted in :attr:`CallFlow.ignored` (the peer's
business); an illegal state change raises :class:`~dialer.errors.IllegalTransition` (ours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dialer.errors import IllegalTransition
from dialer.events import BridgeLifecycle, LegAction, LegLifecycle
from dialer.flows.messages import (
    ActionFailed,
    AgentAvailable,
    AgentOffered,
    BotFailed,
    BridgeCreated,
    CancelTimer,
    Command,
    CreateBridge,
    CreateLeg,
    Finish,
    FlowInput,
    Hangup,
    HangupRequest,
    LegCreated,
    NoAgentFree,
    Notify,
    PickAgent,
    ReleaseAgent,
    SetTimer,
    Start,
    StartPlay,
    StartRecording,
    StartSay,
    StartStream,
    StopPlay,
    StopSay,
    StopStream,
    TimerFired,
    Transfer,
)
from dialer.flows.states import CallState, check

S = CallState
Mode = Literal["bot_first", "agent_first"]
STREAM_FAILURE_EVENTS = frozenset({"stream_failed", "stream_failed_to_start", "stream_stopped"})
CALL_ENDED_REASONS = frozenset({"callended", "call_ended", "hangup", "customer_hangup"})
RECORDING_EVENT = "recording_available"
SHUTDOWN = "shutdown"  # HangupRequest reason used by the dialer when it stops
TIMERS = ("stream", "agent_ring", "abandon", "amd", "message", "ending", "recording", "queue")
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

    def __post_init__(self) -> None:
        if self.max_agent_attempts < 1:
            raise ValueError("max_agent_attempts must be at least 1")
        if self.max_bot_reentries < 0:
            raise ValueError("max_bot_reentries must be at least 0")
        if self.hold_loops < 1:
            raise ValueError("hold_loops must be at least 1")
        if self.escalation_queue_timeout <= 0:
            raise ValueError("escalation_queue_timeout must be positive")
        if self.escalation_fallback not in ("bot", "callback"):
            raise ValueError("escalation_fallback must be 'bot' or 'callback'")
        if self.stream_fallback not in ("agent", "hangup"):
            raise ValueError("stream_fallback must be 'agent' or 'hangup'")


@dataclass(frozen=True, slots=True)
class _Audio:
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


class CallFlow:
    """One call's state machine. Not thread-safe; feed it from one task."""

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
        self._customer_audio: _Audio | None = None
        self._tags = 0  # action_custom_param tags handed out
        self._agent_alive = False
        self._customer_alive = False
        self._stream_active = False
        self._tried: list[str] = []  # agents not to offer again in this escalation
        self._attempts = 0  # agents tried in this escalation
        self._bot_ok = False  # the bot had the call (stream up, not failed): it may take it back
        self._restream_pending = False  # back to the bot: new stream after the fallback message
        self._connect_tries = 0  # stream starts in this connecting phase (one retry)
        self._queued = False  # this escalation waited in the queue
        self._queue_over = False  # the queue limit passed while an agent was ringing
        self._escalation_failed = False
        self._bot_reentries = 0  # times the call went back to the bot after a failed escalation
        self._recording_started = False
        self._agent_released = False
        self._bot_failed = False  # the gateway reported the bot failed: no going back to it
        self.waiting_for_agent = False
        self.amd = amd  # the customer leg was created with amd_enable
        self._amd_pending = False  # answered, AMD result not in yet
        self._agent_ready = False  # an agent is on the line, waiting for the AMD result
        self._abandon_due = False  # the abandonment limit passed while AMD was pending

    # -- public ---------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.state is S.ENDED

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
            if not isinstance(item, (Start, LegCreated)):
                self.ignored += 1
                return []
        self._dispatch(item)
        out, self._out = self._out, []
        return out

    # -- plumbing -------------------------------------------------------------------------

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

    def _dispatch(self, item: FlowInput) -> None:
        if isinstance(item, Start):
            self._on_start()
        elif isinstance(item, LegCreated):
            self._on_leg_created(item)
        elif isinstance(item, LegLifecycle):
            if item.leg_sid == self.customer_leg:
                self._on_customer_lifecycle(item)
            elif item.leg_sid == self.agent_leg:
                self._on_agent_lifecycle(item)
            else:
                self._ignore()
        elif isinstance(item, LegAction):
            self._on_action(item)
        elif isinstance(item, BridgeLifecycle):
            self._on_bridge(item)
        elif isinstance(item, BridgeCreated):
            self._on_bridge_created(item.bridge_sid)
        elif isinstance(item, ActionFailed):
            self._on_failed(item)
        elif isinstance(item, Transfer):
            self._on_transfer(item)
        elif isinstance(item, HangupRequest):
            self._on_hangup_request(item)
        elif isinstance(item, BotFailed):
            self._on_bot_failed(item)
        elif isinstance(item, TimerFired):
            self._on_timer(item.name)
        elif isinstance(item, AgentOffered):
            self._on_agent_offered(item)
        elif isinstance(item, NoAgentFree):
            self._on_no_agent(item)
        elif isinstance(item, AgentAvailable):
            self._on_agent_available()

    # -- customer leg ---------------------------------------------------------------------

    def _on_start(self) -> None:
        if self.state is not S.NEW:
            raise IllegalTransition(f"call {self.outcome.call_id} started twice")
        self._goto(S.DIALING)
        self._mark("dial")
        self._emit(CreateLeg("customer", self.outcome.number, self.outcome.call_id))

    def _on_leg_created(self, item: LegCreated) -> None:
        if item.role == "customer":
            if self.customer_leg:
                self._ignore()
                return
            self.outcome.customer_leg_sid = item.leg_sid
            self._customer_alive = True
            self._mark("customer_leg_created")
            return
        if self.state is S.AGENT_RINGING and not self.agent_leg and (
            item.tag == self.outcome.agent_id
        ):
            self.outcome.agent_leg_sid = item.leg_sid
            self._agent_alive = True
            return
        # The agent leg came back after we gave up on it (customer gone): cancel it.
        self._emit(Hangup(item.leg_sid, "agent"))

    def _on_customer_lifecycle(self, ev: LegLifecycle) -> None:
        name = ev.name
        if name == "leg_ringing":
            if self.state is S.DIALING:
                self._goto(S.RINGING)
                self._mark("ringing")
                self._emit(Notify("ringing"))
            else:
                self._ignore()
        elif name == "leg_answered":
            if self.state in (S.DIALING, S.RINGING):
                self._on_answered()
            else:
                self._ignore()
        elif name == "amd_result_success":
            if not self.outcome.answered or self.state in (S.ENDING, S.GOODBYE, S.FINALIZING):
                self._ignore()
            elif ev.amd_machine:
                self._on_machine()
            elif self._amd_pending:
                self._on_live("amd_human")
            else:
                self._mark("amd_human")
                self._ignore()
        elif ev.terminal:
            self._on_customer_gone(ev)
        else:
            self._ignore()

    def _on_answered(self) -> None:
        self.outcome.answered = True
        self._mark("answered")
        self._emit(Notify("answered"))
        if self.amd:
            self._amd_pending = True
            self._emit(SetTimer("amd", self.settings.amd_timeout))
        if self.outcome.mode == "agent_first":
            self._goto(S.HOLD)
            self._start_hold()
            if not self.amd:
                self._emit(Notify("live"))
            self._emit(SetTimer("abandon", self.settings.abandon_after))
            self._pick_agent()
            return
        self._goto(S.CONNECTING)
        self._start_stream()
        greeting = self._start_audio("greeting", self.settings.greeting_text,
                                     self.settings.greeting_url)
        if greeting:
            self._mark("greeting_started")
        if not self.amd:
            self._emit(Notify("live"))

    def _on_live(self, why: str) -> None:
        """AMD said human (or timed out): a live answer. An agent already on the line is
        bridged now, unless the abandonment limit passed meanwhile."""
        self._amd_pending = False
        self._emit(CancelTimer("amd"))
        self._mark(why)
        self._emit(Notify("live", why))
        if self.state in (S.HOLD, S.AGENT_RINGING):
            if self._abandon_due:
                self._abandon()
            elif self._agent_ready:
                self._connect_agent()

    def _on_machine(self) -> None:
        """AMD said machine: never a live answer; free any agent, hang up."""
        self._amd_pending = False
        self._emit(CancelTimer("amd"))
        self.outcome.machine = True
        self._mark("amd_machine")
        self._emit(Notify("machine"))
        self._set_disposition("machine")
        self._hang_up_customer()

    def _start_stream(self) -> None:
        self.outcome.stream_attempts += 1
        self._connect_tries += 1
        self._mark(f"stream_requested_{self.outcome.stream_attempts}")
        self._emit(
            StartStream(self.customer_leg, self.outcome.stream_attempts),
            SetTimer("stream", self.settings.stream_start_timeout),
        )

    def _tag(self, what: str) -> str:
        self._tags += 1
        return f"{TAG_PREFIX}{what}:{self._tags}"

    def _start_audio(self, purpose: str, text: str, url: str) -> bool:
        """Play ``url`` (preferred) or say ``text`` to the customer; False when neither set.
        The hold repeats ``hold_loops`` times."""
        loop = self.settings.hold_loops if purpose == "hold" else 0
        tag = self._tag(purpose)
        if url:
            self._emit(StartPlay(self.customer_leg, url, purpose, loop=loop, tag=tag))
            self._customer_audio = _Audio("play", purpose, tag, self._now)
            return True
        if text:
            self._emit(StartSay(self.customer_leg, text, purpose, loop=loop, tag=tag))
            self._customer_audio = _Audio("say", purpose, tag, self._now)
            return True
        return False

    def _stop_customer_audio(self) -> str:
        """Stop whatever we play/say to the customer; returns its purpose (or "")."""
        audio = self._customer_audio
        if audio is None:
            return ""
        self._customer_audio = None
        self._emit(
            StopPlay(self.customer_leg, audio.purpose) if audio.kind == "play"
            else StopSay(self.customer_leg, audio.purpose)
        )
        return audio.purpose

    def _playing(self, purpose: str) -> bool:
        return self._customer_audio is not None and self._customer_audio.purpose == purpose

    def _stop_bot(self) -> None:
        """Stop the stream (the bot's voice), tagged so its ``stream_stopped`` is known ours."""
        if self._stream_active:
            self._emit(StopStream(self.customer_leg, tag=self._tag("stream_stop")))
            self._stream_active = False
            self._mark("stream_stopped")

    def _start_hold(self) -> None:
        """The hold audio, with the bot stopped first: one voice at a time."""
        if self._playing("hold"):
            return
        if self._stop_customer_audio() == "greeting":
            self._mark("greeting_stopped")
        self._stop_bot()
        if self._start_audio("hold", self.settings.hold_text, self.settings.hold_url):
            self._mark("hold_started")

    def _on_action(self, ev: LegAction) -> None:
        if ev.name == RECORDING_EVENT:
            self._on_recording(ev.url)
            return
        if ev.leg_sid != self.customer_leg:
            self._ignore()  # agent-leg actions (nailed hold music ...) are not ours
            return
        if ev.name == "stream_started":
            if self.state is S.CONNECTING and not self._restream_pending:
                self._stream_up()
            else:
                # (a failed bot's stream may still report its start: it is closing)
                self._stream_active = not self._bot_failed and self.state in (
                    S.BOT, S.HOLD, S.AGENT_RINGING
                )
                self._ignore()
        elif ev.name in STREAM_FAILURE_EVENTS:
            self._on_stream_end(ev)
        elif ev.name in AUDIO_DONE_EVENTS:
            self._on_audio_done(ev)
        else:
            self._ignore()

    def _on_stream_end(self, ev: LegAction) -> None:
        """The stream failed to start, or stopped.

        ``status: failed`` (or a ``stream_failed*`` event) is a failure: retry once while
        connecting, else the stream fallback. So is any stop while connecting (the stream ended
        before it started) that is not because the call ended. A stop because the call ended
        (``callended``, ``hangup``) is left to the ``leg_terminated`` that follows. Any other
        stop while the bot has the call means the bot closed its side: the call ends
        (``bot_completed``); a bot that *failed* was reported by the gateway before the close
        (``BotFailed``), which took the call out of ``BOT``."""
        status = str(ev.event_data.get("status", "")).lower()
        reason = str(ev.event_data.get("reason", "")).lower()
        failed = ev.name != "stream_stopped" or status == "failed"
        call_ended = reason in CALL_ENDED_REASONS
        if (ev.action_custom_parameter.startswith(STREAM_STOP_TAG) and not failed) or (
            self._restream_pending
        ):
            self._ignore()  # our own stop (the hold began), or an old stream's late news
        elif self.state is S.CONNECTING and (failed or not call_ended):
            self._stream_failed(ev.name if failed else "stream_stopped_before_start")
        elif self.state is S.BOT and self._stream_active and not call_ended:
            self._stream_active = False
            if failed:
                self._mark("stream_lost")
                self._after_stream_failure("stream_lost")
            else:
                self._mark("bot_closed")
                self._set_disposition("bot_completed")
                self.outcome.ended_in = self.state.value
                self._hang_up_customer()
        else:
            if self.state is S.BOT and call_ended:
                self._stream_active = False
            self._ignore()

    def _stream_up(self) -> None:
        self._emit(CancelTimer("stream"))
        self._stream_active = True
        self._bot_ok = True
        self._mark("stream_started")
        stopping = self._playing("greeting")
        if stopping:
            self._stop_customer_audio()
            self._mark("greeting_stopped")
        self._goto(S.BOT)
        # "greeting": the bot's audio should wait for the greeting's stop to be confirmed.
        self._emit(Notify("bot_connected", "greeting" if stopping else ""))

    @staticmethod
    def _is_audio(audio: _Audio, ev: LegAction) -> bool:
        """Does this audio event belong to ``audio``? By our tag when the event carries one;
        else by kind, and a stop we asked for (``interrupted``) ends nothing current."""
        tag = ev.action_custom_parameter
        if tag.startswith(TAG_PREFIX):
            return tag == audio.tag
        kind = "say" if ev.name.startswith("say") else "play"
        status = str(ev.event_data.get("status", "")).lower()
        return kind == audio.kind and status != "interrupted"

    def _on_audio_done(self, ev: LegAction) -> None:
        audio = self._customer_audio
        if audio is None or not self._is_audio(audio, ev):
            self._ignore()  # e.g. the hold we stopped for the goodbye reports its end
            return
        self._customer_audio = None
        if audio.purpose == "hold":
            self._hold_ended(audio, ev.name == "play_failed_to_start")
            return
        self._mark(f"{audio.purpose}_completed")
        self._after_message(audio.purpose)

    def _after_message(self, purpose: str) -> None:
        """A message ended (or could not be said): what comes next."""
        if self.state is S.GOODBYE and purpose == "goodbye":
            self._emit(CancelTimer("message"))
            self._hang_up_customer()
        elif self._restream_pending and purpose == "fallback":
            self._restart_bot()

    def _hold_ended(self, audio: _Audio, failed: bool) -> None:
        """The hold audio ended (or failed) on its own: while the customer still waits, start
        it again (a recording that fails falls back to ``hold_text``)."""
        if self.state not in (S.HOLD, S.AGENT_RINGING):
            self._ignore()
            return
        if failed:
            self._mark("hold_failed")
            if audio.kind == "play" and self._start_audio("hold", self.settings.hold_text, ""):
                self._mark("hold_started")
            return
        if self._now - audio.started < MIN_HOLD_RUN:
            self._mark("hold_ended_early")  # a broken file or voice: do not spin on it
            return
        self._mark("hold_restarted")
        self._start_audio("hold", self.settings.hold_text, self.settings.hold_url)

    def _stream_failed(self, why: str) -> None:
        self._emit(CancelTimer("stream"))
        self._mark(f"stream_failed_{self.outcome.stream_attempts}")
        if self._connect_tries < 2:
            self._start_stream()  # retry once
            return
        self._after_stream_failure(why)

    def _after_stream_failure(self, why: str, cause: str = "stream_failed") -> None:
        """The stream fallback: an agent (escalation reason ``cause``) or the goodbye
        message (disposition ``cause``); ``why`` is kept as the outcome's ``failure``. A call
        whose escalation already found no agent is not queued again: the goodbye."""
        self.outcome.failure = why
        self._bot_ok = False
        if self.settings.stream_fallback == "agent" and not self._escalation_failed:
            self._escalate(cause, self.skills)
        else:
            self._goodbye(cause)

    def _on_bot_failed(self, item: BotFailed) -> None:
        """The gateway is closing the stream because the bot failed (see the module
        docstring). On hold already (the bot had asked for an agent), the escalation goes on,
        but a failed escalation can no longer go back to the bot."""
        if self._bot_failed or self._restream_pending or self.state not in (
            S.CONNECTING, S.BOT, S.HOLD, S.AGENT_RINGING
        ):
            self._ignore()  # (while restarting the bot: the old, stopped session's news)
            return
        self._bot_failed = True
        self._bot_ok = False
        self._stream_active = False
        self._mark("bot_failed")
        self._emit(Notify("bot_failed", item.reason))
        if self.state in (S.HOLD, S.AGENT_RINGING):
            if not self.outcome.failure:
                self.outcome.failure = item.reason
            return
        if self.state is S.CONNECTING:
            self._emit(CancelTimer("stream"))
        self._after_stream_failure(item.reason, "bot_failed")

    def _on_customer_gone(self, ev: LegLifecycle) -> None:
        self._customer_alive = False
        self._stream_active = False
        self._customer_audio = None
        self.outcome.terminal_status = ev.terminal_status
        self._mark("customer_ended")
        if not self.outcome.ended_in:
            self.outcome.ended_in = self.state.value
        if not self.outcome.answered:
            status = ev.terminal_status.lower()
            if ev.name == "leg_failed_to_create" or "fail" in status:
                self._set_disposition("failed")
            elif "busy" in status:
                self._set_disposition("busy")
            else:
                self._set_disposition("no_answer")
        elif self.outcome.bridged:
            self._set_disposition("agent_handled")
        else:
            self._set_disposition("customer_hangup")
        self._cancel_agent(wrap_up=self.outcome.bridged)
        self._finish_or_wait()

    def _finish_or_wait(self) -> None:
        for name in sorted(self._timers):
            self._emit(CancelTimer(name))
        if self._recording_started and not self.outcome.recording_url:
            self._goto(S.FINALIZING)
            self._emit(SetTimer("recording", self.settings.recording_wait))
            return
        self._end()

    def _end(self) -> None:
        for name in sorted(self._timers):
            self._emit(CancelTimer(name))
        self._goto(S.ENDED)
        self._mark("ended")
        self.waiting_for_agent = False
        self._emit(Notify("ended", self.outcome.disposition), Finish())

    def _set_disposition(self, value: str) -> None:
        if not self.outcome.disposition:
            self.outcome.disposition = value

    def _hang_up_customer(self) -> None:
        """Cancel agent work, hang up the customer, wait for its ``leg_terminated``."""
        self._cancel_agent(wrap_up=self.outcome.bridged)
        for name in ("stream", "agent_ring", "abandon", "amd", "message", "queue"):
            self._emit(CancelTimer(name))
        if self._customer_alive and self.customer_leg:
            self._emit(Hangup(self.customer_leg, "customer"))
            self._goto(S.ENDING)
            self._emit(SetTimer("ending", self.settings.ending_timeout))
        else:
            self._finish_or_wait()

    def _goodbye(self, disposition: str) -> None:
        """Say the goodbye message, then hang up (on ``say_completed`` or a timeout)."""
        self._set_disposition(disposition)
        self._cancel_agent(wrap_up=False)
        self.waiting_for_agent = False
        self._restream_pending = False
        self._emit(CancelTimer("queue"), CancelTimer("message"))
        self._stop_customer_audio()
        self._stop_bot()
        self._goto(S.GOODBYE)
        self._start_audio("goodbye", self.settings.goodbye_text, "")
        self._emit(SetTimer("message", self.settings.message_timeout))

    # -- escalation -----------------------------------------------------------------------

    def _on_transfer(self, item: Transfer) -> None:
        if self.state not in (S.CONNECTING, S.BOT):
            self._ignore()
            return
        if self.state is S.CONNECTING and not self._restream_pending:
            self._emit(CancelTimer("stream"))
            self._stream_active = True  # the bot is talking, so the stream is up
            self._bot_ok = True
        self._escalate(item.reason, item.skills or self.skills)

    def _escalate(self, reason: str, skills: tuple[str, ...]) -> None:
        self.outcome.escalated = True
        self.outcome.escalation_reason = reason
        self.skills = tuple(skills)
        self._tried = []
        self._attempts = 0
        self._queued = self._queue_over = False
        self._restream_pending = False
        self._emit(CancelTimer("message"))  # (a fallback message before a new stream)
        self._mark("escalation_requested")
        self._emit(Notify("escalated", reason), SetTimer("queue",
                                                         self.settings.escalation_queue_timeout))
        self._stop_bot()  # one voice: the hold, an agent or the fallback message next
        self._goto(S.HOLD)
        self._pick_agent()

    def _pick_agent(self) -> None:
        self._emit(PickAgent(self.skills, tuple(self._tried)))

    def _on_agent_offered(self, item: AgentOffered) -> None:
        if self.state is not S.HOLD or self.outcome.agent_id:
            # Not wanted (any more): give it straight back.
            self._ignore()
            self._emit(ReleaseAgent(item.agent_id, wrap_up=False))
            return
        self.waiting_for_agent = False
        self.outcome.agent_id = item.agent_id
        self.outcome.agent_attempts += 1
        self._attempts += 1
        self._tried.append(item.agent_id)
        if item.nailed_leg_sid:
            self.outcome.agent_leg_sid = item.nailed_leg_sid
            self.outcome.agent_nailed = True
            self._agent_alive = True
            self._mark("agent_nailed")
            if self._amd_pending:
                self._agent_ready = True  # bridged once AMD says human
                return
            self._connect_agent()
            return
        self.outcome.agent_nailed = False
        self.outcome.agent_leg_sid = ""
        self._start_hold()
        self._goto(S.AGENT_RINGING)
        self._mark("agent_dialled")
        self._emit(
            CreateLeg("agent", item.number, self.outcome.call_id, self.customer_leg,
                      tag=item.agent_id),
            SetTimer("agent_ring", self.settings.agent_ring_timeout),
            Notify("agent_ringing", item.agent_id),
        )

    def _on_no_agent(self, item: NoAgentFree) -> None:
        """No agent for this call now. Agent-first: wait (the abandon timer decides). Bot-first:
        no agent has the skills -> fall back at once; only agents already tried are free ->
        ring them again (attempts permitting); else wait in the queue on hold."""
        if self.state is not S.HOLD:
            self._ignore()
            return
        if self.outcome.mode == "agent_first":
            if item.reason == "skill" and not self.outcome.failure:
                self.outcome.failure = "no_agent:skill"
            self.waiting_for_agent = True  # the abandon timer decides
            return
        if item.reason == "skill":
            self._fallback("no_agent:skill")
        elif item.reason == "tried" and self._tried and (
            self._attempts < self.settings.max_agent_attempts
        ):
            self._tried = []  # everyone free was tried: ring them again
            self._pick_agent()
        elif self._queue_over:
            self._fallback("no_agent:queue_timeout")
        else:
            self.waiting_for_agent = True
            if not self._queued:
                self._queued = True
                self._mark("queued")
                self._emit(Notify("queued", ",".join(self.skills)))
            self._start_hold()

    def _on_agent_available(self) -> None:
        if self.state is S.HOLD and self.waiting_for_agent and not self.outcome.agent_id:
            self._pick_agent()
        else:
            self._ignore()

    def _on_agent_lifecycle(self, ev: LegLifecycle) -> None:
        if ev.name == "leg_ringing":
            self._mark("agent_ringing")
        elif ev.name == "leg_answered":
            if self.state is S.AGENT_RINGING:
                self._mark("agent_answered")
                self._emit(
                    CancelTimer("agent_ring"), Notify("agent_answered", self.outcome.agent_id)
                )
                if self._amd_pending:
                    self._agent_ready = True  # bridged once AMD says human
                    return
                self._connect_agent()
            else:
                self._ignore()
        elif ev.terminal:
            self._agent_alive = False
            if self.state in (S.HOLD, S.AGENT_RINGING):
                self._agent_failed(ev.terminal_status or ev.name)
            elif self.state in (S.BRIDGING, S.BRIDGED):
                self._mark("agent_ended")
                self._set_disposition("agent_handled" if self.outcome.bridged else "failed")
                self._cancel_agent(wrap_up=self.outcome.bridged)
                self._hang_up_customer()
            else:
                self._ignore()
        else:
            self._ignore()

    def _connect_agent(self) -> None:
        """The agent is on the line: stop the bot and the hold audio, bridge the legs."""
        self._agent_ready = False
        self.waiting_for_agent = False
        self._emit(CancelTimer("abandon"), CancelTimer("agent_ring"), CancelTimer("queue"))
        self._stop_bot()
        self._stop_customer_audio()
        if self.outcome.agent_nailed:
            self._emit(StopPlay(self.agent_leg))
        self._goto(S.BRIDGING)
        self._mark("bridge_requested")
        self._emit(CreateBridge(self.customer_leg, self.agent_leg))

    def _agent_failed(self, why: str) -> None:
        self._mark("agent_failed")
        self._emit(CancelTimer("agent_ring"))
        self._cancel_agent(wrap_up=False)
        if self.outcome.mode == "agent_first":
            self._goto(S.HOLD)
            self._pick_agent()
            return
        if self._queue_over:
            self._fallback("no_agent:queue_timeout")
            return
        if self._attempts < self.settings.max_agent_attempts:
            self._goto(S.HOLD)
            self._pick_agent()
            return
        self._fallback(f"no_agent:not_answered ({why})")

    def _on_queue_timeout(self) -> None:
        """The customer waited ``escalation_queue_timeout``: fall back, unless an agent is
        ringing right now (it may still answer; nobody else is tried after it)."""
        if self.state is S.AGENT_RINGING:
            self._queue_over = True
            self._mark("queue_limit_passed")
            return
        self._fallback("no_agent:queue_timeout")

    def _fallback(self, why: str) -> None:
        """No agent (``why`` goes to ``failure`` unless a failure is on record already): back
        to the bot (the fallback message, then a new stream: the escalation stopped the old
        one), or a callback and a goodbye."""
        self.waiting_for_agent = False
        self._queue_over = False
        self._escalation_failed = True
        if not self.outcome.failure:
            self.outcome.failure = why
        self._mark("escalation_failed")
        self._emit(CancelTimer("agent_ring"), CancelTimer("queue"),
                   Notify("escalation_failed", why))
        self._cancel_agent(wrap_up=False)
        to_bot = self.settings.escalation_fallback == "bot" and self._bot_ok and (
            not self._bot_failed)
        if to_bot and self._bot_reentries >= self.settings.max_bot_reentries:
            # A bot that asks for an agent again at once (a relay whose bot is unreachable)
            # would loop fallback -> bot -> escalation: bounded, then the goodbye.
            self.outcome.hangup_reason = REENTRIES_EXHAUSTED
            self._mark(REENTRIES_EXHAUSTED)
            self._emit(Notify(REENTRIES_EXHAUSTED, str(self._bot_reentries)))
            self._goodbye("no_agent")
            return
        if to_bot:
            self._bot_reentries += 1
            self._stop_customer_audio()
            self._emit(Notify("back_to_bot"))
            self._goto(S.CONNECTING)
            self._restream_pending = True
            if self._start_audio("fallback", self.settings.fallback_text, ""):
                self._emit(SetTimer("message", self.settings.message_timeout))
            else:
                self._restart_bot()
            return
        self._goodbye("callback_scheduled" if self.settings.escalation_fallback == "callback"
                      else "no_agent")

    def _restart_bot(self) -> None:
        """Back to the bot after a failed escalation: a new stream (a new bot session)."""
        self._restream_pending = False
        self._emit(CancelTimer("message"))
        self._stop_customer_audio()
        self._connect_tries = 0
        self._mark("bot_restarted")
        self._start_stream()

    def _cancel_agent(self, wrap_up: bool) -> None:
        """Hang up a ringing/joined on-demand agent leg and give the agent back."""
        if self.agent_leg and self._agent_alive and not self.outcome.agent_nailed:
            self._emit(Hangup(self.agent_leg, "agent"))
            self._agent_alive = False
        self._agent_ready = False
        if self.outcome.agent_id and not (wrap_up and self._agent_released):
            self._emit(ReleaseAgent(self.outcome.agent_id, wrap_up))
            self._agent_released = True
            if not wrap_up:
                self.outcome.agent_id = ""
                self.outcome.agent_leg_sid = ""
                self.outcome.agent_nailed = False
                self._agent_released = False

    # -- bridge ---------------------------------------------------------------------------

    def _on_bridge_created(self, bridge_sid: str) -> None:
        if self.state is not S.BRIDGING:
            self._ignore()
            return
        self.outcome.bridge_sid = bridge_sid
        self.outcome.bridged = True
        self._goto(S.BRIDGED)
        self._mark("bridged")
        self._emit(Notify("bridged", self.outcome.agent_id))
        if self.settings.record_bridges:
            self._recording_started = True
            self._emit(StartRecording(bridge_sid))

    def _on_bridge(self, ev: BridgeLifecycle) -> None:
        mine = ev.bridge_sid == self.outcome.bridge_sid or (
            not self.outcome.bridge_sid and self.customer_leg in ev.leg_sids
        )
        if not mine:
            self._ignore()
            return
        if ev.name == "bridge_created":
            self._on_bridge_created(ev.bridge_sid)
        elif ev.name == "bridge_failed_to_create":
            if self.state is S.BRIDGING:
                self.outcome.failure = "bridge_failed"
                self._goodbye("failed")
            else:
                self._ignore()
        elif ev.name == RECORDING_EVENT:
            self._on_recording(ev.url)
        elif ev.name == "bridge_terminal" and self.state is S.BRIDGED:
            self._mark("bridge_ended")
            self._cancel_agent(wrap_up=True)
            self._hang_up_customer()
        else:
            self._ignore()

    def _on_recording(self, url: str) -> None:
        if not url:
            self._ignore()
            return
        self.outcome.recording_url = url
        self._mark("recording_available")
        if self.state is S.FINALIZING:
            self._end()

    # -- requests, failures, timers -------------------------------------------------------

    def _abandon(self) -> None:
        self.outcome.abandoned = True
        self._mark("abandoned")
        self._emit(Notify("abandoned"))
        self._goodbye("abandoned")

    def _on_hangup_request(self, item: HangupRequest) -> None:
        if self.state not in (S.CONNECTING, S.BOT, S.HOLD, S.AGENT_RINGING, S.BRIDGED):
            self._ignore()
            return
        self._mark("hangup_requested")
        self.outcome.hangup_reason = item.reason
        self._emit(Notify("hangup_requested", item.reason))
        if self.outcome.bridged:
            self._set_disposition("agent_handled")
        elif item.reason == SHUTDOWN:
            self._set_disposition("shutdown")  # the dialer is stopping, not the bot's choice
        else:
            self._set_disposition("bot_completed")
        self.outcome.ended_in = self.state.value
        self._hang_up_customer()

    def _on_failed(self, item: ActionFailed) -> None:
        op = item.op
        self._mark(f"failed_{op}")
        if op == "create_leg" and item.role == "customer":
            if self.state is S.DIALING and not self.customer_leg:
                self.outcome.failure = item.message or f"create leg failed ({item.status})"
                self._set_disposition("failed")
                self.outcome.ended_in = "dialing"
                self._end()
            else:
                self._ignore()
        elif op == "create_leg":
            if self.state is S.AGENT_RINGING and not self.agent_leg and (
                item.tag == self.outcome.agent_id
            ):
                self._agent_failed(item.message or "create agent leg failed")
            else:
                self._ignore()
        elif op == "start_stream":
            if self.state is S.CONNECTING:
                self._stream_failed("start_stream_error")
            else:
                self._ignore()
        elif op == "create_bridge":
            if self.state is S.BRIDGING:
                self.outcome.failure = item.message or "create bridge failed"
                self._goodbye("failed")
            else:
                self._ignore()
        elif op in ("start_say", "start_play") and self._customer_audio is not None and (
            item.tag == self._customer_audio.tag if item.tag
            else op == f"start_{self._customer_audio.kind}"
        ):
            audio = self._customer_audio
            self._customer_audio = None
            if audio.purpose == "hold":
                self._hold_ended(audio, failed=True)
            else:
                self._after_message(audio.purpose)
        else:
            self._ignore()  # stop_*/hang-up/recording errors change nothing

    def _on_timer(self, name: str) -> None:
        if name not in self._timers:
            self._ignore()  # cancelled, or not ours
            return
        self._timers.discard(name)
        if name == "stream" and self.state is S.CONNECTING:
            self._stream_failed("stream_timeout")
        elif name == "agent_ring" and self.state is S.AGENT_RINGING:
            self._agent_failed("ring_timeout")
        elif name == "abandon" and self.state in (S.HOLD, S.AGENT_RINGING):
            if self._amd_pending:
                self._abandon_due = True  # a machine is no abandonment: wait for the result
                self._mark("abandon_limit_passed")
            else:
                self._abandon()
        elif name == "amd" and self._amd_pending:
            self._on_live("amd_timeout")
        elif name == "message" and self.state is S.GOODBYE:
            self._hang_up_customer()
        elif name == "message" and self._restream_pending:
            self._restart_bot()  # the fallback message overran: the bot now
        elif name == "queue" and self.state in (S.HOLD, S.AGENT_RINGING):
            self._on_queue_timeout()
        elif name == "ending" and self.state is S.ENDING:
            self._finish_or_wait()
        elif name == "recording" and self.state is S.FINALIZING:
            self._end()
        else:
            self._ignore()
