"""Every call flow and failure path of the dialer, on the fake Exotel and a virtual clock.

Moved from ``tests/integration/test_dialer_flows.py`` (which keeps the tests of the wire: event
transports, the stream, the control API) with their assertions: the dialer is the real one
(runner, flow, intake parsing and de-duplication, agent pool, records); Exotel is
:class:`dialer.testing.FakeExotel`, and time is virtual (:func:`dialer.testing.run_virtual`), so
a 20 s ring timeout costs nothing and the order of events is fixed by the script.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from dialer.agents import AgentState
from dialer.records import CallRecord
from dialer.service import CallRequest, Dialer, ProgressEvent
from dialer.testing import FakeExotel, Heard, Party, fake_dialer, run_virtual

CUSTOMER = "+919900000001"
AGENT1 = "+919800000001"
AGENT2 = "+919800000002"
TALKING = ("wait 600000",)


def customer(*script: str, bridge: tuple[str, ...] = ("wait 600", "hangup"),
             **kw: Any) -> Party:
    """A customer who answers after 200 ms, runs ``script``, and in a bridge ``bridge``."""
    return Party(script=script, bridge_script=bridge, **kw)


def agent(ring_ms: float = 300.0, bridge: tuple[str, ...] = TALKING, **kw: Any) -> Party:
    return Party(ring_ms=ring_ms, bridge_script=bridge, **kw)


def virtual(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run an async test on a fresh virtual-time loop."""
    def run() -> None:
        run_virtual(test())
    run.__name__ = test.__name__
    return run


async def call(d: Dialer, number: str = CUSTOMER, limit: float = 60.0, **kw: Any) -> CallRecord:
    kw.setdefault("bot", "echo")
    handle = await d.place_call(CallRequest(number, **kw))
    async with asyncio.timeout(limit):  # virtual seconds
        return await handle.wait()


async def until(predicate: Callable[[], bool], limit: float = 30.0) -> None:
    for _ in range(int(limit / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def heard(fake: FakeExotel, leg_sid: str, source: str) -> list[Heard]:
    return [h for h in fake.legs[leg_sid].heard if h.source == source]


def names(rec: CallRecord) -> list[str]:
    return [n for n, _ in rec.timeline]


@virtual
async def test_bot_first_greeting_stops_when_stream_starts() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 300", "wait 400", "hangup")})
    async with fake_dialer(fake) as d:
        rec = await call(d)
        assert (rec.disposition, rec.answered, rec.ended_in) == ("customer_hangup", True, "bot")
        assert rec.latencies["answer_to_stream"] is not None
        n = names(rec)
        assert n.index("greeting_started") < n.index("stream_started")
        assert n.index("stream_started") <= n.index("greeting_stopped")
        assert rec.duration_s is not None and rec.termination_reason == "completed"
        greeting = heard(fake, rec.customer_leg_sid, "play")
        bot = heard(fake, rec.customer_leg_sid, "stream")
        assert greeting and bot
        # The greeting was cut when the stream started: it ends before the bot is heard.
        assert max(g.end or 0.0 for g in greeting) <= min(b.start for b in bot)
        assert d.store.get(rec.call_id) == rec


@virtual
async def test_escalation_by_dtmf_to_on_demand_agent() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 400", "dtmf 0", "wait 6000", "hangup"),
                       AGENT1: agent(300)})
    progress: list[ProgressEvent] = []
    async with fake_dialer(fake) as d:
        d.add_agent("a1", AGENT1, ["sales"])
        d.subscribe(progress.append)
        rec = await call(d)
        assert rec.disposition == "agent_handled" and rec.escalated and rec.bridged
        assert rec.agent_id == "a1" and rec.agent_leg_sid and rec.bridge_sid
        assert rec.recording_url.startswith("http://")
        assert rec.latencies["escalation_to_bridge"] is not None
        assert rec.latencies["agent_ring"] is not None
        kinds = [p.kind for p in progress]
        for k in ("placed", "answered", "bot_connected", "escalated", "agent_ringing",
                  "bridged", "ended", "agent_freed"):
            assert k in kinds, kinds
        agent_leg = fake.legs[rec.agent_leg_sid]
        assert agent_leg.custom_param == rec.call_id
        assert agent_leg.reference_leg_sid == rec.customer_leg_sid
        assert d.pool.get("a1").state is AgentState.IDLE
        assert d.pool.get("a1").calls_handled == 1


@virtual
async def test_nailed_agent_bridged_at_once_and_kept_alive() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 400", "dtmf 0", "wait 1500", "hangup"),
                       AGENT1: agent(100)})
    async with fake_dialer(fake, recording_wait=1.0) as d:
        d.add_agent("n1", AGENT1, nailed=True)
        await until(lambda: d.pool.idle_count() > 0)
        nailed_leg = d.pool.get("n1").nailed_leg_sid
        rec = await call(d)
        assert rec.disposition == "agent_handled" and rec.agent_nailed
        assert rec.agent_leg_sid == nailed_leg
        assert "agent_dialled" not in names(rec)  # no dialling on escalation
        assert fake.legs[nailed_leg].state == "answered"  # the nailed leg outlives the call
        await until(lambda: d.pool.get("n1").state is AgentState.IDLE)


