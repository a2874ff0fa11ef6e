"""``voxgate demo`` and ``voxgate call``: the main job, on loopback by default.

* ``voxgate demo`` starts the Exotel emulator, the gateway and the dialer in one process and
  runs a short bot-first campaign: the demo world's simulated customers (some talk to the bot,
  some press 0 for a human, some hang up early, some are busy, do not answer or are answering
  machines) become a lead list that :class:`~dialer.campaign.runner.CampaignRunner` dials at
  the bot-first pacer's rate, with retries for busy and unanswered leads and each lead's name
  and plan handed to the bot on the stream URL; a few agents (one nailed-up) take the
  escalations. A live view (leads done, in flight, answered, escalated, abandonment, agent
  occupancy) and a summary at the end (dispositions, latencies, campaign figures). The world is
  seeded (``--seed``): the same customers, leads and agents each run.
* ``voxgate call NUMBER --bot NAME`` places one bot-first call and prints its record. With
  ``EXOTEL_API_BASE`` (and credentials, ``VOXGATE_EVENT_ENDPOINT``, ``VOXGATE_STREAM_URL``) set
  it dials through real Exotel; otherwise the emulator answers as NUMBER: it says "yes" and
  waits, or does what ``--customer "pause 500; dtmf 4; dtmf #; wait 3000; hangup"`` says (or
  its profile in ``--sim-config``), so keys, barge-in and transfers can be tried.
  ``--adapter-option ADAPTER.KEY=VALUE`` configures adapters as ``voxgate gateway`` does; the
  bot and its options are loaded and checked before anything starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from dialer.campaign.cli import non_negative
from dialer.campaign.loading import check_bot, check_writable
from dialer.campaign.model import (
    AgentSpec,
    CallingWindow,
    CampaignError,
    CampaignSpec,
    Lead,
    Limits,
)
from dialer.campaign.progress import CampaignSnapshot, LiveView
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignStore
from dialer.config import DialerConfig
from dialer.errors import ConfigError
from dialer.mode import add_flag, dial_mode
from dialer.progress import AgentFreed, ProgressEvent
from dialer.records import CallRecord, RecordStore
from dialer.service import CallRequest
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, SimConfigError, parse_script
from gateway.cli import check_adapters, parse_adapter_options
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

log = logging.getLogger("voxgate.demo")

DEFAULT_DB = os.path.join(tempfile.gettempdir(), "voxgate-demo.db")
KINDS = ("chat", "human", "early", "busy", "no_answer", "machine")
KIND_WEIGHTS = (0.40, 0.25, 0.10, 0.10, 0.10, 0.05)
FIRST_NAMES = (
    "Asha",
    "Vikram",
    "Meera",
    "Kabir",
    "Sara",
    "Rohan",
    "Isha",
    "Arjun",
    "Nisha",
    "Dev",
    "Priya",
    "Karan",
    "Anita",
    "Farhan",
    "Leela",
    "Omar",
)
LAST_NAMES = ("Rao", "Singh", "Iyer", "Das", "Khan", "Mehta", "Nair", "Gupta", "Bose", "Shah")
PLANS = ("gold", "silver", "bronze")
CAMPAIGN = "demo"
RING_S = 15  # the customer ring timeout, at the campaign's legal minimum ring time


def at_least(minimum: int) -> Any:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def register(subparsers: Any) -> None:
    """Add ``demo`` and ``call`` (called by :mod:`voxgate.cli`)."""
    demo = subparsers.add_parser("demo", help="emulator + gateway + dialer: a bot-first batch")
    demo.add_argument(
        "--calls", type=at_least(1), default=30, help="simulated customers (default 30)"
    )
    demo.add_argument("--agents", type=at_least(1), default=3, help="live agents (default 3)")
    demo.add_argument(
        "--nailed", type=at_least(0), default=1, help="of which nailed-up (default 1)"
    )
    demo.add_argument(
        "--concurrency",
        type=at_least(1),
        default=8,
        help="most lines at once, the pacer's line limit (default 8)",
    )
    demo.add_argument(
        "--talk",
        type=non_negative,
        default=12.0,
        metavar="S",
        help="how long chatting customers talk to the bot (default 12 s)",
    )
    demo.add_argument(
        "--ring",
        type=at_least(1),
        default=RING_S,
        metavar="S",
        help=f"customer ring timeout (default {RING_S} s, the legal minimum ring "
        "time; lower only to test)",
    )
    demo.add_argument(
        "--retry-after",
        type=non_negative,
        default=5.0,
        metavar="S",
        help="delay before a busy or unanswered lead is dialled again (default 5 s)",
    )
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--bot", default="scripted", help="bot adapter (default: scripted)")
    demo.add_argument(
        "--transport",
        choices=("grpc", "http"),
        default="grpc",
        help="event intake transport (default grpc)",
    )
    demo.add_argument(
        "--control",
        choices=("direct", "http"),
        default="direct",
        help="gateway->dialer wiring (default direct)",
    )
    demo.add_argument(
        "--db",
        default=DEFAULT_DB,
        help=f"SQLite file for the campaign and its call records, must not exist "
        f"(default {DEFAULT_DB}, emptied each run)",
    )
    demo.add_argument("--export", default="", help="also export records (FILE.csv/.jsonl)")
    demo.set_defaults(func=demo_command, default_log_level="WARNING")
    call = subparsers.add_parser("call", help="place one bot-first call")
    call.add_argument("number")
    call.add_argument("--bot", default="scripted")
    call.add_argument("--mode", choices=("bot_first", "agent_first"), default="bot_first")
    call.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a field for the bot on the stream URL (start.custom_parameters), at most 2",
    )
    call.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="NUMBER",
        help="an agent to escalate to (repeatable)",
    )
    call.add_argument(
        "--adapter-option", action="append", default=[], metavar="ADAPTER.KEY=VALUE",
        help="an option for an adapter's factory (repeatable), as voxgate gateway takes",
    )
    call.add_argument(
        "--customer", metavar="STEPS",
        help="what the emulated customer does, steps split by ';' (e.g. \"pause 500; dtmf 4; "
        "dtmf #; wait 3000; hangup\"; steps as in the emulator's scripts)",
    )
    call.add_argument(
        "--sim-config", metavar="FILE",
        help="emulator world file (its profile for NUMBER, else its default customer)",
    )
    call.add_argument("--config", metavar="FILE", help="dialer TOML file")
    call.add_argument("--db", default="", help="SQLite file for the record")
    call.add_argument("--timeout", type=float, default=120.0)
    call.add_argument(
        "--gateway-host",
        default="127.0.0.1",
        help="where the in-process gateway listens (real Exotel must reach it "
        "at VOXGATE_STREAM_URL)",
    )
    call.add_argument("--gateway-port", type=int, default=0)
    add_flag(call)
    call.set_defaults(func=call_command)


# -- the demo world ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoWorld:
    """Who gets called and how they behave (seeded, so a run can be repeated)."""

    numbers: tuple[str, ...]
    kinds: tuple[str, ...]
    sim: SimConfig
    agents: tuple[tuple[str, str, bool], ...]  # (id, number, nailed)
    leads: tuple[Lead, ...] = ()  # one per number: seeded name and plan, the kind as a field


def build_world(calls: int, agents: int, nailed: int, seed: int, talk_s: float = 12.0) -> DemoWorld:
    """A seeded mix of customers (``KINDS``) and ``agents`` agents, ``nailed`` of them nailed;
    chatting customers talk to the bot for ``talk_s`` seconds."""
    rng = random.Random(seed)
    counts = [max(1, round(w * calls)) if calls >= len(KINDS) else 0 for w in KIND_WEIGHTS]
    counts[0] += calls - sum(counts)  # every kind shows up; the rest talk to the bot
    mix = [k for k, n in zip(KINDS, counts, strict=True) for _ in range(n)]
    rng.shuffle(mix)
    kinds = tuple(mix)
    numbers = tuple(f"+9199{i:08d}" for i in range(1, calls + 1))
    talk_ms = max(0, round(talk_s * 1000))
    # with the agent, customers talk half as long as chatting ones do with the bot
    bridge = parse_script(["pause 400", "say cust_hello", f"wait {talk_ms // 2}", "hangup"])
    profiles = {
        "chat": CustomerProfile(outcome="answer", bridge_script=bridge).with_script(
            "pause 500", "say cust_yes", f"wait {talk_ms}", "hangup"
        ),
        "human": CustomerProfile(outcome="answer", bridge_script=bridge).with_script(
            "pause 500", "dtmf 0", "wait 20000", "hangup"
        ),
        "early": CustomerProfile(outcome="answer").with_script("wait 1500", "hangup"),
        "busy": CustomerProfile(outcome="busy"),
        "no_answer": CustomerProfile(outcome="no-answer"),
        "machine": CustomerProfile(outcome="machine", amd_ms=1500),
    }
    customers = {n: profiles[k] for n, k in zip(numbers, kinds, strict=True)}
    agent_list = tuple((f"agent{i}", f"+9198{i:08d}", i <= nailed) for i in range(1, agents + 1))
    agent_profiles = {
        number: AgentProfile(answer_ms=1200 + 300 * i, greet_after_ms=200)
        for i, (_, number, _) in enumerate(agent_list)
    }
    sim = SimConfig(seed=seed, customers=customers, agents=agent_profiles)
    leads = tuple(
        Lead(
            number,
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            custom={"plan": rng.choice(PLANS), "kind": kind},
        )
        for number, kind in zip(numbers, kinds, strict=True)
    )
    return DemoWorld(numbers, kinds, sim, agent_list, leads)


def demo_campaign(
    world: DemoWorld, bot: str, lines: int, ring_s: int = RING_S, retry_s: float = 5.0
) -> CampaignSpec:
    """The demo's campaign: bot-first, the bot-first pacer, busy and unanswered leads retried
    once after ``retry_s``, name and plan passed to the bot. The calling window is open all day
    so the demo runs at any hour (a real campaign keeps the 09:00-21:00 default)."""
    return CampaignSpec(
        CAMPAIGN,
        mode="bot_first",
        bot=bot,
        pacer="bot_first",
        window=CallingWindow.parse("00:00", "24:00"),
        limits=Limits(
            max_attempts=2,
            max_attempts_per_day=2,
            ring_timeout_s=ring_s,
            min_ring_s=min(RING_S, ring_s),
            max_lines=max(1, lines),
        ),
        retry={"busy": retry_s, "no_answer": retry_s},
        agents=tuple(
            AgentSpec(agent_id, number, ("sales",), nailed=nailed)
            for agent_id, number, nailed in world.agents
        ),
        skills=("sales",),
        amd=True,
        stream_params=("name", "plan"),
    )


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def summary(
    records: list[CallRecord],
    elapsed: float,
    store_path: str,
    campaign: CampaignSnapshot | None = None,
) -> str:
    """The closing report: campaign figures, dispositions, escalations, latencies."""
    lines = [f"\n{len(records)} calls in {elapsed:.1f}s; records in {store_path}", ""]
    if campaign is not None:
        c = campaign
        lines.append(
            f"campaign {c.campaign}: {c.done}/{c.leads} leads done in {c.attempts} attempts; "
            f"answered live {c.answered}, escalated {c.escalated}, abandoned {c.abandoned} "
            f"(abandonment {c.abandon_rate_24h:.1%} of live answers); agent occupancy "
            f"{c.occupancy:.0%}"
        )
        lines.append("")
    disp = Counter(r.disposition for r in records)
    lines.append("disposition          calls")
    for name, n in disp.most_common():
        lines.append(f"  {name:<18} {n:5d}")
    answered = sum(r.answered for r in records)
    escalated = [r for r in records if r.escalated]
    lines.append("")
    nailed = sum(r.agent_nailed for r in records)
    lines.append(
        f"answered {answered}, escalated {len(escalated)}, bridged "
        f"{sum(r.bridged for r in records)} (nailed {nailed}), abandoned "
        f"{sum(r.abandoned for r in records)}, with recording "
        f"{sum(bool(r.recording_url) for r in records)}"
    )
    lines.append("")
    lines.append("latency (dialer clock, ms)      n     p50     p95     max")
    for key, label in (
        ("answer_to_stream", "answer -> stream started"),
        ("greeting_ms", "greeting played"),
        ("escalation_to_bridge", "escalation -> bridge"),
        ("agent_ring", "agent ring time"),
    ):
        vals = [v for r in records if (v := r.latencies.get(key)) is not None]
        if vals:
            lines.append(
                f"  {label:<28} {len(vals):4d} {statistics.median(vals):7.0f} "
                f"{percentile(vals, 0.95):7.0f} {max(vals):7.0f}"
            )
    return "\n".join(lines)


async def run_demo(args: argparse.Namespace) -> int:
    world = build_world(args.calls, args.agents, args.nailed, args.seed, talk_s=args.talk)
    endpoint = (
        "grpc://127.0.0.1:0" if args.transport == "grpc" else "http://127.0.0.1:0/exotel/events"
    )
    # Always the embedded emulator: simulated numbers must never reach a real account.
    config = DialerConfig(
        event_endpoint=endpoint, customer_ring_timeout=args.ring, agent_ring_timeout=8.0
    )
    store = RecordStore(args.db)
    campaigns = CampaignStore(args.db)
    spec = demo_campaign(world, args.bot, args.concurrency, args.ring, args.retry_after)
    campaigns.create_campaign(spec, time.time())
    campaigns.add_leads(spec.name, world.leads, time.time())
    # "press 0 for a human" works whatever the bot: the gateway turns DTMF 0 into a transfer
    gw = GatewayConfig(host="127.0.0.1", port=0, escalation_dtmf="0")
    view = LiveView()
    started = time.monotonic()
    try:
        async with LocalStack(
            config, sim_config=world.sim, gateway_config=gw, control=args.control, store=store
        ) as stack:
            dialer = stack.dialer
            print(
                "voxgate demo: "
                + ", ".join(f"{k} {v}" for k, v in stack.summary_endpoints().items()),
                flush=True,
            )
            mix = Counter(world.kinds)
            print(
                f"campaign {spec.name!r}: {args.calls} leads "
                f"({', '.join(f'{k} {v}' for k, v in mix.items())}), {args.agents} agents "
                f"({args.nailed} nailed-up), bot {args.bot!r}, pacer {spec.pacer}, up to "
                f"{spec.limits.max_lines} lines; busy/no-answer retried once after "
                f"{args.retry_after:g} s",
                flush=True,
            )
            runner = CampaignRunner(dialer, campaigns, spec.name, report=view, report_every_s=1.0)
            await runner.run(until_done=True)
            final = runner.snapshot()
        view.finish()
        print(
            summary(list(store.records()), time.monotonic() - started, args.db, final), flush=True
        )
        if args.export:
            print(f"exported {store.export(args.export)} records to {args.export}")
    finally:
        campaigns.close()
        store.close()
    return 0


def check_demo_args(args: argparse.Namespace) -> None:
    """Refuse (:class:`CampaignError`) what would fail only after the run: more nailed-up
    agents than agents, a bot that is not installed, an unwritable ``--db`` or ``--export``."""
    if args.nailed > args.agents:
        raise CampaignError(f"--nailed {args.nailed} is more than --agents {args.agents}")
    check_bot(args.bot)
    check_writable(args.db, "--db")
    if args.export:
        if os.path.abspath(args.export) == os.path.abspath(args.db):
            raise CampaignError(f"--export {args.export}: is the --db file")
        check_writable(args.export, "--export")


def demo_command(args: argparse.Namespace) -> int:
    try:
        check_demo_args(args)
    except CampaignError as exc:
        print(f"voxgate demo: {exc}", file=sys.stderr)
        return 2
    if args.db == DEFAULT_DB:
        for path in (DEFAULT_DB, DEFAULT_DB + "-wal", DEFAULT_DB + "-shm"):
            if os.path.exists(path):
                os.unlink(path)  # each demo run starts with an empty campaign and records
    elif os.path.exists(args.db):
        print(
            f"voxgate demo: {args.db} exists; the demo starts from an empty database "
            "(remove it or name another --db)",
            file=sys.stderr,
        )
        return 2
    print("mode: emulator", flush=True)  # always: simulated numbers never reach an account
    try:
        return asyncio.run(run_demo(args))
    except sqlite3.Error as exc:
        print(f"voxgate demo: cannot use database {args.db}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def parse_params(items: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` options as a mapping (names are checked by ``CallRequest``)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--param wants NAME=VALUE, got {item!r}")
        out[name] = value
    return out


CALL_CUSTOMER = ("pause 500", "say cust_yes", "wait 12000", "hangup")
"""What ``voxgate call``'s emulated customer does unless told (``--customer``)."""


