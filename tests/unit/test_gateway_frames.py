"""The pure RFC 6455 frame parser (gateway/frames.py): bytes in, frames or a FramingError out,
tested directly (the wire's behaviour over TCP is in tests/integration/test_gateway_framing.py),
and fuzzed: arbitrary bytes and arbitrary splits never raise anything but a FramingError with
one of its documented close codes, and a split never changes the result."""

from __future__ import annotations

import itertools
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peers.ws_frames import client_frame

from gateway.frames import (
    INVALID_DATA,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    PROTOCOL_ERROR,
    TOO_BIG,
    Control,
    Frame,
    FrameParser,
    FramingError,
)

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
CODES = {PROTOCOL_ERROR, INVALID_DATA, TOO_BIG}


def feed_all(parser: FrameParser, chunks: list[bytes]) -> tuple[list[Frame], int | None]:
    """Every frame the chunks give, and the close code of the error that ended them (if any)."""
    frames: list[Frame] = []
    for chunk in chunks:
        try:
            frames += parser.feed(chunk)
        except FramingError as exc:
            return frames + exc.frames, exc.code
    return frames, None


def test_text_binary_and_control_frames() -> None:
    parser = FrameParser(4096)
    data = (
        client_frame(OP_TEXT, "héllo".encode())
        + client_frame(OP_BINARY, b"\x00\x01")
        + client_frame(OP_PING, b"p")
        + client_frame(OP_PONG, b"")
        + client_frame(OP_CLOSE, struct.pack("!H", 1001) + b"bye")
        + client_frame(OP_TEXT, b"after close: ignored")
    )
    assert parser.feed(data) == [
        "héllo", b"\x00\x01", Control(OP_PING, b"p"), Control(OP_PONG, b""),
        Control(OP_CLOSE, struct.pack("!H", 1001) + b"bye", 1001),
    ]
    assert parser.done and parser.buffered == 0
    assert parser.feed(client_frame(OP_TEXT, b"x")) == []


def test_fragments_reassemble_around_a_ping() -> None:
    parser = FrameParser(4096)
    data = (
        client_frame(OP_TEXT, b"ab", fin=False)
        + client_frame(OP_PING, b"")
        + client_frame(OP_CONT, b"cd", fin=False)
        + client_frame(OP_CONT, b"ef")
    )
    assert parser.feed(data) == [Control(OP_PING, b""), "abcdef"]


def test_an_empty_close_is_1000() -> None:
    assert FrameParser(4096).feed(client_frame(OP_CLOSE, b"")) == [Control(OP_CLOSE, b"", 1000)]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(OP_TEXT, b"x", masked=False), PROTOCOL_ERROR),
        (client_frame(OP_TEXT, b"x", rsv=0x40), PROTOCOL_ERROR),
        (client_frame(0x3, b"x"), PROTOCOL_ERROR),
        (client_frame(0xB, b"x"), PROTOCOL_ERROR),
        (client_frame(OP_PING, b"x" * 126), PROTOCOL_ERROR),
        (client_frame(OP_PING, b"x", fin=False), PROTOCOL_ERROR),
        (client_frame(OP_CONT, b"x"), PROTOCOL_ERROR),
        (client_frame(OP_CLOSE, b"\x03"), PROTOCOL_ERROR),
        (client_frame(OP_CLOSE, struct.pack("!H", 1005)), PROTOCOL_ERROR),
        (client_frame(OP_CLOSE, struct.pack("!H", 999)), PROTOCOL_ERROR),
        (client_frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xff"), INVALID_DATA),
        (client_frame(OP_TEXT, b"\xc3\x28"), INVALID_DATA),
        (client_frame(OP_TEXT, b"ab", fin=False) + client_frame(OP_TEXT, b"c"), PROTOCOL_ERROR),
        (client_frame(OP_BINARY, bytes(5000)), TOO_BIG),
        (client_frame(OP_TEXT, bytes(3000), fin=False) + client_frame(OP_CONT, bytes(3000)),
         TOO_BIG),
    ],
    # ids from the header bytes (the masks are random): the same on every pytest-xdist worker
    ids=lambda v: f"{v[:2].hex()}-{len(v)}" if isinstance(v, bytes) else None,
)
def test_each_rule_fails_with_its_code(frame: bytes, code: int) -> None:
    parser = FrameParser(4096)
    ok = client_frame(OP_TEXT, b"first")
    with pytest.raises(FramingError) as caught:
        parser.feed(ok + frame)
    assert caught.value.code == code
    assert caught.value.frames == ["first"]  # what came before the error
    assert parser.done and parser.feed(ok) == []


def test_too_big_is_refused_from_the_header_alone() -> None:
    parser = FrameParser(4096)
    with pytest.raises(FramingError) as caught:
        parser.feed(struct.pack("!BBQ", 0x81, 0x80 | 127, 10**12))
    assert caught.value.code == TOO_BIG


def test_a_frame_dripped_a_byte_at_a_time_keeps_one_buffer() -> None:
    """Item 11: the partial frame grows in place (the old wire rebuilt ``buf + data`` per
    read); the parser keeps exactly the unparsed bytes and delivers once."""
    parser = FrameParser(1 << 20)
    payload = os.urandom(100_000)
    first = client_frame(OP_BINARY, payload)
    wire = first + client_frame(OP_TEXT, b"next")
    got: list[Frame] = []
    for i in range(len(wire)):
        got += parser.feed(wire[i : i + 1])
        fed = i + 1
        consumed = len(wire) if fed == len(wire) else len(first) if fed >= len(first) else 0
        assert parser.buffered == fed - consumed
    assert got == [payload, "next"]
    assert parser.buffered == 0


frame_specs = st.lists(
    st.tuples(
        st.sampled_from([OP_CONT, OP_TEXT, OP_BINARY, 0x3, OP_CLOSE, OP_PING, OP_PONG, 0xB]),
        st.binary(max_size=300),
        st.booleans(),  # fin
        st.sampled_from([True, True, True, False]),  # masked
        st.sampled_from([0, 0, 0, 0x40]),  # rsv
    ),
    max_size=8,
)


def _splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@FUZZ
@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0), max_size=12))
def test_fuzz_arbitrary_bytes_arbitrary_splits(data: bytes, cuts: list[int]) -> None:
    whole = feed_all(FrameParser(1024), [data])
    split = feed_all(FrameParser(1024), _splits(data, cuts))
    assert whole == split
    assert whole[1] is None or whole[1] in CODES


@FUZZ
@given(frame_specs, st.lists(st.integers(min_value=0), max_size=12))
def test_fuzz_well_shaped_frames_arbitrary_splits(
    specs: list[tuple[int, bytes, bool, bool, int]], cuts: list[int]
) -> None:
    data = b"".join(
        client_frame(op, payload, fin=fin, masked=masked, rsv=rsv, mask=b"\x01\x02\x03\x04")
        for op, payload, fin, masked, rsv in specs
    )
    whole = feed_all(FrameParser(1024), [data])
    assert whole == feed_all(FrameParser(1024), _splits(data, cuts))
    frames, code = whole
    assert code is None or code in CODES
    for frame in frames:
        if isinstance(frame, (str, bytes)):
            assert len(frame) <= 1024 * 4
        else:
            assert frame.opcode in (OP_CLOSE, OP_PING, OP_PONG) and len(frame.payload) <= 125
