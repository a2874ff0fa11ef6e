"""What exact knowledge would be worth to voxgate's predictive pacer: the same pacer, told truth
the simulation knows and a real dialer cannot, on the same customers and agents.

    .venv/bin/python bench/pacing_oracle.py   # 20 agents, 15 % and 35 % live, 6 seeds
    .venv/bin/python bench/pacing_oracle.py --agents 100 --seeds 3
    .venv/bin/python bench/pacing_oracle.py --aim 0.03   # aim right at the legal 3 %

Rows (every row runs on the same floor: wrap-ups are drawn when their call connects, from a
stream of their own, so that an oracle can know them; the figures therefore differ a little
from ``bench/pacing.py``'s, whose wrap-ups are drawn when the talk ends):

* ``model``: the pacer as shipped, estimating everything from what it has observed;
* ``wrap-ups known``: told the moment each agent already in wrap-up will be ready;
* ``agents known``: told the moment every busy agent will be ready (talk end plus wrap-up);
* ``customers known``: told which ringing lines will answer live and when (agents from its model).

The pacer's other parts (risk limit tuned to the aim, 2 % unless ``--aim``; cold start) are
unchanged, so a row measures what better prediction on that side would buy: with every agent's
ready time known the pacer still faces the customers' randomness, which no dialer observes
ahead of time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from dialer.pacing.forecast import ServiceModel, group_busy
from dialer.pacing.predictive import PredictivePacer
from dialer.pacing.sim import _TALK_END, _TICK, _WRAP_END, Scenario, SimResult, _Floor
from dialer.pacing.types import DialOutcome, PacerState

Busy = Counter[tuple[str, int]]  # busy agents grouped by phase and whole seconds busy
Pair = tuple[float, float]  # a mean and a variance
ROWS = ("model", "wrap-ups known", "agents known", "customers known")


@dataclass
class Truth:
    """What the floor knows at a pacing tick."""

    now: float
    ready_at: list[tuple[str, float]]  # (phase, ready time) of each busy agent
    answers_at: list[float]  # when each ringing line that will answer live answers


class OraclePacer(PredictivePacer):
    """:class:`PredictivePacer` whose forecast of claims or supply uses the floor's truth."""

    def __init__(self, knows: str, aim: float = 0.02) -> None:
        super().__init__(aim=aim)
        self.knows = knows
        self.truth = Truth(0.0, [], [])

    def claims(self, state: PacerState, ringing: Counter[int], tau: float) -> Pair:
        if self.knows != "customers known":
            return super().claims(state, ringing, tau)
        due = sum(1 for t in self.truth.answers_at if t - self.truth.now <= tau)
        return float(len(state.waiting) + due), 0.0

    def freed(self, state: PacerState, service: ServiceModel, busy: Busy, horizon: float) -> Pair:
        now = self.truth.now
        if self.knows == "agents known":
            return float(sum(1 for _, t in self.truth.ready_at if t - now <= horizon)), 0.0
        if self.knows == "wrap-ups known":
            exact = sum(
                1 for phase, t in self.truth.ready_at if phase == "wrap" and t - now <= horizon
            )
            talkers = group_busy(a for a in state.busy_agents if a.phase == "talk")
            mean, var = service.supply(talkers, horizon)
            return exact + mean, var
        return super().freed(state, service, busy, horizon)


class RevealingFloor(_Floor):
    """The simulated floor with wrap-ups drawn at connect; tells an :class:`OraclePacer` the
    truth before every pacing tick."""

    def __init__(self, scenario: Scenario, pacer: PredictivePacer, seed: int) -> None:
        super().__init__(scenario, pacer, seed)
        self.wrap_rng = random.Random(f"{seed}:{scenario.name}:wraps")
        self.ready_time: dict[int, float] = {}  # agent -> when it will be ready again

    def at(self, t: float, kind: int, subject: int = 0) -> None:
        if kind == _TALK_END:  # the call connects: its wrap-up is drawn now
            self.ready_time[subject] = t + self.s.wrap.sample(self.wrap_rng)
        elif kind == _WRAP_END:
            t = self.ready_time[subject]
        super().at(t, kind, subject)

    def handle(self, now: float, kind: int, subject: int) -> None:
        if kind == _TICK and isinstance(self.pacer, OraclePacer):
            busy = [i for i, a in enumerate(self.agents) if a.phase in ("talk", "wrap")]
            self.pacer.truth = Truth(
                now,
                [(self.agents[i].phase, self.ready_time[i]) for i in busy],
                [t0 + ring for t0, out, ring in self.ringing.values() if out is DialOutcome.LIVE],
            )
        super().handle(now, kind, subject)


def run_one(job: tuple[int, float, str, int, float, float]) -> tuple[str, float, SimResult]:
    agents, live, row, seed, hours, aim = job
    name = f"agent-first {agents} agents, {round(live * 100)}% live"
    scenario = Scenario(name, agents, live, hours=hours)
    pacer = PredictivePacer(aim=aim) if row == "model" else OraclePacer(row, aim)
    return row, live, RevealingFloor(scenario, pacer, seed).run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--aim", type=float, default=0.02, help="abandonment aim (target 3 %%)")
    args = parser.parse_args()
    jobs = [
        (args.agents, live, row, seed, args.hours, args.aim)
        for live in (0.15, 0.35)
        for row in ROWS
        for seed in range(1, args.seeds + 1)
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_one, jobs))
    print(
        f"{args.agents} agents, {args.seeds} seeds, {args.hours:g}-hour cold shifts, "
        f"aim {args.aim:.1%}"
    )
    print(f"{'':24}{'talk min/agent-h':>22}{'abandonment':>22}{'occupancy':>11}")
    for live in (0.15, 0.35):
        print(f"## {round(live * 100)}% live")
        for row in ROWS:
            runs = [r for name, lv, r in results if name == row and lv == live]
            talk = [r.talk_min_per_agent_hour for r in runs]
            aband = [r.abandon_rate for r in runs]
            occ = statistics.fmean(r.occupancy for r in runs)
            print(
                f"{row:24}{statistics.fmean(talk):>10.2f} (worst {min(talk):5.2f})"
                f"{statistics.fmean(aband):>10.2%} (max {max(aband):5.2%}){occ:>10.1%}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
