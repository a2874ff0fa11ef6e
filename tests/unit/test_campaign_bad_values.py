"""Values that passed ``campaign check`` and crashed ``run`` (issue 14 #14): each is one line on
stderr and exit 2 from both, and ``status``/``export`` read a database holding such a value
without crashing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dialer.campaign.model import CallingWindow, CampaignSpec, Lead
from dialer.campaign.store import CampaignStore
from voxgate.cli import main

BASE = 'name = "c"\nbot = "echo"\n'


def one_line_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.rstrip("\n")


CAMPAIGN_FILES = [
    ("[retry]\nbusy = nan\n", "retry.busy: must be a finite number of seconds up to 31536000 "
     "(a year), got nan"),
    ("[retry]\nbusy = 1e300\n", "retry.busy: must be a finite number of seconds up to 31536000 "
     "(a year), got 1e+300"),
    ("[limits]\nring_timeout_s = inf\n", "limits.ring_timeout_s: must be a finite number, got inf"),
    ("[limits]\nring_timeout_s = 1e9\n", "limits.ring_timeout_s: must be at most 600 seconds, got "
     "1000000000"),
    ("[limits]\nmin_ring_s = nan\n", "limits.min_ring_s: must be a finite number, got nan"),
    ("[limits]\nmax_lines = 9223372036854775807\n", "limits.max_lines: must be at most 10000, "
     "got 9223372036854775807"),
    ("[retry.busy]\nafter = 600\n", "retry.busy: must be a number of seconds >= 0, got "
     "{'after': 600}"),
]


@pytest.mark.parametrize(("extra", "message"), CAMPAIGN_FILES)
@pytest.mark.parametrize("action", ["check", "run"])
def test_campaign_values_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str, extra: str, message: str
) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(BASE + extra)
    db = tmp_path / "c.db"
    err = one_line_error(["campaign", action, str(toml), "--db", str(db)], capsys)
    assert err == f"voxgate campaign: {toml}: {message}"
    assert not db.exists()


DIALER_CONFIGS = [
    ("control_port = 70000\n", "control_port must be a port (0-65535), got 70000"),
    ("request_timeout = nan\n", "request_timeout must be a finite number within 0..10000000, "
     "got nan"),
    ("agent_ring_timeout = inf\n", "agent_ring_timeout must be a finite number within "
     "0..10000000, got inf"),
    ("max_retries = 1e300\n", "max_retries must be a finite number within 0..10000000, got "
     "1e+300"),
    ("hold_loops = inf\n", "setting 'hold_loops': cannot use 'inf': cannot convert float "
     "infinity to integer"),
    ("[dialer]\ngreeting_text = { say = \"hi\" }\n", "setting 'greeting_text': must be a str "
     "value, got {'say': 'hi'}"),
    ("[dialer]\nrecord_bridges = [true]\n", "setting 'record_bridges': must be a bool value, got "
     "[True]"),
]


@pytest.mark.parametrize(("text", "message"), DIALER_CONFIGS)
@pytest.mark.parametrize("action", ["check", "run"])
def test_dialer_config_values_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str, text: str, message: str
) -> None:
    toml, config = tmp_path / "c.toml", tmp_path / "dialer.toml"
    toml.write_text(BASE)
    config.write_text(text)
    db = tmp_path / "c.db"
    err = one_line_error(
        ["campaign", action, str(toml), "--db", str(db), "--config", str(config)], capsys
    )
    assert err == f"voxgate campaign: --config {config}: {message}"
    assert not db.exists()


@pytest.mark.parametrize("action", ["check", "run"])
def test_a_csv_field_over_128_kib_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    toml, leads = tmp_path / "c.toml", tmp_path / "leads.csv"
    toml.write_text(BASE)
    leads.write_text("phone,note\n+919812345678,short\n+919812345679," + "x" * 140_000 + "\n")
    db = tmp_path / "c.db"
    err = one_line_error(
        ["campaign", action, str(toml), "--db", str(db), "--leads", str(leads)], capsys
    )
    assert err == (
        f"voxgate campaign: {leads}: line 3: not valid CSV: field larger than field limit "
        "(131072)"
    )
    assert not db.exists()
    leads.write_text("phone,priority\n+919812345678,99999999999999999999999\n")
    assert main(["campaign", "check", str(toml), "--leads", str(leads)]) == 1
    assert "line 2: priority must be within -1000000..1000000" in capsys.readouterr().out


def test_status_and_export_read_a_database_an_older_version_filled_with_such_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.db"
    store = CampaignStore(str(db))
    always = CallingWindow.parse("00:00", "24:00")  # due now whatever the hour of the test
    store.create_campaign(CampaignSpec("c", window=always), 0.0)
    store.add_leads("c", [Lead("+919812345678"), Lead("+919812345679")], 0.0)
    store.close()
    with sqlite3.connect(db) as raw:  # what a 1e300 retry delay left: a due time past year 9999
        raw.execute("UPDATE leads SET due_at = 1e300 WHERE phone = '+919812345678'")
    assert main(["campaign", "status", "--db", str(db), "c"]) == 0
    out = capsys.readouterr().out
    assert "pending 2: due now 1, waiting 1, next due 9999-12-01" in out
    assert main(["campaign", "export", "--db", str(db), "c"]) == 0
    assert ",9999-12-01T00:00:00Z" in capsys.readouterr().out
    with sqlite3.connect(db) as raw:  # and settings with a nan a version let through
        spec = json.loads(raw.execute("SELECT spec FROM campaigns").fetchone()[0])
        spec["retry"]["busy"] = float("nan")
        raw.execute("UPDATE campaigns SET spec = ?", (json.dumps(spec),))
    err = one_line_error(["campaign", "status", "--db", str(db), "c"], capsys)
    assert err == (
        f"voxgate campaign: campaign c in {db}: stored settings not valid: retry.busy: must be "
        "a finite number of seconds up to 31536000 (a year), got nan"
    )
    assert main(["campaign", "export", "--db", str(db), "c"]) == 0  # needs no settings
    assert capsys.readouterr().out.count("\n") == 3
