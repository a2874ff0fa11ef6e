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


def test_a_dialer_id_is_signed_into_vx_call_and_checked() -> None:
    from voxgate_shared.control import vx_call_owner

    da, db = CallBinding(b"k" * 32, "da"), CallBinding(b"k" * 32, "db")  # one shared secret
    signed = da.sign("camp.17~1")
    assert signed.endswith(".da") and vx_call_owner(signed) == "da"
    assert len(signed) == len("camp.17~1") + SIGNED_EXTRA + len(".da")
    assert split_vx_call(signed)[0] == "camp.17~1"
    assert bot_parameters({"vx_call": signed})["vx_call"] == "camp.17~1"
    assert da.verify(signed) == "camp.17~1"
    mac = split_vx_call(signed)[1]
    for forged in (db.sign("camp.17~1"), "camp.17~1~" + mac + ".db", "camp.17~1~" + mac,
                   "camp.17~1~" + mac + ".", signed + "x"):
        assert da.verify(forged) is None, forged  # another owner, or the owner changed
    plain = CallBinding(b"k" * 32)
    assert vx_call_owner(plain.sign("c1")) == "" and plain.verify(signed) is None
    with pytest.raises(ValueError, match="dialer id"):
        CallBinding(b"k" * 32, "a.b")
    assert CallBinding.from_env({"VOXGATE_DIALER_ID": "db"}).owner == "db"


async def test_gateway_control_urls_route_by_owner() -> None:
    from gateway.control_routes import RoutingControlHook, parse_control_urls
    from gateway.errors import ControlHookError
    from gateway.metrics import GatewayMetrics
    from voxgate_shared.control import ControlRequest

    assert parse_control_urls(["http://d:1"]) == ("http://d:1", {})
    default, named = parse_control_urls(["da=http://a:1", "db=https://b:2/x"])
    assert (default, named) == (None, {"da": "http://a:1", "db": "https://b:2/x"})
    for bad in (["http://a", "http://b"], ["da=http://a", "da=http://b"], ["da=ftp://a"],
                ["a.b=http://a"], ["nope"]):
        with pytest.raises(ValueError, match=r"control-url|dialer id"):
            parse_control_urls(bad)
    hook = RoutingControlHook(None, named)
    binding = CallBinding(b"k" * 32, "db")

    def request(vx_call: str) -> ControlRequest:
        return ControlRequest("hangup", "leg1", "s1", "done", {"vx_call": vx_call})

    route = hook.route(request(binding.sign("c1")))
    assert route is not None and route.url == "https://b:2/x/v1/control"
    stranger = request(CallBinding(b"k" * 32, "dz").sign("c1"))
    assert hook.route(stranger) is None
    hook.metrics = GatewayMetrics()
    with pytest.raises(ControlHookError, match="no --control-url for dialer 'dz'"):
        await hook.submit(stranger)  # refused, counted (and logged by the connection)
    assert hook.unrouted == 1 and hook.metrics.control_unrouted == 1
    assert "voxgate_gateway_control_unrouted_total 1" in hook.metrics.render()
    assert RoutingControlHook("http://d:1", named).route(request("c1~" + "A" * MAC_CHARS)) \
        is not None
