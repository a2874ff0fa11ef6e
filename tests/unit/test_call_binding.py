"""The pure parts of the control channel: the ``vx_call`` MAC, what bots see, the token file."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from dialer.call_binding import MAC_CHARS, SIGNED_EXTRA, CallBinding
from dialer.stream_params import MAX_CHARS, add_stream_params
from gateway.control import bot_parameters, split_vx_call
from voxgate_shared.control_token import (
    ensure_control_token,
    read_control_token,
    token_bytes,
)


def test_a_signed_call_id_verifies_and_nothing_else_does() -> None:
    binding = CallBinding(b"k" * 32)
    signed = binding.sign("camp-17-1")
    assert len(signed) == len("camp-17-1") + SIGNED_EXTRA
    assert split_vx_call(signed)[0] == "camp-17-1" and len(split_vx_call(signed)[1]) == MAC_CHARS
    assert binding.verify(signed) == "camp-17-1"
    other = CallBinding(b"x" * 32)
    assert other.verify(signed) is None  # another dialer's (or a restarted one's) secret
    mac = split_vx_call(signed)[1]
    for forged in ("camp-17-1", "camp-17-2~" + mac, "camp-17-1~" + "A" * MAC_CHARS,
                   "camp-17-1~" + mac[:-1], "~" + mac, "camp-17-1~" + mac + "é", ""):
        assert binding.verify(forged) is None, forged
    # call ids with the separator in them still verify (the MAC is split off the right)
    assert binding.verify(binding.sign("a~b")) == "a~b"


def test_the_secret_from_the_environment_is_shared_and_checked() -> None:
    env = {"VOXGATE_CALL_SECRET": "a shared secret of some length"}
    one, two = CallBinding.from_env(env), CallBinding.from_env(env)
    assert two.verify(one.sign("c1")) == "c1"  # two dialers with one secret
    assert CallBinding.from_env({}).verify(one.sign("c1")) is None  # per-process secret
    with pytest.raises(ValueError, match="at least 16"):
        CallBinding.from_env({"VOXGATE_CALL_SECRET": "short"})


def test_the_signed_call_id_fits_exotels_budget_beside_the_stream_params() -> None:
    signed = CallBinding(b"k" * 32).sign("a" * 64 + "-lead000001-9")
    url = f"wss://gw.example.com/stream/bot?vx_call={signed}"
    params = add_stream_params(url, {"name": "N" * 200, "plan": "P" * 200})
    sent = dict(parse_qsl(urlsplit(params.url).query))
    assert sent["vx_call"] == signed  # never shortened: only the caller's fields are
    assert sum(len(k) + len(v) for k, v in sent.items()) <= MAX_CHARS
    assert params.truncated == ("name", "plan")


def test_bots_see_the_plain_call_id() -> None:
    params = {"vx_call": "c1~" + "A" * MAC_CHARS, "name": "Asha"}
    assert dict(bot_parameters(params)) == {"vx_call": "c1", "name": "Asha"}
    plain = {"vx_call": "c1"}
    assert bot_parameters(plain) is plain


def test_the_token_file_is_made_once_0600_and_read_by_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "state" / "voxgate" / "control-token"
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN_FILE", str(path))
    monkeypatch.delenv("VOXGATE_CONTROL_TOKEN", raising=False)
    assert read_control_token() == ""
    token, source = ensure_control_token()
    assert "new token file" in source and len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert token not in source
    assert ensure_control_token()[0] == token == read_control_token()  # the next start, a client
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN", "from-env")
    assert ensure_control_token() == ("from-env", "$VOXGATE_CONTROL_TOKEN")
    monkeypatch.delenv("VOXGATE_CONTROL_TOKEN")
    path.write_text("two words\n")
    with pytest.raises(ValueError, match="not a control token"):
        read_control_token()


def test_tokens_compare_as_bytes_whatever_they_hold() -> None:
    assert token_bytes("tökén") == "tökén".encode()
    assert token_bytes("\udcff") == b"\xff"  # a header byte aiohttp could not decode
