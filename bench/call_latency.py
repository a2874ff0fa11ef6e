"""Bot-first call latencies measured from the emulator's ear timelines.

Runs the emulator (default network latency: REST 40 ms round trip, events 20 ms), the gateway
and the dialer, either in one process (``--wiring one``, the default: the gateway's control
hook is the dialer object) or as separate processes (``--wiring processes``: ``voxgate
gateway --control-url`` and ``voxgate dialer run`` against this process's emulator, the control
channel over HTTP with a token, calls placed with ``POST /v1/calls``), and places:

* ``--calls`` (default 100) bot-first calls with the ``scripted`` bot (it speaks at once);
* ``--escalations`` (default 20) calls escalated by DTMF to a nailed-up agent;
* ``--escalations`` calls escalated by DTMF to on-demand agents.

and prints, from each customer's ear timeline (``GET /sim/legs/{sid}/timeline``):

* answer -> first audio the customer hears (goal: <= one REST round trip + 20 ms, p95);
* greeting/bot overlap (goal: 0 ms on every call);
* dead air between greeting and bot (goal: < 100 ms p95);
* escalation request (the DTMF press) -> bridge, nailed-up (goal: <= one round trip + 20 ms)
  and on-demand (goal: agent ring time + at most two round trips), also on the dialer's clock.

Usage: ``.venv/bin/python bench/call_latency.py [--calls 100] [--escalations 20]
[--wiring one|processes]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from dialer.config import DialerConfig
from dialer.emulated import FIXTURES
from dialer.records import CallRecord
from dialer.service import CallRequest
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from exotel_sim.server import SimServer
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

Agents = tuple[list[str], list[str]]  # nailed-up numbers, on-demand numbers


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def row(label: str, values: list[float], goal: str) -> str:
    if not values:
        return f"  {label:<44} (no samples)"
    return (f"  {label:<44} n={len(values):3d} p50={statistics.median(values):7.1f} "
            f"p95={pct(values, 0.95):7.1f} max={max(values):7.1f}  goal {goal}")


def overlap(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> float:
    total = 0.0
    for x in a:
        for y in b:
            total += max(0.0, min(x["end_ms"], y["end_ms"]) - max(x["start_ms"], y["start_ms"]))
    return total


class OneProcess:
    """Emulator, gateway and dialer in this process (:class:`LocalStack`)."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        assert stack.sim is not None
        self.sim_base = stack.sim.base_url

    async def place(self, req: CallRequest) -> CallRecord:
        handle = await self.stack.dialer.place_call(req)
        async with asyncio.timeout(90):
            return await handle.wait()

    async def add_demand_agents(self, numbers: list[str]) -> None:
        for i, num in enumerate(numbers):
            self.stack.dialer.add_agent(f"d{i}", num, ["demand"])

    async def nailed_idle(self) -> int:
        return self.stack.dialer.pool.idle_count()


@contextlib.asynccontextmanager
async def one_process(cfg: DialerConfig, sim: SimConfig, gw: GatewayConfig,
                      agents: Agents) -> AsyncIterator[OneProcess]:
    async with LocalStack(cfg, sim_config=sim, gateway_config=gw) as stack:
        for i, num in enumerate(agents[0]):
            stack.dialer.add_agent(f"n{i}", num, ["nailed"], nailed=True)
        yield OneProcess(stack)


class Processes:
    """``voxgate gateway`` and ``voxgate dialer run`` as child processes, this process's
    emulator as their Exotel; calls over the control API (``POST /v1/calls``)."""

    def __init__(self, control: str, token: str, sim_base: str) -> None:
        self.control = control
        self.sim_base = sim_base
        self.http: Any = None
        self._headers = {"Authorization": f"Bearer {token}"}

    async def place(self, req: CallRequest) -> CallRecord:
        body = {"number": req.number, "bot": req.bot, "skills": list(req.skills)}
        async with self.http.post(f"{self.control}/v1/calls", json=body) as r:
            assert r.status == 202, await r.text()
            call_id = (await r.json())["call_id"]
        async with asyncio.timeout(90):
            while True:
                async with self.http.get(f"{self.control}/v1/calls/{call_id}") as r:
                    got = await r.json()
                if got.get("done"):
                    return CallRecord.from_json(got)
                await asyncio.sleep(0.1)

    async def add_demand_agents(self, numbers: list[str]) -> None:
        pass  # given on the command line; their skill keeps them out of the nailed calls

    async def nailed_idle(self) -> int:
        async with self.http.get(f"{self.control}/metrics") as r:
            text = await r.text()
        match = re.search(r'^voxgate_dialer_agents\{state="idle"\} (\d+)', text, re.M)
        return int(match.group(1)) if match else 0


