"""``voxgate campaign status|pause|resume|export`` on a campaign database, and run's errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from calling_time import daytime_zone

from dialer.campaign.model import CampaignSpec, Lead
from dialer.campaign.store import AttemptResult, CampaignStore, Outcome
from voxgate.cli import main


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
    assert "c1: running; leads 2 (pending 1, in flight 0, finished 1); attempts 1" in out
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


def test_missing_database_and_bad_campaign_file_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["campaign", "status", "--db", str(tmp_path / "none.db")]) == 2
    assert "no campaign database" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[limits]\nring_timeout_s = 5\n')
    assert main(["campaign", "run", str(bad), "--db", str(tmp_path / "x.db")]) == 2
    assert "minimum ring time" in capsys.readouterr().err
    assert main(["campaign"]) == 2
