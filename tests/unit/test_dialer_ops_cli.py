"""``voxgate dialer run`` start-up checks and ``voxgate dialer export``: one line on stderr and
exit code 2, never a traceback, and nothing started or created on the way."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from dialer.cli import check_agents, parse_agent, served_bots
from dialer.config import DialerConfig
from dialer.errors import ConfigError
from dialer.records import CallRecord, RecordStore
from voxgate.cli import main

REAL_EXOTEL = {
    "EXOTEL_API_BASE": "http://127.0.0.1:9/v2/accounts/AC1",
    "EXOTEL_ACCOUNT_SID": "AC1",
    "EXOTEL_API_KEY": "key",
    "EXOTEL_API_TOKEN": "token",
    "EXOTEL_EXOPHONE": "+918000000000",
    "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events",
    "VOXGATE_STREAM_URL": "ws://127.0.0.1:9",
}


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``voxgate ARGV``; it must exit 2 with one line on stderr; returns that line."""
    assert main(list(argv)) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "embedded Exotel emulator" not in out
    lines = [line for line in err.splitlines() if line.startswith("voxgate dialer: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def real_exotel(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REAL_EXOTEL.items():
        monkeypatch.setenv(name, value)


def test_agents_are_checked_before_anything_starts(
    capsys: pytest.CaptureFixture[str], real_exotel: None,
) -> None:
    line = refused(capsys, "dialer", "run", "--agent", "a1=+919900000001",
                   "--agent", "a1=+919900000003")
    assert line == "voxgate dialer: agent 'a1' is given twice"
    line = refused(capsys, "dialer", "run", "--agent", "a1=9900000001x:sales")
    assert line.startswith("voxgate dialer: agent 'a1': bad phone number '9900000001x'")
    line = refused(capsys, "dialer", "run", "--nailed-agent", "n2=abc")
    assert "agent 'n2': bad phone number 'abc'" in line
    line = refused(capsys, "dialer", "run", "--agent", "a1=+919700000001",
                   "--nailed-agent", "n1=09700000001")
    assert line == "voxgate dialer: agents 'a1' and 'n1' have the same number +919700000001"


def test_check_agents_normalises_numbers_and_keeps_sip_uris() -> None:
    specs = [(*parse_agent("a1=097000 00001:sales"), False),
             (*parse_agent("s1=sip:desk7@pbx.example.com:billing,hindi"), True)]
    assert check_agents(specs) == [
        ("a1", "+919700000001", ("sales",), False),
        ("s1", "sip:desk7@pbx.example.com", ("billing", "hindi"), True),
    ]
    with pytest.raises(ConfigError, match="agent 'x' is given twice"):
        check_agents([("x", "+919700000001", (), False), ("x", "+919700000002", (), True)])


def test_real_exotel_without_a_stream_url_is_refused(
    capsys: pytest.CaptureFixture[str], real_exotel: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VOXGATE_STREAM_URL")
    line = refused(capsys, "dialer", "run", "--agent", "a1=+919900000001")
    assert "no stream URL: set VOXGATE_STREAM_URL" in line
    monkeypatch.delenv("EXOTEL_API_TOKEN")
    monkeypatch.delenv("EXOTEL_EXOPHONE")
    line = refused(capsys, "dialer", "run")
    assert line.endswith("needs EXOTEL_API_TOKEN, EXOTEL_EXOPHONE too")


def test_a_control_port_in_use_is_one_line(
    capsys: pytest.CaptureFixture[str], real_exotel: None,
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = refused(capsys, "dialer", "run", "--control-port", str(port))
    assert "address already in use" in line.lower() or str(port) in line


def test_drain_timeout_is_checked(capsys: pytest.CaptureFixture[str], real_exotel: None) -> None:
    line = refused(capsys, "dialer", "run", "--drain-timeout", "-1")
    assert line == "voxgate dialer: drain_timeout must be >= 0 (seconds)"
    assert DialerConfig(drain_timeout=0).drain_timeout == 0


def test_served_bots() -> None:
    assert served_bots(DialerConfig(stream_url="wss://gw/custom/path"), None) is None
    assert served_bots(DialerConfig(stream_url="wss://gw"), ["sales"]) == {"sales"}
    assert "echo" in (served_bots(DialerConfig(stream_url="wss://gw"), None) or ())


def test_export_refuses_what_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "nosuch.db"
    line = refused(capsys, "dialer", "export", "--db", str(missing), "--out", "x.csv")
    assert line == f"voxgate dialer: --db {missing}: no such database"
    assert not missing.exists()  # no empty database made on a typo
    line = refused(capsys, "dialer", "export", "--db", str(tmp_path), "--out", "x.csv")
    assert "is a directory" in line
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n" * 100)
    line = refused(capsys, "dialer", "export", "--db", str(junk), "--out", str(tmp_path / "o.csv"))
    assert "cannot read it as a dialer database" in line
    db = tmp_path / "calls.db"
    store = RecordStore(db)
    store.save(CallRecord("c1", "+911", "bot_first", disposition="busy"))
    store.close()
    line = refused(capsys, "dialer", "export", "--db", str(db), "--out", str(tmp_path / "x.txt"))
    assert line.endswith("want FILE.csv or FILE.jsonl")
    line = refused(capsys, "dialer", "export", "--db", str(db),
                   "--out", str(tmp_path / "no" / "dir" / "o.csv"))
    assert "No such file or directory" in line
    assert main(["dialer", "export", "--db", str(db), "--out", str(tmp_path / "o.jsonl")]) == 0
