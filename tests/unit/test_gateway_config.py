"""Gateway configuration, metrics rendering, the adapter registry and the echo adapter."""

from __future__ import annotations

import argparse

import pytest

from bot_adapters.echo import EchoAdapter
from bot_adapters.registry import UnknownAdapter, available_adapters, load_adapter
from gateway.cli import config_from_args, parse_adapter_options, register
from gateway.config import GatewayConfig
from gateway.metrics import GatewayMetrics


def test_config_defaults_and_freezing() -> None:
    options = {"echo": {"sample_rate": "16000"}}
    cfg = GatewayConfig(port=0, adapter_options=options, barge_in_min_speech_ms=150)
    options["echo"]["sample_rate"] = "8000"
    assert cfg.options_for("echo")["sample_rate"] == "16000"
    assert dict(cfg.options_for("nobody")) == {}
    assert not cfg.auth_required
    assert cfg.session_settings().barge_in_min_speech_ms == 150


@pytest.mark.parametrize(
    "kwargs",
    [
        {"port": 70000},
        {"auth_user": "k"},
        {"ssl_certfile": "a.pem"},
        {"escalation_dtmf": "00"},
        {"idle_timeout": 0},
        {"vad_aggressiveness": 9},
        {"adapter_queue": 0},
        {"start_timeout": 0},
        {"max_pending": 0},
        {"max_pending_per_ip": 0},
        {"max_connections_per_ip": -1},
        {"ip_limit_exempt": ("10.0.0.0/8", "not-a-network")},
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        GatewayConfig(**kwargs)  # type: ignore[arg-type]


def test_limit_options_from_the_command_line() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["gateway", "--start-timeout", "3", "--max-pending-per-ip", "7",
                              "--ip-limit-exempt", "none"])
    cfg = config_from_args(args)
    assert (cfg.start_timeout, cfg.max_pending_per_ip, cfg.ip_limit_exempt) == (3.0, 7, ())
    default = config_from_args(parser.parse_args(["gateway"]))
    assert default.ip_limit_exempt == ("127.0.0.0/8", "::1/128")
    assert default.max_connections_per_ip == 0
    two = parser.parse_args(["gateway", "--ip-limit-exempt", "10.1.0.0/16",
                             "--ip-limit-exempt", "::1"])
    assert config_from_args(two).ip_limit_exempt == ("10.1.0.0/16", "::1")


def test_adapter_option_parsing() -> None:
    assert parse_adapter_options(["echo.sample_rate=16000", "echo.x=a=b", "llm.url=http://h"]) == {
        "echo": {"sample_rate": "16000", "x": "a=b"},
        "llm": {"url": "http://h"},
    }
    with pytest.raises(ValueError):
        parse_adapter_options(["nodot=1"])


class FakeStream:
    def __init__(self, n: int) -> None:
        self.frames_in = n
        self.bytes_in = 10 * n
        self.frames_out = n
        self.bytes_out = 10 * n
        self.barge_ins = 1
        self.unknown_events = 0
        self.stale_marks = 0


def test_metrics_sum_live_and_finished_streams() -> None:
    m = GatewayMetrics()
    a, b = FakeStream(3), FakeStream(4)
    m.attach(a)
    m.attach(b)
    assert m.streams_active == 2 and m.frames_in == 7
    m.detach(a)
    m.detach(a)  # idempotent
    a.frames_in = 100  # no longer read
    assert m.streams_active == 1 and m.frames_in == 7 and m.barge_ins == 2
    m.protocol_errors["bad_base64"] += 1
    m.closes[4001] += 1
    text = m.render()
    assert "voxgate_gateway_streams_active 1\n" in text
    assert "voxgate_gateway_streams_total 2\n" in text
    assert "voxgate_gateway_frames_in_total 7\n" in text
    assert 'voxgate_gateway_protocol_errors_total{kind="bad_base64"} 1\n' in text
    assert 'voxgate_gateway_closes_total{code="4001"} 1\n' in text
    with pytest.raises(KeyError):
        m.total("nope")
    m.loop_lag(0.005)
    m.loop_lag(0.030)
    m.loop_lag(0.010)
    text = m.render()
    assert "voxgate_gateway_loop_lag_max_seconds 0.030000\n" in text
    assert "voxgate_gateway_loop_lags_over_20ms_total 1\n" in text


def test_registry_finds_echo_by_entry_point() -> None:
    assert "echo" in available_adapters()
    assert load_adapter("echo") is EchoAdapter
    with pytest.raises(UnknownAdapter) as info:
        load_adapter("no-such-bot")
    assert "echo" in info.value.available and info.value.name == "no-such-bot"


def test_echo_options() -> None:
    assert EchoAdapter({}).sample_rate == 8000
    assert EchoAdapter({"sample_rate": "16000"}).sample_rate == 16000
    for bad in ("fast", "11025"):
        with pytest.raises(ValueError):
            EchoAdapter({"sample_rate": bad})
    assert EchoAdapter.allow_barge_in is False
