"""How a call ends: abandonment, a requested hang-up, the goodbye message, the customer
leaving, the bridge and its recording, then ``Finish``."""

from __future__ import annotations

from dialer.events import BridgeLifecycle, LegLifecycle
from dialer.flows.bot import BotInput, StreamInput
from dialer.flows.core import FlowCore
from dialer.flows.liveness import Liveness, LivenessInput
from dialer.flows.messages import (
    CancelTimer,
    Finish,
    Hangup,
    HangupRequest,
    Notify,
    SetTimer,
    StartRecording,
    Timer,
)
from dialer.flows.outcome import RECORDING_EVENT, SHUTDOWN
from dialer.flows.queue import QueueInput
from dialer.flows.recording import RecordingEffect, RecordingInput, RecordingState
from dialer.flows.states import CallState
from dialer.flows.voice import AudioInput

S = CallState


class Ending(FlowCore):
    """The call flow's ending part (a mixin of :class:`~dialer.flows.call.CallFlow`)."""

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

    def _on_customer_gone(self, ev: LegLifecycle) -> None:
        self._customer.fire(LivenessInput.DOWN)
        self._stream.fire(StreamInput.DOWN)
        self._voice.fire(AudioInput.GONE)
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
        if self._recording.state is RecordingState.STARTED:
            self._goto(S.FINALIZING)
            self._emit(SetTimer(Timer.RECORDING, self.settings.recording_wait))
            return
        self._end()

    def _end(self) -> None:
        for name in sorted(self._timers):
            self._emit(CancelTimer(name))
        self._goto(S.ENDED)
        self._mark("ended")
        self._queue.fire(QueueInput.RESET)
        self._emit(Notify("ended", self.outcome.disposition), Finish())

    def _hang_up_customer(self) -> None:
        """Cancel agent work, hang up the customer, wait for its ``leg_terminated``."""
        self._cancel_agent(wrap_up=self.outcome.bridged)
        for name in (Timer.STREAM, Timer.AGENT_RING, Timer.ABANDON, Timer.AMD, Timer.MESSAGE,
                     Timer.QUEUE):
            self._emit(CancelTimer(name))
        if self._customer.state is Liveness.LIVE and self.customer_leg:
            self._emit(Hangup(self.customer_leg, "customer"))
            self._goto(S.ENDING)
            self._emit(SetTimer(Timer.ENDING, self.settings.ending_timeout))
        else:
            self._finish_or_wait()

    def _goodbye(self, disposition: str) -> None:
        """Say the goodbye message, then hang up (on ``say_completed`` or a timeout)."""
        self._set_disposition(disposition)
        self._cancel_agent(wrap_up=False)
        self._queue.fire(QueueInput.RESET)
        self._bot.fire(BotInput.CANCEL_RETURN)
        self._emit(CancelTimer(Timer.QUEUE), CancelTimer(Timer.MESSAGE))
        self._stop_customer_audio()
        self._stop_bot()
        self._goto(S.GOODBYE)
        self._start_audio("goodbye", self.settings.goodbye_text, "")
        self._emit(SetTimer(Timer.MESSAGE, self.settings.message_timeout))

    def _on_bridge_created(self, bridge_sid: str) -> None:
        if self.state is not S.BRIDGING:
            self._ignore()
            return
        self.outcome.bridge_sid = bridge_sid
        self.outcome.bridged = True
        self._goto(S.BRIDGED)
        self._mark("bridged")
        self._emit(Notify("bridged", self.outcome.agent_id))
        if self.settings.record_bridges and (
            RecordingEffect.SEND_START in self._recording.fire(RecordingInput.START)
        ):
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
        self._recording.fire(RecordingInput.URL)
        self._mark("recording_available")
        if self.state is S.FINALIZING:
            self._end()

