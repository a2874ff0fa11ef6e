"""Lead intelligence on the discrete-event simulator: today's dial order against voxgate's, on
the same leads, floors and seeds.

    .venv/bin/python bench/leads.py                    # 20 and 100 agents, 1 day, seed 1
    .venv/bin/python bench/leads.py --seeds 3 --days 3
    .venv/bin/python bench/leads.py --segment north:0.5:evening:0.25:3 \\
        --segment south:0.5:morning:0.2 --concentration 2 --deadline-share 0.1

Leads (:mod:`dialer.leads.population`): segments with answer-rate curves over the day (a bump
``swing``-fold over the floor: morning, lunch, evening or flat), a per-lead propensity from a
Beta distribution scaled to mean 1 (``--concentration``: lower spreads more), 10 % in a high
CRM priority tier, ``--deadline-share`` of them with an SLA call-by time arriving during the
run (due 0.5-3 h after arrival). Every lead: at most 3 attempts, 2 a day. A dial's outcome is
drawn from its own lead's true curve at that hour; the model sees outcomes only.

Rows: ``today``: priority, then due time, then import order; retries after the fixed delays
(no answer 1 h, busy 10 min, machine 2 h, failed 30 min). ``voxgate``: the pickup model
learnt online from the run's outcomes (cold at the start), selection (SLA deadlines first when
short of slack, priority tiers, index score), retries no sooner than the same delays but in the
lead's likely hours, the pacer told each dial's probability; ``with an imported history``:
the same, its model first fed (``import_history``) a previous campaign's attempts: other
people of the same segments, ``--history-per-agent`` of them per agent, two attempts each at
random hours of the week before (rows of number, time, outcome, as a CSV gives).
Both: voxgate's predictive pacer, agent-first, 9:00-21:00 windows, warm-started from the
previous day.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor

from dialer.leads.pickup import LeadRef, import_history
from dialer.leads.population import Population, SegmentSpec, generate, parse_segment
from dialer.leads.sim import Calendar, LeadRunResult, TodayOrder, VoxgateOrder, run_days
from dialer.pacing.predictive import PredictivePacer
from dialer.pacing.sim import Scenario

DEFAULT_SEGMENTS = (
    SegmentSpec("salaried", 0.4, "evening", 0.16, 3.0),
    SegmentSpec("retail", 0.35, "morning", 0.2, 2.5),
    SegmentSpec("home", 0.25, "lunch", 0.22, 2.0),
)


MONDAY = 4 * 86_400.0  # the run's Monday 00:00 as an epoch (1970-01-05 UTC)
ORDERS = ("today", "voxgate", "voxgate+history")
LABELS = {
    "today": TodayOrder.name,
    "voxgate": VoxgateOrder.name,
    "voxgate+history": "  the same, with an imported history",
}


def history_rows(past: Population, seed: int) -> list[tuple[str, float, str]]:
    """A previous campaign's attempts (other people, same segments), as a CSV would give
    them: number, time, outcome; two attempts per lead at random hours 9:00-21:00 of a week
    before the run (epoch times, UTC: the run's Monday is 1970-01-05)."""
    rng = random.Random(f"{seed}:history")
    rows = []
    for lead in past.leads:
        for _ in range(2):
            t = MONDAY - 7 * 86_400.0 + rng.randrange(5) * 86_400.0 + rng.uniform(9, 21) * 3600.0
            live = rng.random() < lead.true_p((t % 86_400.0) / 3600.0)
            rows.append((f"past-{lead.id}", t, "completed" if live else "no_answer"))
    return rows


def run_one(job: tuple[argparse.Namespace, int, str, int]) -> LeadRunResult:
    args, agents, order, seed = job
    cal = Calendar(days=args.days, max_attempts=args.max_attempts, max_per_day=args.max_per_day)
    segments = [parse_segment(s) for s in args.segment] if args.segment else DEFAULT_SEGMENTS
    population = generate(
        list(segments),
        agents * args.leads_per_agent * args.days,
        seed=seed,
        concentration=args.concentration,
        deadline_share=args.deadline_share,
        opens=cal.spans(),
    )
    policy = TodayOrder(population, cal) if order == "today" else VoxgateOrder(population, cal)
    if order == "voxgate+history" and isinstance(policy, VoxgateOrder):
        past = generate(list(segments), agents * args.history_per_agent, seed=seed + 1000,
                        concentration=args.concentration, deadline_share=0.0, opens=[])
        segment_of = {f"past-{lead.id}": lead.segment.name for lead in past.leads}

        def lead_of(number: str) -> tuple[LeadRef, str] | None:
            return (LeadRef(number, segment_of[number]), "UTC") if number in segment_of else None

        import_history(policy.model, history_rows(past, seed), lead_of)
    scenario = Scenario(f"{agents} agents", agents, 0.3)
    return run_days(scenario, PredictivePacer, policy, cal, seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--leads-per-agent", type=int, default=400)
    parser.add_argument("--segment", action="append", help="name:share:shape:base[:swing]")
    parser.add_argument("--concentration", type=float, default=3.0, help="propensity Beta a+b")
    parser.add_argument("--deadline-share", type=float, default=0.05)
    parser.add_argument("--history-per-agent", type=int, default=100,
                        help="past leads per agent in the imported history (2 attempts each)")
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--max-per-day", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    jobs = [
        (args, agents, order, seed)
        for agents in args.agents
        for order in ORDERS
        for seed in range(1, args.seeds + 1)
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_one, jobs))
    print(
        f"{args.days} days 9:00-21:00, {args.leads_per_agent} leads per agent and day, "
        f"{args.seeds} seed(s), attempts {args.max_attempts} ({args.max_per_day}/day)"
    )
    head = ("live/100 dials", "talk min/agent-h", "abandon", "SLA met", "dials/contact")
    print(f"{'':54}" + "".join(f"{h:>18}" for h in head))
    for agents in args.agents:
        figures: dict[str, list[float]] = {}
        for (_, a, order, _), r in zip(jobs, results, strict=True):
            if a != agents:
                continue
            row = (r.live_per_100, r.talk_min_per_agent_hour, r.abandon_rate, r.sla_met,
                   r.attempts_per_contact)
            for i, value in enumerate(row):
                figures.setdefault(f"{order}:{i}", []).append(value)
        for order in ORDERS:
            cells = [statistics.fmean(figures[f"{order}:{i}"]) for i in range(5)]
            print(
                f"{agents:>3} agents {LABELS[order]:44}{cells[0]:>18.1f}{cells[1]:>18.1f}"
                f"{cells[2]:>18.2%}{cells[3]:>18.1%}{cells[4]:>18.2f}"
            )
        today = statistics.fmean(figures["today:0"])
        for order in ORDERS[1:]:
            gain = statistics.fmean(figures[f"{order}:0"]) / today - 1
            worst = min(  # the same seed's leads and floor for both orders
                ours / base - 1
                for ours, base in zip(figures[f"{order}:0"], figures["today:0"], strict=True)
            )
            print(
                f"{agents:>3} agents: {order} live contacts per dial {gain:+.1%}"
                f" (seed min {worst:+.1%}; goal >= +25 %)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
