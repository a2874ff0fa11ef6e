"""``voxgate db migrate|status|copy``: what each prints, and bad input (a URL naming nothing, a
server that does not answer, a source that does not exist, a target that is not empty) as one
line on stderr with exit code 2, the password never shown."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from dialer.campaign.model import CampaignSpec, Lead
from dialer.campaign.store import CampaignStore
from dialer.db.cli import plans
from dialer.records import CallRecord, RecordStore
from dialer.web.audit_table import AuditTable
from voxgate.cli import main


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``voxgate ARGV``: exit 2 and one line on stderr, which is returned."""
    assert main(list(argv)) == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("voxgate db: ")
    return err.strip()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when the block ends: nothing listens


def small_db(url: str) -> None:
    store = CampaignStore(url)
    store.create_campaign(CampaignSpec("c1"), 1000.0)
    store.add_leads("c1", [Lead("9800000001"), Lead("9800000002")], 1000.0)
    store.close()
    records = RecordStore(url)
    records.save(CallRecord("vx1", "+919800000001", "bot_first"), push_to_crm=True)
    records.close()


def test_migrate_prints_versions_before_and_after_and_is_idempotent(
        capsys: pytest.CaptureFixture[str], store_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["db", "migrate", "--db", store_url]) == 0
    out = capsys.readouterr().out
    assert "before none   after 1" in out and "records    before none   after 1-3" in out
    assert out.splitlines()[-1] == f"applied {sum(len(p.sqlite) for p in plans())} migrations"
    monkeypatch.setenv("VOXGATE_DB", store_url)  # the default --db
    assert main(["db", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "records    before 1-3    after 1-3" in out and "applied 0 migrations" in out


def test_status_shows_versions_and_row_counts(capsys: pytest.CaptureFixture[str],
                                              store_url: str) -> None:
    small_db(store_url)
    assert main(["db", "status", "--db", store_url]) == 0
    out = capsys.readouterr().out
    assert "  records    versions 1-3\n" in out and "service    versions none; lacks 1-2" in out
    assert "  audit      versions none; lacks 1\n" in out
    assert "  leads                         2 rows\n" in out
    assert "  crm_outbox                    1 row\n" in out
    assert out.splitlines()[-1] == "3 migration(s) to apply: voxgate db migrate --db URL"


def test_copy_prints_each_tables_rows(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      store_url: str) -> None:
    src = tmp_path / "calls.db"
    small_db(str(src))
    audit = AuditTable(str(src))  # the dashboard's audit is carried too
    audit.add((1000.0, "sup", "pause", "c1", "running", "paused"))
    audit.close()
    assert main(["db", "copy", f"sqlite:///{src}", store_url]) == 0
    out = capsys.readouterr().out
    assert "  leads                         2 rows\n" in out
    assert "  call_records                  1 row\n" in out
    assert "  audit_log                     1 row\n" in out
    assert "copied 6 rows in 16 tables; every table's row count matches the source" in out
    copied = AuditTable(store_url)
    assert copied.recent(5) == [(1000.0, "sup", "pause", "c1", "running", "paused")]
    copied.close()
    line = refused(capsys, "db", "copy", str(src), store_url)  # again: DST holds it now
    assert "is not empty (campaigns: 1 row, leads: 2 rows, call_records: 1 row, " in line
    assert line.endswith("): copy only into a new, empty database")


def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOXGATE_DB", raising=False)
    assert refused(capsys, "db", "migrate") == (
        "voxgate db: no database: give --db URL or set VOXGATE_DB")
    line = refused(capsys, "db", "migrate", "--db", "mysql://root:pw@localhost/calls")
    assert line.startswith("voxgate db: database URL scheme 'mysql'") and ":pw@" not in line
    port = closed_port()
    line = refused(capsys, "db", "migrate", "--db",
                   f"postgresql://voxgate:s3cret-pw@127.0.0.1:{port}/calls")
    assert line.startswith(f"voxgate db: cannot connect to postgresql://***@127.0.0.1:{port}/")
    assert "s3cret-pw" not in line and "Connection refused" in line
    missing = tmp_path / "nope.db"
    assert refused(capsys, "db", "status", "--db", str(missing)) == (
        f"voxgate db: no database at {missing}")
    assert refused(capsys, "db", "copy", str(missing), str(tmp_path / "new.db")) == (
        f"voxgate db: no database at {missing}")
    assert not missing.exists() and not (tmp_path / "new.db").exists()
    (tmp_path / "junk.db").write_bytes(b"not a database, just some bytes" * 100)
    line = refused(capsys, "db", "migrate", "--db", str(tmp_path / "junk.db"))
    assert "file is not a database" in line
    assert refused(capsys, "db", "copy", "a.db", "b.db", "--batch", "0") == (
        "voxgate db: --batch 0: want a positive number of rows")


def test_dialer_export_reads_either_dialect(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            store_url: str) -> None:
    small_db(store_url)
    out = tmp_path / "calls.jsonl"
    assert main(["dialer", "export", "--db", store_url, "--out", str(out)]) == 0
    assert '"call_id": "vx1"' in out.read_text()
    capsys.readouterr()
    port = closed_port()
    assert main(["dialer", "export", "--db", f"postgresql://u:s3cret-pw@127.0.0.1:{port}/x",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("voxgate dialer: --db postgresql://") and "s3cret-pw" not in err
    assert "cannot read it as a dialer database: cannot connect to" in err
    assert len(err.splitlines()) == 1, err
