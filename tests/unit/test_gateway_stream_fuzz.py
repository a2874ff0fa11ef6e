"""The pure stream core (gateway/protocol.py through gateway/session.py) under hostile input:
arbitrary JSON-ish messages, before and after a valid start, never raise anything but a
ProtocolError carrying its documented close code; and the bounds of issue 14 (items 3, 10):
nested custom parameters, long mark and event names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import CloseCode, MalformedMessage, ProtocolError
from gateway.protocol import MAX_LOGGED_NAME, MAX_MARK_NAME, StreamProtocol, UnknownEvent
from gateway.session import EventIgnored, Session, SessionSettings

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
START = {
    "event": "start",
    "stream_sid": "MZ1",
    "start": {
        "stream_sid": "MZ1",
        "call_sid": "CA1",
        "custom_parameters": {"vx_call": "c-1", "n": 3},
        "media_format": {"encoding": "audio/x-raw", "sample_rate": 8000},
    },
}
PROTOCOL_CODES = {
    CloseCode.MALFORMED_MESSAGE, CloseCode.BAD_PAYLOAD, CloseCode.BAD_AUDIO,
    CloseCode.OUT_OF_ORDER, CloseCode.UNSUPPORTED_FORMAT,
}

scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
    | st.sampled_from(["MZ1", "8000", "audio/x-raw", "raw", "audio/x-mulaw", "AAAA", "1", "#"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=8,
)
KEYS = ["event", "stream_sid", "streamSid", "start", "media", "mark", "dtmf", "stop",
        "sequence_number", "payload", "name", "digit", "chunk", "timestamp", "duration",
        "media_format", "mediaFormat", "encoding", "sample_rate", "bit_rate", "call_sid",
        "custom_parameters", "customParameters", "from", "to", "reason"]
objects = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=5),
    lambda inner: st.dictionaries(st.sampled_from(KEYS), inner | values, max_size=5),
    max_leaves=6,
)
messages = st.builds(
    lambda obj, event: {**obj, "event": event} if event is not None else obj,
    objects,
    st.none() | st.sampled_from(
        ["connected", "start", "media", "mark", "dtmf", "stop", "clear", "x" * 300]
    ) | values,
)
raw = st.one_of(
    messages.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
)


def _feed(session: Session, message: str | bytes) -> None:
    try:
        session.receive(message, 0.0)
    except ProtocolError as exc:
        assert exc.close_code in PROTOCOL_CODES, exc


@pytest.mark.slow(10)
@FUZZ
@given(st.lists(raw, max_size=6), st.booleans())
def test_fuzz_session_raises_only_protocol_errors(batch: list[str | bytes], started: bool) -> None:
    session = Session(SessionSettings(vad_enabled=False))
    if started:
        session.receive(json.dumps(START), 0.0)
    for message in batch:
        _feed(session, message)


@pytest.mark.slow(5)
@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_fuzz_start_fields(start: dict[str, Any]) -> None:
    protocol = StreamProtocol()
    try:
        protocol.receive(json.dumps({"event": "start", "stream_sid": "MZ", "start": start}))
    except ProtocolError as exc:
        assert exc.close_code in PROTOCOL_CODES


def _start_with(params: object) -> str:
    msg = json.loads(json.dumps(START))
    msg["start"]["custom_parameters"] = params
    return json.dumps(msg)


def test_custom_parameters_nested_1000_deep_close_4000() -> None:
    """Item 10: this crashed the stream with 1011 (RecursionError in str())."""
    deep = "[" * 1000 + "]" * 1000
    message = _start_with({"vx_call": "x"}).replace('"x"', deep, 1)
    with pytest.raises(MalformedMessage) as caught:
        StreamProtocol().receive(message)
    assert caught.value.close_code == CloseCode.MALFORMED_MESSAGE


@pytest.mark.parametrize("value", [{"a": "b"}, ["a"], None])
def test_custom_parameters_must_be_flat(value: object) -> None:
    with pytest.raises(MalformedMessage):
        StreamProtocol().receive(_start_with({"k": value}))


def test_custom_parameter_scalars_become_strings() -> None:
    event = StreamProtocol().receive(_start_with({"s": "x", "i": 3, "f": 1.5, "b": True}))
    assert dict(event.custom_parameters) == {"s": "x", "i": "3", "f": "1.5", "b": "true"}  # type: ignore[union-attr]


def test_a_bad_value_deep_inside_a_field_is_a_4000_not_a_crash() -> None:
    protocol = StreamProtocol()
    protocol.receive(json.dumps(START))
    deep = "[" * 1000 + "1" + "]" * 1000  # repr() of it raised RecursionError (1011)
    message = '{"event":"media","media":{"payload":"","chunk":' + deep + "}}"
    with pytest.raises(MalformedMessage):
        protocol.receive(message)


def test_unknown_event_names_are_cut() -> None:
    protocol = StreamProtocol()
    event = protocol.receive(json.dumps({"event": "x" * 150_000}))
    assert event == UnknownEvent("x" * MAX_LOGGED_NAME)


def test_long_mark_names_are_refused_and_our_labels_too() -> None:
    session = Session(SessionSettings(vad_enabled=False))
    session.receive(json.dumps(START), 0.0)
    name = "m" * MAX_MARK_NAME
    notices = session.receive(json.dumps({"event": "mark", "mark": {"name": name}}), 0.0)
    assert notices == [EventIgnored(f"mark:{name}")]  # stale, at the limit: ignored
    with pytest.raises(MalformedMessage):
        session.receive(json.dumps({"event": "mark", "mark": {"name": name + "m"}}), 0.0)
    with pytest.raises(ValueError, match="label"):
        session.mark("l" * (MAX_MARK_NAME + 1), 0.0)
