"""Keypad tones (ITU-T Q.23 pairs) as PCM16, so the bot needs no audio files."""

from __future__ import annotations

import math
import struct

_LOW = {"1": 697, "2": 697, "3": 697, "4": 770, "5": 770, "6": 770,
        "7": 852, "8": 852, "9": 852, "*": 941, "0": 941, "#": 941}  # fmt: skip
_HIGH = {"1": 1209, "2": 1336, "3": 1477, "4": 1209, "5": 1336, "6": 1477,
         "7": 1209, "8": 1336, "9": 1477, "*": 1209, "0": 1336, "#": 1477}  # fmt: skip


def tone(freqs: tuple[float, ...], ms: int, rate: int, level: float = 0.25) -> bytes:
    """Sum of sines, ``ms`` long, PCM16 mono at ``rate``."""
    n = rate * ms // 1000
    amp = 32767 * level / len(freqs)
    samples = (
        int(amp * sum(math.sin(2 * math.pi * f * i / rate) for f in freqs)) for i in range(n)
    )
    return struct.pack(f"<{n}h", *samples)


def key_tone(digit: str, rate: int, ms: int = 120) -> bytes:
    """The tone of one key followed by as much silence."""
    return tone((_LOW[digit], _HIGH[digit]), ms, rate) + b"\x00\x00" * (rate * ms // 1000)


def beep(rate: int, ms: int = 300) -> bytes:
    """A plain 440 Hz prompt beep."""
    return tone((440.0,), ms, rate)
