"""Voice activity: webrtcvad over 20 ms frames, with speech start/end and a hangover.

Sans-I/O. Frames are 30 ms (webrtcvad's cheapest per second of audio; the hot path calls
its C core directly). Feed each inbound chunk of PCM16 at the call's rate to
:meth:`SpeechDetector.feed`; it returns the transitions it saw in that chunk
(:data:`SPEECH_START`, :data:`SPEECH_END`). ``voiced_ms`` says how much voiced audio the
current speech segment holds, which the session compares with the barge-in threshold.

A voiced frame that is a DTMF tone (:mod:`gateway.tones`: the caller pressed a key, and its
tone is in the audio) counts as unvoiced, and so do the few voiced frames right after one
(:data:`TONE_TAIL_FRAMES`), so a key press never starts speech or barges in; speech that
follows a key at once starts at most 120 ms late. ``tone_frames`` counts the tone frames.
"""

from __future__ import annotations

import _webrtcvad  # the C core of webrtcvad; its Python wrapper only adds per-call checks
import webrtcvad

from gateway.audio import Resampler
from gateway.tones import ToneDetector

SPEECH_START = "speech_start"
SPEECH_END = "speech_end"
FRAME_MS = 30  # webrtcvad takes 10, 20 or 30 ms; 30 ms costs the least per second of audio
VAD_RATES = frozenset({8000, 16000, 32000, 48000})
_NONE: tuple[str, ...] = ()
TONE_TAIL_FRAMES = 4
"""Voiced frames this soon after a key tone are the tone's tail, not speech: its last frame,
only partly tone, and webrtcvad's own hangover (up to 3 frames of 30 ms)."""


class SpeechDetector:
    """Speech segments of one inbound stream."""

    __slots__ = (
        "_buf",
        "_frame",
        "_handle",
        "_hangover",
        "_rate",
        "_resampler",
        "_start",
        "_tone_tail",
        "_tones",
        "_unvoiced",
        "_vad",
        "_voiced_run",
        "in_speech",
        "tone_frames",
        "voiced_frames",
    )

    def __init__(
        self,
        sample_rate: int,
        aggressiveness: int = 2,
        start_ms: int = 60,
        hangover_ms: int = 300,
    ) -> None:
        """Speech starts after ``start_ms`` of consecutive voiced frames and ends after
        ``hangover_ms`` of consecutive unvoiced ones. ``aggressiveness`` is webrtcvad's 0-3."""
        if not 0 <= aggressiveness <= 3:
            raise ValueError(f"VAD aggressiveness must be 0-3, got {aggressiveness}")
        self._resampler: Resampler | None = None
        if sample_rate not in VAD_RATES:
            self._resampler = Resampler(sample_rate, 16000)
            sample_rate = 16000
        self._rate = sample_rate
        self._frame = sample_rate * FRAME_MS // 1000 * 2
        self._tones = ToneDetector(sample_rate, self._frame // 2)
        self._tone_tail = 0
        self._vad = webrtcvad.Vad(aggressiveness)
        self._handle = self._vad._vad
        self._start = max(1, -(-start_ms // FRAME_MS))
        self._hangover = max(1, -(-hangover_ms // FRAME_MS))
        self._buf = b""
        self._voiced_run = 0
        self._unvoiced = 0
        self.in_speech = False
        self.voiced_frames = 0
        self.tone_frames = 0

    @property
    def voiced_ms(self) -> int:
        """Voiced audio in the current speech segment (0 outside speech)."""
        return self.voiced_frames * FRAME_MS if self.in_speech else 0

    def feed(self, pcm: bytes) -> tuple[str, ...]:
        """Analyse one chunk; returns the transitions in it, in order (usually none)."""
        if self._resampler is not None:
            pcm = self._resampler.convert(pcm)
        if self._buf:
            pcm = self._buf + pcm
        frame = self._frame
        usable = len(pcm) - len(pcm) % frame
        self._buf = pcm[usable:]
        out = _NONE
        process = _webrtcvad.process
        handle = self._handle
        rate = self._rate
        samples = frame // 2
        view = memoryview(pcm)
        for offset in range(0, usable, frame):
            voiced = process(handle, rate, view[offset : offset + frame], samples)
            if voiced and self._tones.is_tone(view[offset : offset + frame]):
                voiced = False
                self.tone_frames += 1
                self._tone_tail = TONE_TAIL_FRAMES
            elif self._tone_tail:
                self._tone_tail -= 1
                voiced = False  # a tone's last partial frame, or webrtcvad's own hangover
            if self.in_speech:
                if voiced:
                    self.voiced_frames += 1
                    self._unvoiced = 0
                else:
                    self._unvoiced += 1
                    if self._unvoiced >= self._hangover:
                        self.in_speech = False
                        self.voiced_frames = 0
                        self._voiced_run = 0
                        out = (*out, SPEECH_END)
            elif voiced:
                self._voiced_run += 1
                if self._voiced_run >= self._start:
                    self.in_speech = True
                    self.voiced_frames = self._voiced_run
                    self._unvoiced = 0
                    out = (*out, SPEECH_START)
            else:
                self._voiced_run = 0
        return out
