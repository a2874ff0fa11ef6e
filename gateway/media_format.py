"""Call media formats: what Exotel sends and expects on one stream, and its chunk rules.

Call :func:`parse_media_format` once per stream with ``start.media_format`` (and the stream
URL's ``sample-rate`` query parameter, if any). The rate is never assumed from
configuration: a mismatch is the classic cause of slow or chipmunk audio.
See docs/exotel.md section 1 ("Audio").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gateway.errors import MalformedMessage, UnsupportedFormat, shown

Encoding = Literal["pcm16", "mulaw"]

PCM_RATES: frozenset[int] = frozenset({8000, 16000, 24000})
MAX_CHUNK_BYTES = 100_000
PCM_MIN_CHUNK_BYTES = 3200
PCM_CHUNK_MULTIPLE = 320
FRAME_MS = 20

_ENCODINGS: dict[str, Encoding] = {
    "audio/x-raw": "pcm16",
    "raw": "pcm16",
    "audio/l16": "pcm16",
    "pcm": "pcm16",
    "audio/x-mulaw": "mulaw",
    "mulaw": "mulaw",
    "audio/pcmu": "mulaw",
}


@dataclass(frozen=True, slots=True)
class MediaFormat:
    """One call's audio format and the chunk sizes Exotel accepts for it (in bytes)."""

    encoding: Encoding
    sample_rate: int

    def __post_init__(self) -> None:
        if self.encoding == "pcm16" and self.sample_rate not in PCM_RATES:
            raise ValueError(f"PCM16 at {self.sample_rate} Hz is not supported")
        if self.encoding == "mulaw" and self.sample_rate != 8000:
            raise ValueError(f"mu-law at {self.sample_rate} Hz is not supported")

    @property
    def sample_width(self) -> int:
        """Bytes per sample on the wire."""
        return 2 if self.encoding == "pcm16" else 1

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * self.sample_width

    @property
    def frame_bytes(self) -> int:
        """Bytes in one 20 ms frame. At every supported PCM rate this is a multiple of
        320 bytes (320, 640, 960), so whole frames also satisfy the PCM rule."""
        return self.bytes_per_second * FRAME_MS // 1000

    @property
    def min_chunk_bytes(self) -> int:
        """Smallest chunk that is not the last of an utterance (whole frames)."""
        if self.encoding == "mulaw":
            return self.frame_bytes
        frames = -(-PCM_MIN_CHUNK_BYTES // self.frame_bytes)
        return frames * self.frame_bytes

    @property
    def max_chunk_bytes(self) -> int:
        """Largest chunk (whole frames, at most 100 KB)."""
        return MAX_CHUNK_BYTES // self.frame_bytes * self.frame_bytes

    @property
    def silence_byte(self) -> bytes:
        """One byte of the silence pattern (PCM16 zero, mu-law 0xFF)."""
        return b"\x00" if self.encoding == "pcm16" else b"\xff"

    def bytes_to_ms(self, nbytes: int) -> int:
        return nbytes * 1000 // self.bytes_per_second

    def ms_to_bytes(self, ms: int) -> int:
        """Bytes in ``ms`` of audio, rounded down to whole samples."""
        samples = self.sample_rate * ms // 1000
        return samples * self.sample_width


def _to_int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise MalformedMessage(f"{field} must be a number, got {shown(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise MalformedMessage(f"{field} must be a number, got {shown(value)}")


def parse_media_format(
    media_format: Mapping[str, Any] | None, url_sample_rate: int | None = None
) -> MediaFormat:
    """The call's format from ``start.media_format`` (``None`` if absent) and the URL's rate.

    ``start.media_format.sample_rate`` wins over the URL's ``sample-rate``; with neither, the
    Voicebot applet's default applies (PCM16 at 8000 Hz). Raises :class:`UnsupportedFormat`
    for anything else and :class:`MalformedMessage` for ill-typed fields.
    """
    encoding_name = "audio/x-raw"
    rate = url_sample_rate if url_sample_rate is not None else 8000
    bit_rate: int | None = None
    if media_format is not None:
        if not isinstance(media_format, Mapping):
            raise MalformedMessage("start.media_format must be an object")
        raw_encoding = media_format.get("encoding")
        if raw_encoding is not None:
            if not isinstance(raw_encoding, str):
                raise MalformedMessage("media_format.encoding must be a string")
            encoding_name = raw_encoding
        if media_format.get("sample_rate") is not None:
            rate = _to_int(media_format["sample_rate"], "media_format.sample_rate")
        if media_format.get("bit_rate") is not None:
            bit_rate = _to_int(media_format["bit_rate"], "media_format.bit_rate")
    # "audio/x-mulaw;rate=8000" style content types carry the rate too.
    base, _, params = encoding_name.partition(";")
    encoding = _ENCODINGS.get(base.strip().lower())
    if encoding is None:
        raise UnsupportedFormat(f"unsupported encoding {shown(encoding_name)}")
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "rate" and value.strip():
            rate = _to_int(value, "encoding rate")
    if encoding == "pcm16" and bit_rate is not None and bit_rate != 16:
        raise UnsupportedFormat(f"unsupported bit depth {bit_rate} for raw PCM (need 16)")
    try:
        return MediaFormat(encoding, rate)
    except ValueError as exc:
        raise UnsupportedFormat(str(exc)) from exc
