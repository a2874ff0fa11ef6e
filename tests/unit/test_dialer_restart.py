"""Live calls persisted at each step (``live_calls`` beside ``call_records``) and the records
built for the calls a killed dialer left (:mod:`dialer.live_state`, :mod:`dialer.restart`).
The restart itself, over real processes: tests/integration/test_dialer_restart_process.py."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

from dialer.records import CallRecord, RecordStore
from dialer.restart import DISPOSITION, build_record, reconcile
from dialer.service import CallRequest
from dialer.testing import FakeExotel, Party, fake_dialer, run_virtual

CUSTOMER = "+919900000001"


def state(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "call_id": "vx1", "request": {"number": CUSTOMER, "mode": "bot_first", "bot": "echo",
                                      "custom": {"lead": "7"}},
        "stage": "ringing", "started_at": 1000.0, "customer_leg_sid": "L1",
        "agent_leg_sid": "", "agent_id": "", "agent_nailed": False, "bridge_sid": "",
        "answered": False, "bridged": False, "escalated": False,
        "timeline": [["dial", 0.0], ["ringing", 0.5]],
    }
    return base | over


def test_a_live_row_goes_with_the_record_that_settles_it(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    store = RecordStore(path)
    try:
        store.save_live("vx1", state())
        store.save_live("vx2", state(call_id="vx2"))
        store.save_live("vx1", state(stage="bot"))  # each step replaces the row
        assert [(s["call_id"], s["stage"]) for s in store.live_calls()] == [
            ("vx2", "ringing"), ("vx1", "bot")]
        store.save(CallRecord("vx1", CUSTOMER, "bot_first", disposition="customer_hangup"))
        assert [s["call_id"] for s in store.live_calls()] == ["vx2"]
    finally:
        store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_finished_call_is_recorded_from_exotels_data() -> None:
    busy = build_record(state(), {"state": "terminated", "terminal_status": "busy"}, None,
                        ended_by_restart=False)
    assert (busy.disposition, busy.answered, busy.termination_reason) == ("busy", False, "busy")
    assert (busy.number, busy.custom, busy.started_at) == (CUSTOMER, {"lead": "7"}, 1000.0)
    assert busy.timeline == (("dial", 0.0), ("ringing", 500.0))
    # answered after the dead run's last step: Exotel's answer_time says so
    hung_up = build_record(state(), {"state": "terminated", "terminal_status": "completed",
                                     "answer_time": "2026-12-07T10:00:00Z", "duration": 12},
                           None, ended_by_restart=False)
    assert (hung_up.disposition, hung_up.answered, hung_up.duration_s) == (
        "customer_hangup", True, 12.0)
    bridged = build_record(state(answered=True, bridged=True, stage="bridged",
                                 agent_leg_sid="A1", agent_id="a1"),
                           {"state": "terminated", "terminal_status": "completed"},
                           {"state": "terminated", "terminal_status": "completed",
                            "duration": 30}, ended_by_restart=False)
    assert (bridged.disposition, bridged.agent_duration_s) == ("agent_handled", 30.0)


def test_a_call_whose_leg_is_not_known_is_lost_not_unanswered() -> None:
    # killed while its create was in flight, and Exotel lists no legs: placed or not is not
    # known, so not "no_answer" (a campaign would retry it, dialling the customer again)
    rec = build_record(state(customer_leg_sid="", stage="dialing"), None, None,
                       ended_by_restart=False)
    assert (rec.disposition, rec.answered, rec.ended_in) == ("lost", False, "dialing")
    assert "not known" in rec.failure


def test_a_call_still_up_is_recorded_as_ended_by_the_restart() -> None:
    rec = build_record(state(answered=True, stage="bot"),
                       {"state": "terminated", "terminal_status": "completed"}, None,
                       ended_by_restart=True)
    assert (rec.disposition, rec.ended_in) == (DISPOSITION, "bot")
    assert rec.failure.startswith("dialer restarted")


def test_the_runner_persists_each_step_and_the_record_clears_it() -> None:
    async def go() -> None:
        fake = FakeExotel({CUSTOMER: Party(script=("wait 5000", "hangup"))})
        async with fake_dialer(fake) as d:
            connected = asyncio.Event()
            d.subscribe(lambda ev: connected.set() if ev.kind == "bot_connected" else None)
            handle = await d.place_call(CallRequest(CUSTOMER, bot="echo"))
            async with asyncio.timeout(3.0):  # virtual seconds
                await connected.wait()
            [live] = d.store.live_calls()
            assert live["stage"] == "bot"
            assert live["call_id"] == handle.call_id and live["answered"]
            assert live["customer_leg_sid"] and live["request"]["bot"] == "echo"
            assert [n for n, _ in live["timeline"]][:1] == ["dial"]
            async with asyncio.timeout(60.0):
                rec = await handle.wait()
            assert d.store.live_calls() == []
            assert d.store.get(rec.call_id) == rec

    run_virtual(go())


def test_a_call_killed_while_dialling_has_its_leg_found_and_hung_up() -> None:
    async def go() -> None:
        fake = FakeExotel({CUSTOMER: Party(script=("wait 60000", "hangup"))}, list_legs=True)
        async with fake_dialer(fake) as d:
            # what the dead run's create did at Exotel before its 202 came back
            leg = await fake.create_leg(CUSTOMER, "+918000000000", "http://127.0.0.1:9/e",
                                        custom_param="vx1")
            d.store.save_live("vx1", state(stage="dialing", customer_leg_sid="",
                                           timeline=[["dial", 0.0]]))
            assert await reconcile(d.store, fake, apology_s=0) == 1
            rec = d.store.get("vx1")
            assert rec is not None and d.store.live_calls() == []
            assert (rec.disposition, rec.customer_leg_sid) == (DISPOSITION, leg["leg_sid"])
            assert fake.legs[leg["leg_sid"]].state == "terminated"
            assert fake.requests.count("POST /legs") == 1  # never dialled again

    run_virtual(go())


def test_exotel_unreachable_at_restart_is_asked_again_until_it_answers() -> None:
    """A campaign's restart waits on this reconcile before it settles its attempts: if it gave
    up while Exotel was down, a call Exotel had placed would be retried, a second dial."""
    async def go() -> None:
        fake = FakeExotel({CUSTOMER: Party(script=("wait 60000", "hangup"))})
        async with fake_dialer(fake) as d:
            leg = await fake.create_leg(CUSTOMER, "+918000000000", "http://127.0.0.1:9/e",
                                        custom_param="vx1")
            d.store.save_live("vx1", state(customer_leg_sid=leg["leg_sid"]))
            fake.unreachable = True
            task = asyncio.create_task(reconcile(d.store, fake, apology_s=0))
            await asyncio.sleep(30)  # virtual time: several rounds of asking
            assert not task.done()
            assert d.store.get("vx1") is None and len(d.store.live_calls()) == 1
            fake.unreachable = False
            assert await asyncio.wait_for(task, 120) == 1
            rec = d.store.get("vx1")
            assert rec is not None and rec.disposition == DISPOSITION
            assert d.store.live_calls() == []
            assert fake.requests.count("POST /legs") == 1  # never dialled again

    run_virtual(go())
