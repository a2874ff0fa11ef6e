"""``voxgate demo`` and ``voxgate call``: the main job, on loopback by default.

* ``voxgate demo`` starts the Exotel emulator, the gateway and the dialer in one process and
  runs a small bot-first batch: a few dozen simulated customers (some talk to the bot, some
  press 0 for a human, some hang up early, some are busy or do not answer), a few agents (one
  nailed-up), progress every second and a summary at the end.
* ``voxgate call NUMBER --bot NAME`` places one bot-first call and prints its record. With
  ``EXOTEL_API_BASE`` (and credentials, ``VOXGATE_EVENT_ENDPOINT``, ``VOXGATE_STREAM_URL``) set
  it dials through real Exotel; otherwise the emulator answers as NUMBER.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dialer.config import DialerConfig
from dialer.errors import ConfigError
from dialer.records import CallRecord, RecordStore
from dialer.service import CallRequest, ProgressEvent
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

log = logging.getLogger("voxgate.demo")

DEFAULT_DB = os.path.join(tempfile.gettempdir(), "voxgate-demo.db")
KINDS = ("chat", "human", "early", "busy", "no_answer")
KIND_WEIGHTS = (0.45, 0.25, 0.10, 0.10, 0.10)


def register(subparsers: Any) -> None:
    """Add ``demo`` and ``call`` (called by :mod:`voxgate.cli`)."""
    demo = subparsers.add_parser("demo", help="emulator + gateway + dialer: a bot-first batch")
    demo.add_argument("--calls", type=int, default=30, help="simulated customers (default 30)")
    demo.add_argument("--agents", type=int, default=3, help="live agents (default 3)")
    demo.add_argument("--nailed", type=int, default=1, help="of which nailed-up (default 1)")
    demo.add_argument("--concurrency", type=int, default=8, help="calls at once (default 8)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--bot", default="scripted", help="bot adapter (default: scripted)")
    demo.add_argument("--transport", choices=("grpc", "http"), default="grpc",
                      help="event intake transport (default grpc)")
    demo.add_argument("--control", choices=("direct", "http"), default="direct",
                      help="gateway->dialer wiring (default direct)")
    demo.add_argument("--db", default=DEFAULT_DB,
                      help=f"SQLite file for call records (default {DEFAULT_DB}, fresh each run)")
    demo.add_argument("--export", default="", help="also export records (FILE.csv/.jsonl)")
    demo.set_defaults(func=demo_command, default_log_level="WARNING")
    call = subparsers.add_parser("call", help="place one bot-first call")
    call.add_argument("number")
    call.add_argument("--bot", default="scripted")
    call.add_argument("--mode", choices=("bot_first", "agent_first"), default="bot_first")
    call.add_argument("--agent", action="append", default=[], metavar="NUMBER",
                      help="an agent to escalate to (repeatable)")
    call.add_argument("--config", metavar="FILE", help="dialer TOML file")
    call.add_argument("--db", default="", help="SQLite file for the record")
    call.add_argument("--timeout", type=float, default=120.0)
    call.add_argument("--gateway-host", default="127.0.0.1",
                      help="where the in-process gateway listens (real Exotel must reach it "
                           "at VOXGATE_STREAM_URL)")
    call.add_argument("--gateway-port", type=int, default=0)
    call.set_defaults(func=call_command)


# -- the demo world ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoWorld:
    """Who gets called and how they behave (seeded, so a run can be repeated)."""

    numbers: tuple[str, ...]
    kinds: tuple[str, ...]
    sim: SimConfig
    agents: tuple[tuple[str, str, bool], ...]  # (id, number, nailed)


def build_world(calls: int, agents: int, nailed: int, seed: int) -> DemoWorld:
    """A seeded mix of customers (``KINDS``) and ``agents`` agents, ``nailed`` of them nailed."""
    rng = random.Random(seed)
    counts = [max(1, round(w * calls)) if calls >= len(KINDS) else 0 for w in KIND_WEIGHTS]
    counts[0] += calls - sum(counts)  # every kind shows up; the rest talk to the bot
    mix = [k for k, n in zip(KINDS, counts, strict=True) for _ in range(n)]
    rng.shuffle(mix)
    kinds = tuple(mix)
    numbers = tuple(f"+9199{i:08d}" for i in range(1, calls + 1))
    bridge = parse_script(["pause 400", "say cust_hello", "wait 1500", "hangup"])
    profiles = {
        "chat": CustomerProfile(outcome="answer", bridge_script=bridge).with_script(
            "pause 500", "say cust_yes", "wait 12000", "hangup"),
        "human": CustomerProfile(outcome="answer", bridge_script=bridge).with_script(
            "pause 500", "dtmf 0", "wait 20000", "hangup"),
        "early": CustomerProfile(outcome="answer").with_script("wait 1500", "hangup"),
        "busy": CustomerProfile(outcome="busy"),
        "no_answer": CustomerProfile(outcome="no-answer"),
    }
    customers = {n: profiles[k] for n, k in zip(numbers, kinds, strict=True)}
    agent_list = tuple(
        (f"agent{i}", f"+9198{i:08d}", i <= nailed) for i in range(1, agents + 1)
    )
    agent_profiles = {
        number: AgentProfile(answer_ms=1200 + 300 * i, greet_after_ms=200)
        for i, (_, number, _) in enumerate(agent_list)
    }
    sim = SimConfig(seed=seed, customers=customers, agents=agent_profiles)
    return DemoWorld(numbers, kinds, sim, agent_list)


@dataclass(slots=True)
class Progress:
    """Counts progress events for the live line."""

    counts: Counter[str] = field(default_factory=Counter)

    def __call__(self, ev: ProgressEvent) -> None:
        self.counts[ev.kind] += 1

    def line(self, active: int, agents: dict[str, int], elapsed: float) -> str:
        c = self.counts
        return (
            f"[{elapsed:5.1f}s] placed {c['placed']:3d}  active {active:2d}  "
            f"answered {c['answered']:3d}  bot {c['bot_connected']:3d}  "
            f"escalated {c['escalated']:2d}  bridged {c['bridged']:2d}  "
            f"abandoned {c['abandoned']:2d}  ended {c['ended']:3d}  | agents idle "
            f"{agents.get('idle', 0)} ringing {agents.get('ringing', 0)} talking "
            f"{agents.get('talking', 0)} wrap-up {agents.get('wrap_up', 0)}"
        )


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def summary(records: list[CallRecord], elapsed: float, store_path: str) -> str:
    """The closing report: dispositions, escalations, latencies."""
    lines = [f"\n{len(records)} calls in {elapsed:.1f}s; records in {store_path}", ""]
    disp = Counter(r.disposition for r in records)
    lines.append("disposition          calls")
    for name, n in disp.most_common():
        lines.append(f"  {name:<18} {n:5d}")
    answered = sum(r.answered for r in records)
    escalated = [r for r in records if r.escalated]
    lines.append("")
    nailed = sum(r.agent_nailed for r in records)
    lines.append(f"answered {answered}, escalated {len(escalated)}, bridged "
                 f"{sum(r.bridged for r in records)} (nailed {nailed}), abandoned "
                 f"{sum(r.abandoned for r in records)}, with recording "
                 f"{sum(bool(r.recording_url) for r in records)}")
    lines.append("")
    lines.append("latency (dialer clock, ms)      n     p50     p95     max")
    for key, label in (("answer_to_stream", "answer -> stream started"),
                       ("greeting_ms", "greeting played"),
                       ("escalation_to_bridge", "escalation -> bridge"),
                       ("agent_ring", "agent ring time")):
        vals = [v for r in records if (v := r.latencies.get(key)) is not None]
        if vals:
            lines.append(f"  {label:<28} {len(vals):4d} {statistics.median(vals):7.0f} "
                         f"{percentile(vals, 0.95):7.0f} {max(vals):7.0f}")
    return "\n".join(lines)


async def run_demo(args: argparse.Namespace) -> int:
    world = build_world(args.calls, args.agents, args.nailed, args.seed)
    endpoint = "grpc://127.0.0.1:0" if args.transport == "grpc" else \
        "http://127.0.0.1:0/exotel/events"
    # Always the embedded emulator: simulated numbers must never reach a real account.
    config = DialerConfig(event_endpoint=endpoint, customer_ring_timeout=6,
                          agent_ring_timeout=8.0)
    store = RecordStore(args.db)
    gw = GatewayConfig(host="127.0.0.1", port=0)
    progress = Progress()
    started = time.monotonic()
    async with LocalStack(config, sim_config=world.sim, gateway_config=gw,
                          control=args.control, store=store) as stack:
        dialer = stack.dialer
        dialer.subscribe(progress)
        for agent_id, number, nailed in world.agents:
            dialer.add_agent(agent_id, number, ["sales"], nailed=nailed)
        print("voxgate demo: " + ", ".join(f"{k} {v}" for k, v in
                                            stack.summary_endpoints().items()), flush=True)
        mix = Counter(world.kinds)
        print(f"{args.calls} customers ({', '.join(f'{k} {v}' for k, v in mix.items())}), "
              f"{args.agents} agents ({args.nailed} nailed-up), bot {args.bot!r}", flush=True)
        gate = asyncio.Semaphore(max(1, args.concurrency))
        records: list[CallRecord] = []

        async def one(number: str, kind: str) -> None:
            async with gate:
                handle = await dialer.place_call(
                    CallRequest(number, bot=args.bot, skills=("sales",), custom={"kind": kind})
                )
                records.append(await handle.wait())

        async def ticker() -> None:
            while True:
                await asyncio.sleep(1.0)
                print(progress.line(dialer.active_calls, dialer.pool.counts(),
                                    time.monotonic() - started), flush=True)

        async with asyncio.TaskGroup() as tg:
            tick = tg.create_task(ticker())
            async with asyncio.TaskGroup() as calls:
                for number, kind in zip(world.numbers, world.kinds, strict=True):
                    calls.create_task(one(number, kind))
            tick.cancel()
    print(summary(records, time.monotonic() - started, args.db), flush=True)
    if args.export:
        print(f"exported {store.export(args.export)} records to {args.export}")
    store.close()
    return 0


def demo_command(args: argparse.Namespace) -> int:
    if args.db == DEFAULT_DB and os.path.exists(DEFAULT_DB):
        os.unlink(DEFAULT_DB)  # each demo run starts with an empty record store
    try:
        return asyncio.run(run_demo(args))
    except KeyboardInterrupt:
        return 130


async def run_call(args: argparse.Namespace) -> int:
    config = DialerConfig.load(args.config)
    sim = SimConfig()
    if config.uses_embedded_emulator:
        profile = CustomerProfile(outcome="answer").with_script(
            "pause 500", "say cust_yes", "wait 12000", "hangup")
        sim = SimConfig(customers={args.number: profile},
                        agents={n: AgentProfile() for n in args.agent})
    store = RecordStore(args.db) if args.db else None
    gw = GatewayConfig(host=args.gateway_host, port=args.gateway_port)
    async with LocalStack(config, sim_config=sim, gateway_config=gw, store=store) as stack:
        dialer = stack.dialer
        dialer.subscribe(lambda ev: print(f"  {ev.kind} {ev.detail}".rstrip(), flush=True)
                         if ev.call_id else None)
        for i, number in enumerate(args.agent, 1):
            dialer.add_agent(f"agent{i}", number)
        handle = await dialer.place_call(CallRequest(args.number, mode=args.mode, bot=args.bot))
        print(f"call {handle.call_id} to {args.number} (bot {args.bot})", flush=True)
        async with asyncio.timeout(args.timeout):
            record = await handle.wait()
    print(json.dumps(record.to_json(), indent=2))
    return 0 if record.answered else 1


def call_command(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_call(args))
    except ConfigError as exc:
        log.error("call: %s", exc)
        return 2
    except TimeoutError:
        log.error("call: no result within %.0fs", args.timeout)
        return 1
