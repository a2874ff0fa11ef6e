"""Every pacer on the same seeded scenarios, in virtual time: prints one table per scenario and
the issue's goals with their measured figures.

    .venv/bin/python bench/pacing.py                 # 3 seeds, 2-hour shifts, 2 processes
    .venv/bin/python bench/pacing.py --seeds 5 --hours 8

Customers (all scenarios): live answer 15 % or 35 % of dials (ring time log-normal, mean 9 s,
sd 5 s, 2-30 s); answering machine 10 % (detected by AMD after 4-30 s, never a live answer);
busy 8 %; failed 4 %; the rest ring out at the 30 s ring timeout. Agent-first: talk log-normal
mean 240 s, sd 180 s (20-1800 s), wrap-up mean 20 s, sd 10 s (3-120 s); a live answer with no
agent within 2 s is abandoned. Bot-first: every live answer goes to a bot; 20 % escalate after a
bot conversation of mean 50 s (sd 30 s), the others hang up after mean 75 s (sd 45 s); an
escalation is abandoned in the ledger past 2 s of waiting; agents talk mean 180 s (sd 120 s).
Bot-first lines are limited to 5 per agent and bot streams to 3 per agent (gateway capacity and
the account's stream throttle); the bot-first floor is paced every 2 s, agent-first every 1 s.

Columns: talk minutes per logged-in agent hour (mean over seeds, worst seed), agent occupancy
((talk + wrap-up) / logged-in time), abandonment rate over the shift (mean, worst seed), highest
30-day abandonment seen at any hour mark (worst seed), mean agent wait between calls, p95 wait
of customers needing an agent (escalation wait in bot-first; abandoned ones count as the 2 s
limit in agent-first), dials per agent hour.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from dialer.pacing.adaptive import AdaptiveBaselinePacer
from dialer.pacing.botfirst import BotFirstPacer
from dialer.pacing.predictive import PredictivePacer
from dialer.pacing.progressive import ProgressivePacer
from dialer.pacing.sim import Dist, Scenario, SimResult, simulate
from dialer.pacing.types import Pacer

AGENT_FIRST_PACERS = ("progressive", "vicidial-adaptive", "voxgate-predictive")
BOT_FIRST_PACERS = ("progressive", "vicidial-adaptive", "voxgate-predictive", "voxgate-bot-first")


def make_pacer(name: str, scenario: Scenario) -> Pacer:
    factories: dict[str, Callable[[], Pacer]] = {
        "progressive": ProgressivePacer,
        "vicidial-adaptive": AdaptiveBaselinePacer,
        "voxgate-predictive": PredictivePacer,
        "voxgate-bot-first": lambda: BotFirstPacer(stream_limit=3 * scenario.agents),
    }
    return factories[name]()


def scenarios(hours: float) -> list[Scenario]:
    result = [
        Scenario(
            f"agent-first {agents} agents, {round(rate * 100)}% live", agents, rate, hours=hours
        )
        for agents in (5, 20, 100)
        for rate in (0.15, 0.35)
    ]
    result += [
        Scenario(
            f"bot-first {agents} agents, 35% live, 20% escalate",
            agents,
            0.35,
            mode="bot_first",
            talk=Dist(180.0, 120.0, 20.0, 1800.0),
            line_limit=5 * agents,
            hours=hours,
            tick_s=2.0,
        )
        for agents in (20, 100)
    ]
    return result


def run_one(job: tuple[Scenario, str, int]) -> SimResult:
    scenario, pacer, seed = job
    return simulate(scenario, make_pacer(pacer, scenario), seed)


@dataclass
class Row:
    pacer: str
    runs: list[SimResult]

    def mean(self, attr: str) -> float:
        return statistics.fmean(getattr(r, attr) for r in self.runs)

    def worst(self, attr: str, high: bool) -> float:
        values = [getattr(r, attr) for r in self.runs]
        return max(values) if high else min(values)


HEADER = (
    f"{'pacer':20} {'talk min/agent-h':>17} {'occupancy':>9} {'abandon':>15} "
    f"{'peak 30d':>8} {'wait betw.':>10} {'wait p95':>8} {'dials/agent-h':>13}"
)


def format_row(row: Row) -> str:
    return (
        f"{row.pacer:20} {row.mean('talk_min_per_agent_hour'):8.1f} "
        f"(min {row.worst('talk_min_per_agent_hour', False):4.1f}) "
        f"{row.mean('occupancy'):8.1%} "
        f"{row.mean('abandon_rate'):6.2%} (max {row.worst('abandon_rate', True):5.2%}) "
        f"{row.worst('peak_rate_30d', True):7.2%} "
        f"{row.mean('mean_wait_between_calls_s'):8.1f} s "
        f"{row.worst('wait_p95_s', True):6.2f} s "
        f"{row.mean('dials_per_agent_hour'):13.1f}"
    )


def goals(table: dict[str, dict[str, Row]]) -> list[tuple[bool, str]]:
    checks: list[tuple[bool, str]] = []
    for name, rows in table.items():
        if not name.startswith("agent-first") or name.startswith("agent-first 5 "):
            continue
        ours, base = rows["voxgate-predictive"], rows["vicidial-adaptive"]
        talk_min = ours.worst("talk_min_per_agent_hour", False)
        abandon_max = ours.worst("abandon_rate", True)
        checks.append(
            (
                talk_min >= 50.0 and abandon_max <= 0.03,
                f"{name}: voxgate >= 50 talk min/agent-h and <= 3 % abandonment on every seed "
                f"(worst seed: {talk_min:.1f} min, {abandon_max:.2%})",
            )
        )
        gain = ours.mean("talk_min_per_agent_hour") / base.mean("talk_min_per_agent_hour") - 1
        ab_ours, ab_base = ours.mean("abandon_rate"), base.mean("abandon_rate")
        checks.append(
            (
                gain >= 0.10 and ab_ours <= ab_base,
                f"{name}: voxgate talk +{gain:.1%} vs VICIdial-like baseline (goal +10 %), "
                f"abandonment {ab_ours:.2%} vs {ab_base:.2%}",
            )
        )
    for name, rows in table.items():
        if not name.startswith("bot-first"):
            continue
        ours = rows["voxgate-bot-first"]
        p95 = ours.worst("wait_p95_s", True)
        occupancy = ours.worst("occupancy", False)
        checks.append(
            (
                p95 <= 2.0 and occupancy >= 0.85,
                f"{name}: escalation wait p95 <= 2 s with occupancy >= 85 % on every seed "
                f"(worst seed: p95 {p95:.2f} s, occupancy {occupancy:.1%})",
            )
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    started = time.monotonic()
    jobs = []
    for scenario in scenarios(args.hours):
        names = AGENT_FIRST_PACERS if scenario.mode == "agent_first" else BOT_FIRST_PACERS
        jobs += [(scenario, name, seed) for name in names for seed in range(1, args.seeds + 1)]
    # longest runs first keeps both workers busy to the end
    jobs.sort(key=lambda job: -job[0].agents)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_one, jobs))
    else:
        results = [run_one(job) for job in jobs]
    table: dict[str, dict[str, Row]] = {}
    for scenario in scenarios(args.hours):
        table[scenario.name] = {}
    for result in results:
        rows = table[result.scenario]
        rows.setdefault(result.pacer, Row(result.pacer, [])).runs.append(result)
    print(f"pacing bench: {args.seeds} seeds, {args.hours:g}-hour shifts (virtual time)\n")
    for name, rows in table.items():
        print(f"## {name}")
        print(HEADER)
        for row in rows.values():
            print(format_row(row))
        print()
    print("## goals")
    checks = goals(table)
    for ok, text in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    print(
        f"\n{sum(ok for ok, _ in checks)}/{len(checks)} goals met "
        f"({time.monotonic() - started:.0f} s wall clock)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
