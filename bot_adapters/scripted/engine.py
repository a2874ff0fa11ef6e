"""The scripted bot's conversation engine: a sans-I/O state machine over a :class:`Script`.

The adapter (``bot_adapters.scripted.adapter``) calls one method per thing that happened on the
call, passing the call's *audio time* in ms, and carries out the commands returned, in order.
No asyncio, no audio, no clock of its own: tests drive it with plain values.

Phases of a turn:

* ``PLAYING``: the state's prompts (or a reprompt) are queued; the turn passes on when the last
  one is heard (``heard(label)``). The gateway's barge-in (or, with ``interrupt_on =
  "speech_start"``, any VAD speech start) interrupts: the prompt is cleared and the caller has
  the turn (a state with an action runs it at once instead).
* ``LISTENING``: waiting for an answer until the no-input deadline.
* ``SPEAKING``: the caller is talking (VAD speech start, or a barge-in).
* ``END_SILENCE``: VAD said speech ended; once ``end_silence_ms`` more pass without new
  speech, the caller's turn is over and ``on_speech`` (or ``next``) is taken.
* ``DONE``: an action ran (hang-up, transfer) or the call stopped; every input is ignored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot_adapters.scripted.script import Action, Script, State

MAX_STATE_ENTRIES = 200
"""Bound on state entries per call: a script that loops forever hangs up instead."""


class Phase(enum.Enum):
    IDLE = "idle"
    PLAYING = "playing"
    LISTENING = "listening"
    SPEAKING = "speaking"
    END_SILENCE = "end_silence"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class PlayPrompt:
    """Queue prompt ``prompt`` with mark ``label``."""

    prompt: str
    label: str


@dataclass(frozen=True, slots=True)
class ClearPlayout:
    """Drop the bot audio still queued (the caller interrupted)."""


@dataclass(frozen=True, slots=True)
class HangupCall:
    reason: str


@dataclass(frozen=True, slots=True)
class TransferCall:
    reason: str
    skills: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ForecastTransfer:
    """Tell the dialer a transfer is expected within ``within_s`` (``likelihood`` 0: withdrawn)."""

    within_s: float
    likelihood: float


Command = PlayPrompt | ClearPlayout | HangupCall | TransferCall | ForecastTransfer


class ScriptEngine:
    """One call's position in a script. Create per call; call :meth:`start` first."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.state: str = script.start
        self.phase = Phase.IDLE
        self.trace: list[str] = []
        """States entered, in order (for tests, logs and call records)."""
        self.reprompts = 0
        self.deadline_ms: int | None = None
        self._awaiting: str | None = None
        self._seq = 0
        self._caller_talking = False

    @property
    def current(self) -> State:
        return self.script.states[self.state]

    # -- inputs ----------------------------------------------------------------------------

    def start(self, now_ms: int) -> list[Command]:
        """The call started: enter the start state."""
        if self.phase is not Phase.IDLE:
            raise RuntimeError("ScriptEngine.start called twice")
        out: list[Command] = []
        self._enter(self.script.start, now_ms, out)
        return out

    def heard(self, label: str, now_ms: int) -> list[Command]:
        """The caller has heard everything up to mark ``label``."""
        out: list[Command] = []
        if self.phase is Phase.PLAYING and label == self._awaiting:
            self._awaiting = None
            self._prompts_done(now_ms, out)
        return out

    def speech_started(self, now_ms: int) -> list[Command]:
        """VAD: the caller started speaking. Interrupts a playing prompt only with
        ``interrupt_on = "speech_start"``; otherwise the gateway's barge-in decides."""
        out: list[Command] = []
        self._caller_talking = True
        if self.phase is Phase.PLAYING and self.script.interrupt_on != "speech_start":
            return out
        self._caller_speaks(now_ms, out, already_cleared=False)
        return out

    def barged_in(self, now_ms: int) -> list[Command]:
        """The gateway already cleared the bot's audio because the caller spoke over it."""
        out: list[Command] = []
        self._caller_speaks(now_ms, out, already_cleared=True)
        return out

    def speech_ended(self, now_ms: int) -> list[Command]:
        """VAD: the caller stopped speaking. The turn passes after ``end_silence_ms``."""
        out: list[Command] = []
        self._caller_talking = False
        if self.phase is Phase.SPEAKING:
            self.phase = Phase.END_SILENCE
            self.deadline_ms = now_ms + self.script.end_silence_ms
            self.tick_into(now_ms, out)
        return out

    def digit(self, digit: str, now_ms: int) -> list[Command]:
        """The caller pressed a key: the state's menu, then the script's global keys."""
        out: list[Command] = []
        if self.phase in (Phase.IDLE, Phase.DONE):
            return out
        state = self.current
        target = state.dtmf.get(digit) or self.script.global_dtmf.get(digit)
        if target is None and not state.dtmf:
            return out  # no menu here: the key means nothing
        self._stop_prompt(out)
        if target is not None:
            self._enter(target, now_ms, out)
        elif state.on_invalid_dtmf is not None:
            self._enter(state.on_invalid_dtmf, now_ms, out)
        else:
            self._no_input(now_ms, out)
        return out

    def tick(self, now_ms: int) -> list[Command]:
        """Time passed (customer audio arrived): fire a due deadline."""
        out: list[Command] = []
        self.tick_into(now_ms, out)
        return out

    def stop(self) -> None:
        """The call ended; nothing more will happen."""
        self.phase = Phase.DONE
        self.deadline_ms = None

    # -- transitions -----------------------------------------------------------------------

    def tick_into(self, now_ms: int, out: list[Command]) -> None:
        if self.deadline_ms is None or now_ms < self.deadline_ms:
            return
        self.deadline_ms = None
        if self.phase is Phase.END_SILENCE:
            self._turn_over(now_ms, out)
        else:  # deadlines exist only while LISTENING or in END_SILENCE
            self._no_input(now_ms, out)

    def _enter(self, name: str, now_ms: int, out: list[Command]) -> None:
        if len(self.trace) >= MAX_STATE_ENTRIES:
            self._act(Action("hangup", "script_loop"), out)
            return
        self.state = name
        self.reprompts = 0
        self.trace.append(name)
        forecast = self.current.forecast
        if forecast is not None:
            out.append(ForecastTransfer(forecast.within_s, forecast.likelihood))
        self._play(self.current.say, now_ms, out)

    def _play(self, prompts: tuple[str, ...], now_ms: int, out: list[Command]) -> None:
        self.deadline_ms = None
        if not prompts:
            self._prompts_done(now_ms, out)
            return
        self.phase = Phase.PLAYING
        for prompt in prompts:
            self._seq += 1
            label = f"{self.state}.{prompt}.{self._seq}"
            out.append(PlayPrompt(prompt, label))
        self._awaiting = label

    def _prompts_done(self, now_ms: int, out: list[Command]) -> None:
        state = self.current
        if state.action is not None:
            self._act(state.action, out)
        elif state.next is not None:
            self._enter(state.next, now_ms, out)
        elif self._caller_talking:
            self.phase = Phase.SPEAKING  # they talked over the end of the prompt
            self.deadline_ms = None
        else:
            self.phase = Phase.LISTENING
            has_timeout = state.on_no_input is not None or state.max_reprompts > 0
            self.deadline_ms = now_ms + state.no_input_ms if has_timeout else None

    def _no_input(self, now_ms: int, out: list[Command]) -> None:
        """No answer in time, or an answer the state has no branch for."""
        state = self.current
        if self.reprompts < state.max_reprompts:
            self.reprompts += 1
            self._play(state.reprompt, now_ms, out)
        elif state.on_no_input is not None:
            self._enter(state.on_no_input, now_ms, out)
        else:
            self._prompts_done(now_ms, out)

    def _caller_speaks(self, now_ms: int, out: list[Command], *, already_cleared: bool) -> None:
        if self.phase in (Phase.IDLE, Phase.DONE):
            return
        if self.phase is Phase.PLAYING:
            if not already_cleared:
                out.append(ClearPlayout())
            self._awaiting = None
            action = self.current.action
            if action is not None:
                self._act(action, out)  # "goodbye" cut short still hangs up
                return
        self.phase = Phase.SPEAKING
        self.deadline_ms = None

    def _turn_over(self, now_ms: int, out: list[Command]) -> None:
        state = self.current
        if state.on_speech is not None:
            self._enter(state.on_speech, now_ms, out)
        elif state.next is not None:
            self._enter(state.next, now_ms, out)
        else:
            self._no_input(now_ms, out)

    def _stop_prompt(self, out: list[Command]) -> None:
        if self.phase is Phase.PLAYING:
            out.append(ClearPlayout())
            self._awaiting = None

    def _act(self, action: Action, out: list[Command]) -> None:
        self.phase = Phase.DONE
        self.deadline_ms = None
        if action.kind == "hangup":
            out.append(HangupCall(action.reason))
        else:
            out.append(TransferCall(action.reason, action.skills))
