"""Dialer configuration: file, environment, validation, secrets kept out of logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.config import DialerConfig
from dialer.errors import ConfigError


def test_env_overrides_file(tmp_path: Path) -> None:
    f = tmp_path / "dialer.toml"
    f.write_text(
        '[dialer]\naccount_sid = "ACfile"\nexophone = "+9180"\nagent_ring_timeout = 9\n'
        'greeting_text = "Hi"\n'
    )
    cfg = DialerConfig.load(
        f,
        env={
            "EXOTEL_ACCOUNT_SID": "ACenv",
            "EXOTEL_API_KEY": "k",
            "EXOTEL_API_TOKEN": "supersecret",
            "EXOTEL_API_BASE": "https://cpaas-api.in.exotel.com",
            "VOXGATE_EVENT_ENDPOINT": "https://dialer.example.com/events",
            "VOXGATE_EVENT_LISTEN": "0.0.0.0:8443",
            "VOXGATE_EVENT_AUTH": "exo:pw",
            "VOXGATE_STREAM_URL": "wss://gw.example.com",
        },
    )
    assert cfg.account_sid == "ACenv" and cfg.exophone == "+9180"
    assert cfg.agent_ring_timeout == 9.0 and cfg.greeting_text == "Hi"
    assert cfg.event_transport == "http" and not cfg.uses_embedded_emulator
    assert "supersecret" not in repr(cfg)
    assert cfg.describe()["api_token"] == "<set>"
    assert cfg.describe()["crm_secret"] == "<unset>"


def test_defaults_use_embedded_emulator_and_grpc() -> None:
    cfg = DialerConfig.load(env={})
    assert cfg.uses_embedded_emulator and cfg.event_transport == "grpc"


def test_bool_and_number_coercion() -> None:
    cfg = DialerConfig.from_mapping({"record_bridges": "no", "max_agent_attempts": "2"})
    assert cfg.record_bridges is False and cfg.max_agent_attempts == 2
    assert cfg.replace(record_bridges=True).record_bridges


@pytest.mark.parametrize(
    "values",
    [
        {"event_endpoint": "ftp://x"},
        {"stream_url": "http://gw"},
        {"escalation_fallback": "pray"},
        {"stream_fallback": "x"},
        {"max_agent_attempts": 0},
        {"abandon_after": 0},
        {"nonsense": 1},
        {"max_retries": "many"},
    ],
)
def test_bad_values_raise_config_error(values: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        DialerConfig.from_mapping(values)


def test_exophone_is_a_phone_number_without_separators() -> None:
    assert DialerConfig(exophone="080 4711-2233").exophone == "08047112233"
    assert DialerConfig(exophone="+91 (80) 4711 2233").exophone == "+918047112233"
    for bad in ("ExoPhone", "+91", "080 4711 2233 ext 5"):
        with pytest.raises(ConfigError, match="exophone"):
            DialerConfig(exophone=bad)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        DialerConfig.load(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("dialer = 3")
    with pytest.raises(ConfigError):
        DialerConfig.load(bad, env={})


def test_redact_url() -> None:
    from dialer.config import redact_url

    assert redact_url("https://key:tok@dialer.example.com/ev") == "https://***@dialer.example.com/ev"
    assert redact_url("grpc://127.0.0.1:5") == "grpc://127.0.0.1:5"
