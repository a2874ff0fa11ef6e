"""The runner's lead intelligence (issue 19): the pacer gets each ringing dial's own P(live)
once the model is in use, a settled attempt is counted and gets the model's retry time inside
the window after the retry delay, and the model and ranks reach the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dialer.campaign.compliance import in_window
from dialer.campaign.lead_intel import RunnerLeads
from dialer.campaign.lead_model import MIN_ATTEMPTS, CampaignModel
from dialer.campaign.live_calls import LiveCall
from dialer.campaign.model import CampaignSpec, Lead, Outcome
from dialer.campaign.store import CampaignStore
from dialer.campaign.store.intel import LeadIntelStore, LeadRow
from dialer.campaign.store.types import AttemptResult, Claim
from dialer.leads.pickup import hour_of_week
from dialer.leads.select import next_try
from dialer.pacing.types import PacerState
from dialer.store_calls import StoreCalls

NOON = 1_700_000_000.0 + 6.5 * 3600  # a weekday 10:13 in Asia/Kolkata


def _claim(lead_id: int, plan: str) -> Claim:
    return Claim("c1", lead_id, 1, f"c1-{lead_id}-1", f"+9199000010{lead_id:02d}", "",
                 "Asia/Kolkata", {"plan": plan})


def test_pacer_probabilities_retry_times_and_saves(tmp_path: Path) -> None:
    store = CampaignStore(str(tmp_path / "c.db"))
    spec = CampaignSpec("c1", segment_fields=("plan",))
    store.create_campaign(spec, NOON)
    store.add_leads("c1", [Lead("+919900001001")], NOON)
    leads = RunnerLeads(store, "c1", store.campaign("c1"), StoreCalls(inline=True))
    state = PacerState(NOON, agents_ready=1, ringing=(1.0, 2.0))
    live = {"c1-1-1": LiveCall(0.0), "c1-2-1": LiveCall(0.0)}
    assert leads.fill(state, live) is state  # no model yet: the campaign average
    model = leads.model
    for i in range(MIN_ATTEMPTS):  # gold answers at 10:00, silver never does
        model.observe(100 + i, "Asia/Kolkata", {"plan": "gold" if i % 2 else "silver"},
                      NOON, live=bool(i % 2))
    leads.claimed(_claim(1, "gold"), NOON)
    leads.claimed(_claim(2, "silver"), NOON)
    filled = leads.fill(state, live)
    assert filled.ringing_live[0] > 0.5 > 0.2 > filled.ringing_live[1]
    result = leads.settled(_claim(2, "silver"), AttemptResult(Outcome.NO_ANSWER, "no_answer"),
                           NOON, NOON + 60)
    assert model.attempts == MIN_ATTEMPTS + 1
    assert result.retry_at is not None and result.retry_at >= NOON + 60 + spec.retry["no_answer"]
    asyncio.run(leads.tick(NOON + 60))
    stored = CampaignModel.from_json(spec, LeadIntelStore(store._database).load_model("c1"))
    assert stored.attempts == MIN_ATTEMPTS + 1
    store.close()


def test_lead_order_priority_keeps_todays_order_and_delays() -> None:
    spec = CampaignSpec("c1", lead_order="priority")
    model = CampaignModel(spec)
    for i in range(MIN_ATTEMPTS):
        model.observe(i, "", {}, NOON + 3600 * (i % 5), live=i % 5 == 0)
    assert model.attempts == MIN_ATTEMPTS and not model.active
    row = LeadRow(1, "+919900001001", "", 0, {}, NOON, None, 1e18, 0.5, 0)
    assert model.rank([row], NOON) == [0.0]  # refresh writes pick_rank 0: priority, due, id
    assert model.retry_at(1, "", {}, after=NOON, min_gap_s=600) is None
    active = CampaignModel(CampaignSpec("c1"), model.model)
    assert active.retry_at(1, "", {}, after=NOON, min_gap_s=600) is not None


def test_retry_times_from_the_kept_open_hours_are_the_computed_ones() -> None:
    """retry_at keeps each (zone, hour)'s open hours; its answers are next_try's over the window
    computed afresh, also for a zone half an hour off UTC and a try not on an hour's start."""
    spec = CampaignSpec("c1")
    model = CampaignModel(spec)
    for i in range(4 * MIN_ATTEMPTS):  # answers in the evening hours, in two zones
        at = NOON + 1800 * i
        for zone in ("Asia/Kolkata", "Europe/London"):
            model.observe(i, zone, {}, at, live=hour_of_week(at, zone) % 24 >= 17)
    assert model.active
    for zone in ("Asia/Kolkata", "Europe/London"):
        def hour_of(t: float, zone: str = zone) -> int:
            return hour_of_week(t, zone)

        for k in range(60):  # every 17 minutes over 17 hours: each hour asked several times
            after, gap = NOON + 1020 * k, (600, 3600, 7200)[k % 3]
            start = ((after + gap) // 3600) * 3600
            spans = [(t, t + 3600) for t in (start + i * 3600 for i in range(7 * 24))
                     if in_window(t + 1800, zone, spec.window)]
            expected = next_try(model.model, model.ref(1, zone, {}), after=after,
                                open_spans=spans, hour_of=hour_of,
                                min_gap_s=gap)
            assert model.retry_at(1, zone, {}, after=after, min_gap_s=gap) == expected
