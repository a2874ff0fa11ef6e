"""``voxgate campaign status|pause|resume|export`` on a campaign database, and run's errors."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from calling_time import daytime_zone

from dialer.campaign.model import CampaignSpec, Lead
from dialer.campaign.progress import status_lines
from dialer.campaign.store import AttemptResult, CampaignStore, Outcome
from voxgate.cli import main

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "c.db"
    store = CampaignStore(str(path))
    store.create_campaign(CampaignSpec("c1", timezone=daytime_zone()), time.time())
    store.add_leads("c1", [Lead("9800000001", name="Asha"), Lead("9800000002")], time.time())
    claim = store.claim_next("c1", time.time())
    assert claim is not None
    store.finish_attempt(
        claim.call_id, AttemptResult(Outcome.COMPLETED, "bot_completed", live=True), time.time()
    )
    store.close()
    return path


def test_status_pause_resume(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    # dialled (the fixture's attempt) with no heartbeat ever kept: no dialer, not "never run"
    assert (
        "c1: running (no dialer attached); leads 2 (pending 1, in flight 0, finished 1); "
        "attempts 1" in out
    )
    assert "\n  pending 1: due now 1, waiting 0\n" in out
    assert main(["campaign", "pause", "c1", "--db", str(db)]) == 0
    assert CampaignStore(str(db)).status("c1") == "paused"
    assert main(["campaign", "resume", "c1", "--db", str(db)]) == 0
    assert CampaignStore(str(db)).status("c1") == "running"
    assert main(["campaign", "pause", "nope", "--db", str(db)]) == 2
    assert "no campaign named 'nope'" in capsys.readouterr().err


def test_export_leads_and_attempts(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "leads.csv"
    assert main(["campaign", "export", "c1", "--db", str(db), "--out", str(out)]) == 0
    rows = out.read_text().splitlines()
    assert rows[0].startswith("phone,name") and len(rows) == 3
    assert "+919800000001,Asha" in rows[1] and ",done,1,completed," in rows[1]
    attempts = tmp_path / "attempts.csv"
    assert (
        main(["campaign", "export", "c1", "--db", str(db), "--attempts", "--out", str(attempts)])
        == 0
    )
    assert "c1-1-1" in attempts.read_text()
    header, row = attempts.read_text().splitlines()
    assert header == (
        "id,campaign,lead_id,attempt_no,call_id,local_day,claimed_at,state,outcome,live,"
        "abandoned,escalated,answered_at,ended_at,connected"
    )
    assert re.fullmatch(rf"1,c1,1,1,c1-1-1,[-\d]+,{ISO},done,completed,1,0,0,{ISO},{ISO},0", row)
    # then lead_id, final_outcome (empty: not finished) and bot_outcome (no call yet)
    assert re.fullmatch(rf"\+919800000002,,[^,]*,0,pending,0,,,{ISO},2,,", rows[2])


def test_status_says_whether_a_dialer_is_attached(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = CampaignStore(str(db))  # what a running `campaign run` writes
    runner.heartbeat("c1", time.time() - 1)
    assert main(["campaign", "status", "c1", "--db", str(db)]) == 0
    assert re.search(r"c1: running \(dialer active, updated \d s ago\); ", capsys.readouterr().out)
    runner.detach("c1", time.time() - 300)  # the run ended 5 minutes ago
    assert main(["campaign", "status", "c1", "--db", str(db)]) == 0
    assert "c1: running (no dialer attached; last seen 5 min ago); " in capsys.readouterr().out
    runner.heartbeat("c1", time.time() - 300)  # killed 5 minutes ago: no clean exit
    assert main(["campaign", "status", "c1", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "c1: running (no dialer attached; last seen 5 min ago, it did not exit cleanly); " in out
    runner.close()


def test_status_lines_at_night_show_leads_waiting_for_their_window(tmp_path: Path) -> None:
    india = ZoneInfo("Asia/Kolkata")
    evening = datetime(2026, 11, 21, 20, 0, tzinfo=india).timestamp()
    night = datetime(2026, 11, 21, 22, 28, tzinfo=india).timestamp()
    store = CampaignStore(str(tmp_path / "n.db"))
    store.create_campaign(CampaignSpec("renewals"), evening)  # Asia/Kolkata, 09:00-21:00
    store.add_leads("renewals", [Lead(f"98000000{i:02d}") for i in range(7)], evening)
    store.heartbeat("renewals", night - 2)
    lines = status_lines("renewals", store.stats("renewals", night),
                         store.pending("renewals", night), night)
    assert lines == [
        "renewals: running (dialer active, updated 2 s ago); leads 7 (pending 7, in flight 0, "
        "finished 0); attempts 0, answered 0, escalated 0 (bridged to an agent 0), abandoned 0; "
        "abandonment 0.00% (24 h: 0 of 0 live answers), 0.00% (30 days)",
        "  pending 7: due now 0, waiting 7, next due 2026-11-22T03:30:00Z (in 10h32m)",
    ]


def test_missing_database_and_bad_campaign_file_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["campaign", "status", "--db", str(tmp_path / "none.db")]) == 2
    assert "no campaign database" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[limits]\nring_timeout_s = 5\n')
    assert main(["campaign", "run", "--emulator", str(bad), "--db", str(tmp_path / "x.db")]) == 2
    assert "minimum ring time" in capsys.readouterr().err
    assert main(["campaign"]) == 2
