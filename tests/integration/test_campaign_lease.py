"""One dialer per campaign (the lease), the graceful stop, the bounded drain and the live view's
counts of calls in flight: real runners, emulator and gateway on loopback, and for the lease
also two ``voxgate campaign run`` processes on one database."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from calling_time import daytime_zone
from campaign_process import CAMPAIGN_TOML, attempt_states, sim_env, start

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.progress import HEARTBEAT_STALE_S, CampaignSnapshot
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignBusy, CampaignStore, Lease
from dialer.config import DialerConfig
from dialer.service import ProgressEvent
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig
from exotel_sim.server import SimServer
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

TALK = CustomerProfile(outcome="answer", ring_ms=(100, 300)).with_script("wait 1500", "hangup")
LONG = CustomerProfile(outcome="answer", ring_ms=(100, 200)).with_script("wait 60000", "hangup")


def sim_config(customer: CustomerProfile = TALK, **kw: Any) -> SimConfig:
    return SimConfig(
        rest_latency_ms=5, event_latency_ms=5, setup_ms=20, default_customer=customer, **kw
    )


@asynccontextmanager
async def stack(customer: CustomerProfile = TALK, **kw: Any) -> AsyncIterator[LocalStack]:
    cfg = DialerConfig(customer_ring_timeout=15)
    sim = sim_config(customer, **kw)
    async with LocalStack(cfg, sim_config=sim, gateway_config=GatewayConfig(port=0)) as st:
        yield st


def make_store(path: Path, leads: int, **settings: Any) -> CampaignStore:
    store = CampaignStore(str(path))
    base: dict[str, Any] = {
        "bot": "echo",
        "pacer": "progressive",
        "mode": "bot_first",
        "retry": {"interrupted": 0.5},
        "limits": Limits(max_attempts=3, max_attempts_per_day=3, max_lines=2),
        "agents": (AgentSpec("a1", "+919800000001"),),
        "amd": False,
        "timezone": daytime_zone(),
    }
    base.update(settings)
    store.create_campaign(CampaignSpec("t1", **base), time.time())
    store.add_leads("t1", [Lead(f"+9199000007{i:02d}") for i in range(leads)], time.time())
    return store


def dialled(st: LocalStack) -> list[str]:
    """The call ids of the customer legs the emulator was asked to ring."""
    assert st.sim is not None
    return [leg.custom_param for leg in st.sim.sim.legs.values() if leg.kind == "customer"]


def first_event(st: LocalStack, kind: str) -> tuple[asyncio.Event, Callable[[], None]]:
    """An event set at the dialer's first progress event of ``kind``."""
    seen = asyncio.Event()

    def listen(ev: ProgressEvent) -> None:
        if ev.kind == kind:
            seen.set()

    return seen, st.dialer.subscribe(listen)


