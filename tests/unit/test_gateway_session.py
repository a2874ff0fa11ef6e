"""The session core through its public API: messages and adapter actions in, notices and
wire messages out."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audio_fixtures
from bot_adapters.contract import PlayoutOverflow
from gateway.audio import pcm16_to_mulaw
from gateway.errors import OutOfOrder
from gateway.session import (
    AudioIn,
    BargedIn,
    CallStarted,
    CallStopped,
    DtmfIn,
    EscalationRequested,
    EventIgnored,
    PlaybackFinished,
    Session,
    SessionSettings,
    SpeechEnded,
    SpeechStarted,
)


def start(encoding: str = "audio/x-raw", rate: int = 8000) -> str:
    return json.dumps(
        {
            "event": "start",
            "stream_sid": "MZ1",
            "start": {
                "stream_sid": "MZ1",
                "call_sid": "CA1",
                "account_sid": "AC1",
                "from": "+911",
                "to": "+912",
                "custom_parameters": {"vx_call": "42"},
                "media_format": {"encoding": encoding, "sample_rate": str(rate)},
            },
        }
    )


def media(wire: bytes) -> str:
    payload = base64.b64encode(wire).decode()
    return f'{{"event":"media","stream_sid":"MZ1","media":{{"payload":"{payload}"}}}}'


def mark(name: str) -> str:
    return json.dumps({"event": "mark", "stream_sid": "MZ1", "mark": {"name": name}})


def started(settings: SessionSettings | None = None, **kw: Any) -> Session:
    s = Session(settings or SessionSettings())
    (notice,) = s.receive(start(**kw), 0.0)
    assert isinstance(notice, CallStarted)
    return s


def wire_messages(s: Session) -> list[dict[str, Any]]:
    return [json.loads(m) for m in s.take_outbound()]


def test_start_gives_call_info() -> None:
    s = Session(SessionSettings())
    (notice,) = s.receive(start("audio/x-mulaw"), 0.0)
    assert isinstance(notice, CallStarted)
    info = notice.info
    assert (info.stream_sid, info.call_sid, info.from_number, info.to_number) == (
        "MZ1", "CA1", "+911", "+912",
    )
    assert dict(info.custom_parameters) == {"vx_call": "42"}
    assert (info.call_encoding, info.call_sample_rate) == ("mulaw", 8000)


def test_mulaw_media_is_decoded_and_resampled_for_the_adapter() -> None:
    s = started(encoding="audio/x-mulaw")
    pcm = audio_fixtures.load("cust_yes").pcm[:1600]
    notices = s.receive(media(pcm16_to_mulaw(pcm)), 0.1)
    audio = [n for n in notices if isinstance(n, AudioIn)]
    assert len(audio) == 1 and len(audio[0].pcm) == 1600
    assert pcm16_to_mulaw(audio[0].pcm) == pcm16_to_mulaw(pcm)
    assert len(s.for_adapter(audio[0].pcm, 16000)) in range(3190, 3210)
    assert s.frames_in == 1 and s.bytes_in == 800


def test_play_chunks_and_marks_and_echo_finishes_label() -> None:
    s = started()
    s.play(bytes(8000), "hello", 8000, 0.0)  # 500 ms at 8 kHz
    out = wire_messages(s)
    sizes = [len(base64.b64decode(m["media"]["payload"])) for m in out if m["event"] == "media"]
    assert sizes == [3200, 4800]
    assert all(size % 320 == 0 for size in sizes)
    assert out[-1] == {"event": "mark", "stream_sid": "MZ1", "mark": {"name": "hello"}}
    assert s.receive(mark("hello"), 0.6) == [PlaybackFinished("hello")]
    assert s.playout.heard_ms == 500


def test_play_pads_a_short_labeled_utterance_and_resamples_from_16k() -> None:
    s = started()
    s.play(bytes(1000), "short", 16000, 0.0)  # 31.25 ms at 16 kHz -> 250 samples at 8 kHz
    out = wire_messages(s)
    payload = base64.b64decode(out[0]["media"]["payload"])
    assert len(payload) == 640 and out[1]["event"] == "mark"


def test_unlabeled_short_audio_is_held_then_flushed_by_later_input() -> None:
    s = started(SessionSettings(hold_flush_ms=200))
    s.play(bytes(1600), None, 8000, 0.0)
    assert wire_messages(s) == []
    s.receive(media(bytes(320)), 0.1)
    assert wire_messages(s) == []
    notices = s.receive(media(bytes(320)), 0.25)
    msg, own_mark = wire_messages(s)
    assert len(base64.b64decode(msg["media"]["payload"])) == 1600
    # Unlabelled utterances get the session's own mark; its echo tells the adapter nothing.
    assert own_mark == {"event": "mark", "stream_sid": "MZ1", "mark": {"name": "vx:1"}}
    assert not any(isinstance(n, PlaybackFinished) for n in notices)
    assert s.receive(mark("vx:1"), 0.5) == []
    assert s.playout.heard_ms == 100 and s.stale_marks == 0


def test_barge_in_clears_and_reports_position() -> None:
    s = started(SessionSettings(barge_in_min_speech_ms=200, vad_aggressiveness=2))
    s.play(bytes(16000 * 5), "prompt", 8000, 0.0)  # 5 s of bot audio
    s.take_outbound()
    speech = audio_fixtures.load("cust_hello").pcm
    notices: list[Any] = []
    now = 1.0
    for i in range(0, len(speech), 1600):
        notices += s.receive(media(speech[i : i + 1600]), now)
        now += 0.1
    kinds = [type(n) for n in notices]
    assert SpeechStarted in kinds and BargedIn in kinds
    assert kinds.index(SpeechStarted) < kinds.index(BargedIn)
    barge = next(n for n in notices if isinstance(n, BargedIn))
    assert barge.heard.label == "prompt" and barge.heard.total_ms == 5000
    assert 1000 < barge.heard.heard_ms < 5000 and barge.heard.heard_ms % 200 == 0
    assert {"event": "clear", "stream_sid": "MZ1"} in wire_messages(s)
    assert s.barge_ins == 1
    notices = []
    for _ in range(30):
        notices += s.receive(media(bytes(1600)), now)
        now += 0.1
    assert SpeechEnded in [type(n) for n in notices]


def test_no_barge_in_when_disabled_or_bot_silent() -> None:
    speech = audio_fixtures.load("cust_hello").pcm
    for policy, play in ((SessionSettings(barge_in_min_speech_ms=0), True),
                         (SessionSettings(), False)):
        s = started(policy)
        if play:
            s.play(bytes(16000 * 5), "prompt", 8000, 0.0)
        notices: list[Any] = []
        for n, i in enumerate(range(0, len(speech), 1600)):
            notices += s.receive(media(speech[i : i + 1600]), 0.1 * n)
        assert not any(isinstance(n, BargedIn) for n in notices)
        assert any(isinstance(n, SpeechStarted) for n in notices)


def test_a_key_tone_during_bot_audio_is_neither_speech_nor_a_barge_in() -> None:
    s = started(SessionSettings(barge_in_min_speech_ms=120))
    s.play(bytes(16000 * 5), "readback", 8000, 0.0)
    tones = b"".join(audio_fixtures.load(f"dtmf_{k}").pcm + bytes(1600) for k in "42")
    tones += audio_fixtures.load("dtmf_hash").pcm
    notices: list[Any] = []
    for n, i in enumerate(range(0, len(tones), 160)):  # 10 ms chunks: frames straddle tones
        notices += s.receive(media(tones[i : i + 160]), 1.0 + 0.01 * n)
    assert not any(isinstance(n, (BargedIn, SpeechStarted)) for n in notices)
    assert s.barge_ins == 0


def test_adapter_clear_reports_finished_labels_as_notices() -> None:
    s = started()
    s.play(bytes(3200), "a", 8000, 0.0)
    s.play(bytes(32000), "b", 8000, 0.0)
    position = s.clear(0.1)
    assert position.label == "a" and position.dropped_labels == ("b",)
    assert s.take_notices() == [PlaybackFinished("a")]
    assert wire_messages(s)[-1]["event"] == "clear"
    assert s.receive(mark("b"), 0.5) == [EventIgnored("mark:b")]
    assert s.stale_marks == 1


def test_dtmf_escalation_unknown_and_stop() -> None:
    s = started(SessionSettings(escalation_dtmf="0"))
    dtmf = '{"event":"dtmf","stream_sid":"MZ1","dtmf":{"digit":"%s","duration":"90"}}'
    assert s.receive(dtmf % "5", 0.1) == [DtmfIn("5")]
    assert s.receive(dtmf % "0", 0.2) == [DtmfIn("0"), EscalationRequested("0")]
    assert s.receive('{"event":"ringback"}', 0.3) == [EventIgnored("ringback")]
    assert s.unknown_events == 1
    stop = '{"event":"stop","stream_sid":"MZ1","stop":{"reason":"callended"}}'
    assert s.receive(stop, 0.4) == [CallStopped("callended")]
    with pytest.raises(OutOfOrder):
        s.receive(media(bytes(320)), 0.5)


def test_play_validation_and_overflow() -> None:
    s = Session(SessionSettings())
    with pytest.raises(RuntimeError):
        s.play(bytes(320), None, 8000, 0.0)
    s = started(SessionSettings(max_playout_ms=1000))
    with pytest.raises(ValueError):
        s.play(bytes(3), None, 8000, 0.0)
    with pytest.raises(ValueError):
        s.play(bytes(320), None, 11025, 0.0)
    s.play(bytes(16000), None, 8000, 0.0)  # exactly 1 s
    with pytest.raises(PlayoutOverflow):
        s.play(bytes(320), None, 8000, 0.0)
    s.play(bytes(320), None, 8000, 2.0)  # played out by then


def test_settings_validation() -> None:
    with pytest.raises(ValueError):
        SessionSettings(vad_aggressiveness=5)
    with pytest.raises(ValueError):
        SessionSettings(chunk_target_ms=0)
    with pytest.raises(ValueError):
        SessionSettings(barge_in_min_speech_ms=-1)


actions = st.lists(
    st.one_of(
        st.tuples(st.just("play"), st.integers(0, 20000), st.sampled_from([None, "a", "b"])),
        st.tuples(st.just("mark"), st.just(0), st.sampled_from(["m1", "m2"])),
        st.tuples(st.just("clear"), st.just(0), st.none()),
        st.tuples(st.just("echo"), st.just(0), st.sampled_from(["a", "b", "m1", "zz"])),
        st.tuples(st.just("media"), st.integers(0, 10), st.none()),
        st.tuples(st.just("wait"), st.integers(1, 500), st.none()),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(
    script=actions,
    encoding=st.sampled_from(["audio/x-raw", "audio/x-mulaw"]),
    adapter_rate=st.sampled_from([8000, 16000]),
)
def test_any_play_clear_mark_sequence_keeps_the_books(
    script: list[tuple[str, int, str | None]], encoding: str, adapter_rate: int
) -> None:
    s = started(encoding=encoding)
    fmt = s.fmt
    assert fmt is not None
    now = 0.0
    sent = 0
    for action, n, label in script:
        if action == "play":
            s.play(bytes(n - n % 2), label, adapter_rate, now)
        elif action == "mark":
            assert label is not None
            s.mark(label, now)
        elif action == "clear":
            position = s.clear(now)
            assert 0 <= position.heard_ms <= position.total_ms
        elif action == "echo":
            s.receive(mark(str(label)), now)
        elif action == "media":
            s.receive(media(bytes(fmt.frame_bytes * n)), now)
        else:
            now += n / 1000
        for message in s.take_outbound():
            msg = json.loads(message)
            if msg["event"] == "media":
                size = len(base64.b64decode(msg["media"]["payload"]))
                assert size % fmt.frame_bytes == 0 and 0 < size <= fmt.max_chunk_bytes
                sent += size
    assert s.bytes_out == sent
    assert s.playout.queued - s.playout.sent_bytes >= 0


def test_outbound_flag_and_max_playout_validation() -> None:
    s = started()
    assert not s.has_outbound
    s.play(bytes(3200), None, 8000, 0.0)
    assert s.has_outbound
    s.take_outbound()
    assert not s.has_outbound
    with pytest.raises(ValueError):
        SessionSettings(max_playout_ms=0)
