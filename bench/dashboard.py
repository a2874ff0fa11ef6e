"""The dashboard with 1,000 calls in flight (issue 18): live-feed update latency, page weight,
server CPU per connected viewer, and the calls search on 100,000 records.

    .venv/bin/python bench/dashboard.py                      # 1,000 calls, viewers 1/10/50
    .venv/bin/python bench/dashboard.py --calls 1000 --agents 1000 --viewers 1,10,50 \\
        --window 10 --records 100000

The server runs in its own process: the dialer service's control API with the dashboard
mounted (``with_ui``, as ``voxgate dialer run --users`` does) over a dialer whose state has the
shape of a busy one, made up rather than dialled: ``--agents`` agents (60 % talking, the rest
ready, ringing, in wrap-up or paused) and ``--calls`` calls in flight spread over the call-flow
stages (the dialer's live call runners), a stored campaign, and ``--records`` call records in
its records store. A changer task in that process moves a few agents and calls to another
state every 50-350 ms, and stamps a marker agent with the wall-clock times of the last 30
changes (milliseconds, in its ``call_id``), so that a viewer knows every change an event
carries, even those a later one overwrote before a snapshot was taken.

This process is the viewers: N SSE connections to ``/ui/api/live`` (one supervisor session).
Figures:

* **update latency** -- for each change and each viewer, the arrival of the first event that
  carries the change minus the change's time: from a state change to the event at the viewer
  (p50/p95/max over every viewer's changes in the ``--window`` seconds);
* **CPU per viewer** -- the server process's CPU time per second (``/proc``, user + system)
  with N viewers connected, minus the same with none, divided by N (in % of one core);
* **page weight** -- each page's HTML plus every script and stylesheet it loads (and, for a
  page fed by the live feed, its first event);
* **search** -- ``/ui/api/calls`` on the records: the median time of a page for each filter.

The machine may be shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import aiohttp  # noqa: E402

MARK = "zz-marker"
USER, PASSWORD = "sup", "bench-password-0123"
STAGES = ("ringing", "bot", "hold", "bridging", "bridged")
TICK = os.sysconf("SC_CLK_TCK")


# -- the server (its own process) ---------------------------------------------------------

def _records(store: Any, n: int, campaign: str) -> None:
    """``n`` call records written in one transaction (a save() each would take minutes)."""
    from dialer.records import CallRecord

    rows = []
    now = time.time()
    for i in range(n):
        rec = CallRecord(f"r{i:06d}", f"+9199{i % 100_000:08d}", "bot_first",
                         disposition=("completed", "no_answer", "busy", "agent_handled")[i % 4],
                         agent_id=f"a{i % 1000:04d}" if i % 4 == 3 else "", answered=i % 4 != 1,
                         started_at=now - (n - i) * 3.0,
                         latencies={"call_ms": 30_000.0},
                         timeline=(("dial", 0.0), ("answered", 4000.0), ("ended", 30_000.0)),
                         custom={"campaign": campaign if i % 2 else "other"})
        body = json.dumps(rec.to_json(), separators=(",", ":"), sort_keys=True)
        rows.append((rec.call_id, rec.number, rec.disposition, rec.started_at + 30, body,
                     rec.agent_id, str(rec.custom["campaign"])))
    with store.db.connection() as conn:
        conn.executemany(
            "INSERT INTO call_records (call_id, number, disposition, created_at, body, agent_id,"
            " campaign) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def _serve(conn: Connection, args: argparse.Namespace, tmp: str) -> None:
    from dialer.agents import AgentState
    from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
    from dialer.campaign.service_api import CampaignService
    from dialer.config import DialerConfig
    from dialer.control_api import ControlApiServer
    from dialer.service import Dialer
    from dialer.web.app import with_ui
    from dialer.web.context import UiSettings
    from dialer.web.users import User, hash_password, save_users

    async def main() -> None:
        db = str(Path(tmp) / "d.db")
        dialer = Dialer(DialerConfig(api_base="http://127.0.0.1:9", account_sid="ACbench",
                                     db_path=db))
        rnd = random.Random(7)
        pool = dialer.pool
        for i in range(args.agents):
            pool.add(f"a{i:04d}", f"+9198{i:08d}")
        pool.add(MARK, "+919899999999")
        agents = [a for a in pool.agents if a.agent_id != MARK]
        marker = next(a for a in pool.agents if a.agent_id == MARK)
        states = [AgentState.TALKING] * 6 + [AgentState.IDLE, AgentState.RINGING,
                                             AgentState.WRAP_UP, AgentState.OFFLINE]
        for a in agents:
            a.state = rnd.choice(states)
        calls: dict[str, Any] = getattr(dialer, "_calls")  # noqa: B009 - the live runners
        for i in range(args.calls):
            calls[f"bench-{i:05d}"] = SimpleNamespace(
                request=SimpleNamespace(number=f"+9199{i:08d}", custom={"campaign": "bench"}),
                flow=SimpleNamespace(state=SimpleNamespace(value=rnd.choice(STAGES)),
                                     outcome=SimpleNamespace(agent_id="")),
                _wall0=time.time() - rnd.uniform(0, 120))
        service = CampaignService(dialer, db)
        spec = CampaignSpec("bench", mode="bot_first", pacer="predictive", retry={},
                            limits=Limits(max_lines=args.calls, abandon_target=0.03),
                            agents=(AgentSpec("a0000", "+919800000000"),))
        service.store.create_campaign(spec, time.time())
        service.store.add_leads("bench", [Lead(f"+9197{i:08d}") for i in range(200)],
                                time.time())
        if args.records:
            _records(dialer.store, args.records, "bench")
        users = Path(tmp) / "users.json"
        save_users(users, {USER: User(USER, "supervisor", hash_password(PASSWORD))})
        settings = UiSettings(users=users, max_viewers=max(args.viewers) + 10)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), stop.set)

        async def change() -> None:
            runners = list(calls.values())
            recent: list[str] = []
            while not stop.is_set():
                await asyncio.sleep(rnd.uniform(0.05, 0.35))
                for a in rnd.sample(agents, 5):
                    a.state = rnd.choice(states)
                for r in rnd.sample(runners, 10):
                    r.flow.state = SimpleNamespace(value=rnd.choice(STAGES))
                recent = [*recent[-29:], str(int(time.time() * 1000))]
                marker.call_id = ",".join(recent)

        async with ControlApiServer(dialer, dialer=dialer, token="bench-token-" + "0" * 24,
                                    routes=with_ui(dialer, service, settings,
                                                   service.add_routes)) as api:
            changer = asyncio.create_task(change())
            conn.send(api.url)
            await stop.wait()
            changer.cancel()
        service.store.close()
        service.started.close()

    asyncio.run(main())


# -- the viewers (this process) -----------------------------------------------------------

def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


async def log_in(s: aiohttp.ClientSession, base: str) -> None:
    async with s.get(f"{base}/ui/login") as r:
        token = re.search(r'name="csrf" value="([^"]+)"', await r.text())
    assert token, "no login form"
    async with s.post(f"{base}/ui/login", allow_redirects=False,
                      data={"user": USER, "password": PASSWORD, "csrf": token.group(1)}) as r:
        assert r.status == 302, f"login failed: {r.status}"


async def viewer(s: aiohttp.ClientSession, base: str, out: list[float], sizes: list[int],
                 measuring: asyncio.Event) -> None:
    """One SSE viewer: each change an event is the first to carry adds its latency (ms) to
    ``out``."""
    seen: set[int] = set()
    buf = b""
    stamps = re.compile(rb'"call_id":"([0-9,]*)"')
    async with s.get(f"{base}/ui/api/live", timeout=aiohttp.ClientTimeout(total=None)) as r:
        assert r.status == 200, r.status
        async for chunk in r.content.iter_any():
            now = time.time() * 1000
            buf += chunk
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                if not event.startswith(b"data: "):
                    continue
                at = event.find(f'"id":"{MARK}"'.encode())
                found = stamps.search(event, at) if at >= 0 else None
                if found is None or not found.group(1):
                    continue
                new = {int(x) for x in found.group(1).split(b",")} - seen
                if seen and measuring.is_set():
                    out += [now - stamp for stamp in new]
                    sizes.append(len(event))
                seen |= new


async def page_weight(s: aiohttp.ClientSession, base: str, path: str) -> tuple[int, int]:
    """(HTML bytes, HTML + assets bytes) of a page."""
    async with s.get(f"{base}{path}") as r:
        assert r.status == 200, (path, r.status)
        html = await r.read()
    total = len(html)
    for asset in re.findall(rb'(?:src|href)="(/ui/static/[^"]+)"', html):
        async with s.get(f"{base}{asset.decode()}") as r:
            total += len(await r.read())
    return len(html), total


async def timed(s: aiohttp.ClientSession, url: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        async with s.get(url) as r:
            assert r.status == 200, (url, r.status, await r.text())
            await r.read()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace, base: str, pid: int) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar,
                                     connector=aiohttp.TCPConnector(limit=0)) as s:
        await log_in(s, base)
        print(f"server pid {pid}: {args.calls} calls in flight, {args.agents} agents, "
              f"{args.records} call records; load average {os.getloadavg()[0]:.1f}")

        print("\npage weight (bytes: HTML / with its scripts and styles)")
        async with s.get(f"{base}/ui/api/calls?per=1") as r:
            one = (await r.json())["calls"][0]["call_id"] if args.records else "none"
        for path in ("/ui/campaigns", "/ui/agents", "/ui/calls", f"/ui/calls/{one}",
                     "/ui/reports/bench", "/ui/audit"):
            if path.endswith("/none"):
                continue
            html, total = await page_weight(s, base, path)
            print(f"  {path:<28} {html:>9,} {total:>10,}")
        async with s.get(f"{base}/ui/api/snapshot") as r:
            print(f"  {'live event (snapshot)':<28} {len(await r.read()):>9,}")

        if args.records:
            print(f"\ncalls search on {args.records:,} records (median of 5, ms a page of 50)")
            for label, query in (("newest", ""), ("campaign", "campaign=bench"),
                                 ("number prefix", "number=%2B91990001"),
                                 ("agent", "agent=a0007"), ("disposition", "disposition=busy"),
                                 ("campaign+date", "campaign=bench&from=2000-01-01"),
                                 ("page 100", "campaign=bench&page=100")):
                ms = await timed(s, f"{base}/ui/api/calls?{query}")
                print(f"  {label:<16} {ms:8.1f}")
            ms = await timed(s, f"{base}/ui/calls?campaign=bench")
            print(f"  {'the HTML page':<16} {ms:8.1f}")

        await asyncio.sleep(1.0)
        c0, t0 = cpu_s(pid), time.monotonic()
        await asyncio.sleep(args.window)
        idle = (cpu_s(pid) - c0) / (time.monotonic() - t0)
        print(f"\nlive feed (window {args.window:.0f} s each; server CPU with no viewer "
              f"{idle * 100:.1f} % of a core)")
        print(f"  {'viewers':>7} {'changes':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
              f"{'event KB':>8} {'CPU %':>6} {'CPU %/viewer':>12}")
        for n in args.viewers:
            latencies: list[float] = []
            sizes: list[int] = []
            measuring = asyncio.Event()
            tasks = [asyncio.create_task(viewer(s, base, latencies, sizes, measuring))
                     for _ in range(n)]
            await asyncio.sleep(2.0)  # connected, first events in
            measuring.set()
            c0, t0 = cpu_s(pid), time.monotonic()
            await asyncio.sleep(args.window)
            used = (cpu_s(pid) - c0) / (time.monotonic() - t0)
            measuring.clear()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            per = (used - idle) / n
            kb = statistics.mean(sizes) / 1024 if sizes else float("nan")
            print(f"  {n:>7} {len(latencies):>7} {pct(latencies, 50):>7.0f} "
                  f"{pct(latencies, 95):>7.0f} {max(latencies, default=float('nan')):>7.0f} "
                  f"{kb:>8.1f} {used * 100:>6.1f} {per * 100:>12.2f}")
            await asyncio.sleep(1.0)
        print(f"load average {os.getloadavg()[0]:.1f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--viewers", default="1,10,50",
                   type=lambda v: [int(x) for x in v.split(",") if x])
    p.add_argument("--window", type=float, default=10.0, help="seconds measured per setting")
    p.add_argument("--records", type=int, default=100_000)
    args = p.parse_args()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, args, tmp), daemon=True)
        proc.start()
        try:
            if not parent.poll(300):
                raise SystemExit("the server did not start")
            base = str(parent.recv()).removesuffix("/v1/control").rstrip("/")
            assert proc.pid is not None
            asyncio.run(run(args, base, proc.pid))
        finally:
            parent.send("stop")
            proc.join(15)
            if proc.is_alive():
                proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
