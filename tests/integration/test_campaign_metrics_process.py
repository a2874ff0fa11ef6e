"""``voxgate campaign run --metrics-port 0`` in a child process: Prometheus scrapes of the
running campaign's figures and its dialer's counters, over real HTTP."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp
import pytest
from campaign_process import sim_env, start
from test_campaign_lease import sim_config
from test_campaign_signals import files

from exotel_sim.server import SimServer


async def metrics_url(log: Path) -> str:
    async with asyncio.timeout(30):
        while True:
            text = await asyncio.to_thread(log.read_text)
            found = re.search(r"metrics at (http://\S+/metrics)", text)
            if found:
                return found.group(1)
            await asyncio.sleep(0.05)


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    async with http.get(url) as reply:
        return reply.status, await reply.json()


def samples(text: str) -> dict[str, float]:
    return {
        key: float(value) for key, value in
        (line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    }


@pytest.mark.slow(5)
async def test_a_running_campaign_serves_its_figures_and_its_dialers(tmp_path: Path) -> None:
    toml, leads, db = files(tmp_path)
    log = tmp_path / "run.log"
    async with SimServer(sim_config()) as sim:
        child = await start([str(toml), "--leads", str(leads), "--db", str(db),
                             "--metrics-port", "0", "--keep-running"], sim_env(sim), log)
        try:
            url = await metrics_url(log)
            got: dict[str, float] = {}
            async with aiohttp.ClientSession() as http, asyncio.timeout(60):
                while got.get('voxgate_campaign_attempts{campaign="restart"}', 0) < 3:
                    async with http.get(url) as reply:
                        assert reply.status == 200
                        got = samples(await reply.text())
                    await asyncio.sleep(0.2)
                health = [await get_json(http, url.replace("/metrics", path))
                          for path in ("/healthz", "/readyz")]
        finally:
            child.send_signal(signal.SIGTERM)
            async with asyncio.timeout(60):
                code = await child.wait()
    assert code == 0, log.read_text()
    assert got['voxgate_campaign_leads{campaign="restart"}'] == 12
    assert got['voxgate_campaign_status{campaign="restart",status="running"}'] == 1
    assert 0 <= got['voxgate_campaign_abandon_rate_24h{campaign="restart"}'] <= 1
    assert sum(v for k, v in got.items() if k.startswith("voxgate_campaign_agents{")) == 3
    assert got["voxgate_dialer_calls_placed_total"] >= 3
    assert got["voxgate_dialer_api_requests_total"] >= 3
    mode = f"exotel (http://127.0.0.1:{sim.port})"  # beside the metrics: live and ready
    assert log.read_text().splitlines()[0] == f"mode: {mode}"  # the first line of its output
    assert health == [(200, {"status": "live", "role": "campaign", "mode": mode}),
                      (200, {"status": "ready", "role": "campaign", "mode": mode})]


async def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    toml, leads, db = files(tmp_path)
    log = tmp_path / "run.log"
    taken = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    try:
        async with SimServer(sim_config()) as sim:
            child = await start([str(toml), "--leads", str(leads), "--db", str(db),
                                 "--metrics-port", str(port)], sim_env(sim), log)
            async with asyncio.timeout(60):
                code = await child.wait()
    finally:
        taken.close()
    text = log.read_text()
    assert code == 2, text
    assert f"--metrics-port {port}: cannot listen on 127.0.0.1" in text and "Traceback" not in text
