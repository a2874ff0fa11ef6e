"""Event-loop lag of the one-process dialer during a campaign on SQLite: store calls on the loop
(``inline``, as before ``dialer.store_calls``) against store calls on worker threads.

    .venv/bin/python bench/loop_lag.py                       # 200 calls in flight, 40 s a mode
    .venv/bin/python bench/loop_lag.py --calls 200 --seconds 60 --modes inline,executor

Each mode: a fresh temp dir with the campaign database (``synchronous=FULL``, as shipped) and
the call records database; the emulator in its own process (its work is not on the measured
loop), the gateway (echo bot, bot-first) and the dialer with its campaign runner in this one,
as ``voxgate serve`` wires them. The campaign keeps ``--calls`` calls in flight (a pacer that
fills every free line up to ``max_lines``); customers answer after 0.2-0.5 s, talk to the bot
for 0.5-1.5 x ``--talk`` seconds and hang up, so every step of every call writes its live
state and every end its record, its attempt and the next claims. A sampler task on the
dialer's loop sleeps 5 ms over and over; the lag is how late it wakes up. Printed per mode,
side by side: loop lag p50/p99/max over the whole run and after the ramp-up (the first
``--talk`` seconds), when the longest stall came, the calls in flight (median after the
ramp-up), and claims and settles per second over the run. The machine is shared: the load
average is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from dialer.campaign.model import CampaignSpec, Lead, Limits  # noqa: E402
from dialer.campaign.runner import CampaignRunner  # noqa: E402
from dialer.campaign.store import CampaignStore  # noqa: E402
from dialer.config import DialerConfig  # noqa: E402
from dialer.emulated import FIXTURES, on_emulator  # noqa: E402
from dialer.pacing.types import Observation, PacerState  # noqa: E402
from dialer.store_calls import ENV  # noqa: E402
from gateway.config import GatewayConfig  # noqa: E402
from voxgate.wiring import LocalStack  # noqa: E402

SAMPLE_S = 0.005


def _emulator(conn: Connection, talk_s: float, calls: int) -> None:
    """The emulator in its own process: sends where it listens, serves until told to stop."""
    from exotel_sim.config import CustomerProfile, SimConfig, parse_script
    from exotel_sim.server import SimServer

    async def serve() -> None:
        # talk times spread over 0.5-1.5 x --talk: the calls do not all end at once
        talks = [int(talk_s * 1000 * (0.5 + i / 10)) for i in range(11)]
        customer = CustomerProfile(
            outcome="answer", ring_ms=(200, 500), patience_ms=0,
            scripts=tuple(parse_script((f"wait {ms}", "hangup")) for ms in talks),
        )
        sim_config = SimConfig(
            rest_latency_ms=5, event_latency_ms=5, setup_ms=50, default_customer=customer,
            rate_limit_per_s=0, channel_limit=calls * 4, stream_throttle=calls * 2,
            max_legs_kept=100_000,
        )
        async with SimServer(sim_config) as sim:
            conn.send({"api_base": sim.api_base, "account_sid": sim.account_sid,
                       "api_key": sim.api_key, "api_token": sim.api_token,
                       "audio": {name: sim.audio_url(name) for name in FIXTURES}})
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(serve())


class _External:
    """The emulator process as :func:`dialer.emulated.on_emulator` reads an embedded one."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.api_base = info["api_base"]
        self.account_sid = info["account_sid"]
        self.api_key = info["api_key"]
        self.api_token = info["api_token"]
        self._audio = info["audio"]

    def audio_url(self, name: str) -> str:
        return str(self._audio[name])


class FillLines:
    """A pacer that keeps every line busy: ``max_lines`` calls in flight."""

    name = "fill-lines"

    def observe(self, obs: Observation) -> None:
        pass

    def dials_now(self, state: PacerState) -> int:
        return state.free_lines


@dataclass
class Result:
    mode: str
    lags: list[float] = field(default_factory=list)
    steady: list[float] = field(default_factory=list)  # the lags after the ramp-up
    worst_at: float = 0.0  # seconds from the start to the longest stall
    in_flight: list[int] = field(default_factory=list)
    claims: int = 0
    settles: int = 0
    seconds: float = 0.0
    queued_failed: int = 0

    def pct(self, q: float, steady: bool = False) -> float:
        ordered = sorted(self.steady if steady else self.lags)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def _sample(result: Result, runner: CampaignRunner, ramp_s: float) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(SAMPLE_S)
        lag = max(0.0, time.perf_counter() - t0 - SAMPLE_S)
        if lag > max(result.lags, default=0.0):
            result.worst_at = loop.time() - start
        result.lags.append(lag)
        if loop.time() - start >= ramp_s:
            result.in_flight.append(len(runner._live))
            result.steady.append(lag)


