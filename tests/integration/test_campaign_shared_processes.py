"""Four dialers share one campaign (issue 17): four ``voxgate dialer run`` processes (ids d0-d3)
on one PostgreSQL database (the test's throwaway server as ``VOXGATE_DB``), an external ``voxgate
sim`` process as Exotel with fast customers (rings of 50-200 ms, 40 % answer and stay 0.3 s,
the others are busy or, a quarter of them, do not answer within the 1 s ring: few media
streams, so that 2,000 leads take little CPU), one ``voxgate
gateway`` serving the echo bot. One campaign of 2,000 leads (2 attempts each, retries after
1 s, the calling window open, 40 agents) is created on d0 and started on all four with
``{"join": true, "agents": 10}``; once a third of the leads have had an attempt d3 is
SIGKILLed. Then:

* every dialer claimed attempts (before, the three others were refused the campaign);
* the emulator's legs are the ground truth: every leg is an attempt's (its call id), no call id
  was dialled twice, no number had two legs up at once, legs per number = attempts per lead
  <= 2; no attempt claimed outside the window;
* every lead is accounted for (done or exhausted), no attempt left dialing;
* d3's member row is gone, its attempts are settled (by the dialer that took it over, logged),
  and the others dialled after the kill.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
from collections import Counter, defaultdict
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from calling_time import daytime_zone
from campaign_process import until
from peers.ports import free_port
from test_dialer_processes import process

from dialer.campaign.store import CampaignStore

LEADS = 2000
IDS = ("d0", "d1", "d2", "d3")
TOKEN = "campaign-shared-token-0123456789"
WORLD = """
[latency]
rest_ms = 2
event_ms = 2
setup_ms = 10
[limits]
rate_per_s = 0
channels = 5000
[lenient]
list_legs = true
[customers.default]
answer_probability = 0.4
ring_ms = [50, 200]
busy_weight = 3
no_answer_weight = 1
failed_weight = 0
script = ["wait 300", "hangup"]
patience_ms = 0
"""


def campaign_toml(zone: str) -> str:
    return f"""
name = "race"
mode = "bot_first"
bot = "echo"
pacer = "bot_first"
amd = false
# retries after their delay: once it has counted 50 attempts the pickup model would time them
# to the likeliest hour of the week, possibly the next one, and the run would not end here
lead_order = "priority"
timezone = "{zone}"
[window]
start = "09:00"
end = "21:00"
[limits]
max_attempts = 2
max_attempts_per_day = 2
max_lines = 30
ring_timeout_s = 1
min_ring_s = 1
[retry]
busy = 1
no_answer = 1
failed = 1
interrupted = 1
""" + "".join(f'[[agents]]\nid = "a{i}"\nnumber = "+9198000000{i:02d}"\n' for i in range(40))


async def dialer(d: str, port: int, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voxgate.cli", "--log-level", "WARNING", "dialer", "run",
            "--dialer-id", d, "--control-port", str(port), env=env, stdout=out, stderr=out)
    await until(lambda: "dialer control API at" in log.read_text()
                or proc.returncode is not None, timeout_s=20)
    assert proc.returncode is None, log.read_text()  # noqa: ASYNC240
    return proc


async def legs_by_number(api: str, numbers: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The emulator's customer legs, per number (``GET /legs?contact_uri=``)."""
    auth = aiohttp.BasicAuth("sim_key", "sim_token")
    found: dict[str, list[dict[str, Any]]] = {}
    gate = asyncio.Semaphore(16)
    async with aiohttp.ClientSession(auth=auth) as s:
        async def one(number: str) -> None:
            async with gate, s.get(f"{api}/legs", params={"contact_uri": number}) as r:
                assert r.status == 200, await r.text()
                body = await r.json()
            found[number] = body["response"]["data"]["legs"] if "response" in body \
                else body["legs"]
        await asyncio.gather(*(one(n) for n in numbers))
    return found


async def until_settled(store: CampaignStore, logs: dict[str, Path]) -> None:
    """Until no lead is pending or in flight; fails when that count has not moved for 60 s
    (stuck, not slow: a loaded machine may take minutes), with the figures and the logs' tails."""
    last, since = -1, asyncio.get_running_loop().time()
    while True:
        stats = store.stats("race", datetime.now().timestamp())
        left = stats.pending + stats.in_flight
        if left == 0:
            return
        now = asyncio.get_running_loop().time()
        if left != last:
            last, since = left, now
        elif now - since > 60:
            tails = {d: log.read_text()[-2000:] for d, log in logs.items()}
            pending = store.pending("race", datetime.now().timestamp())
            raise AssertionError(f"no progress for 60 s: {stats}; {pending}; logs {tails}")
        await asyncio.sleep(0.2)