def call_world(args: argparse.Namespace) -> SimConfig:
    """The emulator's world for ``voxgate call``: ``--sim-config`` (or a customer who answers
    and says yes), ``--customer`` steps for NUMBER, and an agent for each ``--agent``.
    Raises ValueError naming the option."""
    if args.sim_config:
        try:
            world = SimConfig.from_file(args.sim_config)
        except (SimConfigError, OSError) as exc:
            raise ValueError(f"--sim-config {args.sim_config}: {exc}") from None
        profile = world.customer(args.number)
    else:
        world = SimConfig()
        profile = CustomerProfile(outcome="answer").with_script(*CALL_CUSTOMER)
    if args.customer:
        steps = [step.strip() for step in args.customer.split(";") if step.strip()]
        try:
            profile = replace(profile, outcome="answer").with_script(*steps)
        except (SimConfigError, ValueError) as exc:
            raise ValueError(f"--customer: {exc}") from None
    world = replace(world, customers={**world.customers, args.number: profile})
    return world.with_agents(args.agent)


def show_progress(ev: ProgressEvent) -> None:
    """Print one line per event of the call (``kind detail``); agent events are not shown."""
    if not isinstance(ev, AgentFreed):
        print(f"  {ev.kind} {ev.detail}".rstrip(), flush=True)


