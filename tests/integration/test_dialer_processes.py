"""Separate processes: ``voxgate gateway`` and ``voxgate dialer run`` (embedded emulator) talk
over the HTTP control API; a call placed with ``POST /v1/calls`` is escalated by DTMF."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from peers.ports import free_port

from voxgate_shared.control_token import read_control_token

WORLD = """
[latency]
rest_ms = 10
event_ms = 5
setup_ms = 50

[customers."+919900000001"]
outcome = "answer"
ring_ms = 200
script = ["streaming 100", "dtmf 0", "wait 8000", "hangup"]
bridge_script = ["wait 500", "hangup"]

[agents."+919800000001"]
answer_ms = 200
"""


def bearer() -> dict[str, str]:
    """The control API's token, as the gateway finds it: the file ``dialer run`` made."""
    return {"Authorization": f"Bearer {read_control_token()}"}


@asynccontextmanager
async def process(*args: str, ready: str, env: dict[str, str] | None = None
                  ) -> AsyncIterator[str]:
    """Start ``voxgate ARGS``; yield the first output line containing ``ready``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "--log-level", "WARNING", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(15):
            while True:
                line = (await proc.stdout.readline()).decode()
                assert line, f"voxgate {args[0]} exited before it was ready"
                if ready in line:
                    break
        yield line.strip()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


def scrape(text: str) -> dict[str, float]:
    """Prometheus text to ``{name{labels}: value}``; every sample's family is declared."""
    declared: set[str] = set()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            declared.add(line.split()[2])
        elif line and not line.startswith("#"):
            match = re.fullmatch(
                r'([a-z_]+)((?:\{[a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*\})?) (-?\d+(?:\.\d+)?)', line
            )
            assert match is not None, line
            assert match.group(1) in declared, line
            out[match.group(1) + match.group(2)] = float(match.group(3))
    return out


async def test_gateway_and_dialer_in_separate_processes(tmp_path: Path) -> None:
    world = tmp_path / "world.toml"
    world.write_text(WORLD)
    control_port = free_port()
    control = f"http://127.0.0.1:{control_port}"
    async with process("gateway", "--port", "0", "--control-url", control,
                       "--escalation-dtmf", "0", ready="gateway listening on") as gw_line:
        gateway_url = gw_line.rsplit(" ", 1)[-1]
        env = {"VOXGATE_STREAM_URL": gateway_url, "VOXGATE_EVENT_ENDPOINT":
               "http://127.0.0.1:0/exotel/events", "EXOTEL_API_BASE": ""}
        async with process("dialer", "run", "--emulator", "--control-port", str(control_port),
                           "--sim-config", str(world), "--agent", "a1=+919800000001",
                           ready="dialer control API at", env=env), \
                aiohttp.ClientSession(headers=bearer()) as s:
            body = {"number": "+919900000001", "bot": "echo", "custom": {"lead": "1"}}
            async with s.post(f"{control}/v1/calls", json=body) as r:
                assert r.status == 202
                call_id = (await r.json())["call_id"]
            record: dict[str, object] = {}
            for _ in range(300):
                async with s.get(f"{control}/v1/calls/{call_id}") as r:
                    record = await r.json()
                if record.get("done"):
                    break
                await asyncio.sleep(0.05)
            assert record.get("done"), record
            assert record["disposition"] == "agent_handled", record
            assert record["escalation_reason"] == "dtmf" and record["agent_id"] == "a1"
            async with s.get(f"{control}/v1/calls/nope") as r:
                assert r.status == 404
            async with s.post(f"{control}/v1/calls", json={"number": 5}) as r:
                assert r.status == 400
            async with s.get(f"{control}/metrics") as r:
                assert r.status == 200 and r.content_type == "text/plain"
                metrics = scrape(await r.text())
            assert metrics["voxgate_dialer_calls_placed_total"] == 1
            assert metrics['voxgate_dialer_calls_finished_total{disposition="agent_handled"}'] == 1
            assert metrics["voxgate_dialer_calls_active"] == 0
            assert sum(v for k, v in metrics.items() if k.startswith("voxgate_dialer_agents{")) == 1
            assert metrics["voxgate_dialer_api_requests_total"] >= 3  # customer, agent, bridge
            assert metrics["voxgate_dialer_events_received_total"] >= 4
            assert metrics["voxgate_dialer_events_malformed_total"] == 0
