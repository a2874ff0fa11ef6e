"""``voxgate campaign leads import``, ``history import`` and ``explain`` (issue 19) on a
campaign database: a CSV re-import upserts, an imported history grows the stored model, and
explain shows the deadline lead first with its reasons."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dialer.campaign.lead_model import CampaignModel
from dialer.campaign.model import CampaignSpec, Lead
from dialer.campaign.store import CampaignStore
from dialer.campaign.store.intel import LeadIntelStore
from voxgate.cli import main

PHONES = ["+919900000901", "+919900000902", "+919900000903"]


def test_reimport_history_and_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    db = str(tmp_path / "c.db")
    store = CampaignStore(db)
    store.create_campaign(CampaignSpec("c1", segment_fields=("plan",)), time.time())
    store.add_leads("c1", [Lead(PHONES[0]), Lead(PHONES[1])], time.time())
    store.close()
    leads = tmp_path / "leads.csv"
    soon = time.time() + 600
    leads.write_text(f"phone,priority,call_by,withdraw,plan\n{PHONES[0]},3,,yes,\n"
                     f"{PHONES[1]},1,,,gold\n{PHONES[2]},0,{soon:.0f},,\n")
    assert main(["campaign", "leads", "import", "c1", str(leads), "--db", db]) == 0
    assert "1 leads added, 2 updated, 1 withdrawn" in capsys.readouterr().out
    history = tmp_path / "history.csv"
    history.write_text("number,time,outcome\n" + "".join(
        f"+9199000{i:05d},{1_700_000_000 + 3600 * i},{'live' if i % 3 else 'no_answer'}\n"
        for i in range(60)) + f"{PHONES[1]},2023-11-15T10:00:00+05:30,live\n")
    assert main(["campaign", "history", "import", "c1", str(history), "--db", db]) == 0
    assert "61 past attempts imported; the model counts 61" in capsys.readouterr().out
    store = CampaignStore(db)
    model = CampaignModel.from_json(store.campaign("c1"),
                                    LeadIntelStore(store._database).load_model("c1"))
    store.close()
    assert model.attempts == 61 and model.active
    assert main(["campaign", "explain", "c1", "--db", db, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [n["phone"] for n in out["next"]] == [PHONES[2], PHONES[1]]
    assert out["next"][0]["deadline_first"] and out["next"][0]["because"] == "deadline due soon"
    assert out["next"][1]["segment"].endswith("plan=gold")
    assert main(["campaign", "explain", "c1", PHONES[1], "--db", db]) == 0
    text = capsys.readouterr().out
    assert f"{PHONES[1]}: priority, then the model's rank" in text and "lead factor" in text
    bad = tmp_path / "bad.csv"
    bad.write_text("number,time,outcome\n+919900000901,yesterday,live\n")
    assert main(["campaign", "history", "import", "c1", str(bad), "--db", db]) == 2
    assert "line 2: time: not an epoch or ISO 8601 time" in capsys.readouterr().err
