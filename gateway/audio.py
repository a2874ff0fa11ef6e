"""Sample conversion: G.711 mu-law <-> PCM16 and a stateful streaming resampler.

Pure functions over bytes (stdlib ``audioop``; ``audioop-lts`` on Python 3.13+). Call
:func:`decode` on every inbound payload to get PCM16 at the call's rate, :func:`encode` on
bot audio already at the call's rate, and keep one :class:`Resampler` per direction per call
(its state carries the filter history across chunks, so chunk boundaries are inaudible).
"""

from __future__ import annotations

import warnings
from typing import Any

from gateway.media_format import MediaFormat

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def mulaw_to_pcm16(data: bytes) -> bytes:
    """G.711 mu-law bytes to PCM16 little-endian (one sample per byte)."""
    return audioop.ulaw2lin(data, 2)


def pcm16_to_mulaw(pcm: bytes) -> bytes:
    """PCM16 little-endian to G.711 mu-law; ``pcm`` must have an even length."""
    if len(pcm) % 2:
        raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
    return audioop.lin2ulaw(pcm, 2)


def decode(fmt: MediaFormat, payload: bytes) -> bytes:
    """Wire payload of format ``fmt`` to PCM16 at ``fmt.sample_rate``."""
    if fmt.encoding == "mulaw":
        return audioop.ulaw2lin(payload, 2)
    return payload


def encode(fmt: MediaFormat, pcm: bytes) -> bytes:
    """PCM16 at ``fmt.sample_rate`` to the wire encoding of ``fmt``."""
    if fmt.encoding == "mulaw":
        return audioop.lin2ulaw(pcm, 2)
    return pcm


class Resampler:
    """Streaming PCM16 mono rate conversion from ``src_rate`` to ``dst_rate``.

    Feed consecutive chunks of one stream to :meth:`convert`; the filter state carries over.
    Equal rates pass audio through untouched (bit-exact). Call :meth:`reset` after a
    discontinuity (e.g. bot audio was cleared) so stale history does not leak in.
    """

    __slots__ = ("_state", "dst_rate", "src_rate")

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"bad rates {src_rate} -> {dst_rate}")
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._state: Any = None

    @property
    def passthrough(self) -> bool:
        return self.src_rate == self.dst_rate

    def convert(self, pcm: bytes) -> bytes:
        """Convert one chunk; ``pcm`` must have an even length."""
        if self.src_rate == self.dst_rate:
            return pcm
        if len(pcm) % 2:
            raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
        out, self._state = audioop.ratecv(pcm, 2, 1, self.src_rate, self.dst_rate, self._state)
        return bytes(out)

    def reset(self) -> None:
        self._state = None
