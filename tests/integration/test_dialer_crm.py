"""CRM push over real HTTP: HMAC-signed, retried after failures, nothing lost across a restart."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from dialer.crm import CrmPusher, sign, verify
from dialer.records import CallRecord, RecordStore

SECRET = "s3cret"


class Crm:
    """A CRM webhook that fails its first ``fail`` requests with 503."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[dict[str, object]] = []
        self.bad_signatures = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ok = verify(SECRET, request.headers["X-Voxgate-Timestamp"], raw,
                    request.headers["X-Voxgate-Signature"])
        if not ok:
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.fail > 0:
            self.fail -= 1
            return web.Response(status=503)
        self.received.append(json.loads(raw))
        return web.Response(status=204)

    async def __aenter__(self) -> Crm:
        app = web.Application()
        app.router.add_post("/crm", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/crm"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def test_signature() -> None:
    sig = sign(SECRET, "100", b"{}")
    assert sig.startswith("sha256=") and verify(SECRET, "100", b"{}", sig)
    assert not verify(SECRET, "101", b"{}", sig)


async def test_push_retries_until_delivered() -> None:
    store = RecordStore()
    store.save(CallRecord("c1", "+911", "bot_first", disposition="agent_handled"),
               push_to_crm=True)
    async with Crm(fail=2) as crm, aiohttp.ClientSession() as session:
        pusher = CrmPusher(store, crm.url, SECRET, base_backoff=0.01)
        for _ in range(50):
            await pusher.push_due(session)
            if crm.received:
                break
            await asyncio.sleep(0.02)
        assert [r["call_id"] for r in crm.received] == ["c1"]
        assert pusher.stats.failed_attempts == 2 and pusher.stats.delivered == 1
        assert crm.bad_signatures == 0
        assert store.outbox_counts()["delivered"] == 1


async def test_pending_pushes_survive_a_restart(store_url: str) -> None:
    db = store_url  # a SQLite file, and a PostgreSQL database
    first = RecordStore(db)
    first.save(CallRecord("c1", "+911", "bot_first", disposition="abandoned"), push_to_crm=True)
    async with aiohttp.ClientSession() as session:
        dead = CrmPusher(first, "http://127.0.0.1:9/crm", SECRET, base_backoff=0.0)
        await dead.push_due(session)  # CRM down: the row stays pending
    assert first.outbox_counts()["pending"] == 1
    first.close()
    async with Crm() as crm:
        again = RecordStore(db)
        pusher = CrmPusher(again, crm.url, SECRET, poll_interval=0.05)
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(pusher.run())
            for _ in range(500):  # delivered, and marked so (the store call is off the loop)
                if crm.received and again.outbox_counts()["delivered"] == 1:
                    break
                await asyncio.sleep(0.02)
            task.cancel()
        assert [r["call_id"] for r in crm.received] == ["c1"]
        assert again.outbox_counts()["pending"] == 0
        again.close()


async def test_two_dialers_on_one_postgresql_push_each_record_once(pg_server: Any) -> None:
    """Two dialers (each its own store and pool) push one outbox at once: due rows are claimed
    FOR UPDATE SKIP LOCKED and leased, so the CRM gets every record exactly once."""
    url = pg_server.fresh_url()
    stores = [RecordStore(url, owner="da"), RecordStore(url, owner="db")]
    for i in range(40):
        stores[i % 2].save(CallRecord(f"c{i}", "+911", "bot_first"), push_to_crm=True)
    async with Crm() as crm:
        pushers = [CrmPusher(s, crm.url, SECRET, poll_interval=0.01) for s in stores]
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(p.run()) for p in pushers]
            for _ in range(500):
                if (sum(s.outbox_counts()["delivered"] for s in stores[:1]) == 40
                        and sum(p.stats.delivered for p in pushers) == 40):
                    break  # marked in the outbox and counted by the pushers
                await asyncio.sleep(0.02)
            for task in tasks:
                task.cancel()
        received = sorted(str(r["call_id"]) for r in crm.received)
    assert received == sorted(f"c{i}" for i in range(40))  # each once
    assert sum(p.stats.delivered for p in pushers) == 40
    for store in stores:
        store.close()


async def test_gives_up_after_max_age_and_dead_rows_can_be_queued_again() -> None:
    store = RecordStore()
    store.save(CallRecord("c1", "+911", "bot_first"), push_to_crm=True)
    async with Crm(fail=99) as crm, aiohttp.ClientSession() as session:
        pusher = CrmPusher(store, crm.url, SECRET, base_backoff=0.0, max_age=3600)
        for _ in range(20):  # young rows are retried, however many attempts failed
            await pusher.push_due(session)
        assert store.outbox_counts()["pending"] == 1 and pusher.stats.failed_attempts == 20
        old = CrmPusher(store, crm.url, SECRET, base_backoff=0.0, max_age=0.0)
        await old.push_due(session)  # past its age: given up
        assert store.outbox_counts()["dead"] == 1 and old.stats.dead == 1
    assert store.requeue_dead(now=time.time()) == 1
    async with Crm() as crm, aiohttp.ClientSession() as session:
        await CrmPusher(store, crm.url, SECRET).push_due(session)
        assert [r["call_id"] for r in crm.received] == ["c1"]
    assert store.outbox_counts() == {"pending": 0, "delivered": 1, "dead": 0}


async def test_gives_up_after_max_attempts() -> None:
    store = RecordStore()
    store.save(CallRecord("c1", "+911", "bot_first"), push_to_crm=True)
    async with Crm(fail=99) as crm, aiohttp.ClientSession() as session:
        pusher = CrmPusher(store, crm.url, SECRET, base_backoff=0.0, max_attempts=2)
        await pusher.push_due(session)
        await pusher.push_due(session)
        await pusher.push_due(session)
        assert store.outbox_counts()["dead"] == 1 and pusher.stats.dead == 1


async def test_dialer_stores_and_pushes_each_call(tmp_path: Path) -> None:
    from dialer.config import DialerConfig
    from dialer.service import CallRequest
    from exotel_sim.config import CustomerProfile, SimConfig
    from voxgate.wiring import LocalStack

    number = "+919900000001"
    cust = CustomerProfile(outcome="busy")
    db = tmp_path / "calls.db"
    async with Crm(fail=1) as crm:
        cfg = DialerConfig(db_path=str(db), crm_url=crm.url, crm_secret=SECRET)
        sim = SimConfig(rest_latency_ms=5, setup_ms=50, customers={number: cust})
        async with LocalStack(cfg, sim_config=sim) as st:
            assert st.dialer.crm is not None
            st.dialer.crm._base = 0.05  # retry fast in the test
            handle = await st.dialer.place_call(CallRequest(number, custom={"lead": "7"}))
            async with asyncio.timeout(5):
                rec = await handle.wait()
                for _ in range(100):
                    if crm.received:
                        break
                    await asyncio.sleep(0.05)
        assert rec.disposition == "busy"
        assert crm.received[0]["call_id"] == rec.call_id
        assert crm.received[0]["custom"] == {"lead": "7"}
    assert RecordStore(db).get(rec.call_id) == rec
