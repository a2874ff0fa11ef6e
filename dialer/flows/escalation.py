"""The escalation and agent hunt: picking agents, ringing them, the queue (the machine of
:mod:`dialer.flows.queue`), the bridge request, and the fallback when no agent comes."""

from __future__ import annotations

from dialer.events import LegLifecycle
from dialer.flows.amd import AmdInput
from dialer.flows.bot import BotInput, BotState, StreamInput
from dialer.flows.core import FlowCore
from dialer.flows.liveness import LivenessEffect, LivenessInput
from dialer.flows.messages import (
    AgentOffered,
    AgentOnCall,
    CancelTimer,
    CreateBridge,
    CreateLeg,
    Hangup,
    NoAgentFree,
    Notify,
    PickAgent,
    ReleaseAgent,
    SetTimer,
    StopPlay,
    Timer,
    Transfer,
)
from dialer.flows.outcome import REENTRIES_EXHAUSTED
from dialer.flows.queue import QueueEffect, QueueInput, QueueState
from dialer.flows.states import CallState

S = CallState


class Escalation(FlowCore):
    """The call flow's escalation part (a mixin of :class:`~dialer.flows.call.CallFlow`)."""

    def _on_transfer(self, item: Transfer) -> None:
        if self.state not in (S.CONNECTING, S.BOT):
            self._ignore()
            return
        if self.state is S.CONNECTING and self._bot.state is not BotState.RETURNING:
            self._emit(CancelTimer(Timer.STREAM))
            self._stream.fire(StreamInput.UP)  # the bot is talking, so the stream is up
            self._bot.fire(BotInput.CONNECTED)
        self._escalate(item.reason, item.skills or self.skills)

    def _escalate(self, reason: str, skills: tuple[str, ...]) -> None:
        self.outcome.escalated = True
        self.outcome.escalation_reason = reason
        self.skills = tuple(skills)
        self._tried = []
        self._attempts = 0
        self._queue.fire(QueueInput.RESET)
        self._bot.fire(BotInput.CANCEL_RETURN)
        self._emit(CancelTimer(Timer.MESSAGE))  # (a fallback message before a new stream)
        self._mark("escalation_requested")
        self._emit(Notify("escalated", reason), SetTimer(Timer.QUEUE,
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
        self._queue.fire(QueueInput.OFFERED)
        self.outcome.agent_id = item.agent_id
        self.outcome.agent_attempts += 1
        self._attempts += 1
        self._tried.append(item.agent_id)
        if item.nailed_leg_sid:
            self.outcome.agent_leg_sid = item.nailed_leg_sid
            self.outcome.agent_nailed = True
            self._agent.fire(LivenessInput.UP)
            self._mark("agent_nailed")
            if self._amd_pending:
                self._amd.fire(AmdInput.AGENT_READY)  # bridged once AMD says human
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
            SetTimer(Timer.AGENT_RING, self.settings.agent_ring_timeout),
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
            self._queue.fire(QueueInput.WAIT)  # the abandon timer decides
            return
        if item.reason == "skill":
            self._fallback("no_agent:skill")
        elif item.reason == "tried" and self._tried and (
            self._attempts < self.settings.max_agent_attempts
        ):
            self._tried = []  # everyone free was tried: ring them again
            self._pick_agent()
        elif self._queue.state is QueueState.OVER:
            self._fallback("no_agent:queue_timeout")
        elif QueueEffect.NOTIFY_QUEUED in self._queue.fire(QueueInput.QUEUE):
            self._mark("queued")
            self._emit(Notify("queued", ",".join(self.skills)))
            self._start_hold()
        else:
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
                    CancelTimer(Timer.AGENT_RING), Notify("agent_answered", self.outcome.agent_id),
                    AgentOnCall(self.outcome.agent_id),
                )
                if self._amd_pending:
                    self._amd.fire(AmdInput.AGENT_READY)  # bridged once AMD says human
                    return
                self._connect_agent()
            else:
                self._ignore()
        elif ev.terminal:
            self._agent.fire(LivenessInput.DOWN)
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
        self._queue.fire(QueueInput.RESET)
        self._emit(CancelTimer(Timer.ABANDON), CancelTimer(Timer.AGENT_RING),
                   CancelTimer(Timer.QUEUE))
        self._stop_bot()
        self._stop_customer_audio()
        if self.outcome.agent_nailed:
            self._emit(StopPlay(self.agent_leg))
        self._goto(S.BRIDGING)
        self._mark("bridge_requested")
        self._emit(CreateBridge(self.customer_leg, self.agent_leg))

    def _agent_failed(self, why: str) -> None:
        self._mark("agent_failed")
        self._emit(CancelTimer(Timer.AGENT_RING))
        self._cancel_agent(wrap_up=False)
        if self.outcome.mode == "agent_first":
            self._goto(S.HOLD)
            self._pick_agent()
            return
        if self._queue.state is QueueState.OVER:
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
            self._queue.fire(QueueInput.LIMIT)
            self._mark("queue_limit_passed")
            return
        self._fallback("no_agent:queue_timeout")

    def _fallback(self, why: str) -> None:
        """No agent (``why`` goes to ``failure`` unless a failure is on record already): back
        to the bot (the fallback message, then a new stream: the escalation stopped the old
        one), or a callback and a goodbye."""
        self._queue.fire(QueueInput.RESET)
        if not self.outcome.failure:
            self.outcome.failure = why
        self._mark("escalation_failed")
        self._emit(CancelTimer(Timer.AGENT_RING), CancelTimer(Timer.QUEUE),
                   Notify("escalation_failed", why))
        self._cancel_agent(wrap_up=False)
        to_bot = self.settings.escalation_fallback == "bot" and self._bot.state is BotState.UP
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
            self._bot.fire(BotInput.RETURN)
            if self._start_audio("fallback", self.settings.fallback_text, ""):
                self._emit(SetTimer(Timer.MESSAGE, self.settings.message_timeout))
            else:
                self._restart_bot()
            return
        self._goodbye("callback_scheduled" if self.settings.escalation_fallback == "callback"
                      else "no_agent")

    def _restart_bot(self) -> None:
        """Back to the bot after a failed escalation: a new stream (a new bot session)."""
        self._bot.fire(BotInput.RESTART)
        self._emit(CancelTimer(Timer.MESSAGE))
        self._stop_customer_audio()
        self._connect_tries = 0
        self._mark("bot_restarted")
        self._start_stream()

    def _cancel_agent(self, wrap_up: bool) -> None:
        """Hang up a ringing/joined on-demand agent leg and give the agent back."""
        if self.agent_leg and not self.outcome.agent_nailed and (
            LivenessEffect.SEND_STOP in self._agent.fire(LivenessInput.STOP)
        ):
            self._emit(Hangup(self.agent_leg, "agent"))
        self._amd.fire(AmdInput.AGENT_GONE)
        if self.outcome.agent_id and not (wrap_up and self._agent_released):
            self._emit(ReleaseAgent(self.outcome.agent_id, wrap_up))
            self._agent_released = True
            if not wrap_up:
                self.outcome.agent_id = ""
                self.outcome.agent_leg_sid = ""
                self.outcome.agent_nailed = False
                self._agent_released = False