async def child(args: list[str], ready: str, env: dict[str, str]
                ) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "--log-level", "WARNING", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **env})
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"voxgate {args[0]} exited before it was ready")
            if ready in line:
                break

    async def drain() -> None:  # keep reading so the child never blocks on a full pipe
        assert proc.stdout is not None
        while await proc.stdout.readline():
            pass

    drainer = asyncio.get_running_loop().create_task(drain())
    proc.drainer = drainer  # type: ignore[attr-defined]
    return proc, line.strip()


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(2)  # SIGINT: both drain and exit
        try:
            async with asyncio.timeout(20):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
    proc.drainer.cancel()  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def processes(cfg: DialerConfig, sim: SimConfig, gw: GatewayConfig,
                    agents: Agents) -> AsyncIterator[Processes]:

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    control = f"http://127.0.0.1:{port}"
    token = secrets.token_urlsafe(24)
    common = {"VOXGATE_CONTROL_TOKEN": token}
    async with SimServer(sim) as emulator:
        gateway, line = await child(
            ["gateway", "--port", "0", "--control-url", control, "--escalation-dtmf",
             gw.escalation_dtmf or "0"], "gateway listening on", common)
        try:
            env = {**common, "EXOTEL_API_BASE": emulator.api_base,
                   "EXOTEL_ACCOUNT_SID": emulator.account_sid, "EXOTEL_API_KEY": emulator.api_key,
                   "EXOTEL_API_TOKEN": emulator.api_token, "EXOTEL_EXOPHONE": "+918000000000",
                   "VOXGATE_STREAM_URL": line.rsplit(" ", 1)[-1],
                   "VOXGATE_EVENT_ENDPOINT": cfg.event_endpoint, "VOXGATE_DB": ""}
            # the same greeting and hold audio as the one-process wiring (on_emulator)
            urls = dict(zip(("greeting_url", "hold_url", "agent_hold_url"),
                            (emulator.audio_url(f) for f in FIXTURES), strict=True))
            settings = "".join(f'{k} = "{v}"\n' for k, v in urls.items())
            config_file = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
            with config_file:
                config_file.write(f"[dialer]\nrecord_bridges = false\n{settings}")
            flags = [f"--config={config_file.name}"]
            flags += [f"--nailed-agent=n{i}={num}:nailed" for i, num in enumerate(agents[0])]
            flags += [f"--agent=d{i}={num}:demand" for i, num in enumerate(agents[1])]
            dialer, _ = await child(["dialer", "run", "--control-port", str(port), *flags],
                                    "dialer control API at", env)
            try:
                wiring = Processes(control, token, emulator.base_url)
                async with aiohttp.ClientSession(headers=wiring._headers) as http:
                    wiring.http = http
                    yield wiring
            finally:
                await stop(dialer)
                os.unlink(config_file.name)
        finally:
            await stop(gateway)


async def place_all(wiring: OneProcess | Processes, requests: list[CallRequest], limit: int
                    ) -> list[CallRecord]:
    gate = asyncio.Semaphore(limit)
    out: list[CallRecord] = []

    async def one(req: CallRequest) -> None:
        async with gate:
            out.append(await wiring.place(req))

    async with asyncio.TaskGroup() as tg:
        for r in requests:
            tg.create_task(one(r))
    return out


async def timelines(base: str, records: list[CallRecord]) -> list[dict[str, Any]]:

    async with aiohttp.ClientSession() as s:
        out = []
        for r in records:
            async with s.get(f"{base}/sim/legs/{r.customer_leg_sid}/timeline") as resp:
                out.append(await resp.json())
        return out