async def run_mode(mode: str, args: argparse.Namespace, info: dict[str, Any]) -> Result:
    os.environ[ENV] = "inline" if mode == "inline" else ""
    result = Result(mode)
    with tempfile.TemporaryDirectory(prefix="loop-lag-") as tmp:
        store = CampaignStore(str(Path(tmp) / "campaign.db"))
        spec = CampaignSpec(
            "lag", mode="bot_first", bot="echo", pacer="progressive", amd=False,
            timezone=args.timezone, retry={},
            limits=Limits(max_lines=args.calls, max_attempts=1, max_attempts_per_day=1),
        )
        now = time.time()
        store.create_campaign(spec, now)
        leads = int(args.calls * (args.seconds / args.talk + 2))
        store.add_leads("lag", [Lead(f"+9199{i:08d}") for i in range(leads)], now)
        cfg = on_emulator(
            DialerConfig(db_path=str(Path(tmp) / "records.db"), shutdown_grace=2.0,
                         customer_ring_timeout=20),
            _External(info),  # type: ignore[arg-type]
        )
        async with LocalStack(cfg, gateway_config=GatewayConfig(port=0)) as st:
            runner = CampaignRunner(st.dialer, store, "lag", pacer=FillLines(), tick_s=0.2,
                                    warm_start=False)
            sampler = asyncio.create_task(_sample(result, runner, args.talk))
            t0 = time.perf_counter()
            stats = await runner.run(until_done=False, max_seconds=args.seconds,
                                     drain_timeout_s=0.0)
            result.seconds = time.perf_counter() - t0
            sampler.cancel()
            result.queued_failed = st.dialer.calls.failed
        result.claims = stats.attempts
        result.settles = sum(1 for a in store.attempts("lag") if a["state"] != "dialing")
        store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls in flight")
    parser.add_argument("--seconds", type=float, default=40.0, help="run length of a mode")
    parser.add_argument("--talk", type=float, default=8.0, help="seconds a customer talks")
    parser.add_argument("--modes", default="inline,executor")
    parser.add_argument("--timezone", default="", help="the leads' zone (default: one where "
                        "it is daytime now, so the calling window is open)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # under load the calls' warnings would flood
    if not args.timezone:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        from calling_time import daytime_zone

        args.timezone = daytime_zone()
    results = []
    for mode in args.modes.split(","):
        parent, child = mp.get_context("spawn").Pipe()
        proc = mp.get_context("spawn").Process(target=_emulator, args=(child, args.talk,
                                                                       args.calls), daemon=True)
        proc.start()
        try:
            info = parent.recv()
            results.append(asyncio.run(run_mode(mode, args, info)))
        finally:
            parent.send("stop")
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    load = os.getloadavg()
    print(f"\nloop lag, {args.calls} calls in flight, {args.seconds:g} s a mode, calls of "
          f"{args.talk:g} s, SQLite synchronous=FULL (load {load[0]:.2f} {load[1]:.2f})")
    print("whole run (ramp-up included) | after the ramp-up (the first --talk seconds)")
    print(f"{'mode':<10} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'max at s':>8} | "
          f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} | {'samples':>7} {'in flight':>9} "
          f"{'claims/s':>8} {'settles/s':>9} {'failed':>6}")
    for r in results:
        flight = statistics.median(r.in_flight) if r.in_flight else 0
        print(f"{r.mode:<10} {r.pct(0.5):7.2f} {r.pct(0.99):7.1f} {max(r.lags) * 1000:7.1f} "
              f"{r.worst_at:8.1f} | {r.pct(0.5, True):7.2f} {r.pct(0.99, True):7.1f} "
              f"{max(r.steady, default=0.0) * 1000:7.1f} | {len(r.lags):7d} {flight:9.0f} "
              f"{r.claims / r.seconds:8.1f} {r.settles / r.seconds:9.1f} {r.queued_failed:6d}")


if __name__ == "__main__":
    main()