@pytest.mark.slow(5)
async def test_a_second_runner_is_refused_while_the_first_dials(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = make_store(db, 6)
    async with stack() as first_stack, stack() as second_stack:
        first = CampaignRunner(first_stack.dialer, store, "t1", tick_s=0.1)
        answered, unsubscribe = first_event(first_stack, "answered")
        task = asyncio.create_task(first.run(until_done=True))
        async with asyncio.timeout(20):
            await answered.wait()  # the first runner has calls in flight
        unsubscribe()
        in_flight = set(store.in_flight("t1"))
        assert in_flight
        # the second runner: its own connection and dialer, the same database
        second_store = CampaignStore(str(db))
        second = CampaignRunner(second_stack.dialer, second_store, "t1", tick_s=0.1)
        with pytest.raises(CampaignBusy) as busy:
            await second.run(until_done=True)
        assert f"already being run by pid {os.getpid()} on host " in str(busy.value)
        assert str(busy.value).endswith("stop it first")
        # nothing was recovered as interrupted, nothing dialled by the second runner
        states = {a["call_id"]: a["state"] for a in second_store.attempts("t1")}
        assert all(states[c] in ("dialing", "done") for c in in_flight)
        assert "interrupted" not in states.values()
        assert dialled(second_stack) == []
        assert second_store.owner("t1") == first.owner
        async with asyncio.timeout(60):
            stats = await task
        assert second_store.owner("t1") is None  # released on exit
        # once the first has finished, the second may run (nothing is left to dial)
        again = await second.run(until_done=True)
        assert dialled(second_stack) == []
        calls = dialled(first_stack)
    assert len(calls) == len(set(calls)) == 6
    assert stats.done == again.done == 6
    assert {a["state"] for a in store.attempts("t1")} == {"done"}


async def test_a_runner_whose_lease_is_taken_over_stops_and_leaves_the_attempts(
    tmp_path: Path,
) -> None:
    db = tmp_path / "c.db"
    store = make_store(db, 8, limits=Limits(max_attempts=3, max_attempts_per_day=3, max_lines=1))
    control = CampaignStore(str(db))
    async with stack(LONG) as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1, report_every_s=0.2)
        answered, unsubscribe = first_event(st, "answered")
        task = asyncio.create_task(runner.run(until_done=True, drain_timeout_s=1.0))
        async with asyncio.timeout(20):
            await answered.wait()
        unsubscribe()
        taken = set(store.in_flight("t1"))
        assert len(taken) == 1
        # another machine takes the campaign over, as if this runner's heartbeat were stale
        intruder = Lease("intruder", 4242, "elsewhere")
        control.acquire("t1", intruder, time.time() + HEARTBEAT_STALE_S)
        with pytest.raises(CampaignBusy, match="took the campaign over"):
            async with asyncio.timeout(30):
                await task
        calls = dialled(st)
    assert set(calls) == taken  # no dial after the takeover
    assert set(control.in_flight("t1")) == taken  # its attempt left to the new owner
    stats = control.stats("t1", time.time())
    assert (stats.owner_pid, stats.owner_host) == (4242, "elsewhere")  # not released by it


async def test_stop_ends_dialling_and_lets_calls_in_flight_finish(tmp_path: Path) -> None:
    store = make_store(tmp_path / "c.db", 10)
    async with stack() as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1)
        answered, unsubscribe = first_event(st, "answered")
        task = asyncio.create_task(runner.run(until_done=True))
        async with asyncio.timeout(20):
            await answered.wait()
        unsubscribe()
        runner.stop()
        placed = len(dialled(st))
        runner.stop()  # a second call changes nothing here
        async with asyncio.timeout(30):
            stats = await task
        assert len(dialled(st)) == placed
        assert not runner.stopping  # applies to that run only
    attempts = store.attempts("t1")
    assert len(attempts) == placed < 10
    assert {a["state"] for a in attempts} == {"done"}  # every call in flight finished
    assert stats.in_flight == 0 and stats.pending == 10 - placed
    assert store.owner("t1") is None


async def test_stop_before_run_dials_nothing(tmp_path: Path) -> None:
    store = make_store(tmp_path / "c.db", 3)
    async with stack() as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1)
        runner.stop()
        stats = await runner.run(until_done=True)
        assert dialled(st) == []
    assert stats.pending == 3


async def test_the_drain_is_bounded_and_the_next_run_settles_what_was_left(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(tmp_path / "c.db", 1)
    async with stack(LONG) as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1)
        answered, unsubscribe = first_event(st, "answered")
        task = asyncio.create_task(runner.run(until_done=True, drain_timeout_s=0.5))
        async with asyncio.timeout(20):
            await answered.wait()
        unsubscribe()
        runner.stop()
        with caplog.at_level(logging.WARNING, logger="dialer.campaign.runner"):
            async with asyncio.timeout(20):
                await task
        (left,) = store.in_flight("t1")  # no longer waited for: still dialing
        assert left in caplog.text and "no longer waited for" in caplog.text
        assert store.owner("t1") is None
    # the stack hung the call up when it stopped; the next run settles the attempt
    again = CampaignRunner(st.dialer, store, "t1")
    again._recover()
    assert store.in_flight("t1") == []
    assert store.attempts("t1")[0]["state"] in ("done", "interrupted")


