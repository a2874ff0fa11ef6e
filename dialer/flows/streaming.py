"""The bot's stream: start (one retry while connecting), stop (tagged, so its
``stream_stopped`` is known ours), loss, and a failed bot (the stream fallback). The session
and stream states are the machines of :mod:`dialer.flows.bot`."""

from __future__ import annotations

from dialer.events import LegAction
from dialer.flows.bot import BotInput, BotState, StreamInput, StreamState
from dialer.flows.core import FlowCore
from dialer.flows.messages import BotFailed, CancelTimer, Notify, SetTimer, StartStream, Timer
from dialer.flows.outcome import (
    AUDIO_DONE_EVENTS,
    CALL_ENDED_REASONS,
    RECORDING_EVENT,
    STREAM_FAILURE_EVENTS,
    STREAM_STOP_TAG,
)
from dialer.flows.states import CallState

S = CallState


class BotStream(FlowCore):
    """The call flow's streaming part (a mixin of :class:`~dialer.flows.call.CallFlow`)."""

    def _start_stream(self) -> None:
        self.outcome.stream_attempts += 1
        self._connect_tries += 1
        self._mark(f"stream_requested_{self.outcome.stream_attempts}")
        self._emit(
            StartStream(self.customer_leg, self.outcome.stream_attempts),
            SetTimer(Timer.STREAM, self.settings.stream_start_timeout),
        )

    def _stop_bot(self) -> None:
        """Stop the stream (the bot's voice), tagged so its ``stream_stopped`` is known ours."""
        if self._stop_stream_if_live():
            self._mark("stream_stopped")

    def _on_action(self, ev: LegAction) -> None:
        if ev.name == RECORDING_EVENT:
            self._on_recording(ev.url)
            return
        if ev.leg_sid != self.customer_leg:
            self._ignore()  # agent-leg actions (nailed hold music ...) are not ours
            return
        if ev.name == "stream_started":
            if self.state is S.CONNECTING and self._bot.state is not BotState.RETURNING:
                self._stream_up()
            else:
                # (a failed bot's stream may still report its start: it is closing)
                live = self._bot.state is not BotState.FAILED and self.state in (
                    S.BOT, S.HOLD, S.AGENT_RINGING
                )
                self._stream.fire(StreamInput.UP if live else StreamInput.DOWN)
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
            self._bot.state is BotState.RETURNING
        ):
            self._ignore()  # our own stop (the hold began), or an old stream's late news
        elif self.state is S.CONNECTING and (failed or not call_ended):
            self._stream_failed(ev.name if failed else "stream_stopped_before_start")
        elif self.state is S.BOT and self._stream.state is StreamState.LIVE and not call_ended:
            self._stream.fire(StreamInput.DOWN)
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
                self._stream.fire(StreamInput.DOWN)
            self._ignore()

    def _stream_up(self) -> None:
        self._emit(CancelTimer(Timer.STREAM))
        self._stream.fire(StreamInput.UP)
        self._bot.fire(BotInput.CONNECTED)
        self._mark("stream_started")
        stopping = self._playing("greeting")
        if stopping:
            self._stop_customer_audio()
            self._mark("greeting_stopped")
        self._goto(S.BOT)
        # "greeting": the bot's audio should wait for the greeting's stop to be confirmed.
        self._emit(Notify("bot_connected", "greeting" if stopping else ""))

    def _stream_failed(self, why: str) -> None:
        self._emit(CancelTimer(Timer.STREAM))
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
        self._bot.fire(BotInput.LOSE)
        # (the bot reached again after a failed escalation: that escalation found no agent)
        if self.settings.stream_fallback == "agent" and not self._bot_reentries:
            self._escalate(cause, self.skills)
        else:
            self._goodbye(cause)

    def _on_bot_failed(self, item: BotFailed) -> None:
        """The gateway is closing the stream because the bot failed (see the module
        docstring). On hold already (the bot had asked for an agent), the escalation goes on,
        but a failed escalation can no longer go back to the bot."""
        if self._bot.state in (BotState.FAILED, BotState.RETURNING) or self.state not in (
            S.CONNECTING, S.BOT, S.HOLD, S.AGENT_RINGING
        ):
            self._ignore()  # (while restarting the bot: the old, stopped session's news)
            return
        self._bot.fire(BotInput.FAIL)
        self._stream.fire(StreamInput.DOWN)
        self._mark("bot_failed")
        self._emit(Notify("bot_failed", item.reason))
        if self.state in (S.HOLD, S.AGENT_RINGING):
            if not self.outcome.failure:
                self.outcome.failure = item.reason
            return
        if self.state is S.CONNECTING:
            self._emit(CancelTimer(Timer.STREAM))
        self._after_stream_failure(item.reason, "bot_failed")

