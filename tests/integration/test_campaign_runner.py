"""The campaign runner against the emulator over real sockets (emulator + gateway + dialer on
loopback): calling windows, do-not-call, retries, attempt limits, pause/resume, the campaign's
ring time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from calling_time import daytime_zone

from dialer.campaign.compliance import in_window
from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.progress import CampaignSnapshot
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignStore
from dialer.config import DialerConfig
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

QUICK = CustomerProfile(outcome="answer", ring_ms=(100, 300)).with_script("wait 600", "hangup")
BUSY = CustomerProfile(outcome="busy", ring_ms=(100, 200))


@asynccontextmanager
async def stack(customers: dict[str, CustomerProfile], ring: int = 15) -> AsyncIterator[LocalStack]:
    sim = SimConfig(
        rest_latency_ms=5,
        event_latency_ms=5,
        setup_ms=20,
        default_customer=QUICK,
        customers=customers,
    )
    cfg = DialerConfig(customer_ring_timeout=ring)
    async with LocalStack(cfg, sim_config=sim, gateway_config=GatewayConfig(port=0)) as st:
        yield st


def store_with(tmp_path: Path, leads: list[Lead], **settings: Any) -> CampaignStore:
    store = CampaignStore(str(tmp_path / "campaign.db"))
    base: dict[str, Any] = {
        "bot": "echo",
        "pacer": "progressive",
        "mode": "bot_first",
        "retry": {"busy": 0.5, "no_answer": 0.5, "interrupted": 0.5},
        "limits": Limits(max_attempts=3, max_attempts_per_day=3, max_lines=4),
        "agents": tuple(AgentSpec(f"a{i}", f"+91980000000{i}") for i in range(1, 4)),
        "amd": False,
        "timezone": daytime_zone(),
    }
    base.update(settings)
    store.create_campaign(CampaignSpec("t1", **base), time.time())
    store.add_leads("t1", leads, time.time())
    return store


def dialled(st: LocalStack) -> list[str]:
    """Customer numbers the emulator was asked to ring, one entry per leg."""
    assert st.sim is not None
    return [leg.req.contact_uri for leg in st.sim.sim.legs.values() if leg.kind == "customer"]


def zones() -> tuple[str, str]:
    """A zone where it is calling time now, and one where it is not."""
    inside = outside = ""
    for offset in range(-12, 15):
        zone = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"
        if in_window(time.time(), zone, CampaignSpec("x").window):
            inside = inside or zone
        else:
            outside = outside or zone
    assert inside and outside
    return inside, outside


async def test_windows_and_do_not_call_are_checked_before_every_dial(tmp_path: Path) -> None:
    inside, outside = zones()
    leads = [
        Lead("+919900000101", timezone=inside),
        Lead("+919900000102", timezone=outside),
        Lead("+919900000103", timezone=inside),
        Lead("+919900000104", timezone=inside),
    ]
    store = store_with(tmp_path, leads)
    store.add_dnc(["+919900000103"], time.time())
    snapshots: list[CampaignSnapshot] = []
    async with stack({}) as st:
        runner = CampaignRunner(
            st.dialer, store, "t1", tick_s=0.1, report=snapshots.append, report_every_s=0.5
        )
        # the last lead joins the do-not-call list after import: scrubbed at dial time
        store.add_dnc(["+919900000104"], time.time())
        stats = await runner.run(until_done=False, max_seconds=4.0)
        numbers = dialled(st)
    assert numbers == ["+919900000101"]
    states = {lead["phone"]: lead for lead in store.leads("t1")}
    assert states["+919900000101"]["state"] == "done"
    assert states["+919900000102"]["state"] == "pending"  # waits for its window
    assert states["+919900000102"]["due_at"] > time.time()
    assert states["+919900000102"]["attempts"] == 0
    assert states["+919900000103"]["state"] == "dnc"
    assert states["+919900000104"]["state"] == "dnc"
    assert stats.answered == 1
    # the live view: the lead outside its window waits, and says until when
    last = snapshots[-1]
    assert (last.pending, last.due_now, last.waiting) == (1, 0, 1)
    assert last.next_due_at == states["+919900000102"]["due_at"]
    assert "pending 1: due now 0, waiting 1, next due " in last.pending_text()


async def test_busy_lead_is_retried_until_its_attempt_limit(tmp_path: Path) -> None:
    store = store_with(tmp_path, [Lead("+919900000201"), Lead("+919900000202")])
    async with stack({"+919900000201": BUSY}) as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1)
        async with asyncio.timeout(20):
            stats = await runner.run(until_done=True)
        numbers = dialled(st)
    assert numbers.count("+919900000201") == 3  # max_attempts
    assert numbers.count("+919900000202") == 1  # answered: finished
    busy = next(lead for lead in store.leads("t1") if lead["phone"] == "+919900000201")
    assert (busy["state"], busy["final_reason"], busy["attempts"]) == ("done", "max_attempts", 3)
    outcomes = [a["outcome"] for a in store.attempts("t1") if a["lead_id"] == busy["id"]]
    assert outcomes == ["busy", "busy", "busy"]
    assert stats.attempts == 4 and stats.answered == 1


async def test_daily_attempt_limit_holds_the_lead_until_tomorrow(tmp_path: Path) -> None:
    store = store_with(
        tmp_path,
        [Lead("+919900000301")],
        limits=Limits(max_attempts=5, max_attempts_per_day=2, max_lines=4),
    )
    async with stack({"+919900000301": BUSY}) as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1)
        await runner.run(until_done=False, max_seconds=4.0)
        numbers = dialled(st)
    assert numbers == ["+919900000301", "+919900000301"]
    lead = store.leads("t1")[0]
    assert lead["state"] == "pending" and lead["attempts"] == 2
    assert lead["due_at"] > time.time() + 3600  # tomorrow's window


async def test_pause_stops_new_dials_and_resume_restarts_them(tmp_path: Path) -> None:
    leads = [Lead(f"+9199000004{i:02d}") for i in range(8)]
    store = store_with(tmp_path, leads)
    control = CampaignStore(store.path)  # what `voxgate campaign pause` opens
    async with stack({}) as st:
        # no report callback: the heartbeat is written all the same, every report_every_s
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1, report_every_s=0.2)
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(runner.run(until_done=True))
            await asyncio.sleep(0.3)
            paused = time.time()
            control.set_status("t1", "paused", paused)
            await asyncio.sleep(0.3)  # a tick to notice; calls already placed carry on
            paused_at = len(dialled(st))
            await asyncio.sleep(2.0)
            assert len(dialled(st)) == paused_at
            assert store.stats("t1", time.time()).pending > 0
            seen = control.stats("t1", time.time())  # paused, but a dialer is attached
            assert seen.heartbeat_at is not None and seen.heartbeat_at > paused
            control.set_status("t1", "running", time.time())
            async with asyncio.timeout(30):
                stats = await task
        numbers = dialled(st)
    assert paused_at < 8
    assert sorted(numbers) == sorted(lead.phone for lead in leads)
    assert stats.done == 8
    gone = control.stats("t1", time.time())  # the run returned: the heartbeat is cleared
    assert gone.heartbeat_at is None and gone.last_seen_at is not None
    assert seen.heartbeat_at is not None and gone.last_seen_at >= seen.heartbeat_at


async def test_a_campaign_rings_its_own_time_not_the_dialers(tmp_path: Path) -> None:
    """The dialer rings 10 s, under the campaign's minimum ring time (15 s): the campaign's
    calls ring its own ``ring_timeout_s`` (30 s) and show its ExoPhone, as Exotel is asked.
    (Before, such a dialer was refused: the campaign's calls rang the dialer's time.)"""
    store = store_with(tmp_path, [Lead("+919900000501")], exophone="+918047110000",
                       limits=Limits(max_attempts=1, max_attempts_per_day=1))
    async with stack({"+919900000501": BUSY}, ring=10) as st:
        async with asyncio.timeout(30):
            await CampaignRunner(st.dialer, store, "t1").run(until_done=True)
        assert st.sim is not None
        legs = [leg.req for leg in st.sim.sim.legs.values() if leg.kind == "customer"]
    assert [(r.ring_timeout, r.exophone) for r in legs] == [(30, "+918047110000")]


async def test_bot_first_escalation_reaches_an_agent_and_is_counted(tmp_path: Path) -> None:
    wants_human = CustomerProfile(
        outcome="answer",
        ring_ms=(100, 200),
        bridge_script=parse_script(["say cust_hello", "hangup"]),
    ).with_script("streaming 100", "dtmf 0", "wait 8000", "hangup")
    leads = [Lead("+919900000801"), Lead("+919900000802")]
    store = store_with(tmp_path, leads, pacer="bot_first")
    sim = SimConfig(
        rest_latency_ms=5,
        event_latency_ms=5,
        setup_ms=20,
        default_customer=QUICK,
        customers={"+919900000801": wants_human},
        agents={"+919800000001": AgentProfile(answer_ms=200, greet_after_ms=100)},
    )
    cfg = DialerConfig(customer_ring_timeout=15, record_bridges=False)
    gateway = GatewayConfig(port=0, escalation_dtmf="0")
    async with LocalStack(cfg, sim_config=sim, gateway_config=gateway) as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1)
        assert runner.pacer.name == "voxgate-bot-first"
        async with asyncio.timeout(20):
            stats = await runner.run(until_done=True)
    attempts = {a["call_id"]: a for a in store.attempts("t1")}
    human = next(a for a in attempts.values() if a["lead_id"] == 1)
    assert (human["outcome"], human["escalated"], human["live"]) == ("escalated", 1, 1)
    record = store.call_record(human["call_id"])
    assert record is not None and record["bridged"] and record["agent_id"]
    assert (stats.answered, stats.escalated, stats.abandoned) == (2, 1, 0)
