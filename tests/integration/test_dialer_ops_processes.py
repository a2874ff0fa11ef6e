"""``voxgate dialer run`` in a child process, as ops run it, against an emulator the test runs:
SIGTERM/SIGINT drain the calls in flight (agent conversations are not cut) and refuse new ones
(503), a second signal hangs up at once, the drain is bounded, every exit hangs up the nailed
agents' legs, and a start after a crash hangs up the legs the dead process left up."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
from peers.ports import free_port
from test_dialer_processes import scrape

from dialer.records import CallRecord, RecordStore
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from exotel_sim.server import SimServer

CUSTOMER = "+919900000001"
NAILED = "+919800000002"
TOKEN = "ops-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def until(check: Callable[[], bool | Awaitable[bool]], limit: float = 15.0) -> None:
    """Poll ``check`` (another process's state) every 20 ms; fail after ``limit`` s."""
    async with asyncio.timeout(limit):
        while True:
            got = check()
            if await got if inspect.isawaitable(got) else got:
                return
            await asyncio.sleep(0.02)


def world(bridge_ms: int) -> SimConfig:
    """Customers who stay in the agent's bridge ``bridge_ms``; a nailed agent who stays."""
    customer = CustomerProfile(
        outcome="answer", ring_ms=(200, 200),
        bridge_script=parse_script(("wait " + str(bridge_ms), "hangup")),
    ).with_script("wait 120000", "hangup")
    return SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20,
                     default_customer=customer,
                     agents={NAILED: AgentProfile(answer_ms=200, talk_ms=0)})


@dataclass
class Child:
    proc: asyncio.subprocess.Process
    control: str
    log: Path

    @property
    def text(self) -> str:
        return self.log.read_text()

    async def wait(self, limit: float = 30.0) -> int:
        async with asyncio.timeout(limit):
            return await self.proc.wait()


@asynccontextmanager
async def dialer_run(sim: SimServer, tmp_path: Path, *extra: str,
                     log_name: str = "dialer.log",
                     stream_url: str = "ws://127.0.0.1:9") -> AsyncIterator[Child]:
    """``voxgate dialer run`` with nailed agent n1 against ``sim``; yields once it is up."""
    port = free_port()
    env = {
        **os.environ,
        "EXOTEL_API_BASE": sim.api_base, "EXOTEL_ACCOUNT_SID": sim.account_sid,
        "EXOTEL_API_KEY": sim.api_key, "EXOTEL_API_TOKEN": sim.api_token,
        "EXOTEL_EXOPHONE": "+918000000000",
        "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events",
        "VOXGATE_STREAM_URL": stream_url,  # by default agent-first calls only: never used
        "VOXGATE_DB": str(tmp_path / "calls.db"),
        "VOXGATE_CONTROL_TOKEN": TOKEN,
    }
    log = tmp_path / log_name
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voxgate.cli", "--log-level", "INFO", "dialer", "run",
            "--nailed-agent", f"n1={NAILED}", "--control-port", str(port), *extra,
            env=env, stdout=out, stderr=out,
        )
    child = Child(proc, f"http://127.0.0.1:{port}", log)
    try:
        async with asyncio.timeout(20):
            while "dialer control API at" not in child.text:
                assert proc.returncode is None, child.text
                await asyncio.sleep(0.05)
        yield child
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def metrics(s: aiohttp.ClientSession, child: Child) -> dict[str, float]:
    async with s.get(f"{child.control}/metrics") as r:
        return scrape(await r.text())


async def until_nailed_idle(s: aiohttp.ClientSession, child: Child) -> None:
    key = 'voxgate_dialer_agents{state="idle"}'  # n1 is the only agent

    async def idle() -> bool:
        return (await metrics(s, child)).get(key) == 1

    await until(idle)


async def bridged_call(s: aiohttp.ClientSession, child: Child) -> str:
    """An agent-first call, bridged to n1; returns its call id."""
    async with s.post(f"{child.control}/v1/calls",
                      json={"number": CUSTOMER, "mode": "agent_first"}) as r:
        assert r.status == 202, await r.text()
        call_id = str((await r.json())["call_id"])
    async with asyncio.timeout(15):
        while True:
            async with s.get(f"{child.control}/v1/calls/{call_id}") as r:
                if (await r.json()).get("state") == "bridged":
                    return call_id
            await asyncio.sleep(0.05)


def nailed_legs(sim: SimServer) -> list[tuple[str, str]]:
    """``(leg sid, state)`` of every leg dialled for n1."""
    return [(leg.sid, leg.state.value) for leg in sim.sim.legs.values()
            if leg.custom_param == "nailed:n1"]


def record(tmp_path: Path, call_id: str) -> CallRecord:
    store = RecordStore(tmp_path / "calls.db")
    try:
        rec = store.get(call_id)
    finally:
        store.close()
    assert rec is not None
    return rec


@dataclass
class Bridged:
    """A dialer child with one agent-first call bridged to its nailed agent n1."""

    sim: SimServer
    child: Child
    http: aiohttp.ClientSession
    call_id: str

    def nailed_hung_up(self) -> bool:
        legs = nailed_legs(self.sim)
        return bool(legs) and all(state == "terminated" for _, state in legs)


@asynccontextmanager
async def bridged(tmp_path: Path, bridge_ms: int, *extra: str) -> AsyncIterator[Bridged]:
    async with SimServer(world(bridge_ms)) as sim, dialer_run(sim, tmp_path, *extra) as child, \
            aiohttp.ClientSession(headers=AUTH) as s:
        await until_nailed_idle(s, child)
        yield Bridged(sim, child, s, await bridged_call(s, child))


