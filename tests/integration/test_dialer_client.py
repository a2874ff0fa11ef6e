"""The Exotel client against the emulator: typed errors, retries on 429, no blind re-dial."""

from __future__ import annotations

import asyncio

import pytest

from dialer.config import DialerConfig
from dialer.errors import CreateLegUncertain, ExotelApiError
from dialer.exotel_client import ExotelClient, accounts_base
from dialer.service import CallRequest
from exotel_sim.config import CustomerProfile, SimConfig
from exotel_sim.server import SimServer
from voxgate.wiring import LocalStack

NUMBER = "+919900000001"
ENDPOINT = "http://127.0.0.1:9/events"  # nobody listens: delivery failures are the sim's business


def client(sim: SimServer, **kw: float) -> ExotelClient:
    return ExotelClient(sim.api_base, sim.account_sid, sim.api_key, sim.api_token, **kw)  # type: ignore[arg-type]


def test_accounts_base() -> None:
    assert accounts_base("https://x.exotel.com/", "AC1") == "https://x.exotel.com/v2/accounts/AC1"
    assert accounts_base("http://h/v2/accounts/AC2", "AC1") == "http://h/v2/accounts/AC2"
    assert "token" not in repr(ExotelClient("http://h", "AC1", "key", "token"))


async def test_leg_lifecycle_and_typed_errors() -> None:
    cust = CustomerProfile(outcome="answer", ring_ms=(100, 100)).with_script("wait 5000")
    # list_legs: the client's GET /legs, for APIs that list legs (Exotel documents none)
    async with SimServer(SimConfig(rest_latency_ms=5, customers={NUMBER: cust},
                                   list_legs=True)) as sim, client(sim) as c:
        leg = await c.create_leg(NUMBER, "+918000000000", ENDPOINT, custom_param="vx1")
        sid = leg["leg_sid"]
        got = await c.get_leg(sid)
        assert got["contact_uri"] == NUMBER and got["custom_param"] == "vx1"
        await c.update_leg(sid, {"custom_param": "vx2"})
        assert (await c.get_leg(sid))["custom_param"] == "vx2"
        assert any(x["leg_sid"] == sid for x in await c.list_legs())
        with pytest.raises(ExotelApiError) as missing:
            await c.get_leg("nope")
        assert missing.value.status == 404 and missing.value.not_found
        assert isinstance(missing.value.body, dict) and "response" in missing.value.body
        with pytest.raises(ExotelApiError) as bad:
            await c.create_leg("not a number", "+918000000000", ENDPOINT)
        assert bad.value.status == 400 and not bad.value.retryable
        for _ in range(40):  # wait for the answer
            if (await c.get_leg(sid))["state"] == "answered":
                break
            await asyncio.sleep(0.05)
        await c.start_say(sid, "hello")
        await c.stop_say(sid)
        assert await c.hangup(sid) is True
        await asyncio.sleep(0.1)
        assert await c.hangup(sid) is False  # already gone: 404 counts as done
    async with SimServer(SimConfig(rest_latency_ms=0)) as sim:
        wrong = ExotelClient(sim.api_base, sim.account_sid, sim.api_key, "wrong")
        async with wrong:
            with pytest.raises(ExotelApiError) as denied:
                await wrong.get_leg("x")
        assert denied.value.status == 401


async def test_rate_limited_reads_are_retried() -> None:
    async with SimServer(SimConfig(rest_latency_ms=0, rate_limit_per_s=20, rate_burst=2,
                                   list_legs=True)) as sim:
        async with client(sim, max_retries=8, backoff=0.05) as c:
            results = await asyncio.gather(*(c.list_legs() for _ in range(8)))
            assert len(results) == 8
            assert c.stats.rate_limited > 0 and c.stats.retries >= c.stats.rate_limited


async def test_create_leg_timeout_is_not_retried() -> None:
    cust = CustomerProfile(outcome="answer", ring_ms=(100, 100)).with_script("wait 2000")
    sim_cfg = SimConfig(rest_latency_ms=800, customers={NUMBER: cust})
    async with SimServer(sim_cfg) as sim, client(sim, timeout=0.5, max_retries=3) as c:
        with pytest.raises(CreateLegUncertain) as exc:
            await c.create_leg(NUMBER, "+918000000000", ENDPOINT, custom_param="vx9")
        assert exc.value.custom_param == "vx9"
        await asyncio.sleep(0.6)
        legs = [leg for leg in sim.sim.legs.values() if leg.req.contact_uri == NUMBER]
        assert len(legs) == 1  # the customer rings once


@pytest.mark.slow(5)
async def test_dialer_reconciles_a_timed_out_create_from_its_events() -> None:
    cust = CustomerProfile(outcome="answer", ring_ms=(200, 200)).with_script("wait 1500", "hangup")
    sim_cfg = SimConfig(rest_latency_ms=1000, event_latency_ms=5, setup_ms=50,
                        customers={NUMBER: cust})
    cfg = DialerConfig(request_timeout=0.7, reconcile_timeout=3.0, max_retries=1)
    async with LocalStack(cfg, sim_config=sim_cfg) as st:
        handle = await st.dialer.place_call(CallRequest(NUMBER, bot="echo"))
        async with asyncio.timeout(9):
            rec = await handle.wait()
        assert st.dialer.stats.create_uncertain == 1
        assert rec.customer_leg_sid and rec.answered
        assert st.sim is not None
        legs = [leg for leg in st.sim.sim.legs.values() if leg.req.contact_uri == NUMBER]
        assert [leg.sid for leg in legs] == [rec.customer_leg_sid]
