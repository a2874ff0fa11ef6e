"""The relay's dialect codec (pure): frames to the external bot, frames from it, options."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bot_adapters.audio import pcm16_to_ulaw, resample, ulaw_to_pcm16
from bot_adapters.relay.config import RelayConfig
from bot_adapters.relay.dialects import (
    MAX_BOT_MESSAGE_BYTES,
    BotClear,
    BotHangup,
    BotMark,
    BotMedia,
    BotOther,
    BotProtocolError,
    BotTransfer,
    Dialect,
    StreamEncoder,
    decode_bot_message,
)
from bot_adapters.testing import default_call_info

TWILIO = Dialect("twilio")
EXOTEL = Dialect("exotel", "pcm16", 16000)
PCM = bytes(range(256)) * 2  # 256 samples


def frames(encoder: StreamEncoder, *calls: str) -> list[dict[str, Any]]:
    out = []
    for name in calls:
        if name == "media":
            out.append(json.loads(encoder.media(PCM)))
        elif name == "dtmf":
            out.append(json.loads(encoder.dtmf("5")))
        elif name == "mark":
            out.append(json.loads(encoder.mark("m1")))
        elif name == "stop":
            out.append(json.loads(encoder.stop("callended")))
        else:
            out.append(json.loads(getattr(encoder, name)()))
    return out


def test_twilio_frames_are_camel_case_mulaw() -> None:
    enc = StreamEncoder(TWILIO, default_call_info())
    connected, start, media, media2, dtmf, mark, stop = frames(
        enc, "connected", "start", "media", "media", "dtmf", "mark", "stop"
    )
    assert connected == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert start["sequenceNumber"] == "1" and start["streamSid"] == "MZtest0001"
    assert start["start"]["accountSid"] == "ACtest" and start["start"]["tracks"] == ["inbound"]
    assert media["media"]["track"] == "inbound" and media["media"]["chunk"] == "1"
    assert base64.b64decode(media["media"]["payload"]) == pcm16_to_ulaw(PCM)
    assert media2["media"]["timestamp"] == "32"  # 256 samples at 8 kHz
    assert dtmf["dtmf"] == {"track": "inbound_track", "digit": "5"}
    assert mark["mark"] == {"name": "m1"} and mark["sequenceNumber"] == "5"
    assert json.loads(enc.clear()) == {
        "event": "clear",
        "sequenceNumber": "7",
        "streamSid": "MZtest0001",
    }
    assert stop["stop"] == {"accountSid": "ACtest", "callSid": "CAtest0001"}


def test_exotel_frames_are_snake_case_raw_pcm() -> None:
    enc = StreamEncoder(EXOTEL, default_call_info())
    connected, start, media, dtmf, stop = frames(enc, "connected", "start", "media", "dtmf", "stop")
    assert connected == {"event": "connected"}
    fmt = start["start"]["media_format"]
    assert fmt == {"encoding": "audio/x-raw", "sample_rate": "16000", "bit_rate": "16"}
    assert start["start"]["from"] == "+910000000001" and start["stream_sid"] == "MZtest0001"
    assert base64.b64decode(media["media"]["payload"]) == PCM
    assert media["sequence_number"] == "2" and "track" not in media["media"]
    assert dtmf["dtmf"] == {"digit": "5", "duration": "100"}
    assert stop["stop"]["reason"] == "callended" and stop["stop"]["call_sid"] == "CAtest0001"


@pytest.mark.parametrize(
    ("reason", "sent"),
    [
        ("callended", "callended"),
        ("hangup", "callended"),
        ("stopped", "stopped"),
        ("error", "stopped"),
    ],
)
def test_exotel_stop_reasons(reason: str, sent: str) -> None:
    enc = StreamEncoder(EXOTEL, default_call_info())
    assert json.loads(enc.stop(reason))["stop"]["reason"] == sent


def test_exotel_mulaw_start_says_so() -> None:
    enc = StreamEncoder(Dialect("exotel", "mulaw"), default_call_info())
    fmt = json.loads(enc.start())["start"]["media_format"]
    assert fmt["encoding"] == "audio/x-mulaw" and fmt["bit_rate"] == "8"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"event": "mark", "streamSid": "x", "mark": {"name": "a"}}, BotMark("a")),
        ({"event": "clear", "stream_sid": "x"}, BotClear()),
        (
            {"event": "transfer", "transfer": {"reason": "r", "skills": ["s"]}},
            BotTransfer("r", ("s",)),
        ),
        ({"event": "transfer", "reason": "top", "skills": []}, BotTransfer("top")),
        ({"event": "transfer"}, BotTransfer("bot_transfer")),
        ({"event": "hangup", "hangup": {"reason": "bye"}}, BotHangup("bye")),
        ({"event": "hangup"}, BotHangup("bot_hangup")),
        ({"event": "connected"}, BotOther("connected")),
    ],
)
def test_decode_control_frames(frame: dict[str, Any], expected: object) -> None:
    assert decode_bot_message(json.dumps(frame), TWILIO) == expected


def test_decode_media_converts_to_pcm16() -> None:
    ulaw = pcm16_to_ulaw(PCM)
    got = decode_bot_message(
        json.dumps({"event": "media", "media": {"payload": b64(ulaw)}}), TWILIO
    )
    assert isinstance(got, BotMedia) and len(got.pcm) == len(PCM)
    raw = decode_bot_message(json.dumps({"event": "media", "media": {"payload": b64(PCM)}}), EXOTEL)
    assert raw == BotMedia(PCM)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("nope", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"x": 1}', "no 'event'"),
        ('{"event": "media"}', "media"),
        ('{"event": "media", "media": {"payload": 5}}', "payload"),
        ('{"event": "media", "media": {"payload": "!!"}}', "base64"),
        ('{"event": "media", "media": {"payload": "AAEC"}}', "odd number"),
        ('{"event": "mark", "mark": {"name": ""}}', "mark.name"),
        ('{"event": "transfer", "transfer": {"skills": "sales"}}', "skills"),
        ('{"event": "hangup", "hangup": {"reason": 3}}', "hangup.reason"),
    ],
)
def test_decode_rejects_malformed_frames(frame: str, message: str) -> None:
    with pytest.raises(BotProtocolError, match=message):
        decode_bot_message(frame, EXOTEL)


def test_decode_rejects_binary_and_oversized_frames() -> None:
    with pytest.raises(BotProtocolError, match="binary"):
        decode_bot_message(b"{}", EXOTEL)
    with pytest.raises(BotProtocolError, match="too large"):
        decode_bot_message(" " * (MAX_BOT_MESSAGE_BYTES + 1), EXOTEL)


@pytest.mark.parametrize(
    "args",
    [("sip",), ("exotel", "opus"), ("exotel", "pcm16", 11025), ("exotel", "mulaw", 16000)],
)
def test_bad_dialects(args: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError):
        Dialect(*args)


def test_config_defaults_and_errors() -> None:
    config = RelayConfig.from_options({"url": "ws://127.0.0.1:1/b", "dialect": "twilio"})
    assert config.dialect == TWILIO and config.fallback == "transfer"
    assert config.fallback_message == "fixture:hold_message"
    assert config.reason_for("slow") == "relay_slow"
    hangup = RelayConfig.from_options({"url": "wss://h/", "fallback": "hangup"})
    assert hangup.fallback_message == "fixture:bot_goodbye"
    assert hangup.dialect == Dialect("exotel", "pcm16", 8000) and hangup.forward_barge_in
    off = RelayConfig.from_options({"url": "ws://h", "forward_barge_in": "off"})
    assert not off.forward_barge_in
    for bad in (
        {"url": "ws://h", "dialect": "sip"},
        {"url": "ws://h", "encoding": "opus"},
        {"url": "ws://h", "fallback": "retry"},
        {"url": "ws://h", "answer_deadline_ms": "soon"},
        {"url": "ws://h", "max_queue": "0"},
        {"url": "ws://h", "forward_barge_in": "maybe"},
    ):
        with pytest.raises(ValueError, match="relay"):
            RelayConfig.from_options(bad)


def test_audio_conversions() -> None:
    assert abs(len(resample(PCM, 8000, 16000)) - 2 * len(PCM)) <= 4  # ratecv keeps a sample
    assert resample(PCM, 8000, 8000) is PCM and resample(b"", 8000, 16000) == b""
    assert len(ulaw_to_pcm16(pcm16_to_ulaw(PCM))) == len(PCM)
    with pytest.raises(ValueError):
        resample(b"\x00", 8000, 16000)
    with pytest.raises(ValueError):
        pcm16_to_ulaw(b"\x00")
