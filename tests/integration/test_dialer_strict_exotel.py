"""The dialer against the strict emulator (issue 13): nothing Exotel does not document.

Events carry no ``custom_param``, ``GET /legs`` does not list, and a share of legs (here every
one, ``race_share=1.0``) gets its first events, ``leg_answered`` included, before the ``202`` of
``POST /legs``. A create that times out is adopted or hung up by the rule of
:mod:`dialer.uncertain`; an unknown leg's events are held, then counted and acknowledged.
Emulator + gateway + dialer over loopback sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from test_dialer_flows import call, until

from dialer.config import DialerConfig
from dialer.records import CallRecord
from exotel_sim.config import LENIENT_OPTIONS, AgentProfile, CustomerProfile, SimConfig
from exotel_sim.leg import Leg
from exotel_sim.testing import SimClient
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

CUSTOMER = "+919900000031"
AGENT = "+919800000031"
HTTP = "http://127.0.0.1:0/exotel/events"
FAST_ANSWER = CustomerProfile(outcome="answer", ring_ms=(60, 60), patience_ms=0).with_script(
    "wait 300", "say cust_hello", "wait 300", "hangup")


@asynccontextmanager
async def strict_stack(sim: SimConfig, **dialer: Any) -> AsyncIterator[LocalStack]:
    dialer.setdefault("event_endpoint", HTTP)
    gw = GatewayConfig(host="127.0.0.1", port=0)
    async with LocalStack(DialerConfig(**dialer), sim_config=sim, gateway_config=gw) as st:
        yield st


def racing(**kw: Any) -> SimConfig:
    """Every leg's first events (its answer too, within 300 ms of ringing) beat its 202."""
    kw.setdefault("customers", {CUSTOMER: FAST_ANSWER})
    return SimConfig(rest_latency_ms=10, event_latency_ms=5, setup_ms=30, race_share=1.0,
                     race_window_ms=300, **kw)


def sim_legs(st: LocalStack, number: str) -> list[Leg]:
    assert st.sim is not None
    return [leg for leg in st.sim.sim.legs.values() if leg.req.contact_uri == number]


def answered_before_202(st: LocalStack, leg: Leg) -> bool:
    """The leg's ``leg_answered`` was acknowledged before its create's 202 went out."""
    assert st.sim is not None
    sent = [h["at_ms"] for h in leg.history if h["what"].startswith("create response sent")]
    delivered = [
        r.attempts[-1]["at_ms"] for r in st.sim.sim.delivery.records
        if r.event.channel == leg.sid and r.event.name == "leg_answered" and r.attempts
    ]
    return bool(sent and delivered) and delivered[0] <= sent[0]


async def place(st: LocalStack, limit: float = 10.0, **kw: Any) -> CallRecord:
    return await call(st, CUSTOMER, limit, **kw)


def test_the_emulator_is_strict_by_default() -> None:
    config = SimConfig()
    assert LENIENT_OPTIONS and all(getattr(config, name) is False for name in LENIENT_OPTIONS)
    assert config.race_share > 0  # every test run exercises events that beat the 202


async def test_bot_first_answer_before_the_202_gets_the_bot() -> None:
    async with strict_stack(racing()) as st:
        rec = await place(st)
        (leg,) = sim_legs(st, CUSTOMER)
        assert answered_before_202(st, leg)
        assert rec.disposition == "customer_hangup" and rec.answered and rec.ended_in == "bot"
        names = [n for n, _ in rec.timeline]
        assert "stream_started" in names
        assert leg.streams and leg.streams[0]["bot_chunks"] > 0  # the customer heard the bot
        assert st.dialer.leg_hold.stats.released > 0 and st.dialer.stats.unknown_events == 0


@pytest.mark.slow(5)
async def test_agent_first_answers_before_the_202_get_bridged() -> None:
    cust = CustomerProfile(outcome="answer", ring_ms=(60, 60), patience_ms=0,
                           bridge_script=(), scripts=((),))
    sim = racing(customers={CUSTOMER: cust},
                 agents={AGENT: AgentProfile(answer_ms=60, greet_after_ms=50, talk_ms=600)})
    async with strict_stack(sim) as st:
        st.dialer.add_agent("a1", AGENT)
        rec = await place(st, mode="agent_first", bot="")
        assert rec.bridged and rec.disposition == "agent_handled", rec
        (cust_leg,) = sim_legs(st, CUSTOMER)
        (agent_leg,) = sim_legs(st, AGENT)
        assert answered_before_202(st, cust_leg) and answered_before_202(st, agent_leg)
        assert st.dialer.stats.unknown_events == 0


async def test_create_timeout_adopts_the_leg_from_its_events_without_a_list() -> None:
    # the leg is made 0.5 s into the request; the dialer gives up waiting for the 202 at 0.7 s
    cust = CustomerProfile(outcome="answer", ring_ms=(200, 200)).with_script("wait 800", "hangup")
    sim = SimConfig(rest_latency_ms=1000, event_latency_ms=5, setup_ms=50, race_share=0.0,
                    customers={CUSTOMER: cust})
    async with strict_stack(sim, request_timeout=0.7, reconcile_timeout=3.0,
                            max_retries=1) as st:
        rec = await place(st)
        assert rec.custom["create_uncertain"] == "adopted"
        assert rec.answered and rec.ended_in == "bot" and rec.disposition == "customer_hangup"
        assert [leg.sid for leg in sim_legs(st, CUSTOMER)] == [rec.customer_leg_sid]  # no re-dial
        assert st.dialer.stats.create_uncertain_outcomes == {"adopted": 1}


