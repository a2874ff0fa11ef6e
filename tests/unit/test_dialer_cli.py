"""``voxgate dialer``: agent specs, export, bad settings give exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialer.cli import parse_agent
from dialer.errors import ConfigError
from dialer.records import CallRecord, RecordStore
from voxgate.cli import main


def test_parse_agent() -> None:
    assert parse_agent("a1=+9198:sales,hindi") == ("a1", "+9198", ("sales", "hindi"))
    assert parse_agent("a2=+9197") == ("a2", "+9197", ())
    for bad in ("a1", "=+91", "a1="):
        with pytest.raises(ConfigError):
            parse_agent(bad)


def test_export_csv_and_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "calls.db"
    store = RecordStore(db)
    store.save(CallRecord("c1", "+919812345678", "bot_first", disposition="busy"))
    store.close()
    assert main(["dialer", "export", "--db", str(db), "--out", str(tmp_path / "o.csv")]) == 0
    assert (tmp_path / "o.csv").read_text().splitlines()[1].startswith("c1,+919812345678,bot_")
    assert main(["dialer", "export", "--db", str(db), "--out", str(tmp_path / "o.jsonl")]) == 0
    line = json.loads((tmp_path / "o.jsonl").read_text())
    assert line["disposition"] == "busy"
    assert "exported 1 call records" in capsys.readouterr().out


def test_bad_settings_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXGATE_EVENT_ENDPOINT", "ftp://nowhere")
    assert main(["dialer", "run"]) == 2
    monkeypatch.delenv("VOXGATE_EVENT_ENDPOINT")
    assert main(["dialer", "run", "--agent", "broken"]) == 2
    assert main(["dialer"]) == 2  # no action: usage
