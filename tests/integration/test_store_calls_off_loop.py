"""A campaign on the emulator makes its store calls off the event loop (dialer.store_calls):
claims, settles, records and live states run on worker threads, the claim still committed
before its dial."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from calling_time import daytime_zone

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import AttemptResult, CampaignStore, Claim
from dialer.config import DialerConfig
from dialer.records import CallRecord, RecordStore
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


async def test_a_campaigns_store_calls_run_off_the_loop_thread(tmp_path: Path) -> None:
    threads = Threads()
    store = WatchedCampaigns(str(tmp_path / "campaign.db"), threads)
    spec = CampaignSpec(
        "t1", bot="echo", pacer="progressive", amd=False, timezone=daytime_zone(),
        limits=Limits(max_lines=3),
        agents=tuple(AgentSpec(f"a{i}", f"+91980000000{i}") for i in range(1, 4)),
    )
    store.create_campaign(spec, time.time())
    store.add_leads("t1", [Lead(f"+91990000030{i}") for i in range(3)], time.time())
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
