"""``GET /healthz`` (live) and ``GET /readyz`` (ready) on every voxgate process (issue 16,
"Operable"), over real sockets: the gateway, the dialer's control API and the emulator
(``voxgate sim`` as a child process; ``campaign run --metrics-port`` is checked in
test_campaign_metrics_process). JSON bodies with the role and the mode; 503 with the reason
when not ready; never behind the control token; the readiness probe of Exotel is cached."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiohttp
from test_dialer_ops import sim_dialer_config

from dialer.control_api import ControlApiServer
from dialer.service import Dialer
from exotel_sim.config import SimConfig
from exotel_sim.server import SimServer
from gateway.config import GatewayConfig
from gateway.server import GatewayServer


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(url) as reply:
        assert reply.content_type == "application/json"
        return reply.status, await reply.json(content_type=None)


async def test_the_gateway_is_live_and_ready_while_it_listens() -> None:
    async with GatewayServer(GatewayConfig(host="127.0.0.1", port=0)) as gw, \
            aiohttp.ClientSession() as http:
        assert await get(http, f"{gw.base_url}/healthz") == (
            200, {"status": "live", "role": "gateway"})
        assert await get(http, f"{gw.base_url}/readyz") == (
            200, {"status": "ready", "role": "gateway"})


async def test_the_dialer_is_ready_with_exotel_reachable_and_says_why_not() -> None:
    async with SimServer(SimConfig(rest_latency_ms=0)) as sim:
        config = sim_dialer_config(sim)
        async with Dialer(config) as dialer, \
                ControlApiServer(dialer, dialer=dialer, token="s3cret") as api, \
                aiohttp.ClientSession() as http:  # no token: health is open
            mode = f"exotel (http://127.0.0.1:{sim.port})"
            assert await get(http, f"{api.url}/healthz") == (
                200, {"status": "live", "role": "dialer", "mode": mode})
            assert await get(http, f"{api.url}/readyz") == (
                200, {"status": "ready", "role": "dialer", "mode": mode})
            assert api.probe is not None and api.probe.probes == 1
            for _ in range(3):  # cached: one probe however often /readyz is asked
                assert (await get(http, f"{api.url}/readyz"))[0] == 200
            assert api.probe.probes == 1
            dialer.stop_accepting()
            status, body = await get(http, f"{api.url}/readyz")
            assert (status, body["reason"]) == (503, "stopping: no new calls")
            assert (await get(http, f"{api.url}/healthz"))[0] == 200  # still live


async def test_the_dialer_is_not_ready_when_exotel_is_unreachable_or_refuses_it() -> None:
    async with SimServer(SimConfig(rest_latency_ms=0)) as sim:
        good = sim_dialer_config(sim)
    # the emulator is gone: nothing listens at the API base any more
    async with Dialer(good) as dialer, ControlApiServer(dialer, dialer=dialer, token="") as api, \
            aiohttp.ClientSession() as http:
        status, body = await get(http, f"{api.url}/readyz")
        assert status == 503 and body["reason"].startswith("Exotel unreachable"), body
    async with SimServer(SimConfig(rest_latency_ms=0)) as sim:
        wrong = sim_dialer_config(sim).replace(api_token="not-the-token")
        async with Dialer(wrong) as dialer, \
                ControlApiServer(dialer, dialer=dialer, token="") as api, \
                aiohttp.ClientSession() as http:
            status, body = await get(http, f"{api.url}/readyz")
            assert status == 503 and "refused the credentials" in body["reason"], body
            assert "not-the-token" not in str(body)


async def test_the_emulator_process_is_live_and_ready() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "sim", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        base = line.split()[-1]
        async with aiohttp.ClientSession() as http:  # no credentials needed
            assert await get(http, f"{base}/healthz") == (
                200, {"status": "live", "role": "emulator", "mode": "emulator"})
            assert await get(http, f"{base}/readyz") == (
                200, {"status": "ready", "role": "emulator", "mode": "emulator"})
    finally:
        proc.terminate()
        await proc.wait()

