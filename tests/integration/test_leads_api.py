"""The CRM's lead API over real HTTP on the in-process dialer service (issue 19): leads added
(JSON and CSV), updated and withdrawn at once, ``/next`` explaining the order, and bad input
answered 400/404/413 naming the field, logged and counted. All 404 before (no such routes)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from calling_time import daytime_zone

from dialer.campaign.leads_api import MAX_LEADS_BODY
from dialer.campaign.service_api import CampaignService
from dialer.config import DialerConfig
from dialer.control_api import ControlApiServer
from dialer.service import Dialer
from exotel_sim.config import SimConfig
from exotel_sim.server import SimServer
from voxgate.cli import main

TOKEN = "crm-token"
CAMPAIGN = (f'name = "crm"\nmode = "agent_first"\npacer = "progressive"\n'
            f'timezone = "{daytime_zone()}"\n')


async def test_crm_lead_api_good_and_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN", TOKEN)
    db = str(tmp_path / "svc.db")
    soon = time.time() + 600
    async with SimServer(SimConfig()) as sim:
        config = DialerConfig(
            api_base=sim.api_base, account_sid=sim.account_sid, api_key=sim.api_key,
            api_token=sim.api_token, exophone="+918000000000", db_path=db,
            event_endpoint="http://127.0.0.1:0/e")
        async with Dialer(config) as dialer:
            campaigns = CampaignService(dialer, db)
            async with ControlApiServer(dialer, dialer=dialer, token=TOKEN,
                                        routes=campaigns.add_routes) as api, \
                    aiohttp.ClientSession(
                        headers={"Authorization": f"Bearer {TOKEN}"}) as s:
                base = f"{api.url}/v1/campaigns"
                async with s.post(base, json={"campaign": CAMPAIGN,
                                              "leads": "phone\n+919900000801\n"}) as r:
                    assert r.status == 201, await r.text()
                async with aiohttp.ClientSession() as anon, \
                        anon.post(f"{base}/crm/leads", json=[]) as r:
                    assert r.status == 401
                new = [{"phone": "+919900000802", "priority": 2, "plan": "gold"},
                       {"phone": "+919900000803", "call_by": soon}]
                async with s.post(f"{base}/crm/leads", json=new) as r:
                    assert r.status == 200, await r.text()
                    assert await r.json() == {"added": 2, "updated": 0, "withdrawn": 0}
                csv = "phone,priority,withdraw\n+919900000802,5,\n+919900000801,0,yes\n"
                async with s.post(f"{base}/crm/leads", data=csv,
                                  headers={"Content-Type": "text/csv"}) as r:
                    assert await r.json() == {"added": 0, "updated": 2, "withdrawn": 1}
                async with s.patch(f"{base}/crm/leads/+919900000802",
                                   json={"priority": 9, "callback_at": soon + 60}) as r:
                    assert r.status == 200, await r.text()
                async with s.delete(f"{base}/crm/leads/+919900000803") as r:
                    assert await r.json() == {"phone": "+919900000803", "withdrawn": True,
                                              "was": "pending"}
                async with s.get(f"{base}/crm/next?n=5") as r:
                    body = await r.json()
                assert [n["phone"] for n in body["next"]] == []  # 802 waits for its callback
                states = campaigns.store.lead_states("crm")
                assert states == {"+919900000801": "done", "+919900000802": "pending",
                                  "+919900000803": "done"}
                leads = {row["phone"]: row for row in campaigns.store.leads("crm")}
                assert leads["+919900000802"]["priority"] == 9
                assert leads["+919900000802"]["due_at"] == soon + 60

                bad = [
                    ("post", "crm/leads", [{"phone": "12"}], 400, "phone"),
                    ("post", "crm/leads", [{"phone": "+919900000804", "call_by": "soonish"}],
                     400, "call_by"),
                    ("post", "crm/leads", [{"phone": "+919900000804", "priority": "x"}], 400,
                     "priority"),
                    ("patch", "crm/leads/+919900000802", {"colour": "red"}, 400, "colour"),
                    ("patch", "crm/leads/+919900000802", {"call_by": 1000}, 400, "past"),
                    ("patch", "crm/leads/+919900000802", {"priority": 1.5}, 400, "priority"),
                    ("patch", "crm/leads/+919900000899", {"priority": 1}, 404, "no lead"),
                    ("delete", "crm/leads/+919900000899", None, 404, "no lead"),
                    ("post", "nope/leads", [], 404, "no campaign"),
                    ("get", "crm/next?n=0", None, 400, "'n'"),
                ]
                before = dict(dialer.stats.control_refused)
                for method, path, payload, status, word in bad:
                    async with s.request(method, f"{base}/{path}", json=payload) as r:
                        text = await r.text()
                        assert (r.status, word in text) == (status, True), (path, text)
                big = b"[" + b" " * MAX_LEADS_BODY + b"]"
                async with s.post(f"{base}/crm/leads", data=big) as r:
                    assert r.status == 413
                refused = dialer.stats.control_refused.get("lead_input", 0)
                assert refused - before.get("lead_input", 0) == len(bad) + 1
                # the CLI's re-import through the API (--dialer), with the control token
                update = tmp_path / "update.csv"
                update.write_text("phone,priority,withdraw\n+919900000802,4,\n"
                                  "+919900000805,1,\n+919900000802x,,\n")
                cmd = ["campaign", "leads", "import", "crm", str(update), "--dialer", api.url]
                assert await asyncio.to_thread(main, cmd) == 2  # the bad row: nothing applied
                assert "line 4" in capsys.readouterr().err
                update.write_text("phone,priority,withdraw\n+919900000802,4,\n"
                                  "+919900000805,1,\n")
                assert await asyncio.to_thread(main, cmd) == 0
                assert "1 leads added, 1 updated, 0 withdrawn" in capsys.readouterr().out
            await campaigns.close()
