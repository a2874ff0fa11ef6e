"""One greeting gate for every wiring (issue 13 item 5): with ``voxgate gateway`` and ``voxgate
dialer run`` as separate processes the bot's first audio waits for the greeting's stop, asked
over the control channel (``greeting_wait``); the customer never hears both (it heard the
scripted bot's greeting over the dialer's for 23-48 ms before)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from peers.ports import free_port
from test_dialer_processes import bearer, process

WORLD = """
[customers."+919900000001"]
outcome = "answer"
ring_ms = 200
script = ["wait 1500", "hangup"]
"""


@pytest.mark.slow(15)
async def test_separate_processes_never_play_greeting_and_bot_together(tmp_path: Path) -> None:
    world = tmp_path / "world.toml"
    world.write_text(WORLD)
    port = free_port()
    control = f"http://127.0.0.1:{port}"
    async with process("gateway", "--port", "0", "--control-url", control,
                       ready="gateway listening on") as gw_line:
        env = {"VOXGATE_STREAM_URL": gw_line.rsplit(" ", 1)[-1], "EXOTEL_API_BASE": "",
               "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events"}
        async with process("dialer", "run", "--emulator", "--control-port", str(port),
                           "--sim-config", str(world), ready="embedded Exotel emulator at",
                           env=env) as sim_line:
            sim = sim_line.rsplit(" ", 1)[-1]
            async with aiohttp.ClientSession() as s:
                async with asyncio.timeout(15):  # the control API comes up after the emulator
                    while True:
                        try:
                            async with s.get(f"{control}/v1/health") as r:
                                if r.status == 200:
                                    break
                        except aiohttp.ClientConnectionError:
                            pass
                        await asyncio.sleep(0.05)
                s.headers.update(bearer())
                async with s.post(f"{control}/v1/calls",
                                  json={"number": "+919900000001", "bot": "scripted"}) as r:
                    assert r.status == 202, await r.text()
                    call_id = (await r.json())["call_id"]
                async with asyncio.timeout(15):
                    while True:
                        async with s.get(f"{control}/v1/calls/{call_id}") as r:
                            record = await r.json()
                        if record.get("done"):
                            break
                        await asyncio.sleep(0.05)
                async with s.get(f"{sim}/sim/legs/{record['customer_leg_sid']}/timeline") as r:
                    timeline = await r.json()
                gateway = gw_line.rsplit(" ", 1)[-1].replace("ws://", "http://")
                async with s.get(f"{gateway}/metrics") as r:
                    metrics = await r.text()
    sources = {h["source"] for h in timeline["heard"]}
    assert {"play", "stream"} <= sources, timeline["heard"]  # the greeting, then the bot
    assert timeline["overlaps"] == [], timeline["overlaps"]
    assert 'greeting_holds_total{outcome="released"} 1' in metrics, metrics
