"""voxgate_shared.redact: URLs, headers, parameters and registered secrets masked in log text."""

from __future__ import annotations

import base64
import logging
import sys

import pytest

from voxgate_shared.redact import (
    MASK,
    RedactingFilter,
    SecretRegistry,
    install,
    redact_text,
    redact_url,
    redacted_excepthook,
    register_secrets,
    secrets_in_env,
    secrets_in_settings,
)

BASIC = base64.b64encode(b"vox:gw-p4ss").decode()


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("https://key:tok@dialer.example.com/ev", "https://***@dialer.example.com/ev"),
        ("grpc://127.0.0.1:5", "grpc://127.0.0.1:5"),
        ("wss://gw.example.com/stream/echo?token=abc&sample-rate=16000",
         "wss://gw.example.com/stream/echo?token=***&sample-rate=16000"),
        ("http://u:p@h:80/x?password=1&crm_secret=2&vx_call=c1",
         "http://***@h:80/x?password=***&crm_secret=***&vx_call=c1"),
    ],
)
def test_redact_url(url: str, want: str) -> None:
    assert redact_url(url) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (f"< Authorization: Basic {BASIC}", "< Authorization: Basic ***"),
        ("< authorization: Bearer tok-123456", "< authorization: Bearer ***"),
        ("{'Authorization': 'Bearer abcdefgh123', 'X': 'y'}",
         "{'Authorization': 'Bearer ***', 'X': 'y'}"),
        (f"[(b'Authorization', b'Basic {BASIC}')]", "[(b'Authorization', b'Basic ***')]"),
        ("stream ws://vox:gw-p4ss@127.0.0.1:9/stream/echo up",
         "stream ws://***@127.0.0.1:9/stream/echo up"),
        ("GET /ev?token=s3cr3t&x=1 HTTP/1.1", "GET /ev?token=***&x=1 HTTP/1.1"),
        (f"header value Basic {BASIC} sent", "header value Basic *** sent"),
        ("{'api_token': '<set>', 'crm_secret': 'zz', 'event_auth': 'u:p', 'bot': 'echo'}",
         "{'api_token': '<set>', 'crm_secret': '***', 'event_auth': '***', 'bot': 'echo'}"),
        # ordinary text is left alone
        ("Basic auth required; a Bearer token is missing", None),
        ("agent sip:agent@example.com rang; authorization failed for call c1", None),
        ("mark name token-12 played", None),
    ],
)
def test_redact_text(text: str, want: str | None) -> None:
    assert redact_text(text, SecretRegistry()) == (text if want is None else want)


def test_registered_secrets_are_masked_in_every_form() -> None:
    reg = SecretRegistry()
    reg.add("ctrl-token-xyz", "abc")  # "abc" is too short to be replaced everywhere
    reg.add("true", "False", "30000", "1.25")  # flags and numbers are not secrets
    reg.add_credentials("evuser", "ev pass/9")
    token = base64.b64encode(b"evuser:ev pass/9").decode()
    text = f"x ctrl-token-xyz y ev pass/9 z ev%20pass%2F9 {token} abc true False 30000 1.25"
    assert redact_text(text, reg) == f"x {MASK} y {MASK} z {MASK} {MASK} abc true False 30000 1.25"


def test_secrets_in_env_and_settings() -> None:
    env = {"EXOTEL_API_TOKEN": "t-1", "VOXGATE_EVENT_AUTH": "u:p", "MY_GW_PASSWORD": "pw",
           "VOXGATE_STREAM_URL": "ws://a:b@h/", "VOXGATE_CRM_URL": "http://h/crm",
           "HOME": "/root", "SSH_AUTH_SOCK": "/tmp/agent", "EMPTY_TOKEN": ""}
    assert sorted(secrets_in_env(env)) == ["pw", "t-1", "u:p", "ws://a:b@h/"]
    settings = {"api_token": "tok", "api_key": "key", "crm_secret": "s", "event_auth": "",
                "crm_url": "http://u:pw@h/", "stream_url": "ws://h/", "ring_timeout": 30}
    assert sorted(secrets_in_settings(settings)) == ["http://u:pw@h/", "key", "s", "tok"]


def test_filter_masks_message_args_and_traceback() -> None:
    logger = logging.getLogger("test.redact")
    handler = logging.Handler()
    seen: list[logging.LogRecord] = []
    handler.emit = seen.append  # type: ignore[method-assign,assignment]
    handler.addFilter(RedactingFilter(SecretRegistry()))
    logger.addHandler(handler)
    try:
        headers = {"Authorization": "Digest a=1, b=2"}
        logger.warning("stream %s with %r", "ws://u:secretpw@h/", headers)
        try:
            raise ValueError("GET http://u:secretpw@h/legs failed")
        except ValueError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    assert seen[0].getMessage() == "stream ws://***@h/ with {'Authorization': 'Digest ***'}"
    assert "secretpw" not in (seen[1].exc_text or "") and "http://***@h/legs" in (
        seen[1].exc_text or ""
    )


def test_install_adds_one_filter_per_handler_and_registers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)  # restored after the test
    logger = logging.getLogger("test.redact.install")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        install(logger, ["install-secret-1"])
        install(logger)
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        assert sys.excepthook is redacted_excepthook
        assert redact_text("x install-secret-1") == f"x {MASK}"
        register_secrets("ws://wsuser:ws-pass-2@h/", "evuser:ev-pass-3")
        assert redact_text("ws-pass-2 ev-pass-3 evuser:ev-pass-3") == "*** *** ***"
    finally:
        logger.removeHandler(handler)


def test_uncaught_traceback_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise OSError("cannot reach wss://vox:tb-passw0rd@gw.example.com/stream/echo")
    except OSError as exc:
        redacted_excepthook(OSError, exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "tb-passw0rd" not in err and "wss://***@gw.example.com/stream/echo" in err


def test_dialer_settings_log_masks_every_url() -> None:
    from dialer.config import DialerConfig

    config = DialerConfig(stream_url="wss://vox:gw-pass-1@gw.example.com",
                          crm_url="https://crm:crm-pass-2@crm.example.com/hook?token=t0k3n",
                          crm_secret="hmac-secret-3", api_token="api-token-4")
    described = repr(config.describe())
    for secret in ("gw-pass-1", "crm-pass-2", "t0k3n", "hmac-secret-3", "api-token-4"):
        assert secret not in described, described
    assert "wss://***@gw.example.com" in described
