"""exotel_sim.streamproto: Exotel's messages, bot message parsing, playout marks and clear."""

from __future__ import annotations

import base64
import json

import pytest

from exotel_sim.requests import StreamFormat
from exotel_sim.streamproto import (
    BotClear,
    BotMark,
    BotMedia,
    Playout,
    ProtocolError,
    StreamCodec,
    client_text_frame,
    parse_bot_message,
)

MULAW = StreamFormat("mulaw", 8000)


def codec(fmt: StreamFormat = MULAW) -> StreamCodec:
    return StreamCodec("MZ1", "L1", "AC1", "+918", "+919", fmt, {"vx_call": "c1"})


def test_start_carries_call_and_format() -> None:
    c = codec(StreamFormat("pcm16", 16000))
    assert json.loads(c.connected()) == {"event": "connected"}
    start = json.loads(c.start())
    assert start["sequence_number"] == "1"
    assert start["start"]["call_sid"] == "L1"
    assert start["start"]["custom_parameters"] == {"vx_call": "c1"}
    assert start["start"]["media_format"] == {"encoding": "audio/x-raw",
                                              "sample_rate": "16000", "bit_rate": "16"}
    assert json.loads(codec().start())["start"]["media_format"]["encoding"] == "audio/x-mulaw"


def test_media_counters_and_payload() -> None:
    c = codec()
    first = json.loads(c.media(b"\x01\x02", 0))
    second = json.loads(c.media_b64(base64.b64encode(b"\x03").decode(), 20))
    assert (first["sequence_number"], first["media"]["chunk"]) == ("1", "1")
    assert (second["sequence_number"], second["media"]["chunk"],
            second["media"]["timestamp"]) == ("2", "2", "20")
    assert base64.b64decode(first["media"]["payload"]) == b"\x01\x02"
    stop = json.loads(c.stop("callended"))
    assert stop["stop"] == {"call_sid": "L1", "account_sid": "AC1", "reason": "callended"}
    assert json.loads(c.dtmf("5"))["dtmf"] == {"digit": "5", "duration": "100"}


def test_parse_bot_messages_accepts_both_sid_spellings() -> None:
    payload = base64.b64encode(b"abc").decode()
    assert parse_bot_message(json.dumps(
        {"event": "media", "streamSid": "MZ1", "media": {"payload": payload}})) == BotMedia(b"abc")
    assert parse_bot_message('{"event":"mark","stream_sid":"x","mark":{"name":"u1"}}') == \
        BotMark("u1")
    assert parse_bot_message('{"event":"clear"}') == BotClear()


@pytest.mark.parametrize(
    "raw",
    ["not json", "[]", '{"event":"dance"}', '{"event":"media","media":{}}',
     '{"event":"media","media":{"payload":"***"}}', '{"event":"mark","mark":{}}', b"\x00"],
)
def test_parse_bot_message_rejects(raw: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_bot_message(raw)


def test_marks_fall_due_when_the_audio_before_them_has_played() -> None:
    p = Playout()
    assert p.add_media(1000, 200) == (1000, 1200)
    assert p.add_media(1050, 200) == (1200, 1400)  # queued back to back
    assert p.add_mark(1060, "m1") == 1400
    assert p.due_marks(1399) == []
    assert p.due_marks(1400) == ["m1"]
    assert p.add_mark(2000, "idle") == 2000  # nothing queued: due at once


def test_clear_keeps_the_playing_chunk_and_releases_marks() -> None:
    p = Playout()
    p.add_media(0, 100)
    p.add_media(0, 100)
    p.add_media(0, 100)
    p.add_mark(0, "end")
    silent_at = p.clear(150)  # second chunk (100..200) is playing
    assert silent_at == 200
    assert p.next_mark_due() == 200 and p.due_marks(200) == ["end"]
    assert not p.playing(200)
    assert p.add_media(210, 100) == (210, 310)


def test_short_chunk_leaves_a_gap() -> None:
    p = Playout()
    p.add_media(0, 95, gap_ms=20)
    assert p.add_media(0, 100) == (115, 215)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_client_text_frame_parses_as_a_masked_text_frame(size: int) -> None:
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    text = "x" * size
    raw = client_text_frame(text, mask=b"\x01\x02\x03\x04")
    reader = StreamReader()
    reader.feed_data(raw)
    parser = Frame.parse(reader.read_exact, mask=True)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame = done.value.value
    assert (frame.opcode, frame.fin, frame.data.decode()) == (Opcode.TEXT, True, text)
    assert raw[2 if size < 126 else 4 if size < 65536 else 10:][:4] == b"\x01\x02\x03\x04"
