"""Kill ``voxgate campaign run`` (SIGKILL) while answered calls are up, let them finish on
Exotel while no dialer runs, run the campaign again on the same database: the attempts the
killed run left ``dialing`` are settled from Exotel's data (the dialer's restart reconcile of
its ``live_calls`` rows), so a completed call keeps its record and its customer is not dialled
again; every lead is accounted for and no attempt is dialled twice.

The emulator runs in the test (the Exotel the child process dials); its legs are the ground
truth of what was dialled.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from campaign_process import first_run, kill, rerun, sim_env, start, until

from dialer.campaign.store import CampaignStore
from exotel_sim.config import CustomerProfile, SimConfig
from exotel_sim.leg import Leg
from exotel_sim.server import SimServer

LEADS = 6


def customer_legs(sim: SimServer) -> list[Leg]:
    return [leg for leg in sim.sim.legs.values() if leg.kind == "customer"]


@pytest.mark.slow(15)
async def test_killed_campaign_settles_completed_calls_without_dialling_them_again(
    tmp_path: Path,
) -> None:
    # every customer answers, hears the bot and hangs up: each placed call completes
    talk = CustomerProfile(outcome="answer", ring_ms=(100, 200)).with_script("wait 1200", "hangup")
    # list_legs: a call killed while its create was in flight is found by its call id (Exotel
    # documents no list of legs: there such a call is recorded lost, see dialer.restart)
    config = SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20, default_customer=talk,
                       list_legs=True)
    args, db, log = first_run(tmp_path, [f"+9199000008{i:02d}" for i in range(LEADS)])
    async with SimServer(config) as sim:
        env = sim_env(sim)
        first = await start(args, env, log)
        # killed with at least two answered calls up
        await until(lambda: sum(leg.answered_ms is not None and not leg.ended.is_set()
                                for leg in customer_legs(sim)) >= 2)
        left_dialing = set(await kill(first, db))
        assert left_dialing, "the kill should leave attempts in flight"
        # the calls the dead run placed finish on Exotel (the customers hang up)
        placed = customer_legs(sim)
        async with asyncio.timeout(15):
            await asyncio.gather(*(leg.ended.wait() for leg in placed))
        completed = {leg.custom_param: leg.req.contact_uri for leg in placed
                     if leg.answered_ms is not None and leg.custom_param in left_dialing}
        assert completed, "calls answered before the kill complete while no dialer runs"

        assert await rerun(db, env, log) == 0, log.read_text()
        legs = customer_legs(sim)

    call_ids = Counter(leg.custom_param for leg in legs)
    assert max(call_ids.values()) == 1, f"an attempt was dialled twice: {call_ids}"
    per_number = Counter(leg.req.contact_uri for leg in legs)
    store = CampaignStore(str(db))
    attempts = {a["call_id"]: a for a in store.attempts("restart")}
    for call_id, number in completed.items():
        # settled from Exotel's data: recorded once, completed, its customer not dialled again
        assert attempts[call_id]["state"] == "done", attempts[call_id]
        assert attempts[call_id]["outcome"] == "completed", attempts[call_id]
        record = store.call_record(call_id)
        assert record is not None, call_id
        assert per_number[number] == 1, f"{number} dialled {per_number[number]} times"
    lead_states = store.leads("restart")
    assert len(lead_states) == LEADS
    assert all(lead["state"] == "done" for lead in lead_states), lead_states
    # every lead accounted for: each has a finished attempt with its call record
    for lead in lead_states:
        done = [a for a in attempts.values() if a["lead_id"] == lead["id"] and a["state"] == "done"]
        assert done and all(store.call_record(a["call_id"]) is not None for a in done), lead
    assert "Traceback" not in log.read_text()
