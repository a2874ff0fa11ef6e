"""Audio helpers (pure): mu-law/PCM16 conversion, resampling, mixing, WAV encoding.

The emulator keeps every party's audio as 8 kHz PCM16 internally; stream formats are
converted at the stream's edge with :func:`to_wire` / :func:`from_wire`.
"""

from __future__ import annotations

import io
import warnings
import wave
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

INTERNAL_RATE = 8000


def resample(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """PCM16 mono from ``src_rate`` to ``dst_rate``; the result has exactly
    ``n * dst_rate / src_rate`` samples (rounded), so chunk sizes stay whole."""
    if src_rate == dst_rate or not pcm:
        return pcm
    out, _ = audioop.ratecv(pcm, 2, 1, src_rate, dst_rate, None)
    want = round(len(pcm) // 2 * dst_rate / src_rate) * 2
    if len(out) < want:
        out += (out[-2:] or b"\x00\x00") * ((want - len(out)) // 2)
    return out[:want]


def rms(pcm: bytes) -> int:
    """Root-mean-square level of PCM16 audio."""
    return int(audioop.rms(pcm, 2))


def to_wire(pcm8k: bytes, encoding: str, rate: int) -> bytes:
    """Internal 8 kHz PCM16 to a stream's wire format (``mulaw`` or ``pcm16`` at ``rate``)."""
    if encoding == "mulaw":
        return audioop.lin2ulaw(pcm8k, 2)
    return resample(pcm8k, INTERNAL_RATE, rate)


def from_wire(payload: bytes, encoding: str, rate: int) -> bytes:
    """A stream payload to internal 8 kHz PCM16 (an odd trailing PCM byte is dropped)."""
    if encoding == "mulaw":
        return audioop.ulaw2lin(payload, 2)
    if len(payload) % 2:
        payload = payload[:-1]
    return resample(payload, rate, INTERNAL_RATE)


def wire_duration_ms(nbytes: int, encoding: str, rate: int) -> float:
    """How long ``nbytes`` of wire audio play."""
    per_ms = rate / 1000 * (1 if encoding == "mulaw" else 2)
    return nbytes / per_ms


@dataclass(frozen=True, slots=True)
class Placed:
    """``pcm`` (8 kHz PCM16) placed at ``start_ms``, audible until ``end_ms``."""

    start_ms: float
    end_ms: float
    pcm: bytes


def mix(pieces: Iterable[Placed], start_ms: float, end_ms: float) -> bytes:
    """Render the window ``[start_ms, end_ms)`` of overlapping pieces as 8 kHz PCM16."""
    n = max(0, round((end_ms - start_ms) * INTERNAL_RATE / 1000))
    acc = np.zeros(n, dtype=np.int32)
    for piece in pieces:
        lo = max(piece.start_ms, start_ms)
        hi = min(piece.end_ms, end_ms)
        if hi <= lo:
            continue
        samples = np.frombuffer(piece.pcm[: len(piece.pcm) // 2 * 2], dtype="<i2")
        src0 = round((lo - piece.start_ms) * 8)
        dst0 = round((lo - start_ms) * 8)
        count = min(round((hi - lo) * 8), len(samples) - src0, n - dst0)
        if count > 0:
            acc[dst0 : dst0 + count] += samples[src0 : src0 + count]
    return np.clip(acc, -32768, 32767).astype("<i2").tobytes()


def wav_bytes(pcm: bytes, rate: int = INTERNAL_RATE) -> bytes:
    """A mono PCM16 WAV file holding ``pcm``."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buf.getvalue()


def decode_wav(data: bytes) -> bytes:
    """A WAV file (PCM16 or 8-bit, mono or stereo, any rate) as 8 kHz mono PCM16.

    Raises ``ValueError`` for anything else.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a PCM WAV file: {exc}") from exc
    if width not in (1, 2):
        raise ValueError(f"unsupported sample width {width}")
    if width == 1:
        frames = audioop.lin2lin(audioop.bias(frames, 1, -128), 1, 2)
    if channels == 2:
        frames = audioop.tomono(frames, 2, 0.5, 0.5)
    elif channels != 1:
        raise ValueError(f"unsupported channel count {channels}")
    return resample(frames, rate, INTERNAL_RATE)


def duration_ms(pcm8k: bytes) -> float:
    """Duration of internal 8 kHz PCM16 audio."""
    return len(pcm8k) / 16
