"""The campaign commands on a database URL: ``--db postgresql://...`` (and ``sqlite:///``) reach
the same store, and a server that cannot be reached is one line without the password."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_server import PgServer

from dialer.campaign.model import CampaignSpec, Lead
from dialer.campaign.store import CampaignStore
from voxgate.cli import main


def seeded(url: str) -> str:
    store = CampaignStore(url)
    store.create_campaign(CampaignSpec("renewals"), 1.0)
    store.add_leads("renewals", [Lead("9800000001"), Lead("9800000002")], 1.0)
    store.close()
    return url


def test_status_pause_and_export_on_postgresql(
    pg_server: PgServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = seeded(pg_server.fresh_url())
    assert main(["campaign", "status", "--db", url]) == 0
    assert "renewals: running" in capsys.readouterr().out
    assert main(["campaign", "pause", "renewals", "--db", url]) == 0
    assert CampaignStore(url).status("renewals") == "paused"
    out = tmp_path / "leads.csv"
    assert main(["campaign", "export", "renewals", "--db", url, "--out", str(out)]) == 0
    assert out.read_text().count("+91980000000") == 2


def test_a_sqlite_url_is_the_same_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeded(str(tmp_path / "c.db"))
    assert main(["campaign", "status", "--db", f"sqlite:///{tmp_path}/c.db"]) == 0
    assert "renewals: running" in capsys.readouterr().out


def test_an_unreachable_server_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://voxgate:s3cret-pw@127.0.0.1:1/voxgate?connect_timeout=2"
    assert main(["campaign", "status", "--db", url]) != 0
    err = capsys.readouterr().err
    assert "cannot connect to postgresql://***@127.0.0.1:1/voxgate" in err
    assert "s3cret-pw" not in err
