"""DTMF tones in the caller's audio, so that a key press is not taken for speech.

On a phone line the tone of a pressed key is in the caller's audio as well as in Exotel's
``dtmf`` event, and a voice detector hears it as voice: the bot would be barged in on (its
answer to that very key cut off) and told the caller spoke. A DTMF tone is one frequency of
each group (697-941 Hz, 1209-1633 Hz) holding nearly all of the frame's energy; speech spreads
its energy (its share at any two DTMF frequencies stays under 0.45 in every fixture, against
0.98-1.02 for the key tones). :class:`ToneDetector` measures that share for one frame with a
projection on the eight frequencies (a Goertzel filter bank in two matrix products); the voice
detector asks it only about frames it found voiced (10-15 us per voiced 30 ms frame;
``bench/dtmf_tones.py`` prints the figures).
"""

from __future__ import annotations

import numpy as np

LOW_GROUP = (697.0, 770.0, 852.0, 941.0)
HIGH_GROUP = (1209.0, 1336.0, 1477.0, 1633.0)
MIN_SHARE = 0.5
"""The share of a frame's energy at one low and one high DTMF frequency that makes it a tone.
A frame half filled with a tone (the other half silence) has a share of 0.5."""
MAX_TWIST = 10.0
"""The strongest of the two tones may be at most this many times the other (10 dB; the ITU
allows 8 dB between the groups)."""
_QUIET = 1e4  # frames with less energy (an amplitude of a few units) are never tones


class ToneDetector:
    """Whether one frame of PCM16 at ``sample_rate`` (``samples`` long) is a DTMF tone."""

    __slots__ = ("_cos", "_half", "_sin")

    def __init__(self, sample_rate: int, samples: int) -> None:
        t = np.arange(samples, dtype=np.float64) / sample_rate
        freqs = np.array(LOW_GROUP + HIGH_GROUP, dtype=np.float64)[:, None]
        self._cos = np.cos(2 * np.pi * freqs * t)
        self._sin = np.sin(2 * np.pi * freqs * t)
        self._half = samples / 2

    def is_tone(self, frame: bytes | memoryview) -> bool:
        x = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        energy = float(x @ x)
        if energy < _QUIET:
            return False
        power = (self._cos @ x) ** 2 + (self._sin @ x) ** 2
        low = float(power[:4].max())
        high = float(power[4:].max())
        if (low + high) < MIN_SHARE * energy * self._half:
            return False
        return max(low, high) <= MAX_TWIST * min(low, high)
