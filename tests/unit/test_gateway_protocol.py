"""The stream protocol core: every documented message variant in, ordering, serialization."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import (
    BadAudio,
    BadPayload,
    CloseCode,
    MalformedMessage,
    OutOfOrder,
    ProtocolError,
    UnsupportedFormat,
)
from gateway.protocol import (
    Connected,
    Dtmf,
    Mark,
    Media,
    Start,
    Stop,
    StreamProtocol,
    StreamState,
    UnknownEvent,
)


def start_msg(
    *,
    encoding: str | None = "audio/x-raw",
    rate: Any = "8000",
    bit_rate: Any = "16",
    sid_key: str = "stream_sid",
    seq: Any = "1",
    params: dict[str, str] | None = None,
) -> str:
    media_format: dict[str, Any] = {}
    if encoding is not None:
        media_format["encoding"] = encoding
    if rate is not None:
        media_format["sample_rate"] = rate
    if bit_rate is not None:
        media_format["bit_rate"] = bit_rate
    return json.dumps(
        {
            "event": "start",
            "sequence_number": seq,
            sid_key: "MZ1",
            "start": {
                sid_key: "MZ1",
                "call_sid": "CA1",
                "account_sid": "AC1",
                "from": "+911",
                "to": "+912",
                "custom_parameters": params or {"vx_call": "c-7"},
                "media_format": media_format,
            },
        }
    )


def media_msg(payload: bytes, *, numbers: Any = "2", sid_key: str = "stream_sid") -> str:
    return json.dumps(
        {
            "event": "media",
            "sequence_number": numbers,
            sid_key: "MZ1",
            "media": {
                "chunk": numbers,
                "timestamp": numbers,
                "payload": base64.b64encode(payload).decode(),
            },
        }
    )


def started(**kwargs: Any) -> StreamProtocol:
    proto = StreamProtocol()
    assert isinstance(proto.receive('{"event":"connected"}'), Connected)
    event = proto.receive(start_msg(**kwargs))
    assert isinstance(event, Start)
    return proto


def test_start_fields_and_custom_parameters() -> None:
    proto = StreamProtocol()
    event = proto.receive(start_msg())
    assert isinstance(event, Start)
    assert (event.stream_sid, event.call_sid, event.account_sid) == ("MZ1", "CA1", "AC1")
    assert (event.from_number, event.to_number) == ("+911", "+912")
    assert dict(event.custom_parameters) == {"vx_call": "c-7"}
    assert event.sequence_number == 1
    assert event.media_format.encoding == "pcm16"
    assert event.media_format.sample_rate == 8000
    assert proto.state is StreamState.STREAMING


@pytest.mark.parametrize(
    ("encoding", "rate", "expected"),
    [
        ("audio/x-raw", "8000", ("pcm16", 8000)),
        ("raw", 16000, ("pcm16", 16000)),
        ("audio/x-raw", "24000", ("pcm16", 24000)),
        ("audio/x-mulaw", "8000", ("mulaw", 8000)),
        ("audio/x-mulaw;rate=8000", None, ("mulaw", 8000)),
        (None, None, ("pcm16", 8000)),
    ],
)
def test_start_media_format_variants(encoding: str | None, rate: Any, expected: Any) -> None:
    bit_rate = None if encoding is None or "mulaw" in encoding else 16
    event = StreamProtocol().receive(start_msg(encoding=encoding, rate=rate, bit_rate=bit_rate))
    assert isinstance(event, Start)
    assert (event.media_format.encoding, event.media_format.sample_rate) == expected


def test_url_sample_rate_used_when_start_has_none_and_start_wins_otherwise() -> None:
    event = StreamProtocol(url_sample_rate=16000).receive(start_msg(rate=None))
    assert isinstance(event, Start) and event.media_format.sample_rate == 16000
    event = StreamProtocol(url_sample_rate=16000).receive(start_msg(rate="24000"))
    assert isinstance(event, Start) and event.media_format.sample_rate == 24000


@pytest.mark.parametrize(
    ("encoding", "rate", "bit_rate"),
    [
        ("audio/x-raw", "44100", "16"),
        ("audio/x-mulaw", "16000", None),
        ("audio/x-alaw", "8000", None),
        ("audio/x-raw", "8000", "8"),
    ],
)
def test_unsupported_formats_close_with_4004(encoding: str, rate: str, bit_rate: Any) -> None:
    with pytest.raises(UnsupportedFormat) as info:
        StreamProtocol().receive(start_msg(encoding=encoding, rate=rate, bit_rate=bit_rate))
    assert info.value.close_code == CloseCode.UNSUPPORTED_FORMAT


@pytest.mark.parametrize("numbers", ["7", 7])
@pytest.mark.parametrize("sid_key", ["stream_sid", "streamSid"])
def test_media_numbers_as_strings_or_ints_and_both_sid_keys(numbers: Any, sid_key: str) -> None:
    proto = started(sid_key=sid_key)
    event = proto.receive(media_msg(b"\x01\x02" * 80, numbers=numbers, sid_key=sid_key))
    assert event == Media(b"\x01\x02" * 80, 7, 7, 7)


def test_dtmf_mark_stop_and_unknown() -> None:
    proto = started()
    dtmf = {"event": "dtmf", "stream_sid": "MZ1", "dtmf": {"digit": "5", "duration": "100"}}
    assert proto.receive(json.dumps(dtmf)) == Dtmf("5", 100)
    dtmf["dtmf"] = {"digit": 9, "duration": 80}
    assert proto.receive(json.dumps(dtmf)) == Dtmf("9", 80)
    assert proto.receive('{"event":"mark","streamSid":"MZ1","mark":{"name":"u1"}}') == Mark("u1")
    assert proto.receive('{"event":"vendor_thing","x":1}') == UnknownEvent("vendor_thing")
    stop = {"event": "stop", "stream_sid": "MZ1", "stop": {"call_sid": "CA1", "reason": "stopped"}}
    assert proto.receive(json.dumps(stop)) == Stop("stopped", "CA1")
    assert proto.state is StreamState.STOPPED


@pytest.mark.parametrize("sid_key", ["stream_sid", "streamSid"])
def test_media_or_mark_for_another_stream_is_out_of_order(sid_key: str) -> None:
    proto = started()
    foreign = json.loads(media_msg(b"\x00\x01" * 80))
    del foreign["stream_sid"]
    foreign[sid_key] = "MZ2"
    with pytest.raises(OutOfOrder, match="MZ2"):
        proto.receive(json.dumps(foreign))
    with pytest.raises(OutOfOrder, match="MZ2"):
        proto.receive(json.dumps({"event": "mark", sid_key: "MZ2", "mark": {"name": "u1"}}))
    with pytest.raises(MalformedMessage):
        proto.receive(json.dumps({"event": "media", "stream_sid": 5, "media": {"payload": ""}}))


def test_mulaw_accepts_odd_lengths_pcm_does_not() -> None:
    proto = started(encoding="audio/x-mulaw", bit_rate=None)
    assert isinstance(proto.receive(media_msg(b"\xff" * 161)), Media)
    proto = started()
    with pytest.raises(BadAudio) as info:
        proto.receive(media_msg(b"\x00" * 161))
    assert info.value.close_code == CloseCode.BAD_AUDIO


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not json", MalformedMessage),
        ("[1, 2]", MalformedMessage),
        ('{"event": 5}', MalformedMessage),
        ('{"event":"media","stream_sid":"MZ1","media":"x"}', MalformedMessage),
        ('{"event":"media","stream_sid":"MZ1","media":{"payload":"@@@"}}', BadPayload),
        ('{"event":"media","stream_sid":"MZ1","media":{"payload":7}}', MalformedMessage),
        ('{"event":"media","stream_sid":"MZ1","media":{"chunk":"x","payload":""}}',
         MalformedMessage),
        ('{"event":"dtmf","stream_sid":"MZ1","dtmf":{"digit":"55"}}', MalformedMessage),
        ('{"event":"mark","stream_sid":"MZ1","mark":{}}', MalformedMessage),
        ('{"event":"media","stream_sid":"MZ9","media":{"payload":""}}', OutOfOrder),
        (start_msg(), OutOfOrder),
    ],
)
def test_bad_messages_raise_typed_errors(message: str, error: type[Exception]) -> None:
    proto = started()
    with pytest.raises(error):
        proto.receive(message)


@pytest.mark.parametrize(
    "message",
    [media_msg(b"\x00\x00"), '{"event":"mark","mark":{"name":"a"}}',
     '{"event":"dtmf","dtmf":{"digit":"1"}}'],
)
def test_events_before_start_are_out_of_order(message: str) -> None:
    with pytest.raises(OutOfOrder) as info:
        StreamProtocol().receive(message)
    assert info.value.close_code == CloseCode.OUT_OF_ORDER


def test_anything_after_stop_is_out_of_order() -> None:
    proto = started()
    proto.receive('{"event":"stop","stream_sid":"MZ1","stop":{"reason":"callended"}}')
    for message in (media_msg(b"\x00\x00"), '{"event":"stop"}', '{"event":"new_thing"}'):
        with pytest.raises(OutOfOrder):
            proto.receive(message)


def test_serialized_messages_use_snake_case_sid() -> None:
    proto = started()
    media = json.loads(proto.media(b"\x01\x02\x03\x04"))
    assert media == {
        "event": "media",
        "stream_sid": "MZ1",
        "media": {"payload": base64.b64encode(b"\x01\x02\x03\x04").decode()},
    }
    assert json.loads(proto.mark('say "hi"')) == {
        "event": "mark", "stream_sid": "MZ1", "mark": {"name": 'say "hi"'},
    }
    assert json.loads(proto.clear()) == {"event": "clear", "stream_sid": "MZ1"}


def test_binary_frames_with_json_are_accepted() -> None:
    proto = StreamProtocol()
    assert isinstance(proto.receive(start_msg().encode()), Start)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
event_names = st.sampled_from(["connected", "start", "media", "dtmf", "mark", "stop", "x"])
field_names = st.sampled_from(
    ["start", "media", "dtmf", "mark", "stop", "stream_sid", "streamSid", "sequence_number"]
)


@settings(max_examples=300, deadline=None)
@given(
    messages=st.lists(
        st.one_of(
            st.text(max_size=40),
            json_values.map(json.dumps),
            st.builds(
                lambda name, extra: json.dumps({"event": name, **extra}),
                event_names,
                st.dictionaries(field_names, json_values, max_size=4),
            ),
        ),
        max_size=6,
    )
)
@pytest.mark.slow(15)
def test_any_input_gives_an_event_or_a_protocol_error(messages: list[str]) -> None:
    """Bad input never escapes as anything but a ProtocolError (which carries a close code)."""
    proto = StreamProtocol()
    for message in [start_msg(), *messages]:
        try:
            proto.receive(message)
        except ProtocolError as exc:
            assert isinstance(exc.close_code, CloseCode)
            return


@pytest.mark.parametrize(
    "start",
    [
        {"call_sid": "CA1"},  # no stream_sid anywhere
        {"stream_sid": "MZ1", "custom_parameters": ["a"]},
        {"stream_sid": "MZ1", "media_format": "raw"},
        {"stream_sid": "MZ1", "media_format": {"encoding": 7}},
        {"stream_sid": "MZ1", "media_format": {"sample_rate": "fast"}},
        {"stream_sid": "MZ1", "media_format": {"sample_rate": True}},
        {"stream_sid": "MZ1", "media_format": {"sample_rate": 8000.5}},
        {"stream_sid": "MZ1", "from": 5},
    ],
)
def test_bad_start_fields_are_malformed(start: dict[str, Any]) -> None:
    with pytest.raises(MalformedMessage):
        StreamProtocol().receive(json.dumps({"event": "start", "start": start}))


def test_minimal_start_uses_defaults() -> None:
    event = StreamProtocol().receive(
        json.dumps({"event": "start", "start": {"stream_sid": "MZ1", "custom_parameters": None,
                                                 "from": None}})
    )
    assert isinstance(event, Start)
    assert event.call_sid == "" and event.from_number == "" and dict(event.custom_parameters) == {}