async def test_a_leg_surfacing_after_its_call_gave_up_is_hung_up() -> None:
    # the leg is made 0.5 s into the request, the call stops waiting for it at 0.7 + 0.5 s,
    # its first event comes 1.5 s after it was made
    cust = CustomerProfile(outcome="answer", ring_ms=(100, 100)).with_script("wait 5000")
    sim = SimConfig(rest_latency_ms=1000, event_latency_ms=1500, setup_ms=50, race_share=0.0,
                    customers={CUSTOMER: cust})
    async with strict_stack(sim, request_timeout=0.7, reconcile_timeout=0.5,
                            max_retries=0) as st:
        rec = await place(st)
        assert rec.custom["create_uncertain"] == "lost" and not rec.answered
        assert rec.disposition == "failed"
        await until(lambda: bool(sim_legs(st, CUSTOMER)) and not sim_legs(st, CUSTOMER)[0].live)
        (leg,) = sim_legs(st, CUSTOMER)
        assert leg.reason == "api_hangup"  # nobody left on a live line
        assert st.dialer.stats.stray_legs_hung_up == 1


async def test_an_unknown_legs_events_are_held_then_counted_and_acknowledged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cust = CustomerProfile(outcome="answer", ring_ms=(50, 50), scripts=((),), patience_ms=0)
    sim = SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20, race_share=0.0,
                    customers={CUSTOMER: cust})
    caplog.set_level(logging.WARNING, "dialer.service")
    async with strict_stack(sim, unknown_leg_hold=0.4) as st:
        assert st.sim is not None
        sim_server = st.sim
        async with SimClient(sim_server.api_base, sim_server.api_key,
                             sim_server.api_token) as client:
            # a leg no call of this dialer made (another process, a console test call ...)
            sid = await client.create_leg(CUSTOMER, st.dialer.event_endpoint)
            await until(lambda: st.dialer.stats.unknown_legs > 0)
            assert sid not in st.dialer.leg_hold
            await client.action(sid, "hangup")
            events = await client.settled_events(f"leg_sid={sid}")
        names = [e["event_name"] for e in events]
        assert names[:3] == ["leg_connecting", "leg_ringing", "leg_answered"]
        # every event acknowledged at its first attempt (Exotel does not retry them)
        assert all(e["outcome"] == "delivered" and len(e["attempts"]) == 1 for e in events)
        assert st.dialer.stats.unknown_legs == 1
        assert st.dialer.stats.unknown_events == len(events)
        logged = [r for r in caplog.records if sid in r.getMessage()]
        assert len(logged) == 1 and "leg_answered" in logged[0].getMessage()  # logged once


async def test_two_timed_out_creates_to_one_number_hang_up_both_legs() -> None:
    # both legs are made 0.5 s into their requests; both calls stop waiting for a 202 at 0.7 s:
    # which leg is whose cannot be told (no list, no custom_param in events), so neither is
    # adopted (a wrong one would run another lead's call) and nobody stays on a silent line
    cust = CustomerProfile(outcome="answer", ring_ms=(100, 100)).with_script("wait 5000")
    sim = SimConfig(rest_latency_ms=1000, event_latency_ms=5, setup_ms=50, race_share=0.0,
                    customers={CUSTOMER: cust})
    async with strict_stack(sim, request_timeout=0.7, reconcile_timeout=3.0,
                            max_retries=0) as st:
        first, second = await asyncio.gather(place(st), place(st))
        assert first.custom["create_uncertain"] == second.custom["create_uncertain"] == "hung_up"
        assert not first.answered and not second.answered
        await until(lambda: len(sim_legs(st, CUSTOMER)) == 2
                    and not any(leg.live for leg in sim_legs(st, CUSTOMER)))
        assert [leg.reason for leg in sim_legs(st, CUSTOMER)] == ["api_hangup", "api_hangup"]
        assert st.dialer.stats.stray_legs_hung_up == 2
        assert st.dialer.stats.create_uncertain_outcomes == {"hung_up": 2}


async def test_where_the_api_lists_legs_a_timed_out_create_is_adopted_from_the_list() -> None:
    # the lenient list_legs as an extra: the 202 waits for the leg's first events (race), which
    # take 1.5 s to come; the create times out at 0.5 s and GET /legs names the leg at once
    cust = CustomerProfile(outcome="answer", ring_ms=(100, 100)).with_script("wait 300", "hangup")
    sim = SimConfig(rest_latency_ms=10, event_latency_ms=1500, setup_ms=50, race_share=1.0,
                    list_legs=True, customers={CUSTOMER: cust})
    async with strict_stack(sim, request_timeout=0.5, reconcile_timeout=1.0,
                            max_retries=0) as st:
        rec = await place(st, limit=15.0)
        assert rec.custom["create_uncertain"] == "adopted" and rec.answered
        assert [leg.sid for leg in sim_legs(st, CUSTOMER)] == [rec.customer_leg_sid]
        assert st.dialer.stats.unknown_events == 0  # its late events went to the call
