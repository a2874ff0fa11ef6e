"""The call flow: one pure state machine per call, for bot-first and agent-first calls.

Drive it with :meth:`CallFlow.handle`: give it one input and the current monotonic time, get
back the commands to execute, in order. Commands that may run concurrently (the stream and the
greeting after the answer) come out together; the runner starts each one at once.

Bot-first (DESIGN.md "The bot-first call, end to end")::

    PlaceCall -> CreateLeg(customer) -> leg_answered -> StartStream + StartSay/Play(greeting)
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

from dialer.errors import IllegalTransition
from dialer.events import BridgeLifecycle, LegAction, LegLifecycle
from dialer.flows.amd import AmdEffect, AmdInput
from dialer.flows.bot import BotState
from dialer.flows.ending import Ending
from dialer.flows.escalation import Escalation
from dialer.flows.hold import CustomerAudio
from dialer.flows.liveness import LivenessInput
from dialer.flows.messages import (
    ActionFailed,
    AgentAvailable,
    AgentOffered,
    BotFailed,
    BridgeCreated,
    CancelTimer,
    CreateLeg,
    FlowInput,
    Hangup,
    HangupRequest,
    LegCreated,
    NoAgentFree,
    Notify,
    Op,
    PlaceCall,
    SetTimer,
    Timer,
    TimerFired,
    Transfer,
)
from dialer.flows.outcome import SHUTDOWN, CallOutcome, FlowSettings
from dialer.flows.states import CallState
from dialer.flows.streaming import BotStream
from dialer.flows.voice import AudioEffect

__all__ = ["SHUTDOWN", "CallFlow", "CallOutcome", "FlowSettings"]

S = CallState


class CallFlow(BotStream, Escalation, Ending, CustomerAudio):
    """One call's state machine. Not thread-safe; feed it from one task.

    It routes each input to its part and owns the phase (:attr:`state`)."""

    def _dispatch(self, item: FlowInput) -> None:
        if isinstance(item, PlaceCall):
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
            self._customer.fire(LivenessInput.UP)
            self._mark("customer_leg_created")
            return
        if self.state is S.AGENT_RINGING and not self.agent_leg and (
            item.tag == self.outcome.agent_id
        ):
            self.outcome.agent_leg_sid = item.leg_sid
            self._agent.fire(LivenessInput.UP)
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
        if AmdEffect.SET_TIMER in self._amd.fire(AmdInput.ANSWER):
            self._emit(SetTimer(Timer.AMD, self.settings.amd_timeout))
        if self.outcome.mode == "agent_first":
            self._goto(S.HOLD)
            self._start_hold()
            if not self.amd:
                self._emit(Notify("live"))
            self._emit(SetTimer(Timer.ABANDON, self.settings.abandon_after))
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
        effects = self._amd.fire(AmdInput.HUMAN)
        self._emit(CancelTimer(Timer.AMD))
        self._mark(why)
        self._emit(Notify("live", why))
        if self.state in (S.HOLD, S.AGENT_RINGING):
            if AmdEffect.ABANDON in effects:
                self._abandon()
            elif AmdEffect.CONNECT_AGENT in effects:
                self._connect_agent()

    def _on_machine(self) -> None:
        """AMD said machine: never a live answer; free any agent, hang up."""
        self._amd.fire(AmdInput.MACHINE)
        self._emit(CancelTimer(Timer.AMD))
        self.outcome.machine = True
        self._mark("amd_machine")
        self._emit(Notify("machine"))
        self._set_disposition("machine")
        self._hang_up_customer()

    def _on_failed(self, item: ActionFailed) -> None:
        op = item.op
        self._mark(f"failed_{op}")
        if op == Op.CREATE_LEG and item.role == "customer":
            if self.state is S.DIALING and not self.customer_leg:
                self.outcome.failure = item.message or f"create leg failed ({item.status})"
                self._set_disposition("failed")
                self.outcome.ended_in = "dialing"
                self._end()
            else:
                self._ignore()
        elif op == Op.CREATE_LEG:
            if self.state is S.AGENT_RINGING and not self.agent_leg and (
                item.tag == self.outcome.agent_id
            ):
                self._agent_failed(item.message or "create agent leg failed")
            else:
                self._ignore()
        elif op == Op.START_STREAM:
            if self.state is S.CONNECTING:
                self._stream_failed("start_stream_error")
            else:
                self._ignore()
        elif op == Op.CREATE_BRIDGE:
            if self.state is S.BRIDGING:
                self.outcome.failure = item.message or "create bridge failed"
                self._goodbye("failed")
            else:
                self._ignore()
        elif op in (Op.START_SAY, Op.START_PLAY) and self._customer_audio is not None and (
            item.tag == self._customer_audio.tag if item.tag
            else op == f"start_{self._customer_audio.kind}"
        ):
            audio = self._customer_audio
            effects = self._audio_ended()
            if AudioEffect.HOLD_ENDED in effects:
                self._hold_ended(audio, failed=True)
            elif AudioEffect.MESSAGE_ENDED in effects:
                self._after_message(audio.purpose)
        else:
            self._ignore()  # stop_*/hang-up/recording errors change nothing

    def _on_timer(self, name: str) -> None:
        if name not in self._timers:
            self._ignore()  # cancelled, or not ours
            return
        self._timers.discard(name)
        if name == Timer.STREAM and self.state is S.CONNECTING:
            self._stream_failed("stream_timeout")
        elif name == Timer.AGENT_RING and self.state is S.AGENT_RINGING:
            self._agent_failed("ring_timeout")
        elif name == Timer.ABANDON and self.state in (S.HOLD, S.AGENT_RINGING):
            if self._amd_pending:
                self._amd.fire(AmdInput.ABANDON_LIMIT)  # a machine is no abandonment: wait
                self._mark("abandon_limit_passed")
            else:
                self._abandon()
        elif name == Timer.AMD and self._amd_pending:
            self._on_live("amd_timeout")
        elif name == Timer.MESSAGE and self.state is S.GOODBYE:
            self._hang_up_customer()
        elif name == Timer.MESSAGE and self._bot.state is BotState.RETURNING:
            self._restart_bot()  # the fallback message overran: the bot now
        elif name == Timer.QUEUE and self.state in (S.HOLD, S.AGENT_RINGING):
            self._on_queue_timeout()
        elif name == Timer.ENDING and self.state is S.ENDING:
            self._finish_or_wait()
        elif name == Timer.RECORDING and self.state is S.FINALIZING:
            self._end()
        else:
            self._ignore()

