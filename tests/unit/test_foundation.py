"""The shared seams: adapter contract values, control requests, fixtures, generated protos."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

import audio_fixtures
from bot_adapters.contract import CallInfo, PlayedPosition
from gateway.control import ControlRequest, RecordingControlHook

ROOT = Path(__file__).resolve().parents[2]


def test_call_info_freezes_custom_parameters() -> None:
    params = {"vx_call": "c1"}
    info = CallInfo("MZ1", "CA1", "AC1", "+911", "+912", params, 8000, "mulaw")
    params["vx_call"] = "changed"
    assert info.custom_parameters["vx_call"] == "c1"
    with pytest.raises(TypeError):
        info.custom_parameters["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize("kwargs", [{"stream_sid": ""}, {"call_encoding": "opus"}])
def test_call_info_rejects_bad_values(kwargs: dict[str, str]) -> None:
    base = {
        "stream_sid": "MZ1",
        "call_sid": "CA1",
        "account_sid": "AC1",
        "from_number": "a",
        "to_number": "b",
    }
    with pytest.raises(ValueError):
        CallInfo(**{**base, **kwargs})  # type: ignore[arg-type]


def test_played_position_bounds() -> None:
    assert PlayedPosition("u1", 100, 200).heard_ms == 100
    with pytest.raises(ValueError):
        PlayedPosition("u1", 300, 200)


def test_control_request_json_round_trip() -> None:
    req = ControlRequest("transfer", "CA1", "MZ1", "asked", {"vx_call": "c1"}, ("sales",))
    assert ControlRequest.from_json(req.to_json()) == req


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"kind": "transfer", "call_sid": "CA1"},
        {"kind": "fly", "call_sid": "CA1", "reason": "x"},
        {"kind": "hangup", "call_sid": "CA1", "reason": "x", "skills": "sales"},
        {"kind": "hangup", "call_sid": "CA1", "reason": "x", "custom_parameters": {"a": 1}},
    ],
)
def test_control_request_rejects_malformed(body: object) -> None:
    with pytest.raises(ValueError):
        ControlRequest.from_json(body)


async def test_recording_hook_keeps_requests() -> None:
    hook = RecordingControlHook()
    await hook.submit(ControlRequest("hangup", "CA1", "MZ1", "bot_hangup"))
    assert [r.kind for r in hook.requests] == ["hangup"]


def test_fixtures_are_mono_pcm16_speech() -> None:
    clip = audio_fixtures.load("cust_yes")
    assert clip.sample_rate == 8000 and clip.duration_ms > 1000
    assert audio_fixtures.load("cust_yes_16k").sample_rate == 16000
    assert "dtmf_5" in audio_fixtures.names()
    with pytest.raises(FileNotFoundError):
        audio_fixtures.path("nope")


def test_generated_protos_match_proto_files(tmp_path: Path) -> None:
    from protos.generate import generate

    for produced in generate(tmp_path):
        committed = ROOT / "protos" / produced.name
        assert filecmp.cmp(produced, committed, shallow=False), f"{committed} is stale"
