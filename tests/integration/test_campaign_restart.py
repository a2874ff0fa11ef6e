"""Kill the campaign process for real mid-campaign, restart it, and check that no attempt was
dialled twice and no call record of a finished attempt was lost.

The emulator runs in the test; ``voxgate campaign run`` runs in a child process against it
(``EXOTEL_API_BASE``), with its own gateway and dialer. Every customer leg the emulator was
asked to create carries the attempt's call id (``custom_param``), so the emulator's list of legs
is the ground truth of what was dialled.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from campaign_process import attempt_states, first_run, kill, rerun, sim_env, start, until

from dialer.campaign.store import CampaignStore
from exotel_sim.config import CustomerProfile, SimConfig
from exotel_sim.server import SimServer

LEADS = 7


def customer_legs(sim: SimServer) -> list[tuple[str, str]]:
    return [
        (leg.custom_param, leg.req.contact_uri)
        for leg in sim.sim.legs.values()
        if leg.kind == "customer"
    ]


@pytest.mark.slow(10)
async def test_killed_campaign_resumes_without_dialling_an_attempt_twice(tmp_path: Path) -> None:
    talk = CustomerProfile(outcome="answer", ring_ms=(200, 500)).with_script("wait 1500", "hangup")
    busy_once = "+919900000903"
    config = SimConfig(
        rest_latency_ms=5,
        event_latency_ms=5,
        setup_ms=20,
        default_customer=talk,
        customers={busy_once: CustomerProfile(outcome="busy", ring_ms=(100, 200))},
    )
    args, db, log = first_run(tmp_path, [f"+9199000009{i:02d}" for i in range(LEADS)])
    async with SimServer(config) as sim:
        env = sim_env(sim)
        first = await start(args, env, log)
        # kill it while calls are in flight: attempts committed, legs ringing or talking
        await until(lambda: len(customer_legs(sim)) >= 2
                    and "dialing" in attempt_states(db).values())
        left_dialing = await kill(first, db)
        assert left_dialing, "the kill should leave attempts in flight"

        assert await rerun(db, env, log) == 0, log.read_text()
        legs = customer_legs(sim)

    call_ids = [call_id for call_id, _ in legs]
    assert len(call_ids) == len(set(call_ids)), "an attempt was dialled twice"
    store = CampaignStore(str(db))
    attempts = {a["call_id"]: a for a in store.attempts("restart")}
    assert set(call_ids) <= set(attempts)  # nothing was dialled without its attempt row
    for call_id in left_dialing:  # settled on restart, never dialled again
        assert attempts[call_id]["state"] in ("done", "interrupted")
        assert call_ids.count(call_id) <= 1
    for call_id, attempt in attempts.items():
        if attempt["state"] == "done":  # a finished attempt keeps its call record
            assert store.call_record(call_id) is not None, call_id
    lead_states = {lead["phone"]: lead for lead in store.leads("restart")}
    assert len(lead_states) == LEADS
    assert all(lead["state"] == "done" for lead in lead_states.values())
    assert lead_states[busy_once]["attempts"] == 3  # retried until its limit
    interrupted = [a for a in attempts.values() if a["state"] == "interrupted"]
    # each interrupted attempt was followed by a new attempt of the same lead
    for attempt in interrupted:
        later = [
            a
            for a in attempts.values()
            if a["lead_id"] == attempt["lead_id"] and a["attempt_no"] > attempt["attempt_no"]
        ]
        finished = lead_states_by_id(store)[attempt["lead_id"]]["final_reason"] == "max_attempts"
        assert later or finished
    assert "Traceback" not in log.read_text()


def lead_states_by_id(store: CampaignStore) -> dict[int, dict[str, object]]:
    return {int(str(lead["id"])): lead for lead in store.leads("restart")}