async def run_call(args: argparse.Namespace) -> int:
    params = parse_params(args.param)
    CallRequest(args.number, stream_params=params)  # refuse bad names before starting anything
    options = parse_adapter_options(args.adapter_option)
    check_adapters({args.bot: options.get(args.bot, {}), **options})
    config = DialerConfig.load(args.config)
    print(dial_mode(config, args), flush=True)  # refuses an implicit mode (dialer.mode)
    sim = call_world(args) if config.uses_embedded_emulator else SimConfig()
    store = RecordStore(args.db) if args.db else None
    gw = GatewayConfig(host=args.gateway_host, port=args.gateway_port, adapter_options=options)
    async with LocalStack(config, sim_config=sim, gateway_config=gw, store=store) as stack:
        dialer = stack.dialer
        dialer.subscribe(show_progress)
        for i, number in enumerate(args.agent, 1):
            dialer.add_agent(f"agent{i}", number)
        handle = await dialer.place_call(
            CallRequest(args.number, mode=args.mode, bot=args.bot, stream_params=params)
        )
        print(f"call {handle.call_id} to {args.number} (bot {args.bot})", flush=True)
        async with asyncio.timeout(args.timeout):
            record = await handle.wait()
    print(json.dumps(record.to_json(), indent=2))
    return 0 if record.answered else 1


def call_command(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_call(args))
    except (ConfigError, ValueError) as exc:
        log.error("call: %s", exc)
        return 2
    except TimeoutError:
        log.error("call: no result within %.0fs", args.timeout)
        return 1
