"""A campaign on the emulator makes its store calls off the event loop (dialer.store_calls):
claims, settles, records and live states run on worker threads, the claim still committed
before its dial; so do the dashboard's (its live snapshot of a running campaign, a pause)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from calling_time import daytime_zone
from web_helpers import log_in, page_csrf, write_users

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.service_api import CampaignService
from dialer.campaign.store import AttemptResult, CampaignStats, CampaignStore, Claim, PendingLeads
from dialer.config import DialerConfig
from dialer.control_api import ControlApiServer
from dialer.pacing.ledger import AbandonmentLedger
from dialer.records import CallRecord, RecordStore
from dialer.web.app import with_ui
from dialer.web.context import UiSettings
from exotel_sim.config import CustomerProfile, SimConfig
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

QUICK = CustomerProfile(outcome="answer", ring_ms=(50, 100)).with_script("wait 300", "hangup")


class Threads:
    """Which threads ran each store method."""

    def __init__(self) -> None:
        self.seen: dict[str, set[int]] = {}

    def note(self, method: str) -> None:
        self.seen.setdefault(method, set()).add(threading.get_ident())


class WatchedCampaigns(CampaignStore):
    def __init__(self, path: str, threads: Threads) -> None:
        super().__init__(path)
        self.threads = threads

    def claim_next(self, campaign: str, now: float, batch: int = 50, *,
                   owner: str | None = None) -> Claim | None:
        self.threads.note("claim_next")
        return super().claim_next(campaign, now, batch, owner=owner)

    def finish_attempt(self, call_id: str, result: AttemptResult, now: float) -> None:
        self.threads.note("finish_attempt")
        super().finish_attempt(call_id, result, now)


class WatchedRecords(RecordStore):
    def __init__(self, path: str, threads: Threads) -> None:
        super().__init__(path)
        self.threads = threads

    def save(self, record: CallRecord, *, push_to_crm: bool = False) -> None:
        self.threads.note("save")
        super().save(record, push_to_crm=push_to_crm)

    def save_live(self, call_id: str, state: Mapping[str, Any]) -> None:
        self.threads.note("save_live")
        super().save_live(call_id, state)


S = TypeVar("S", bound=CampaignStore)


def with_campaign(store: S, n: int) -> S:
    """``store`` with campaign ``t1``: ``n`` agents, ``n`` lines and ``n`` leads."""
    spec = CampaignSpec(
        "t1", bot="echo", pacer="progressive", amd=False, timezone=daytime_zone(),
        limits=Limits(max_lines=n),
        agents=tuple(AgentSpec(f"a{i}", f"+91980000000{i}") for i in range(1, n + 1)),
    )
    store.create_campaign(spec, time.time())
    store.add_leads("t1", [Lead(f"+91990000030{i}") for i in range(n)], time.time())
    return store


async def test_a_campaigns_store_calls_run_off_the_loop_thread(tmp_path: Path) -> None:
    threads = Threads()
    store = with_campaign(WatchedCampaigns(str(tmp_path / "campaign.db"), threads), 3)
    records = WatchedRecords(str(tmp_path / "records.db"), threads)
    sim = SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20, default_customer=QUICK)
    loop_thread = threading.get_ident()
    async with LocalStack(DialerConfig(), sim_config=sim, store=records,
                          gateway_config=GatewayConfig(port=0)) as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.05)
        async with asyncio.timeout(30):
            stats = await runner.run(until_done=True)
        # a finished call's record is stored by the time its handle's wait returns
        assert all(records.get(a["call_id"]) is not None for a in store.attempts("t1"))
    assert stats.done == 3
    assert set(threads.seen) == {"claim_next", "finish_attempt", "save", "save_live"}
    for method, seen in threads.seen.items():
        assert loop_thread not in seen, f"{method} ran on the event loop's thread"
    # one worker per SQLite database: the campaign's calls on one thread, the records' on another
    assert len(threads.seen["claim_next"] | threads.seen["finish_attempt"]) == 1
    assert len(threads.seen["save"] | threads.seen["save_live"]) == 1


class DashboardCampaigns(WatchedCampaigns):
    """Also notes the threads of the store reads and writes the dashboard makes."""

    def __init__(self, path: str, threads: Threads, dashboard: Threads) -> None:
        super().__init__(path, threads)
        self.dashboard = dashboard

    def campaigns(self) -> list[str]:
        self.dashboard.note("campaigns")
        return super().campaigns()

    def stats(self, campaign: str, now: float,
              ledger: AbandonmentLedger | None = None) -> CampaignStats:
        self.dashboard.note("stats")
        return super().stats(campaign, now, ledger)

    def pending(self, campaign: str, now: float) -> PendingLeads:
        self.dashboard.note("pending")
        return super().pending(campaign, now)

    def status(self, campaign: str) -> str:
        self.dashboard.note("status")
        return super().status(campaign)

    def set_status(self, campaign: str, status: str, now: float) -> None:
        self.dashboard.note("set_status")
        super().set_status(campaign, status, now)


async def test_the_dashboards_store_calls_run_off_the_loop_thread(tmp_path: Path) -> None:
    dashboard = Threads()
    store = with_campaign(DashboardCampaigns(str(tmp_path / "campaign.db"), Threads(),
                                             dashboard), 2)
    sim = SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20, default_customer=QUICK)
    settings = UiSettings(users=write_users(tmp_path / "users.json"))
    loop_thread = threading.get_ident()
    async with LocalStack(DialerConfig(), sim_config=sim,
                          store=RecordStore(str(tmp_path / "records.db")),
                          gateway_config=GatewayConfig(port=0)) as st:
        service = CampaignService(st.dialer, str(tmp_path / "service.db"))
        service.store.close()
        service.store = store  # the dashboard reads the watched store
        try:
            async with ControlApiServer(st.dialer, dialer=st.dialer, token="t" * 32,
                                        routes=with_ui(st.dialer, service, settings, None)
                                        ) as api, aiohttp.ClientSession(
                                            cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
                await log_in(s, api.url, "sup")
                csrf = await page_csrf(s, f"{api.url}/ui/campaigns")
                runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.05)
                task = asyncio.create_task(runner.run(until_done=True))
                service.runs["t1"] = (runner, task)
                async with asyncio.timeout(30):
                    await task
                async with s.post(f"{api.url}/ui/api/campaigns/t1/pause",
                                  headers={"X-CSRF-Token": csrf}) as r:
                    assert r.status == 200, await r.text()
                # the live feed's function; the control made the next snapshot a fresh one
                async with s.get(f"{api.url}/ui/api/snapshot") as r:
                    assert r.status == 200
                    running = await r.json()
        finally:
            service.started.close()
    noted = {method: set(seen) for method, seen in dashboard.seen.items()}
    assert [(row["name"], row["done"]) for row in running["campaigns"]] == [("t1", 2)]
    assert store.status("t1") == "paused"
    assert {"campaigns", "stats", "pending", "status", "set_status"} <= set(noted)
    for method, seen in noted.items():
        assert loop_thread not in seen, f"{method} ran on the event loop's thread"
