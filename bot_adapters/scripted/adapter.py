"""The ``scripted`` bot adapter: runs a TOML conversation script (see ``script.py``) on a call.

Registered as entry point ``scripted``. Options (all strings, from configuration):

* ``script``: a path to a script file, or the name of a bundled script (``sales``, default);
* ``end_silence_ms``: overrides the script's silence after end-of-speech.

Time is the call's audio time: the adapter counts the customer audio it receives (the gateway
delivers it continuously, silence included, as Exotel streams do), so deadlines need no timers
or tasks of their own and tests are deterministic.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping
from pathlib import Path

from bot_adapters.contract import BotAdapter, CallControl, PlayedPosition, forecast_transfer
from bot_adapters.scripted.engine import (
    ClearPlayout,
    Command,
    ForecastTransfer,
    HangupCall,
    PlayPrompt,
    ScriptEngine,
    TransferCall,
)
from bot_adapters.scripted.prompts import load_prompts
from bot_adapters.scripted.script import Script, ScriptError, load_script

log = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent
_scripts: dict[str, Script] = {}
_scripts_lock = threading.Lock()


def resolve_script_path(name_or_path: str) -> Path:
    """A bundled script name (``sales``) or a file path, as a path."""
    bundled = BUNDLED_DIR / f"{name_or_path}.toml"
    if "/" not in name_or_path and not name_or_path.endswith(".toml") and bundled.is_file():
        return bundled
    return Path(name_or_path).expanduser().resolve()


def script_for(name_or_path: str) -> Script:
    """Load (once per process) and validate a script; raises :class:`ScriptError`."""
    path = resolve_script_path(name_or_path)
    key = str(path)
    with _scripts_lock:
        cached = _scripts.get(key)
    if cached is None:
        cached = load_script(path)
        with _scripts_lock:
            _scripts[key] = cached
    return cached


class ScriptedBot(BotAdapter):
    """A bot that follows a conversation script. One instance per call."""

    sample_rate = 8000

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        options = options or {}
        script = script_for(options.get("script", "sales"))
        if "end_silence_ms" in options:
            try:
                silence = int(options["end_silence_ms"])
            except ValueError:
                raise ScriptError("option end_silence_ms must be an integer") from None
            if not 0 <= silence <= 600_000:
                raise ScriptError("option end_silence_ms must be from 0 to 600000")
            script = dataclasses.replace(script, end_silence_ms=silence)
        self.script = script
        self.prompts = load_prompts(script, self.sample_rate)
        self.engine = ScriptEngine(script)
        self.now_ms = 0.0
        self.played: list[str] = []
        """Labels of the prompts played, in order (for tests and call records)."""
        self._call: CallControl | None = None

    @property
    def _now(self) -> int:
        return int(self.now_ms)

    async def on_start(self, call: CallControl) -> None:
        self._call = call
        log.info("scripted bot %r starts on stream %s", self.script.name, call.info.stream_sid)
        await self._apply(self.engine.start(self._now))

    async def on_audio(self, pcm: bytes) -> None:
        self.now_ms += len(pcm) * 1000 / (2 * self.sample_rate)
        await self._apply(self.engine.tick(self._now))

    async def on_dtmf(self, digit: str) -> None:
        await self._apply(self.engine.digit(digit, self._now))

    async def on_speech_start(self) -> None:
        await self._apply(self.engine.speech_started(self._now))

    async def on_speech_end(self) -> None:
        await self._apply(self.engine.speech_ended(self._now))

    async def on_barge_in(self, heard: PlayedPosition) -> None:
        await self._apply(self.engine.barged_in(self._now))

    async def on_playback_finished(self, label: str) -> None:
        await self._apply(self.engine.heard(label, self._now))

    async def on_stop(self, reason: str) -> None:
        self.engine.stop()
        log.info(
            "scripted bot %r stopped (%s) after states %s",
            self.script.name,
            reason,
            " > ".join(self.engine.trace),
        )

    async def _apply(self, commands: list[Command]) -> None:
        call = self._call
        if call is None:
            return
        for command in commands:
            if isinstance(command, PlayPrompt):
                call.play(self.prompts[command.prompt], command.label)
                self.played.append(command.label)
            elif isinstance(command, ClearPlayout):
                call.clear()
            elif isinstance(command, HangupCall):
                await call.hangup(command.reason)
            elif isinstance(command, TransferCall):
                await call.transfer(command.reason, command.skills)
            elif isinstance(command, ForecastTransfer):
                await self._forecast(call, command)

    async def _forecast(self, call: CallControl, command: ForecastTransfer) -> None:
        """Pass a transfer forecast on; a call control that takes none skips it (forecasts only
        help pacing)."""
        if not await forecast_transfer(call, command.within_s, command.likelihood):
            log.debug("call control %s takes no transfer forecasts", type(call).__name__)
