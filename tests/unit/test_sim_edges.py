"""Edge cases of exotel_sim's pure cores: validation errors, audio formats, timeline bookkeeping."""

from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np
import pytest

from exotel_sim.audio import Placed, decode_wav, duration_ms, from_wire, rms, wire_duration_ms
from exotel_sim.config import AgentProfile, CustomerProfile, ScriptStep, SimConfig, SimConfigError
from exotel_sim.errors import BadRequest, NotFound, StateConflict
from exotel_sim.events import Event, rfc3339
from exotel_sim.legs import BridgeState, check_bridge_action
from exotel_sim.requests import (
    LEG_VERBS,
    StreamFormat,
    parse_action_param,
    parse_actions,
    parse_content_type,
    parse_create_bridge,
    parse_start_play,
    parse_update_leg,
)
from exotel_sim.timeline import PartyTimeline


def wav_of(samples: bytes, *, channels: int = 1, width: int = 2, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples)
    return buf.getvalue()


def test_decode_wav_converts_stereo_8bit_and_rates() -> None:
    stereo = np.array([1000, 3000] * 80, dtype="<i2").tobytes()
    mono = np.frombuffer(decode_wav(wav_of(stereo, channels=2)), dtype="<i2")
    assert len(mono) == 80 and mono[5] == 2000
    eight_bit = decode_wav(wav_of(bytes([128 + 64]) * 80, width=1))
    assert len(eight_bit) == 160 and np.frombuffer(eight_bit, dtype="<i2")[3] == 64 * 256
    assert len(decode_wav(wav_of(bytes(320), rate=16000))) == 160
    with pytest.raises(ValueError, match="sample width"):
        decode_wav(wav_of(bytes(240), width=3))
    with pytest.raises(ValueError, match="not a PCM WAV"):
        decode_wav(b"RIFF....nonsense")


def test_audio_measures() -> None:
    assert wire_duration_ms(160, "mulaw", 8000) == 20
    assert wire_duration_ms(3200, "pcm16", 16000) == 100
    assert duration_ms(bytes(1600)) == 100
    assert from_wire(b"\x00\x01\x02", "pcm16", 8000) == b"\x00\x01"  # odd byte dropped
    assert rms(bytes(320)) == 0
    assert StreamFormat("pcm16", 24000).bytes_per_ms == 48


def test_mix_ignores_pieces_outside_the_window() -> None:
    from exotel_sim.audio import mix

    out = mix([Placed(500, 600, bytes(1600))], 0, 100)
    assert out == bytes(1600)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ScriptStep("sing"),  # type: ignore[arg-type]
        lambda: ScriptStep("wait", ms=-1),
        lambda: ScriptStep("say"),
        lambda: ScriptStep.parse(""),
        lambda: ScriptStep.parse({"clip": "x"}),
        lambda: ScriptStep.parse(5),  # type: ignore[arg-type]
        lambda: ScriptStep.parse("barge soon cust_no"),
        lambda: CustomerProfile(busy_weight=-1),
        lambda: CustomerProfile(outcome="maybe"),  # type: ignore[arg-type]
        lambda: CustomerProfile(scripts=()),
        lambda: CustomerProfile(patience_ms=-1),
        lambda: AgentProfile(no_answer_probability=2),
        lambda: SimConfig(rest_latency_ms=-1),
        lambda: SimConfig(rate_limit_per_s=-1),
        lambda: SimConfig(duplicate_probability=1.5),
        lambda: SimConfig(http_timeout_s=0),
        lambda: SimConfig(api_key=""),
        lambda: SimConfig.from_toml("account = 5"),
        lambda: SimConfig.from_toml("[limits]\nrate_per_s = 'lots'"),
        lambda: SimConfig.from_toml("[customers.default]\nring_ms = 'long'"),
    ],
)
def test_config_rejects(make: Any) -> None:
    with pytest.raises(SimConfigError):
        make()


def test_ring_ms_may_be_a_single_number() -> None:
    config = SimConfig.from_toml("[customers.default]\nring_ms = 700\n[delivery]\n"
                                 "auth_user = 'u'\nauth_password = 'p'")
    assert config.default_customer.ring_ms == (700, 700)
    assert config.event_auth == ("u", "p")


