"""The HTTP side of the gateway (auth before upgrade, health, metrics, dynamic URL) and the
control plane requests (transfer, hang-up, escalation DTMF, the HTTP control hook)."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from gateway_helpers import HangsUp
from peers.exotel_peer import ExotelPeer
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from gateway.config import GatewayConfig
from gateway.control import ControlRequest, HttpControlHook, RecordingControlHook
from gateway.errors import ControlHookError
from gateway.server import GatewayServer


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def test_basic_auth_401_before_upgrade_and_accepts_right_credentials() -> None:
    config = GatewayConfig(port=0, auth_user="KEY", auth_password="TOKEN")
    async with GatewayServer(config) as gw:
        url = gw.stream_url("echo")
        for headers in ({}, basic("KEY", "WRONG"), {"Authorization": "Bearer x"},
                        {"Authorization": "Basic !!!"}):
            with pytest.raises(InvalidStatus) as info:
                async with connect(url, additional_headers=headers):
                    pass
            assert info.value.response.status_code == 401
        assert gw.metrics.auth_failures == 4
        async with ExotelPeer(url, headers=basic("KEY", "TOKEN")) as peer:
            await peer.start()
            await peer.send_media(bytes(3200))
            await peer.wait_for(lambda r: len(r.audio) == 3200)
        # user:password in the URL becomes the Authorization header, as from Exotel.
        with_creds = url.replace("ws://", "ws://KEY:TOKEN@")
        async with connect(with_creds) as ws:
            await ws.send('{"event":"connected"}')


async def test_healthz_metrics_dynamic_url_and_404() -> None:
    config = GatewayConfig(port=0, public_url="wss://gw.example.com", auth_user="K",
                           auth_password="T")
    async with GatewayServer(config) as gw:
        base = f"http://127.0.0.1:{gw.port}"
        assert (await http_get(f"{base}/healthz"))[0] == 200
        status, ctype, text = await http_get(f"{base}/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        assert "voxgate_gateway_streams_active 0" in text
        assert (await http_get(f"{base}/url/echo"))[0] == 401
        status, ctype, text = await http_get(
            f"{base}/url/echo?CallSid=CA9&vx_call=77&sample-rate=16000", basic("K", "T")
        )
        assert status == 200 and ctype == "application/json"
        assert json.loads(text) == {
            "url": "wss://gw.example.com/stream/echo?vx_call=77&sample-rate=16000"
        }
        assert (await http_get(f"{base}/nothing"))[0] == 404


async def test_transfer_hangup_and_escalation_reach_the_control_hook() -> None:
    HangsUp.instances.clear()
    hook = RecordingControlHook()
    config = GatewayConfig(port=0, escalation_dtmf="0")
    async with GatewayServer(config, hook, adapters={"bot": HangsUp}) as gw:
        url = gw.stream_url("bot", vx_call="c-1")
        params = {"vx_call": "c-1"}
        async with ExotelPeer(url, call_sid="CA77", custom_parameters=params) as peer:
            await peer.start()
            await peer.dtmf("0")
            await peer.dtmf("8")
            await peer.dtmf("9")
            await peer.dtmf("#")
            assert await peer.wait_closed() == 1000
        bot = HangsUp.instances[0]
        await asyncio.wait_for(bot.stopped.wait(), 2)
    assert bot.named("dtmf") == ["0", "8", "9", "#"]
    assert bot.named("forecast_sent") == [True]
    assert bot.named("stop") == ["hangup"]
    assert [(r.kind, r.reason, r.skills) for r in hook.requests] == [
        ("transfer", "dtmf", ()),
        ("transfer_forecast", "bot_forecast", ()),
        ("transfer", "customer_asked", ("sales", "hindi")),
        ("hangup", "bot_done", ()),
    ]
    assert (hook.requests[1].within_s, hook.requests[1].likelihood) == (20.0, 0.7)
    assert all(r.call_sid == "CA77" and r.stream_sid == "MZ0001" for r in hook.requests)
    assert dict(hook.requests[0].custom_parameters) == {"vx_call": "c-1"}


async def test_http_control_hook_posts_json_and_raises_on_refusal() -> None:
    received: list[Any] = []

    async def control(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(body)
        if body["call_sid"] == "missing":
            return web.Response(status=404, text="no such call")
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/v1/control", control)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with HttpControlHook(f"http://127.0.0.1:{port}/") as hook:
            ok = ControlRequest("transfer", "CA1", "MZ1", "dtmf", {"vx_call": "9"}, ("a",))
            await hook.submit(ok)
            assert ControlRequest.from_json(received[0]) == ok
            with pytest.raises(ControlHookError) as info:
                await hook.submit(ControlRequest("hangup", "missing", "MZ1", "bye"))
            assert info.value.status == 404 and info.value.body == "no such call"
    finally:
        await runner.cleanup()
    async with HttpControlHook(f"http://127.0.0.1:{port}", timeout=1) as hook:
        with pytest.raises(ControlHookError):
            await hook.submit(ok)


TLS = Path(__file__).resolve().parent / "tls"


async def test_tls_serves_wss_and_https_dynamic_url() -> None:
    config = GatewayConfig(
        port=0,
        ssl_certfile=str(TLS / "localhost-cert.pem"),
        ssl_keyfile=str(TLS / "localhost-key.pem"),
    )
    client_tls = ssl.create_default_context(cafile=str(TLS / "localhost-cert.pem"))
    async with GatewayServer(config) as gw:
        assert gw.base_url.startswith("wss://127.0.0.1:")
        async with aiohttp.ClientSession() as session, session.get(
            f"https://127.0.0.1:{gw.port}/url/echo?vx_call=5", ssl=client_tls
        ) as resp:
            assert resp.status == 200
            assert await resp.json() == {"url": f"{gw.base_url}/stream/echo?vx_call=5"}
        async with connect(gw.stream_url("echo"), ssl=client_tls) as ws:
            await ws.send('{"event":"connected"}')
            await ws.send(json.dumps({
                "event": "start", "stream_sid": "MZ1",
                "start": {"stream_sid": "MZ1", "call_sid": "CA1",
                          "media_format": {"encoding": "audio/x-raw", "sample_rate": 8000}},
            }))
            payload = base64.b64encode(bytes(3200)).decode()
            await ws.send(json.dumps({"event": "media", "media": {"payload": payload}}))
            echoed = json.loads(await ws.recv())
            assert echoed == {"event": "media", "stream_sid": "MZ1", "media": {"payload": payload}}
