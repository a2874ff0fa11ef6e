"""Media formats, codecs, resampling and the outbound chunk rules (property-based)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audio_fixtures
from gateway.audio import Resampler, decode, encode, mulaw_to_pcm16, pcm16_to_mulaw
from gateway.chunker import Chunker
from gateway.media_format import MediaFormat

FORMATS = [
    MediaFormat("pcm16", 8000),
    MediaFormat("pcm16", 16000),
    MediaFormat("pcm16", 24000),
    MediaFormat("mulaw", 8000),
]


def test_chunk_sizes_per_format() -> None:
    pcm8, pcm16, pcm24, mulaw = FORMATS
    assert (pcm8.frame_bytes, pcm8.min_chunk_bytes) == (320, 3200)
    assert (pcm16.frame_bytes, pcm16.min_chunk_bytes) == (640, 3200)
    assert (pcm24.frame_bytes, pcm24.min_chunk_bytes) == (960, 3840)
    assert (mulaw.frame_bytes, mulaw.min_chunk_bytes) == (160, 160)
    for fmt in FORMATS:
        assert fmt.max_chunk_bytes <= 100_000
        assert fmt.max_chunk_bytes % fmt.frame_bytes == 0
    assert pcm8.bytes_to_ms(3200) == 200 and pcm16.bytes_to_ms(3200) == 100


def test_bad_format_rejected() -> None:
    with pytest.raises(ValueError):
        MediaFormat("pcm16", 11025)
    with pytest.raises(ValueError):
        MediaFormat("mulaw", 16000)


def test_mulaw_round_trip_is_stable_after_one_pass() -> None:
    clip = audio_fixtures.load("cust_hello")
    once = pcm16_to_mulaw(clip.pcm)
    assert len(once) == len(clip.pcm) // 2
    assert pcm16_to_mulaw(mulaw_to_pcm16(once)) == once
    fmt = MediaFormat("mulaw", 8000)
    assert encode(fmt, decode(fmt, once)) == once
    pcm = MediaFormat("pcm16", 8000)
    assert decode(pcm, clip.pcm) is clip.pcm and encode(pcm, clip.pcm) is clip.pcm


def test_odd_pcm_is_refused() -> None:
    with pytest.raises(ValueError):
        pcm16_to_mulaw(b"\x00\x00\x00")
    with pytest.raises(ValueError):
        Resampler(8000, 16000).convert(b"\x00\x00\x00")


def tone(rate: int, seconds: float, freq: float = 440.0) -> bytes:
    n = int(rate * seconds)
    return struct.pack(
        f"<{n}h", *(int(8000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    )


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (16000, 8000), (24000, 8000)])
def test_streaming_resampler_matches_one_shot(src: int, dst: int) -> None:
    pcm = tone(src, 1.0)
    whole = Resampler(src, dst).convert(pcm)
    streaming = Resampler(src, dst)
    step = src // 10 * 2  # 100 ms chunks
    pieces = b"".join(streaming.convert(pcm[i : i + step]) for i in range(0, len(pcm), step))
    assert pieces == whole
    assert abs(len(whole) // 2 - dst) <= 2


def test_resampler_passthrough_and_reset() -> None:
    pcm = tone(8000, 0.1)
    assert Resampler(8000, 8000).convert(pcm) is pcm
    r = Resampler(8000, 16000)
    first = r.convert(pcm)
    r.reset()
    assert r.convert(pcm) == first


def check_chunks(fmt: MediaFormat, chunks: list[bytes], last_of_utterance: bool) -> None:
    for index, chunk in enumerate(chunks):
        assert len(chunk) % fmt.frame_bytes == 0
        if fmt.encoding == "pcm16":
            assert len(chunk) % 320 == 0
        assert len(chunk) <= fmt.max_chunk_bytes
        final = last_of_utterance and index == len(chunks) - 1
        if not final:
            assert len(chunk) >= fmt.min_chunk_bytes


@settings(max_examples=150, deadline=None)
@given(
    fmt=st.sampled_from(FORMATS),
    utterances=st.lists(
        st.lists(st.integers(min_value=0, max_value=40_000), min_size=1, max_size=6),
        min_size=1,
        max_size=4,
    ),
    target_ms=st.sampled_from([20, 100, 200, 1000]),
)
def test_chunker_obeys_exotel_rules_and_loses_nothing(
    fmt: MediaFormat, utterances: list[list[int]], target_ms: int
) -> None:
    chunker = Chunker(fmt, target_ms)
    sent = bytearray()
    expected = bytearray()
    counter = 0
    for pushes in utterances:
        utterance = bytearray()
        for size in pushes:
            data = bytes((counter + i) % 251 for i in range(size))
            counter += size
            utterance += data
            chunks = chunker.push(data)
            check_chunks(fmt, chunks, last_of_utterance=False)
            sent += b"".join(chunks)
            assert chunker.held < max(fmt.min_chunk_bytes, fmt.frame_bytes) + fmt.frame_bytes
        tail = chunker.end_utterance()
        assert len(tail) <= 1
        check_chunks(fmt, tail, last_of_utterance=True)
        sent += b"".join(tail)
        pad = -len(utterance) % fmt.frame_bytes
        expected += utterance + fmt.silence_byte * pad
        assert chunker.held == 0
    assert sent == expected


def test_chunker_holds_short_audio_and_drop_discards_it() -> None:
    fmt = MediaFormat("pcm16", 8000)
    chunker = Chunker(fmt)
    assert chunker.push(b"\x01" * 1600) == []
    assert chunker.held == 1600
    out = chunker.push(b"\x02" * 1600)
    assert out == [b"\x01" * 1600 + b"\x02" * 1600]
    assert chunker.push(b"\x03" * 100) == []
    assert chunker.drop() == 100 and chunker.held == 0
    assert chunker.end_utterance() == []


def test_chunker_pads_tail_with_format_silence() -> None:
    mulaw = Chunker(MediaFormat("mulaw", 8000))
    assert mulaw.push(b"\x10" * 100) == []
    assert mulaw.end_utterance() == [b"\x10" * 100 + b"\xff" * 60]
    pcm = Chunker(MediaFormat("pcm16", 8000))
    pcm.push(b"\x10" * 10)
    assert pcm.end_utterance() == [b"\x10" * 10 + b"\x00" * 310]


def test_long_utterance_is_split_into_target_chunks() -> None:
    fmt = MediaFormat("pcm16", 8000)
    chunks = Chunker(fmt, target_ms=200).push(bytes(16000 * 5))  # 5 s
    assert all(len(c) == 3200 for c in chunks[:-1])
    assert 3200 <= len(chunks[-1]) < 6400
    assert sum(map(len, chunks)) == 80000


def test_resampler_rejects_bad_rates() -> None:
    with pytest.raises(ValueError):
        Resampler(0, 8000)
    assert Resampler(8000, 8000).passthrough and not Resampler(8000, 16000).passthrough
