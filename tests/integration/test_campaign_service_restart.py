"""A restarted dialer service resumes the campaigns it was running (issue 16): a campaign
created and started through ``voxgate dialer run``'s control API, the service SIGKILLed with
answered calls up, then started again on the same database with no ``campaign run`` command:
the campaign goes on to done, every lead is accounted for, no attempt is dialled twice. Before,
the restarted service left the campaign where the kill stopped it.

The emulator runs in the test (the Exotel the service dials); its legs are the ground truth of
what was dialled. A ``voxgate gateway`` process serves the bot."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from campaign_process import CAMPAIGN_TOML, sim_env, until
from peers.ports import free_port
from test_control_routing_processes import records
from test_dialer_processes import process

from dialer.campaign.store import CampaignStore
from exotel_sim.config import CustomerProfile, SimConfig
from exotel_sim.leg import Leg
from exotel_sim.server import SimServer

LEADS = 6
TOKEN = "campaign-restart-token-0123456789"


def customer_legs(sim: SimServer) -> list[Leg]:
    return [leg for leg in sim.sim.legs.values() if leg.kind == "customer"]


async def service(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    """``voxgate dialer run`` on control port ``port``, its output appended to ``log``; returns
    once its control API is up."""
    start = len(log.read_text()) if log.exists() else 0  # noqa: ASYNC240 (a small file)
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voxgate.cli", "--log-level", "WARNING", "dialer", "run",
            "--control-port", str(port), env=env, stdout=out, stderr=out)
    await until(lambda: "dialer control API at" in log.read_text()[start:]
                or proc.returncode is not None, timeout_s=15)
    assert proc.returncode is None, log.read_text()  # noqa: ASYNC240
    return proc


@pytest.mark.slow(10)
async def test_a_killed_service_resumes_its_campaign_on_restart(
        tmp_path: Path, store_url: str) -> None:
    """On SQLite and on PostgreSQL (``VOXGATE_DB=postgresql://...``: the campaign store, the
    service's started campaigns, the call records and the live calls all there)."""
    talk = CustomerProfile(outcome="answer", ring_ms=(100, 200)).with_script("wait 1200", "hangup")
    config = SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20, default_customer=talk,
                       list_legs=True)
    db, log = store_url, tmp_path / "dialer.log"
    port = free_port()
    control = f"http://127.0.0.1:{port}"
    token = {"VOXGATE_CONTROL_TOKEN": TOKEN}
    leads = "phone,name\n" + "".join(f"+9199000009{i:02d},L{i}\n" for i in range(LEADS))
    async with AsyncExitStack() as stack:
        sim = await stack.enter_async_context(SimServer(config))
        line = await stack.enter_async_context(process(
            "gateway", "--port", "0", "--control-url", control, ready="gateway listening on",
            env=token))
        gateway = int(line.rsplit(":", 1)[-1].split("/")[0])
        env = {**sim_env(sim), **token, "VOXGATE_STREAM_URL": f"ws://127.0.0.1:{gateway}",
               "VOXGATE_DB": str(db), "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events"}
        first = await service(env, port, log)
        s = await stack.enter_async_context(aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {TOKEN}"}))
        async with s.post(f"{control}/v1/campaigns",
                          json={"campaign": CAMPAIGN_TOML, "leads": leads}) as r:
            assert r.status == 201, await r.text()
        async with s.post(f"{control}/v1/campaigns/restart/start") as r:
            assert r.status == 202, await r.text()
        # killed with at least two answered calls up
        await until(lambda: sum(leg.answered_ms is not None and not leg.ended.is_set()
                                for leg in customer_legs(sim)) >= 2)
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        second = await service(env, port, log)  # no start command: the service resumes it
        try:  # the campaign goes on to done; each attempt's record, through the service
            found = await records(s, control, "restart", LEADS)
        finally:
            second.send_signal(signal.SIGINT)
            async with asyncio.timeout(15):
                await second.wait()
        legs = customer_legs(sim)

    assert found and all(r.get("call_id") for r in found), found
    call_ids = Counter(leg.custom_param for leg in legs)
    assert max(call_ids.values()) == 1, f"an attempt was dialled twice: {call_ids}"
    store = CampaignStore(db)
    attempts = store.attempts("restart")
    lead_states = store.leads("restart")
    assert len(lead_states) == LEADS
    assert all(lead["state"] == "done" for lead in lead_states), lead_states
    for lead in lead_states:  # every lead accounted for: a finished attempt with its record
        done = [a for a in attempts if a["lead_id"] == lead["id"] and a["state"] == "done"]
        assert done and all(store.call_record(a["call_id"]) is not None for a in done), lead
    store.close()
    text = log.read_text()
    assert "campaign restart: resumed" in text and "Traceback" not in text, text
    if "://" not in db:
        assert (os.stat(db).st_mode & 0o777) == 0o600