@virtual
async def test_nailed_agent_redialled_when_it_drops() -> None:
    fake = FakeExotel({AGENT1: agent(100)})
    async with fake_dialer(fake) as d:
        d.add_agent("n1", AGENT1, nailed=True)
        await until(lambda: bool(d.pool.get("n1").nailed_leg_sid))
        first = d.pool.get("n1").nailed_leg_sid
        await d.client.hangup(first)
        await until(lambda: d.pool.get("n1").nailed_leg_sid not in ("", first))
        assert d.pool.get("n1").state is AgentState.IDLE


@virtual
async def test_agent_first_bridges_nailed_agent() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 1200", "hangup"), AGENT1: agent(100)})
    async with fake_dialer(fake, record_bridges=False) as d:
        d.add_agent("n1", AGENT1, nailed=True)
        await until(lambda: d.pool.idle_count() > 0)
        rec = await call(d, mode="agent_first", bot="")
        assert rec.disposition == "agent_handled" and not rec.abandoned
        assert rec.latencies["answer_to_stream"] is None  # no bot on agent-first calls


@virtual
async def test_agent_first_abandoned_when_no_agent_in_time() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 3000", "hangup")})
    async with fake_dialer(fake, abandon_after=0.5,
                           goodbye_text="Sorry, all agents are busy.") as d:
        rec = await call(d, mode="agent_first", bot="")
        assert rec.abandoned and rec.disposition == "abandoned"
        leg = rec.customer_leg_sid
        assert heard(fake, leg, "play") or heard(fake, leg, "say")  # the hold message


@virtual
async def test_customer_not_reached() -> None:
    for outcome, disposition in (("busy", "busy"), ("failed", "failed"),
                                 ("no-answer", "no_answer")):
        fake = FakeExotel({CUSTOMER: customer("hangup", outcome=outcome)})
        async with fake_dialer(fake, customer_ring_timeout=1) as d:
            rec = await call(d)
            assert rec.disposition == disposition and not rec.answered, outcome


@virtual
async def test_customer_hangs_up_during_greeting_when_stream_never_starts() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 400", "hangup")},
                      stream_outcome=lambda url: "hang")
    async with fake_dialer(fake, stream_start_timeout=3.0) as d:
        rec = await call(d)
        assert rec.disposition == "customer_hangup" and rec.ended_in == "connecting"
        assert "stream_started" not in names(rec)


@virtual
async def test_stream_failure_retried_once_then_hang_up_with_message() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 8000", "hangup")},
                      stream_outcome=lambda url: "fail")
    async with fake_dialer(fake, stream_fallback="hangup", message_timeout=1.0) as d:
        rec = await call(d)
        assert rec.disposition == "stream_failed"
        assert "stream_requested_2" in names(rec) and "stream_failed_2" in names(rec)
        assert heard(fake, rec.customer_leg_sid, "say")  # the goodbye message


@virtual
async def test_stream_failure_falls_back_to_agent() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 8000", "hangup"),
                       AGENT1: agent(200, bridge=("wait 300", "hangup"))},
                      stream_outcome=lambda url: "fail")
    async with fake_dialer(fake, record_bridges=False) as d:
        d.add_agent("a1", AGENT1)
        rec = await call(d)
        assert rec.escalation_reason == "stream_failed" and rec.disposition == "agent_handled"


@virtual
async def test_agent_no_answer_next_agent_then_back_to_bot() -> None:
    lazy = agent(outcome="no-answer")
    fake = FakeExotel({CUSTOMER: customer("wait 400", "dtmf 0", "wait 7000", "hangup"),
                       AGENT1: lazy, AGENT2: lazy})
    async with fake_dialer(fake, agent_ring_timeout=0.6, max_agent_attempts=2) as d:
        d.add_agent("a1", AGENT1)
        d.add_agent("a2", AGENT2)
        rec = await call(d)
        assert rec.escalated and not rec.bridged and rec.agent_attempts == 2
        assert rec.disposition == "customer_hangup" and rec.ended_in == "bot"
        assert rec.failure == "no_agent:not_answered (ring_timeout)"
        assert d.pool.idle_count() == 2
        leg = rec.customer_leg_sid
        assert len(heard(fake, leg, "play")) >= 2  # greeting, hold message
        assert heard(fake, leg, "say")  # then the fallback message, then the bot on a new stream
        n = names(rec)
        assert n.count("stream_started") == 2
        assert n.index("fallback_completed") < n.index("stream_requested_2")
        assert not fake.legs[leg].overlaps(), fake.legs[leg].heard


