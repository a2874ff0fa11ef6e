"""KeypadBot: beeps, collects digits, reads them back as tones, then hangs up.

* the caller types digits and ends with ``#`` (or reaches ``max_digits``);
* the bot plays the digits back and, once the caller has heard them, hangs up with reason
  ``entered:<digits>``;
* ``*`` asks for a human (transfer with the configured ``skills``);
* speaking over the readback (barge-in) restarts the entry.

Options (strings, from the gateway's ``adapter_options["keypad"]``): ``max_digits`` (default
8), ``skills`` (comma-separated, default ``support``).
"""

from __future__ import annotations

from collections.abc import Mapping

from bot_adapters.contract import BotAdapter, CallControl, PlayedPosition
from keypad_bot.tones import beep, key_tone


class KeypadBot(BotAdapter):
    sample_rate = 8000

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        options = options or {}
        self.max_digits = int(options.get("max_digits", "8"))
        if not 1 <= self.max_digits <= 32:
            raise ValueError("max_digits must be from 1 to 32")
        self.skills = [s for s in options.get("skills", "support").split(",") if s]
        self.digits = ""
        self.call: CallControl | None = None
        self.reading_back = False

    async def on_start(self, call: CallControl) -> None:
        self.call = call
        call.play(beep(self.sample_rate), "prompt")

    async def on_dtmf(self, digit: str) -> None:
        assert self.call is not None
        if self.reading_back:
            return
        if digit == "*":
            self.call.clear()
            await self.call.transfer("caller_pressed_star", self.skills)
            return
        if digit != "#":
            self.digits += digit
        if digit == "#" or len(self.digits) >= self.max_digits:
            self._read_back()

    def _read_back(self) -> None:
        assert self.call is not None
        self.reading_back = True
        self.call.clear()
        audio = b"".join(key_tone(d, self.sample_rate) for d in self.digits)
        self.call.play(audio, "readback")

    async def on_barge_in(self, heard: PlayedPosition) -> None:
        if self.reading_back and self.call is not None:
            self.reading_back = False
            self.digits = ""
            self.call.play(beep(self.sample_rate), "prompt")

    async def on_playback_finished(self, label: str) -> None:
        if label == "readback" and self.reading_back and self.call is not None:
            await self.call.hangup(f"entered:{self.digits}")