async def test_the_live_view_counts_answered_calls_in_flight(tmp_path: Path) -> None:
    store = make_store(tmp_path / "c.db", 2)
    seen = asyncio.Event()
    snapshots: list[CampaignSnapshot] = []

    def report(snap: CampaignSnapshot) -> None:
        snapshots.append(snap)
        if snap.answered >= 1 and snap.in_flight >= 1:
            seen.set()

    async with stack(LONG) as st:
        runner = CampaignRunner(
            st.dialer, store, "t1", tick_s=0.1, report=report, report_every_s=0.1
        )
        task = asyncio.create_task(runner.run(until_done=True, drain_timeout_s=0.5))
        async with asyncio.timeout(20):
            await seen.wait()
        assert store.stats("t1", time.time()).answered == 0  # no call has ended yet
        live = next(s for s in snapshots if s.answered >= 1)
        assert live.answered <= live.in_flight
        runner.stop()
        async with asyncio.timeout(20):
            await task


async def test_agent_first_without_nailed_agents_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loose = make_store(tmp_path / "a.db", 0, mode="agent_first")
    nailed = make_store(
        tmp_path / "b.db",
        0,
        mode="agent_first",
        agents=(AgentSpec("n1", "+919800000002", nailed=True),),
    )
    async with stack(agents={"+919800000002": AgentProfile(answer_ms=100)}) as st:
        with caplog.at_level(logging.WARNING, logger="dialer.campaign.runner"):
            await CampaignRunner(st.dialer, loose, "t1", tick_s=0.1).run(until_done=True)
        warnings = [r for r in caplog.records if "not nailed up" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
        assert "a1" in warnings[0].getMessage() and "nailed = true" in warnings[0].getMessage()
    async with stack(agents={"+919800000002": AgentProfile(answer_ms=100)}) as st:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="dialer.campaign.runner"):
            await CampaignRunner(st.dialer, nailed, "t1", tick_s=0.1).run(until_done=True)
        assert "not nailed up" not in caplog.text


def test_the_emulator_default_agent_hangs_up() -> None:
    assert AgentProfile().talk_ms > 0  # every call that reaches an agent ends
    parsed = SimConfig.from_toml('[agents."+919800000009"]\nanswer_ms = 100\n')
    assert parsed.agents["+919800000009"].talk_ms == AgentProfile().talk_ms
    stays = SimConfig.from_toml('[agents."+919800000009"]\ntalk_ms = 0\n')
    assert stays.agents["+919800000009"].talk_ms == 0  # still there as an explicit choice


@pytest.mark.slow(5)
async def test_two_processes_on_one_database_dial_each_attempt_once(tmp_path: Path) -> None:
    toml = tmp_path / "dbl.toml"
    toml.write_text(CAMPAIGN_TOML.replace('name = "restart"', 'name = "dbl"'))
    leads = tmp_path / "leads.csv"
    leads.write_text("phone,name\n" + "".join(f"+9199000006{i:02d},L{i}\n" for i in range(6)))
    db = tmp_path / "dbl.db"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    async with SimServer(sim_config()) as sim:
        env = sim_env(sim)
        # --keep-running: the first process holds the lease however long the second takes to
        # start (under load it used to finish its 6 leads first, and the second ran unrefused)
        first = await start([str(toml), "--leads", str(leads), "--db", str(db), "--keep-running"],
                            env, first_log)
        async with asyncio.timeout(30):
            while True:  # another process's state: polled, there is no event to wait on
                if "dialing" in attempt_states(db).values():
                    break
                await asyncio.sleep(0.05)
        second = await start(["dbl", "--db", str(db)], env, second_log)
        async with asyncio.timeout(60):
            refused = await second.wait()
            while list(attempt_states(db).values()) != ["done"] * 6:  # noqa: ASYNC110 - polled
                await asyncio.sleep(0.05)
            first.send_signal(signal.SIGTERM)
            done = await first.wait()
        legs = [leg.custom_param for leg in sim.sim.legs.values() if leg.kind == "customer"]
    assert done == 0, first_log.read_text()
    assert refused != 0
    text = second_log.read_text()
    assert f"campaign dbl is already being run by pid {first.pid} on host " in text, text
    assert "Traceback" not in text + first_log.read_text()
    assert len(legs) == len(set(legs)) == 6  # every lead dialled once, by the first process
    store = CampaignStore(str(db))
    assert {a["state"] for a in store.attempts("dbl")} == {"done"}
    assert store.owner("dbl") is None
