"""Claims and settles per second of the campaign store, SQLite and PostgreSQL, 1 and 4 dialers
(issue 17). Goal: PostgreSQL sustains 250 claims+settles a second (five times the dial rate of
2,000 agents) with claim p99 under 20 ms.

    .venv/bin/python bench/store_load.py                    # 20,000 leads, 10 s a row
    .venv/bin/python bench/store_load.py --seconds 20 --rate 250 --stores postgresql

Each row: a fresh database (a SQLite file, ``synchronous=FULL`` as shipped; a new database on a
PostgreSQL server this bench starts with ``tests/pg_server.py``, **durable**: ``fsync``,
``synchronous_commit`` and ``full_page_writes`` on, as in production) holding one campaign of
``--leads`` leads (one attempt each, so a lead claimed twice is a double claim). ``--dialers``
processes (default 1 and 4), each its own store and connection pool like a real dialer and a
member of the campaign (its claims checked against its membership), start together and run
claim -> settle loops for ``--seconds``: **max** as fast as they can, **paced** at ``--rate``
claims a second in total (each dialer ``rate / dialers`` on a fixed schedule, the dialers'
schedules spread over the period; a late claim starts at once). Printed per row: claims/s and
settles/s achieved, claim p50/p99, settle p99, and double claims (leads claimed more than once,
from the claims returned and from the attempts table: must be 0). The machine is shared: the
load average is printed too.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.synchronize import Event
from typing import Any
from zoneinfo import ZoneInfo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from dialer.campaign.model import CampaignSpec, Lead, Limits, Outcome  # noqa: E402
from dialer.campaign.store import AttemptResult, CampaignStore, Lease  # noqa: E402

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp()
"""The store's clock in the bench: inside the default calling window."""
CAMPAIGN = "load"
GOAL_RATE = 250.0
GOAL_P99_MS = 20.0


@dataclass
class Row:
    store: str
    dialers: int
    mode: str
    seconds: float
    claims: int
    claim_ms: list[float]
    settle_ms: list[float]
    double_claims: int

    def line(self) -> str:
        claim = sorted(self.claim_ms)
        settle = sorted(self.settle_ms)
        rate = self.claims / self.seconds
        goal = ""
        if self.store == "postgresql":
            met = rate >= GOAL_RATE * 0.98 and pct(claim, 99) < GOAL_P99_MS
            goal = "  goal met" if met else "  goal NOT met"
        return (
            f"{self.store:10s} x{self.dialers} {self.mode:6s} claims/s {rate:6.0f}  "
            f"settles/s {len(settle) / self.seconds:6.0f}  claim p50 {pct(claim, 50):5.1f} ms "
            f"p99 {pct(claim, 99):5.1f} ms  settle p99 {pct(settle, 99):5.1f} ms  "
            f"double claims {self.double_claims}{goal}"
        )


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def prepare(url: str, leads: int) -> None:
    store = CampaignStore(url)
    try:
        store.create_campaign(CampaignSpec(CAMPAIGN, limits=Limits(max_attempts=1)), NOON)
        store.add_leads(CAMPAIGN, [Lead(f"98{i:08d}") for i in range(leads)], NOON)
    finally:
        store.close()


def dialer(
    url: str, name: str, seconds: float, rate: float, phase: float, start: Event, out: Any
) -> None:
    """One dialer process, a member of the campaign (as a runner joins it): claim -> settle
    until ``seconds`` have passed (or no lead is left), at ``rate`` claims a second (0: as fast
    as it can), its schedule shifted by ``phase`` of a period (the dialers' claims spread
    evenly, not all at the same instants). Sends (lead ids, claim ms, settle ms)."""
    store = CampaignStore(url)
    leads: list[int] = []
    claim_ms: list[float] = []
    settle_ms: list[float] = []
    try:
        store.join(CAMPAIGN, Lease.here(owner=name), NOON)
        start.wait()
        t0 = time.perf_counter()
        i = 0
        while True:
            if rate > 0:
                due = t0 + (i + phase) / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            if time.perf_counter() - t0 >= seconds:
                break
            i += 1
            t = time.perf_counter()
            claim = store.claim_next(CAMPAIGN, NOON, owner=name)
            claim_ms.append((time.perf_counter() - t) * 1000)
            if claim is None:
                break
            leads.append(claim.lead_id)
            result = AttemptResult(
                Outcome.BUSY, "busy", record={"call_id": claim.call_id, "status": "busy"}
            )
            t = time.perf_counter()
            store.finish_attempt(claim.call_id, result, NOON)
            settle_ms.append((time.perf_counter() - t) * 1000)
    finally:
        store.close()
    out.put((leads, claim_ms, settle_ms))


def run_row(
    url: str, store_kind: str, dialers: int, mode: str, args: argparse.Namespace
) -> Row:
    prepare(url, args.leads)
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    rate = args.rate / dialers if mode == "paced" else 0.0
    procs = [
        ctx.Process(
            target=dialer, args=(url, f"bench-{i}", args.seconds, rate, i / dialers, start, out)
        )
        for i in range(dialers)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0 + 0.5 * dialers)  # let them import and open their stores (not measured)
    t0 = time.perf_counter()
    start.set()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    leads = [lead for r in results for lead in r[0]]
    store = CampaignStore(url)
    try:
        attempts = store.attempts(CAMPAIGN)
    finally:
        store.close()
    per_lead: dict[int, int] = {}
    for a in attempts:
        per_lead[a["lead_id"]] = per_lead.get(a["lead_id"], 0) + 1
    doubled = max(len(leads) - len(set(leads)), sum(n - 1 for n in per_lead.values()))
    return Row(
        store_kind,
        dialers,
        mode,
        min(elapsed, args.seconds),
        len(leads),
        [ms for r in results for ms in r[1]],
        [ms for r in results for ms in r[2]],
        doubled,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="paced mode, total/s")
    parser.add_argument("--dialers", default="1,4")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--modes", default="max,paced")
    args = parser.parse_args()
    from pg_server import PgServer, find_bindir, missing_reason

    kinds = args.stores.split(",")
    server = None
    if "postgresql" in kinds:
        bindir = find_bindir()
        if bindir is None:
            sys.exit(missing_reason())
        server = PgServer(bindir, durable=True)
    tmp = tempfile.mkdtemp(prefix="store-load-")
    print(
        f"goal: PostgreSQL {GOAL_RATE:.0f} claims+settles/s with claim p99 < {GOAL_P99_MS:.0f} "
        f"ms; {args.leads} leads, {args.seconds:.0f} s a row, paced at {args.rate:.0f}/s; "
        "SQLite synchronous=FULL, PostgreSQL fsync and synchronous_commit on",
        flush=True,
    )
    try:
        n = 0
        for kind in kinds:
            for dialers in (int(d) for d in args.dialers.split(",")):
                for mode in args.modes.split(","):
                    n += 1
                    url = (
                        server.fresh_url()
                        if kind == "postgresql" and server is not None
                        else os.path.join(tmp, f"c{n}.db")
                    )
                    row = run_row(url, kind, dialers, mode, args)
                    print(f"{row.line()}  (load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
