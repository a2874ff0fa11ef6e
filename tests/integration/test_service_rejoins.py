"""A restarted dialer service rejoins the campaigns it had joined (issue 17): the service
records the join (and agent share) with the started run, and a new
:class:`~dialer.campaign.service_api.CampaignService` on the same database resumes the run
joined, beside the other dialer still running the campaign, and dials. Before, the resumed run
was exclusive: the live other dialer refused it (``CampaignBusy``) and it never dialled."""

from __future__ import annotations

import time
from pathlib import Path

from campaign_process import until
from test_campaign_lease import make_store, stack

from dialer.campaign.model import AgentSpec
from dialer.campaign.service_api import CampaignService
from dialer.campaign.service_runs import ServiceRuns, StartedRun
from dialer.campaign.store import Lease

AGENTS = (AgentSpec("a1", "+919800000001"), AgentSpec("a2", "+919800000002"))


async def test_a_restarted_service_rejoins_its_shared_campaign_and_dials(
        tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = make_store(db, 6, agents=AGENTS)
    other = Lease("other", 999_999_999, "elsewhere")  # a dialer on another host, alive

    def beat() -> bool:
        return store.heartbeat("t1", time.time(), owner="other")

    store.join("t1", other, time.time(), "d-other")
    async with stack() as st:
        first = CampaignService(st.dialer, str(db))
        first._launch("t1", join=True, share=1)
        owner = first.runs["t1"][0].owner
        await until(lambda: beat() and owner in [m.member for m in store.members("t1")])
        await first.close()  # stopped mid-run (or killed): its start stays recorded
        runs = ServiceRuns(str(db))
        assert runs.recorded_runs() == [StartedRun("t1", True, 1)]
        runs.close()
        again = CampaignService(st.dialer, str(db))
        assert again.resume() == ["t1"]
        runner = again.runs["t1"][0]
        assert runner.join and runner.agent_share == 1
        await until(lambda: beat() and any(
            a["dialer"] == runner.owner for a in store.attempts("t1")), timeout_s=15)
        assert "other" in [m.member for m in store.members("t1")]
        await again.close()
    store.close()
