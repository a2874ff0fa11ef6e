"""exotel_sim.requests: request bodies and ExoML parse into commands or field-level 400s."""

from __future__ import annotations

from typing import Any

import pytest

from exotel_sim import requests as rq
from exotel_sim.errors import BadRequest
from exotel_sim.events import build_event, event_type_of

LEG = {"contact_uri": "+919876543210", "exophone": "+918000000000",
       "leg_event_endpoint": "grpc://127.0.0.1:5000"}


def test_create_leg_defaults_and_optionals() -> None:
    cmd = rq.parse_create_leg({**LEG, "custom_param": "vx=1", "amd_enable": True,
                               "ring_timeout": 20, "priority": "high"})
    assert cmd.contact_uri == "+919876543210" and cmd.custom_param == "vx=1"
    assert (cmd.amd_enable, cmd.ring_timeout, cmd.priority, cmd.time_limit) == (
        True, 20, "high", 14_400)
    assert rq.parse_create_leg({**LEG, "contact_uri": "sip:agent@pbx"}).network_type == "pstn"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contact_uri": None}, "contact_uri"),
        ({"contact_uri": 919876543210}, "contact_uri"),
        ({"contact_uri": "call me"}, "contact_uri"),
        ({"exophone": ""}, "exophone"),
        ({"exophone": "080 4711 2233"}, "exophone"),
        ({"exophone": "+91"}, "exophone"),
        ({"leg_event_endpoint": "ftp://x"}, "leg_event_endpoint"),
        ({"leg_event_endpoint": "grpc://host-without-port"}, "leg_event_endpoint"),
        ({"amd_enable": "yes"}, "amd_enable"),
        ({"time_limit": "60"}, "time_limit"),
        ({"time_limit": 0}, "time_limit"),
        ({"network_type": "carrier-pigeon"}, "network_type"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_create_leg_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    body = {k: v for k, v in {**LEG, **change}.items() if v is not None}
    with pytest.raises(BadRequest) as info:
        rq.parse_create_leg(body)
    assert info.value.field == field
    assert info.value.status == 400


def test_body_must_be_an_object() -> None:
    with pytest.raises(BadRequest, match="JSON object"):
        rq.parse_create_leg([LEG])


def test_start_stream_accepts_the_dynamic_url_form() -> None:
    cmd = rq.parse_start_stream({"url": "https://bot.example/url?x=1"})
    assert cmd.custom_parameters == () and cmd.fmt.encoding == "mulaw"


def test_start_stream_formats() -> None:
    default = rq.parse_start_stream({"url": "ws://h/s"})
    assert default.fmt == rq.StreamFormat("mulaw", 8000) and default.fmt.chunk_ms == 20
    pcm = rq.parse_start_stream({"url": "wss://h/s", "content_type": "audio/x-raw;rate=16000"})
    assert pcm.fmt == rq.StreamFormat("pcm16", 16000) and pcm.fmt.chunk_ms == 100
    by_url = rq.parse_start_stream({"url": "ws://h/s?sample-rate=24000&vx_call=c1",
                                    "content_type": "raw"})
    assert by_url.fmt == rq.StreamFormat("pcm16", 24000)
    assert by_url.custom_parameters == (("vx_call", "c1"),)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://h/s"},
        {"url": "ws://h/s?a=1&b=2&c=3&d=4"},
        {"url": "ws://h/s?a=" + "x" * 300},
        {"url": "ws://h/s?sample-rate=44100"},
        {"url": "ws://h/s", "content_type": "audio/x-raw;rate=11025"},
        {"url": "ws://h/s", "content_type": "audio/x-mulaw;rate=16000"},
        {"url": "ws://h/s", "content_type": "audio/opus"},
        {"url": "ws://h/s", "direction": "sideways"},
    ],
)
def test_start_stream_rejects(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        rq.parse_start_stream(body)


def test_say_play_and_bridge_bodies() -> None:
    assert rq.parse_start_say({"text": "greeting", "loop": 0}).loop == 1
    assert rq.parse_start_play({"url": "http://h/a.wav", "loop": 3}).loop == 3
    with pytest.raises(BadRequest, match="text"):
        rq.parse_start_say({"text": "  "})
    with pytest.raises(BadRequest, match="url"):
        rq.parse_start_play({"url": "file:///etc/passwd"})
    assert rq.parse_create_bridge({"leg_sids": ["a", "b"]}).leg_sids == ("a", "b")
    for sids in (["a"], ["a", "a"], "a,b", ["a", 2]):
        with pytest.raises(BadRequest, match="leg_sids"):
            rq.parse_create_bridge({"leg_sids": sids})


def test_exoml_verbs_in_order() -> None:
    exoml = ('<Flow><StartSay loop="2">hold_message</StartSay>'
             '<StartStream url="ws://h/s?x=1" content_type="audio/x-raw;rate=8000"/>'
             '<SendDigits digits="12#"/><Hangup/></Flow>')
    verbs, param = rq.parse_actions({"exoml": exoml, "action_custom_param": "p"},
                                    rq.LEG_VERBS)
    assert [v.name for v in verbs] == ["startsay", "startstream", "senddigits", "hangup"]
    say = verbs[0].command
    assert isinstance(say, rq.StartSay) and (say.text, say.loop) == ("hold_message", 2)
    stream = verbs[1].command
    assert isinstance(stream, rq.StartStream) and stream.fmt.encoding == "pcm16"
    assert verbs[2].command == "12#" and param == "p"


@pytest.mark.parametrize(
    "exoml",
    ["<Flow><Gather/></Flow>", "<Flow>", "<Response2/>", "<Flow></Flow>",
     '<!DOCTYPE x [<!ENTITY a "b">]><Flow/>', "<Flow><StartPlay>ftp://x</StartPlay></Flow>"],
)
def test_bad_exoml(exoml: str) -> None:
    with pytest.raises(BadRequest) as info:
        rq.parse_actions({"exoml": exoml}, rq.LEG_VERBS)
    assert info.value.field == "exoml"


def test_bridge_verbs_exclude_streams() -> None:
    with pytest.raises(BadRequest, match="StartStream"):
        rq.parse_actions({"exoml": '<Flow><StartStream url="ws://h/"/></Flow>'},
                         rq.BRIDGE_VERBS)


def test_event_payload_shape() -> None:
    payload = build_event(event_sid="E1", name="leg_answered", now_epoch_s=0.0,
                          data={"leg_sid": "L1"}, action_sid="", action_custom_parameter="")
    assert set(payload) == {"event_sid", "event_type", "event_name", "event_timestamp",
                            "action_sid", "action_custom_parameter", "event_data", "data"}
    assert payload["event_type"] == "leg_lifecycle_event"
    assert payload["event_timestamp"] == "1970-01-01T00:00:00.000Z"
    assert event_type_of("bridge_created") == "bridge_lifecycle_event"
    assert event_type_of("stream_started") == "leg_action_event"
