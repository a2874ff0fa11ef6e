"""``voxgate sim``: the emulator as its own process, configured by a TOML file and a seed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp


async def test_voxgate_sim_serves_with_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text('seed = 1\n[account]\nsid = "ACcli"\nkey = "k1"\ntoken = "t1"\n'
                      '[latency]\nrest_ms = 0\n')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "sim", "--port", "0", "--config", str(config),
        "--seed", "9", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("exotel_sim listening on http://127.0.0.1:")
        base = line.split()[-1]
        headers = {"Authorization": aiohttp.encode_basic_auth("k1", "t1")}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.get(f"{base}/sim/stats") as resp:
                assert resp.status == 200 and (await resp.json())["active_legs"] == 0
            async with http.get(f"{base}/v2/accounts/ACcli/legs/none") as resp:
                assert resp.status == 404
            async with http.get(f"{base}/v2/accounts/ACsim/legs/none") as resp:
                assert resp.status == 403
    finally:
        proc.terminate()
        await proc.wait()


async def test_voxgate_sim_rejects_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[latency]\nrest_ms = 'slow'\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "sim", "--port", "0", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert b"rest_ms" in err
