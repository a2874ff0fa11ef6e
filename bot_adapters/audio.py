"""Small audio conversions the built-in adapters need (PCM16 resampling, G.711 mu-law).

Pure functions over bytes; call them wherever a clip or a frame changes rate or encoding.
Built on the stdlib ``audioop`` (the ``audioop-lts`` backport on Python 3.13+).
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample mono PCM16 from ``from_rate`` to ``to_rate`` (one-shot, whole clip)."""
    if len(pcm) % 2:
        raise ValueError("PCM16 audio must have an even number of bytes")
    if from_rate == to_rate or not pcm:
        return pcm
    out, _ = audioop.ratecv(pcm, 2, 1, from_rate, to_rate, None)
    return out


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """G.711 mu-law encode mono PCM16 (one byte per sample)."""
    if len(pcm) % 2:
        raise ValueError("PCM16 audio must have an even number of bytes")
    return audioop.lin2ulaw(pcm, 2)


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    """G.711 mu-law decode to mono PCM16."""
    return audioop.ulaw2lin(ulaw, 2)