def test_request_edges() -> None:
    assert parse_action_param(None) == ""
    assert parse_action_param({"action_custom_param": "x"}) == "x"
    update = parse_update_leg({"time_limit": 60, "leg_event_endpoint": "https://h/e"})
    assert (update.time_limit, update.leg_event_endpoint, update.custom_param) == (
        60, "https://h/e", None)
    with pytest.raises(BadRequest):
        parse_update_leg({"leg_event_endpoint": "grpc://h:notaport"})
    with pytest.raises(BadRequest, match="bridge_event_endpoint"):
        parse_create_bridge({"leg_sids": ["a", "b"], "bridge_event_endpoint": "mailto:x"})
    with pytest.raises(BadRequest, match="bad rate"):
        parse_content_type("audio/x-raw;rate=fast", None)
    assert parse_start_play({"url": "http://h/a.wav", "loop": None}).loop == 1
    with pytest.raises(BadRequest, match="too long"):
        parse_actions({"exoml": "<Flow>" + " " * 20_000 + "</Flow>"}, LEG_VERBS)
    with pytest.raises(BadRequest, match="loop"):
        parse_actions({"exoml": '<Flow><Play loop="x">http://h/a.wav</Play></Flow>'}, LEG_VERBS)
    with pytest.raises(BadRequest, match="SendDigits"):
        parse_actions({"exoml": "<Flow><SendDigits/></Flow>"}, LEG_VERBS)
    verbs, _ = parse_actions({"exoml": "<Flow><Stream>ws://h/s</Stream><Play>http://h/a.wav"
                                       "</Play></Flow>"}, LEG_VERBS)
    assert [v.name for v in verbs] == ["startstream", "startplay"]


def test_error_data_and_events() -> None:
    err = NotFound("leg x not found")
    assert err.error_data() == {"code": 404, "error": "not_found", "message": "leg x not found",
                                "description": "leg x not found"}
    assert rfc3339(None) is None
    with pytest.raises(ValueError):
        Event("", "leg_answered", "http://h", "L1")
    with pytest.raises(StateConflict):
        check_bridge_action("B", BridgeState.TERMINATED, "startsay")
    check_bridge_action("B", BridgeState.ACTIVE, "startsay")


def test_timeline_bookkeeping() -> None:
    a, b = PartyTimeline("A", keep_stream_audio=True), PartyTimeline("B")
    a.hear("stream", "MZ", 0, 0)  # empty: ignored
    a.hear("stream", "MZ", 0, 100, bytes(1600), merge=True)
    b.hear("stream", "MZ", 0, 100, bytes(1600), merge=True)
    assert len(a.stream_audio) == 1 and not b.stream_audio  # bot audio kept only when asked
    a.cut("stream", 50)
    assert a.stream_audio[0].end_ms == 50
    a.hear("say", "greeting", 200, 300, bytes(1600))
    a.cut("say", 150)  # before it started: gone entirely
    assert [i.source for i in a.heard_intervals()] == ["stream"] and a.ear_audio == []
    b.join_bridge("BR", a, 0)
    a.join_bridge("BR", b, 0)
    a.speak("cust_yes", 10, bytes(1600))  # bridged: B's timeline sees the change
    assert b.version > 0
    b_ear = b.ear_pieces()
    assert [(p.start_ms, p.end_ms) for p in b_ear] == [(10, 110)]
    a.hush(60)
    assert [(i.start_ms, i.end_ms) for i in a.speech_intervals()] == [(10, 60)]
    assert a.speech_pieces()[0].end_ms == 60
    b.leave_bridge("BR", 30)
    late = b.ear_pieces()
    assert [(p.start_ms, p.end_ms) for p in late] == [(10, 30)]
    c = PartyTimeline("C")
    c.join_bridge("BR2", a, 40)
    shifted = c.ear_pieces()
    assert [(p.start_ms, p.end_ms) for p in shifted] == [(40, 60)]
    assert len(shifted[0].pcm) == 1600 - 30 * 16
    assert c.to_json()["bridges"] == [{"bridge_sid": "BR2", "peer": "A", "start_ms": 40,
                                       "end_ms": None}]


def test_lag_stats() -> None:
    from exotel_sim.stats import LagStats, SimStats

    lag = LagStats()
    assert lag.percentile(0.5) == 0.0 and lag.to_json()["mean_ms"] == 0.0
    for value in (-1.0, 1.0, 2.0, 30.0):
        lag.record(value, chunk_ms=20)
    summary = lag.to_json()
    assert (summary["chunks"], summary["late_chunks"], summary["max_ms"]) == (4, 1, 30.0)
    assert summary["p50_ms"] == 2.0 and summary["mean_ms"] == 8.25
    lag.reset()
    assert lag.to_json()["chunks"] == 0
    stats = SimStats()
    stats.count("x")
    stats.count("x", 2)
    assert stats.counters["x"] == 3


def test_bad_request_names_its_field() -> None:
    err = BadRequest("text: is required", field="text")
    assert err.error_data()["field"] == "text" and err.status == 400
