"""Lead intelligence in a running campaign on the emulator (issue 19): a lead whose SLA
deadline is due soon is dialled first, and the pickup model stored with the campaign counts
every settled attempt."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from test_campaign_runner import BUSY, dialled, stack, store_with

from dialer.campaign.lead_model import CampaignModel
from dialer.campaign.lead_updates import LeadUpdate
from dialer.campaign.model import Lead, Limits
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store.intel import LeadIntelStore

NUMBERS = [f"+9199000003{i:02d}" for i in range(1, 5)]


async def test_a_deadline_lead_is_dialled_first_and_the_model_counts_attempts(
    tmp_path: Path,
) -> None:
    store = store_with(tmp_path, [Lead(n) for n in NUMBERS],
                       limits=Limits(max_attempts=2, max_attempts_per_day=2, max_lines=1))
    intel = LeadIntelStore(store._database)
    assert intel.patch("t1", NUMBERS[3], LeadUpdate(call_by=time.time() + 600), time.time())
    async with stack({NUMBERS[0]: BUSY}) as st:
        runner = CampaignRunner(st.dialer, store, "t1", tick_s=0.1)
        async with asyncio.timeout(30):
            stats = await runner.run(until_done=True)
        numbers = dialled(st)
    assert numbers[0] == NUMBERS[3]  # the deadline first, though imported last
    assert sorted(set(numbers)) == sorted(NUMBERS)
    assert numbers.count(NUMBERS[0]) == 2  # busy: retried after its delay (model too young)
    model = CampaignModel.from_json(store.campaign("t1"), intel.load_model("t1"))
    assert model.attempts == len(numbers) == 5
    assert stats.done == 4
    store.close()