async def test_sigterm_lets_the_agent_conversation_finish_then_hangs_up_the_nailed_leg(
    tmp_path: Path,
) -> None:
    async with bridged(tmp_path, bridge_ms=2500) as b:
        control, s = b.child.control, b.http
        b.child.proc.send_signal(signal.SIGTERM)
        await until(lambda: "SIGTERM: no new calls" in b.child.text)
        async with s.post(f"{control}/v1/calls", json={"number": CUSTOMER}) as r:
            assert r.status == 503, await r.text()
        async with s.get(f"{control}/v1/health") as r:
            assert r.status == 503 and (await r.json())["stopping"] is True
        async with s.get(f"{control}/v1/calls/{b.call_id}") as r:
            assert (await r.json())["state"] == "bridged"  # still talking
        assert await b.child.wait() == 0, b.child.text
        assert "Traceback" not in b.child.text, b.child.text
        rec = record(tmp_path, b.call_id)
        # the customer ended the conversation, not the dialer
        assert (rec.disposition, rec.hangup_reason) == ("agent_handled", ""), rec
        assert rec.duration_s is not None and rec.duration_s >= 2
        assert b.nailed_hung_up(), nailed_legs(b.sim)


async def test_a_second_signal_hangs_up_at_once_and_the_nailed_leg_too(tmp_path: Path) -> None:
    async with bridged(tmp_path, bridge_ms=60_000) as b:
        b.child.proc.send_signal(signal.SIGINT)
        await until(lambda: "SIGINT: no new calls" in b.child.text)
        b.child.proc.send_signal(signal.SIGINT)
        assert await b.child.wait(limit=15) == 130, b.child.text
        text = b.child.text
        assert "hanging up and quitting now" in text and "Traceback" not in text, text
        rec = record(tmp_path, b.call_id)
        assert (rec.disposition, rec.hangup_reason) == ("agent_handled", "shutdown"), rec
        assert b.nailed_hung_up(), nailed_legs(b.sim)
        customer = [leg for leg in b.sim.sim.legs.values() if leg.req.contact_uri == CUSTOMER]
        assert customer and all(leg.state.value == "terminated" for leg in customer)


async def test_the_drain_is_bounded_by_drain_timeout(tmp_path: Path) -> None:
    async with bridged(tmp_path, 60_000, "--drain-timeout", "1") as b:
        b.child.proc.send_signal(signal.SIGTERM)
        assert await b.child.wait(limit=15) == 0, b.child.text
        assert "drain timeout (1 s) passed with 1 live call (bridged 1)" in b.child.text
        assert record(tmp_path, b.call_id).hangup_reason == "shutdown"
        assert b.nailed_hung_up(), nailed_legs(b.sim)


async def test_a_start_after_a_crash_hangs_up_the_leftover_nailed_leg(tmp_path: Path) -> None:
    # finding the legs a dead run left needs GET /legs, which Exotel does not document: an API
    # that lists legs (the emulator's lenient list_legs); without one the dialer logs and goes on
    listing = replace(world(bridge_ms=1000), list_legs=True)
    async with SimServer(listing) as sim, aiohttp.ClientSession(headers=AUTH) as s:
        async with dialer_run(sim, tmp_path, log_name="first.log") as first:
            await until_nailed_idle(s, first)
            first.proc.kill()  # SIGKILL: no exit path runs
            await first.wait()
        [(old, state)] = nailed_legs(sim)
        assert state == "answered"  # left up, on hold, for hours
        async with dialer_run(sim, tmp_path, log_name="second.log") as second:
            await until_nailed_idle(s, second)  # not "busy" forever
            legs = dict(nailed_legs(sim))
            assert legs[old] == "terminated"
            assert sorted(legs.values()) == ["answered", "terminated"], legs
            assert f"nailed agent n1: hung up leg {old} (answered) left up by an earlier run" in (
                second.text
            )
            got = await metrics(s, second)
            assert not any(k.startswith("voxgate_dialer_nailed_dial_failures_total{") for k in got)
            call_id = await bridged_call(s, second)  # and it takes calls
            second.proc.send_signal(signal.SIGTERM)
            assert await second.wait() == 0, second.text
        assert record(tmp_path, call_id).disposition == "agent_handled"


async def test_campaign_run_hangs_up_its_nailed_legs_when_it_stops(tmp_path: Path) -> None:
    from campaign_process import CAMPAIGN_TOML, sim_env, start

    toml = tmp_path / "c.toml"
    toml.write_text(CAMPAIGN_TOML + f'[[agents]]\nid = "n1"\nnumber = "{NAILED}"\n'
                    "nailed = true\n")
    leads = tmp_path / "leads.csv"
    leads.write_text("phone\n")  # no leads: it only keeps its agent up (--keep-running)
    log = tmp_path / "campaign.log"
    async with SimServer(world(bridge_ms=1000)) as sim:
        child = await start([str(toml), "--leads", str(leads), "--db", str(tmp_path / "c.db"),
                             "--keep-running"], sim_env(sim), log)
        await until(lambda: ("answered" in dict(nailed_legs(sim)).values()), limit=20)
        child.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await child.wait() == 0, log.read_text()
        legs = nailed_legs(sim)
        assert legs and all(state == "terminated" for _, state in legs), legs
