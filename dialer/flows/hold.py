"""What the customer hears from us: the greeting, the hold (looping, restarted while the
customer waits), the fallback and goodbye messages; one voice at a time."""

from __future__ import annotations

from dialer.events import LegAction
from dialer.flows.bot import BotState
from dialer.flows.core import FlowCore
from dialer.flows.messages import CancelTimer, StartPlay, StartSay, StopPlay, StopSay, Timer
from dialer.flows.outcome import MIN_HOLD_RUN, TAG_PREFIX, Audio
from dialer.flows.states import CallState
from dialer.flows.voice import AudioEffect, AudioInput

S = CallState


class CustomerAudio(FlowCore):
    """The call flow's hold part (a mixin of :class:`~dialer.flows.call.CallFlow`)."""

    def _start_audio(self, purpose: str, text: str, url: str) -> bool:
        """Play ``url`` (preferred) or say ``text`` to the customer; False when neither set.
        The hold repeats ``hold_loops`` times."""
        loop = self.settings.hold_loops if purpose == "hold" else 0
        tag = self._tag(purpose)
        if url:
            self._voice.fire(AudioInput(purpose))
            self._emit(StartPlay(self.customer_leg, url, purpose, loop=loop, tag=tag))
            self._customer_audio = Audio("play", purpose, tag, self._now)
            return True
        if text:
            self._voice.fire(AudioInput(purpose))
            self._emit(StartSay(self.customer_leg, text, purpose, loop=loop, tag=tag))
            self._customer_audio = Audio("say", purpose, tag, self._now)
            return True
        return False

    def _stop_customer_audio(self) -> str:
        """Stop whatever we play/say to the customer; returns its purpose (or "")."""
        audio = self._customer_audio
        if AudioEffect.SEND_STOP not in self._voice.fire(AudioInput.STOP) or audio is None:
            return ""
        self._customer_audio = None
        self._emit(
            StopPlay(self.customer_leg, audio.purpose) if audio.kind == "play"
            else StopSay(self.customer_leg, audio.purpose)
        )
        return audio.purpose

    def _playing(self, purpose: str) -> bool:
        return self._voice.state.value == purpose

    def _start_hold(self) -> None:
        """The hold audio, with the bot stopped first: one voice at a time."""
        if self._playing("hold"):
            return
        if self._stop_customer_audio() == "greeting":
            self._mark("greeting_stopped")
        self._stop_bot()
        if self._start_audio("hold", self.settings.hold_text, self.settings.hold_url):
            self._mark("hold_started")

    @staticmethod
    def _is_audio(audio: Audio, ev: LegAction) -> bool:
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
        effects = self._audio_ended()
        if AudioEffect.HOLD_ENDED in effects:
            self._hold_ended(audio, ev.name == "play_failed_to_start")
            return
        self._mark(f"{audio.purpose}_completed")
        if AudioEffect.MESSAGE_ENDED in effects:
            self._after_message(audio.purpose)

    def _audio_ended(self) -> tuple[AudioEffect, ...]:
        """The current audio ended by itself (done, or its start failed): what follows."""
        self._customer_audio = None
        return self._voice.fire(AudioInput.END)

    def _after_message(self, purpose: str) -> None:
        """A message ended (or could not be said): what comes next."""
        if self.state is S.GOODBYE and purpose == "goodbye":
            self._emit(CancelTimer(Timer.MESSAGE))
            self._hang_up_customer()
        elif self._bot.state is BotState.RETURNING and purpose == "fallback":
            self._restart_bot()

    def _hold_ended(self, audio: Audio, failed: bool) -> None:
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

