"""Explicit mode (issue 16): a command that would dial needs real Exotel settings or an
explicit ``--emulator`` (``VOXGATE_EMULATOR=1``); without either, or with both, it exits 2 with
one line; the first line of its output names the mode, as ``/healthz`` does. Child processes
with a clean environment (no ``EXOTEL_*``/``VOXGATE_*`` variables of the caller's)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from peers.ports import free_port

CLEAN = {k: v for k, v in os.environ.items() if not k.startswith(("EXOTEL_", "VOXGATE_"))}
CLEAN["VOXGATE_CONTROL_TOKEN_FILE"] = os.environ.get("VOXGATE_CONTROL_TOKEN_FILE", "")
REAL = {"EXOTEL_API_BASE": "https://api.exotel.example", "EXOTEL_ACCOUNT_SID": "AC1",
        "EXOTEL_API_KEY": "k", "EXOTEL_EXOPHONE": "+918000000000",
        "VOXGATE_STREAM_URL": "wss://gw.example/stream/echo"}  # no token


def voxgate(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voxgate.cli", *argv], capture_output=True,
                          text=True, timeout=60, env={**CLEAN, **env})


@pytest.mark.parametrize("command", [
    ("call", "+919900000001"), ("dialer", "run"), ("campaign", "run", "c", "--db", "DB")])
def test_a_dialling_command_with_no_mode_refuses_in_one_line(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    argv = [a.replace("DB", str(tmp_path / "c.db")) for a in command]
    if command[0] == "campaign":  # a campaign that exists: the mode is what stops it
        toml = tmp_path / "c.toml"
        toml.write_text('name = "c"\n[window]\nstart = "00:00"\nend = "24:00"\n')
        argv[2] = str(toml)
    done = voxgate(*argv)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "no Exotel settings" in lines[0] and "--emulator" in lines[0]
    assert done.stdout == ""  # nothing started, nothing dialled
    both = voxgate(*argv, "--emulator", **REAL, EXOTEL_API_TOKEN="t")
    assert both.returncode == 2 and "choose one" in both.stderr, both.stderr
    no_token = voxgate(*argv, **REAL)
    assert no_token.returncode == 2 and "EXOTEL_API_TOKEN" in no_token.stderr, no_token.stderr


async def test_the_first_line_and_healthz_name_the_mode() -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "--log-level", "WARNING", "dialer", "run",
        "--control-port", str(port), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**CLEAN, "VOXGATE_EMULATOR": "1",  # the variable stands for the flag
             "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events"})
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            first = (await proc.stdout.readline()).decode().strip()
            while b"dialer control API at" not in await proc.stdout.readline():
                pass
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/healthz") as reply:
            body = await reply.json()
    finally:
        proc.terminate()
        await proc.wait()
    assert first == "mode: emulator"
    assert body == {"status": "live", "role": "dialer", "mode": "emulator"}
