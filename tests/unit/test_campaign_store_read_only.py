"""``CampaignStore.read_only``: a database read without a single byte written, in it or beside
it, whatever version made it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dialer.campaign.model import CampaignError, CampaignSpec, Lead
from dialer.campaign.store import CampaignStore


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_reading_changes_nothing(tmp_path: Path) -> None:
    store = CampaignStore(str(tmp_path / "c.db"))
    store.create_campaign(CampaignSpec("c", default_country="1"), 0.0)
    store.add_leads("c", [Lead("+12125550101")], 0.0)
    store.add_dnc(["+12125550102"], 0.0)
    store.close()
    before = files(tmp_path)
    assert list(before) == ["c.db"]  # closed cleanly: no write-ahead log left
    ro = CampaignStore.read_only(str(tmp_path / "c.db"))
    assert ro.campaigns() == ["c"] and ro.campaign("c").default_country == "1"
    assert [lead["phone"] for lead in ro.leads("c")] == ["+12125550101"]
    assert ro.on_dnc("+12125550102") and not ro.on_dnc("+12125550101")
    assert ro.stats("c", 0.0).leads == 1
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.add_dnc(["+12125550101"], 0.0)
    ro.close()
    assert files(tmp_path) == before


def test_reading_while_a_writer_has_it_open(tmp_path: Path) -> None:
    writer = CampaignStore(str(tmp_path / "c.db"))
    writer.create_campaign(CampaignSpec("c"), 0.0)
    writer.add_leads("c", [Lead("+919800000001")], 0.0)  # in the write-ahead log
    ro = CampaignStore.read_only(str(tmp_path / "c.db"))
    assert [lead["phone"] for lead in ro.leads("c")] == ["+919800000001"]
    ro.close()
    writer.close()


def test_an_older_or_foreign_database_reads_as_empty_where_it_lacks(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)  # campaigns and leads only, before heartbeats and leases
    old.execute(
        "CREATE TABLE campaigns (name TEXT PRIMARY KEY, spec TEXT NOT NULL, status TEXT NOT "
        "NULL DEFAULT 'running', created_at REAL NOT NULL, updated_at REAL NOT NULL)"
    )
    old.execute("INSERT INTO campaigns VALUES ('c', '{\"name\": \"c\"}', 'paused', 0, 0)")
    old.commit()
    old.close()
    before = files(tmp_path)
    ro = CampaignStore.read_only(str(path))
    stats = ro.stats("c", 0.0)
    assert (stats.status, stats.leads, stats.heartbeat_at) == ("paused", 0, None)
    assert ro.busy("c", 0.0) == "" and ro.agents("c") == [] and not ro.on_dnc("+919800000001")
    ro.close()
    (tmp_path / "empty.db").write_bytes(b"")
    ro = CampaignStore.read_only(str(tmp_path / "empty.db"))
    assert ro.campaigns() == []
    with pytest.raises(CampaignError, match="no campaign named 'c'"):
        ro.campaign("c")
    ro.close()
    assert files(tmp_path) == {**before, "empty.db": b""}


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match=r"^no campaign database at "):
        CampaignStore.read_only(str(tmp_path / "none.db"))
    assert list(tmp_path.iterdir()) == []