async def main(args: argparse.Namespace) -> int:
    n, m = args.calls, args.escalations
    plain = [f"+9199{i:08d}" for i in range(n)]
    nailed_c = [f"+9197{i:08d}" for i in range(m)]
    demand_c = [f"+9196{i:08d}" for i in range(m)]
    bridge = parse_script(["wait 300", "hangup"])
    talk = CustomerProfile(outcome="answer", ring_ms=(300, 900), patience_ms=0).with_script(
        "wait 2500", "hangup")
    human = CustomerProfile(outcome="answer", ring_ms=(300, 900), patience_ms=0,
                            bridge_script=bridge).with_script("wait 800", "dtmf 0", "wait 30000")
    customers = {x: talk for x in plain} | {x: human for x in nailed_c + demand_c}
    agents_nailed = [f"+9188{i:08d}" for i in range(args.nailed_agents)]
    agents_demand = [f"+9189{i:08d}" for i in range(args.demand_agents)]
    agent_profiles = {x: AgentProfile(answer_ms=100) for x in agents_nailed}
    agent_profiles |= {x: AgentProfile(answer_ms=args.agent_ring_ms) for x in agents_demand}
    sim = SimConfig(seed=1, customers=customers, agents=agent_profiles,
                    rate_limit_per_s=0, channel_limit=5000, stream_throttle=1000)
    rtt = sim.rest_latency_ms
    cfg = DialerConfig(event_endpoint=args.endpoint, record_bridges=False)
    gw = GatewayConfig(host="127.0.0.1", port=0, escalation_dtmf="0")
    t0 = time.monotonic()
    wire = one_process if args.wiring == "one" else processes
    async with wire(cfg, sim, gw, (agents_nailed, agents_demand)) as w:
        for _ in range(200):
            if await w.nailed_idle() >= len(agents_nailed):
                break
            await asyncio.sleep(0.05)
        plain_recs = await place_all(
            w, [CallRequest(x, bot="scripted") for x in plain], args.concurrency)
        nailed_recs = await place_all(
            w, [CallRequest(x, bot="echo", skills=("nailed",)) for x in nailed_c],
            len(agents_nailed))
        await w.add_demand_agents(agents_demand)
        demand_recs = await place_all(
            w, [CallRequest(x, bot="echo", skills=("demand",)) for x in demand_c],
            len(agents_demand))
        tls = await timelines(w.sim_base, plain_recs)
        esc_tls = await timelines(w.sim_base, nailed_recs + demand_recs)
    wall = time.monotonic() - t0

    first_audio, overlaps, dead_air, bot_first_ms = [], [], [], []
    for tl in tls:
        ans = tl["answered_ms"]
        heard = [h for h in tl["heard"] if h["start_ms"] >= ans]
        if ans is None or not heard:
            continue
        first_audio.append(min(h["start_ms"] for h in heard) - ans)
        greet = [h for h in heard if h["source"] in ("play", "say")]
        bot = [h for h in heard if h["source"] == "stream"]
        overlaps.append(overlap(greet, bot))
        if bot:
            first_bot = min(b["start_ms"] for b in bot)
            bot_first_ms.append(first_bot - ans)
            before = [g["end_ms"] for g in greet if g["end_ms"] <= first_bot]
            if before:
                dead_air.append(max(0.0, first_bot - max(before)))
    esc_sim: dict[str, list[float]] = {"nailed": [], "demand": []}
    for rec, tl in zip(nailed_recs + demand_recs, esc_tls, strict=True):
        kind = "nailed" if rec.agent_nailed else "demand"
        dtmf = [s["start_ms"] for s in tl["speech"] if s["detail"].startswith("dtmf")]
        if tl["bridges"] and dtmf:
            esc_sim[kind].append(tl["bridges"][0]["start_ms"] - dtmf[0])
    esc_dialer = {
        kind: [v for r in recs if (v := r.latencies.get("escalation_to_bridge")) is not None]
        for kind, recs in (("nailed", nailed_recs), ("demand", demand_recs))
    }
    ring = [v for r in demand_recs if (v := r.latencies.get("agent_ring")) is not None]
    demand_minus_ring = [
        e - g for r in demand_recs
        if (e := r.latencies.get("escalation_to_bridge")) is not None
        and (g := r.latencies.get("agent_ring")) is not None
    ]
    print(f"call_latency: {len(plain_recs)} bot-first calls, {len(nailed_recs)} nailed and "
          f"{len(demand_recs)} on-demand escalations; REST round trip {rtt} ms, event latency "
          f"{sim.event_latency_ms} ms, intake {args.endpoint.split(':')[0]}, wiring "
          f"{args.wiring}; {wall:.1f}s wall")
    print("ear timelines (emulator clock, ms):")
    print(row("answer -> first audio heard", first_audio, f"<= {rtt + 20} p95"))
    print(row("answer -> first bot audio heard", bot_first_ms, "-"))
    print(row("greeting/bot overlap", overlaps, "0 on every call"))
    print(f"    calls with any overlap: {sum(1 for o in overlaps if o > 0)}/{len(overlaps)}")
    print(row("dead air greeting -> bot", dead_air, "< 100 p95"))
    print(row("DTMF -> bridge, nailed-up agent", esc_sim["nailed"], f"<= {rtt + 20} p95"))
    print(row("DTMF -> bridge, on-demand agent", esc_sim["demand"],
              f"ring + <= {2 * rtt}"))
    print("dialer clock (ms):")
    print(row("transfer request -> bridge, nailed-up", esc_dialer["nailed"], f"<= {rtt + 20}"))
    print(row("transfer request -> bridge, on-demand", esc_dialer["demand"], "-"))
    print(row("  of which agent ring time", ring, "-"))
    print(row("  on-demand minus ring time", demand_minus_ring, f"<= {2 * rtt}"))
    disp: dict[str, int] = {}
    for r in plain_recs + nailed_recs + demand_recs:
        disp[r.disposition] = disp.get(r.disposition, 0) + 1
    print("dispositions:", json.dumps(disp, sort_keys=True))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--escalations", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=10,
                   help="calls at once (emulator, gateway and dialer share one process)")
    p.add_argument("--nailed-agents", type=int, default=4)
    p.add_argument("--demand-agents", type=int, default=4)
    p.add_argument("--agent-ring-ms", type=int, default=1500)
    p.add_argument("--wiring", choices=("one", "processes"), default="one",
                   help="one process (default), or voxgate gateway + voxgate dialer run as "
                        "separate processes (control channel over HTTP)")
    p.add_argument("--endpoint", default="grpc://127.0.0.1:0",
                   help="event intake (grpc://127.0.0.1:0 or http://127.0.0.1:0/events)")
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main(p.parse_args())))