def _when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@pytest.mark.slow(70)
@pytest.mark.timeout(300)  # ~2,700 calls through 7 processes: 90-120 s on 2 loaded cores
async def test_four_dialers_share_a_campaign_and_take_over_a_killed_one(
        tmp_path: Path, pg_server: Any) -> None:
    url = pg_server.fresh_url()
    zone = daytime_zone()
    numbers = [f"+9199{i:08d}" for i in range(LEADS)]
    leads = "phone,timezone\n" + "".join(f"{n},{zone}\n" for n in numbers)
    (tmp_path / "world.toml").write_text(WORLD)
    controls = {d: free_port() for d in IDS}
    token = {"VOXGATE_CONTROL_TOKEN": TOKEN}
    logs = {d: tmp_path / f"{d}.log" for d in IDS}
    procs: dict[str, asyncio.subprocess.Process] = {}
    async with AsyncExitStack() as stack:
        line = await stack.enter_async_context(process(
            "sim", "--port", "0", "--config", str(tmp_path / "world.toml"), ready="api base"))
        api_base = line.split()[2]
        routes = [a for d in IDS for a in ("--control-url", f"{d}=http://127.0.0.1:{controls[d]}")]
        line = await stack.enter_async_context(process(
            "gateway", "--port", "0", *routes, ready="gateway listening on", env=token))
        gateway = int(line.rsplit(":", 1)[-1].split("/")[0])
        env = {**os.environ, **token, "VOXGATE_STREAM_URL": f"ws://127.0.0.1:{gateway}",
               "EXOTEL_API_BASE": api_base, "EXOTEL_ACCOUNT_SID": "ACsim",
               "EXOTEL_API_KEY": "sim_key", "EXOTEL_API_TOKEN": "sim_token",
               "EXOTEL_EXOPHONE": "+918000000000", "VOXGATE_DB": url,
               "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events"}
        try:
            started_procs = await asyncio.gather(
                *(dialer(d, controls[d], env, logs[d]) for d in IDS))
            procs.update(zip(IDS, started_procs, strict=True))
            s = await stack.enter_async_context(aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {TOKEN}"}))
            base = {d: f"http://127.0.0.1:{controls[d]}" for d in IDS}
            async with s.post(f"{base['d0']}/v1/campaigns",
                              json={"campaign": campaign_toml(zone), "leads": leads}) as r:
                assert r.status == 201, await r.text()
            for d in IDS:
                async with s.post(f"{base[d]}/v1/campaigns/race/start",
                                  json={"join": True, "agents": 10}) as r:
                    assert r.status == 202, await r.text()
            store = CampaignStore(url)

            def started() -> int:
                return store.stats("race", datetime.now().timestamp()).attempts

            await until(lambda: started() >= LEADS // 3, timeout_s=120)
            killed = next(m for m in store.members("race") if m.dialer_id == "d3")
            procs["d3"].send_signal(signal.SIGKILL)
            assert await procs["d3"].wait() == -signal.SIGKILL
            killed_at = datetime.now().timestamp()

            await until_settled(store, logs)
            attempts = store.attempts("race")
            lead_rows = store.leads("race")
            members = store.members("race")
            dialers = Counter(a["dialer"] for a in attempts)
            after = Counter(a["dialer"] for a in attempts if a["claimed_at"] > killed_at)
            store.close()
            legs = await legs_by_number(api_base, numbers)
        finally:
            for proc in procs.values():
                if proc.returncode is None:
                    proc.send_signal(signal.SIGINT)
            for proc in procs.values():
                async with asyncio.timeout(20):
                    await proc.wait()

    text = {d: logs[d].read_text() for d in IDS}
    # every dialer claimed (before: the three joining ones were refused the campaign)
    by_dialer = {m: n for m, n in dialers.items()}
    assert len(by_dialer) == 4 and all(n > 0 for n in by_dialer.values()), by_dialer
    assert killed.member in by_dialer
    assert sum(n for m, n in after.items() if m != killed.member) > 0, after
    assert after.get(killed.member, 0) == 0, after
    # the killed dialer was taken over: its row gone, its attempts settled, logged
    assert killed.member not in {m.member for m in members}, members
    assert not [a for a in attempts if a["state"] == "dialing"]
    takers = [d for d in IDS if "took over dead dialer" in text[d]]
    assert len(takers) == 1 and "dialer d3" in text[takers[0]], text  # one reaper won
    assert [d for d in IDS if "left by an earlier run" in text[d]] in ([], takers), text
    # the emulator's legs against the attempts
    call_ids = Counter(leg["custom_param"] for ls in legs.values() for leg in ls)
    assert max(call_ids.values()) == 1, [c for c, n in call_ids.items() if n > 1]
    assert set(call_ids) <= {a["call_id"] for a in attempts}
    per_lead = Counter(a["lead_id"] for a in attempts)
    phone_of = {lead["id"]: lead["phone"] for lead in lead_rows}
    assert max(per_lead.values()) <= 2
    for lead_id, n in per_lead.items():
        assert len(legs[phone_of[lead_id]]) <= n, (phone_of[lead_id], legs[phone_of[lead_id]])
    overlapping = []
    for number, ls in legs.items():
        spans = sorted((_when(leg["start_time"]), _when(leg["end_time"])) for leg in ls)
        overlapping += [number for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    assert overlapping == [], overlapping  # 0 leads dialled twice at once
    for a in attempts:  # no dial outside the window, in the leads' zone
        local = datetime.fromtimestamp(a["claimed_at"], ZoneInfo(zone)).time()
        assert "09:00" <= local.strftime("%H:%M") < "21:00", a
    states = Counter(lead["state"] for lead in lead_rows)
    assert set(states) <= {"done", "exhausted", "dnc"} and sum(states.values()) == LEADS, states
    per_state: dict[str, int] = defaultdict(int)
    for a in attempts:
        per_state[a["state"]] += 1
    print(f"attempts {len(attempts)} by dialer {dict(by_dialer)} states {dict(per_state)} "
          f"leads {dict(states)}")
