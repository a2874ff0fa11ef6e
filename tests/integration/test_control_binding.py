"""Control requests are bound to their call (issue 14 item 1), in both wirings, on the emulator.

A stray WebSocket that puts a victim's call id in ``start.custom_parameters.vx_call`` and then
presses the escalation digit, asks for an unknown adapter, or runs a bot that hangs up, used to
make the gateway send transfer/bot_failed/hang-up for the victim's call, and the dialer acted.
Now the dialer wants ``vx_call`` to carry its MAC *and* the stream's ``call_sid`` to be the
call's customer leg: every such request is refused (403 over HTTP), counted and logged without
the claimed call id, and the victim's call goes on untouched."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import aiohttp
import pytest
from peers.exotel_peer import ExotelPeer
from test_dialer_flows import customer, until

from bot_adapters.contract import BotAdapter, CallControl
from dialer.config import DialerConfig
from dialer.control_api import ControlApiServer
from dialer.errors import ControlRefused
from dialer.service import CallRequest
from exotel_sim.config import SimConfig
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack
from voxgate_shared.control import ControlRequest

VICTIM = "+919900000001"
TOKEN = "binding-token"


class Quitter(BotAdapter):
    """A bot that hangs up its call as soon as it starts."""

    def __init__(self, options: Mapping[str, str]) -> None:
        pass

    async def on_start(self, call: CallControl) -> None:
        await call.hangup("scripted_goodbye")


def refused_total(st: LocalStack) -> int:
    return sum(st.dialer.stats.control_refused.get(r, 0)
               for r in ("unbound", "bad_mac", "leg_mismatch"))


@pytest.mark.parametrize("control", ["direct", "http"])
async def test_a_stray_stream_cannot_act_on_another_call(
    control: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN", TOKEN)  # the HTTP wiring with its token
    caplog.set_level(logging.INFO)
    sim = SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20,
                    customers={VICTIM: customer("wait 60000", "hangup")})
    gw = GatewayConfig(host="127.0.0.1", port=0, escalation_dtmf="0")
    async with LocalStack(DialerConfig(), sim_config=sim, gateway_config=gw,
                          control=control,  # type: ignore[arg-type]
                          adapters={"quitter": Quitter}) as st:
        assert st.gateway is not None
        handle = await st.dialer.place_call(CallRequest(VICTIM, bot="echo", call_id="camp-17-1"))
        await until(lambda: handle.state == "bot")
        victim = handle.call_id
        signed = st.dialer.binding.sign(victim)  # even a leaked vx_call does not help
        attacks = [
            ("echo", {"vx_call": victim}, "dtmf"),  # the escalation digit
            ("nosuchbot", {"vx_call": victim}, ""),  # bot_failed adapter_init:unknown
            ("quitter", {"vx_call": victim}, ""),  # the bot hangs up
            ("echo", {"vx_call": signed}, "dtmf"),  # right MAC, wrong leg
            ("echo", {"vx_call": victim + "~" + "A" * 22}, "dtmf"),  # a forged MAC
        ]
        for n, (bot, params, act) in enumerate(attacks):
            before = refused_total(st)
            async with ExotelPeer(st.gateway.stream_url(bot), stream_sid=f"MZevil{n}",
                                  call_sid=f"CAevil{n}", custom_parameters=params) as peer:
                await peer.start()
                if act == "dtmf":
                    await peer.dtmf("0")
                await until(lambda b=before: refused_total(st) > b)  # type: ignore[misc]
        # the refusals reached the dialer; a greeting_wait of each gated stray stream too
        await until(lambda: refused_total(st) >= 5)
        stats = st.dialer.stats
        assert stats.control_refused.get("leg_mismatch", 0) >= 1
        assert stats.control_refused.get("bad_mac", 0) >= 4
        assert stats.bot_failures == 0
        assert handle.state == "bot" and not handle.done
        # in one process the refusal is typed
        if control == "direct":
            with pytest.raises(ControlRefused) as err:
                await st.dialer.submit(ControlRequest("hangup", "CAevil9", "MZ", "x",
                                                      {"vx_call": victim}))
            assert err.value.reason == "bad_mac"
        # an operator ends a call by id, with the token
        async with ControlApiServer(st.dialer, dialer=st.dialer) as api, \
                aiohttp.ClientSession() as http:
            url = f"{api.url}/v1/calls/{victim}/hangup"
            async with http.post(url, json={"reason": "test_over"}) as r:
                assert r.status == 401
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with http.post(url, json={"reason": "test_over"}, headers=auth) as r:
                assert r.status == 202, await r.text()
            record = await handle.wait()
            async with http.post(url, headers=auth) as r:
                assert r.status == 404  # no longer live
    assert record.hangup_reason == "test_over", record
    assert not record.escalated and record.disposition != "failed"
    logged = "\n".join(r.getMessage() for r in caplog.records
                       if r.getMessage().startswith("control request"))
    assert "refused (bad_mac)" in logged and "refused (leg_mismatch)" in logged
    assert victim not in logged  # the claimed call id is not logged in clear
