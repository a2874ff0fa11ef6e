"""Campaigns owned by the dialer service (issue 16): ``voxgate sim`` as Exotel, a separate
``voxgate gateway --control-url`` (the public gateway of a deployment) and ``voxgate dialer
run``, each a process. ``voxgate campaign run CAMPAIGN.toml --leads leads.csv --dialer URL``
creates and starts the campaign inside the service; its customers press 0, and the gateway's
transfers reach the service, so each is bridged to an agent (``agent_handled``); ``status`` and
``export`` then go through the service too. Before, ``campaign run`` had no ``--dialer`` and the
service no campaign routes (``campaign run`` started its own gateway; a separate gateway's
control requests reached nothing)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from calling_time import daytime_zone
from peers.ports import free_port
from test_dialer_processes import process

CUSTOMERS = ("+919900000011", "+919900000012", "+919900000013")
AGENTS = ("+919800000011", "+919800000012")
WORLD = "[latency]\nrest_ms = 10\nevent_ms = 5\nsetup_ms = 50\n" + "".join(
    f'[customers."{n}"]\noutcome = "answer"\nring_ms = 200\n'
    'script = ["streaming 100", "dtmf 0", "wait 8000", "hangup"]\n'
    'bridge_script = ["wait 300", "hangup"]\n' for n in CUSTOMERS
) + "".join(f'[agents."{n}"]\nanswer_ms = 100\n' for n in AGENTS)
TOKEN = "campaign-service-token-0123456789"


def campaign_toml() -> str:
    return f"""
name = "svc"
mode = "bot_first"
bot = "echo"
timezone = "{daytime_zone()}"
[limits]
max_attempts = 1
ring_timeout_s = 10
min_ring_s = 1
max_lines = 3
[[agents]]
id = "c1"
number = "{AGENTS[0]}"
[[agents]]
id = "c2"
number = "{AGENTS[1]}"
"""


def voxgate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOXGATE_CONTROL_TOKEN": TOKEN}
    return subprocess.run([sys.executable, "-m", "voxgate.cli", "campaign", *args],
                          capture_output=True, text=True, env=env, timeout=30)


@pytest.mark.slow(10)
async def test_a_campaign_in_the_service_escalates_through_a_separate_gateway(
        tmp_path: Path) -> None:
    (tmp_path / "world.toml").write_text(WORLD)
    (tmp_path / "svc.toml").write_text(campaign_toml())
    zone = daytime_zone()  # the calling window is open in the leads' zone
    (tmp_path / "leads.csv").write_text("phone,timezone\n" + "".join(
        f"{n},{zone}\n" for n in CUSTOMERS))
    control = f"http://127.0.0.1:{free_port()}"
    token = {"VOXGATE_CONTROL_TOKEN": TOKEN}
    async with AsyncExitStack() as stack:
        line = await stack.enter_async_context(process(
            "sim", "--port", "0", "--config", str(tmp_path / "world.toml"), ready="api base"))
        api_base = line.split()[2]
        line = await stack.enter_async_context(process(
            "gateway", "--port", "0", "--control-url", control, "--escalation-dtmf", "0",
            ready="gateway listening on", env=token))
        gateway = int(line.rsplit(":", 1)[-1].split("/")[0])
        env = {**token, "VOXGATE_STREAM_URL": f"ws://127.0.0.1:{gateway}",
               "EXOTEL_API_BASE": api_base, "EXOTEL_ACCOUNT_SID": "ACsim",
               "EXOTEL_API_KEY": "sim_key", "EXOTEL_API_TOKEN": "sim_token",
               "EXOTEL_EXOPHONE": "+918000000000", "VOXGATE_DB": str(tmp_path / "svc.db"),
               "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events"}
        await stack.enter_async_context(process(
            "dialer", "run", "--control-port", control.rsplit(":", 1)[-1],
            ready="dialer control API at", env=env))
        started = voxgate("run", str(tmp_path / "svc.toml"), "--leads",
                          str(tmp_path / "leads.csv"), "--dialer", control)
        assert started.returncode == 0, started.stderr
        assert "campaign svc: created" in started.stdout and "started" in started.stdout
        again = voxgate("run", str(tmp_path / "svc.toml"), "--dialer", control)
        assert again.returncode == 2 and "409" in again.stderr, again  # a name in use
        s = await stack.enter_async_context(aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {TOKEN}"}))
        for body, error in (  # one line naming the field
                ({"campaign": "name = "}, "field 'campaign': not valid TOML"),
                ({"campaign": 'name = "x"', "leads": "name\nA\n"}, "field 'leads': "),
                ({"campaign": 'name = "x"', "csv": ""}, "field 'csv': unknown"),
                ({"campaign": 'name = "x"\nbot = "nosuch"'}, "field 'campaign': bot 'nosuch'")):
            async with s.post(f"{control}/v1/campaigns", json=body) as r:
                assert r.status == 400 and (await r.json())["error"].startswith(error)
        async with asyncio.timeout(30):
            while True:
                async with s.get(f"{control}/v1/campaigns/svc") as r:
                    state = await r.json()
                if not state["running"] and state["done"] == len(CUSTOMERS):
                    break
                await asyncio.sleep(0.1)
        status = voxgate("status", "svc", "--dialer", control)
        exported = voxgate("export", "svc", "--attempts", "--dialer", control)
        assert exported.returncode == 0, exported.stderr
        rows = list(csv.DictReader(io.StringIO(exported.stdout)))
        records = []
        for row in rows:  # each attempt's call record, as the service stored it
            async with s.get(f"{control}/v1/calls/{row['call_id']}") as r:
                records.append(await r.json())
        async with aiohttp.ClientSession() as anon, anon.get(f"{control}/v1/campaigns/svc") as r:
            assert r.status == 401
    assert status.returncode == 0 and "svc" in status.stdout, status
    assert len(rows) == len(CUSTOMERS), exported.stdout
    assert {row["outcome"] for row in rows} == {"escalated"}, json.dumps(records)
    assert [(r["disposition"], r["escalation_reason"]) for r in records] == [
        ("agent_handled", "dtmf")] * len(CUSTOMERS), records  # bridged via the gateway's transfer