@virtual
async def test_no_agent_then_callback_fallback() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 400", "dtmf 0", "wait 5000", "hangup")})
    async with fake_dialer(fake, escalation_fallback="callback", message_timeout=2.0) as d:
        rec = await call(d)
        assert rec.disposition == "callback_scheduled"


@virtual
async def test_customer_hangs_up_while_agent_rings() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 400", "dtmf 0", "wait 700", "hangup"),
                       AGENT1: agent(5000)})
    async with fake_dialer(fake) as d:
        d.add_agent("a1", AGENT1)
        rec = await call(d)
        assert rec.disposition == "customer_hangup" and rec.ended_in == "agent_ringing"
        assert d.pool.get("a1").state is AgentState.IDLE
        agent_legs = [x for x in fake.legs.values() if x.contact_uri == AGENT1]
        assert agent_legs
        await until(lambda: agent_legs[0].state == "terminated")
        assert agent_legs[0].terminal_status == "canceled"


@virtual
async def test_bot_hangup_through_control_hook() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 500", "bot_hangup", "wait 6000", "hangup")})
    async with fake_dialer(fake) as d:
        rec = await call(d)
        assert rec.disposition == "bot_completed" and rec.ended_in == "bot", rec


@virtual
async def test_duplicated_events_still_give_one_clean_call() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 400", "dtmf 0", "wait 6000", "hangup"),
                       AGENT1: agent(200)}, duplicate_events=True)
    async with fake_dialer(fake) as d:
        d.add_agent("a1", AGENT1)
        rec = await call(d)
        assert rec.disposition == "agent_handled" and rec.bridged
        assert d.intake.sequencer.stats.duplicates > 0
        assert d.pool.get("a1").calls_handled == 1


@virtual
async def test_events_before_the_202_are_held_and_handed_over() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 300", "wait 400", "hangup", ring_ms=20)},
                      create_answers_after_ms=150)
    async with fake_dialer(fake) as d:
        rec = await call(d)
        assert (rec.disposition, rec.answered, rec.ended_in) == ("customer_hangup", True, "bot")
        assert d.stats.unknown_legs == 0


@virtual
async def test_answering_machine_detected_and_hung_up() -> None:
    fake = FakeExotel({CUSTOMER: Party(outcome="machine", amd_ms=300)})
    async with fake_dialer(fake) as d:
        rec = await call(d, amd=True)
        assert rec.machine and rec.disposition == "machine" and rec.answered


@virtual
async def test_exotel_rejects_the_number() -> None:
    async with fake_dialer(FakeExotel()) as d:
        rec = await call(d, "not-a-number")
        assert rec.disposition == "failed" and "400" in rec.failure
        assert not rec.customer_leg_sid


@virtual
async def test_leaving_the_dialer_hangs_up_live_calls() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 20000", "hangup")})
    async with fake_dialer(fake) as d:
        handle = await d.place_call(CallRequest(CUSTOMER, bot="echo"))
        await until(lambda: handle.state == "bot")
    assert handle.done
    rec = await handle.wait()
    assert rec.disposition == "shutdown" and rec.ended_in == "bot"


@virtual
async def test_agent_leg_created_after_the_customer_left_is_hung_up() -> None:
    fake = FakeExotel({CUSTOMER: customer("wait 400", "dtmf 0", "wait 50", "hangup"),
                       AGENT1: agent(3000)}, rest_ms=400)
    async with fake_dialer(fake) as d:
        d.add_agent("a1", AGENT1)
        rec = await call(d)
        assert rec.disposition == "customer_hangup" and rec.ended_in in ("hold", "agent_ringing")
        agent_legs = [x for x in fake.legs.values() if x.contact_uri == AGENT1]
        assert len(agent_legs) == 1
        await until(lambda: agent_legs[0].state == "terminated")
        assert d.pool.get("a1").state is AgentState.IDLE


def test_nailed_agent_hold_restarts_when_its_loops_run_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """QA #17 on virtual time (on the emulator it read the timeline between a restart and its
    audio under load): one loop of the 4 s hold stands for Exotel's 100; the agent hears the
    hold again and again, never dead air."""
    import dialer.nailed

    monkeypatch.setattr(dialer.nailed, "HOLD_LOOPS", 1)

    async def main() -> None:
        fake = FakeExotel({AGENT1: agent(200)}, play_ms=4000)
        async with fake_dialer(fake) as d:
            d.add_agent("n1", AGENT1, nailed=True)
            keeper = d.keepers["n1"]
            await until(lambda: keeper.hold_restarts >= 2)
            await asyncio.sleep(0.1)  # the restart's request reaches Exotel
            music = heard(fake, keeper.leg_sid, "play")
            assert len(music) >= 3
            gaps = [b.start - (a.end or b.start) for a, b in itertools.pairwise(music)]
            assert max(gaps) < 0.3, gaps  # restarted within one round trip: no dead air

    run_virtual(main())
