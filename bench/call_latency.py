"""Bot-first call latencies measured from the emulator's ear timelines.

Runs the emulator (default network latency: REST 40 ms round trip, events 20 ms), the gateway
and the dialer in one process and places:

* ``--calls`` (default 100) bot-first calls with the ``scripted`` bot (it speaks at once);
* ``--escalations`` (default 20) calls escalated by DTMF to a nailed-up agent;
* ``--escalations`` calls escalated by DTMF to on-demand agents.

and prints, from each customer's ear timeline (``GET /sim/legs/{sid}/timeline``):

* answer -> first audio the customer hears (goal: <= one REST round trip + 20 ms, p95);
* greeting/bot overlap (goal: 0 ms on every call);
* dead air between greeting and bot (goal: < 100 ms p95);
* escalation request (the DTMF press) -> bridge, nailed-up (goal: <= one round trip + 20 ms)
  and on-demand (goal: agent ring time + at most two round trips), also on the dialer's clock.

Usage: ``.venv/bin/python bench/call_latency.py [--calls 100] [--escalations 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from typing import Any

import aiohttp

from dialer.config import DialerConfig
from dialer.records import CallRecord
from dialer.service import CallRequest
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack


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


async def place_all(stack: LocalStack, requests: list[CallRequest], limit: int
                    ) -> list[CallRecord]:
    gate = asyncio.Semaphore(limit)
    out: list[CallRecord] = []

    async def one(req: CallRequest) -> None:
        async with gate:
            handle = await stack.dialer.place_call(req)
            async with asyncio.timeout(90):
                out.append(await handle.wait())

    async with asyncio.TaskGroup() as tg:
        for r in requests:
            tg.create_task(one(r))
    return out


async def timelines(stack: LocalStack, records: list[CallRecord]) -> list[dict[str, Any]]:
    assert stack.sim is not None
    base = stack.sim.base_url
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
    async with LocalStack(cfg, sim_config=sim, gateway_config=gw) as stack:
        d = stack.dialer
        for i, num in enumerate(agents_nailed):
            d.add_agent(f"n{i}", num, ["nailed"], nailed=True)
        for _ in range(200):
            if d.pool.idle_count() >= len(agents_nailed):
                break
            await asyncio.sleep(0.05)
        plain_recs = await place_all(
            stack, [CallRequest(x, bot="scripted") for x in plain], args.concurrency)
        nailed_recs = await place_all(
            stack, [CallRequest(x, bot="echo", skills=("nailed",)) for x in nailed_c],
            len(agents_nailed))
        for i, num in enumerate(agents_demand):
            d.add_agent(f"d{i}", num, ["demand"])
        demand_recs = await place_all(
            stack, [CallRequest(x, bot="echo", skills=("demand",)) for x in demand_c],
            len(agents_demand))
        tls = await timelines(stack, plain_recs)
        esc_tls = await timelines(stack, nailed_recs + demand_recs)
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
          f"{sim.event_latency_ms} ms, intake {args.endpoint.split(':')[0]}; {wall:.1f}s wall")
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
    p.add_argument("--endpoint", default="grpc://127.0.0.1:0",
                   help="event intake (grpc://127.0.0.1:0 or http://127.0.0.1:0/events)")
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main(p.parse_args())))
