"""``voxgate campaign`` and ``voxgate demo`` on bad input: one line on stderr naming the file
and the line or key, exit code 2, no traceback, and nothing created or imported."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from calling_time import daytime_zone

from dialer.campaign.model import CampaignSpec, Lead
from dialer.campaign.progress import status_lines
from dialer.campaign.store import AttemptResult, CampaignStore, Outcome, PendingLeads
from voxgate.cli import main

GOOD = (
    'name = "c"\nbot = "echo"\n[window]\nstart = "00:00"\nend = "24:00"\n'
    '[[agents]]\nid = "a1"\nnumber = "+919800000001"\n'
)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "c.toml").write_text(GOOD)
    (tmp_path / "leads.csv").write_text("phone,name\n+919800000001,Asha\n")
    return tmp_path


def run_err(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.rstrip("\n")


def test_bad_campaign_file_creates_nothing(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = files / "bad.toml"
    toml.write_text(GOOD.replace('bot = "echo"', 'bot = "echo"\n[limits]\nmax_attempts = 2.5'))
    db = files / "new.db"
    err = run_err(["campaign", "run", str(toml), "--db", str(db)], capsys)
    assert err == f"voxgate campaign: {toml}: limits.max_attempts: must be an integer >= 1, got 2.5"
    toml.write_text('name = "c"\ntimezone = "Mars/Olympus"\n')
    err = run_err(["campaign", "run", str(toml), "--db", str(db)], capsys)
    assert err == f"voxgate campaign: {toml}: timezone: unknown timezone 'Mars/Olympus'"
    toml.write_text("name = \n")
    err = run_err(["campaign", "run", str(toml), "--db", str(db)], capsys)
    assert err == f"voxgate campaign: {toml}: not valid TOML: Invalid value (at line 1, column 8)"
    assert not db.exists()


def test_unknown_stored_campaign_leaves_no_file(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = files / "fresh.db"
    err = run_err(["campaign", "run", "nosuch", "--db", str(db)], capsys)
    assert err == (
        f"voxgate campaign: no campaign database at {db} (CAMPAIGN is a campaign TOML file or "
        "the name of a campaign stored in --db; 'nosuch' is neither)"
    )
    assert not db.exists()
    err = run_err(["campaign", "run", str(files / "nosuch.toml"), "--db", str(db)], capsys)
    assert err == f"voxgate campaign: {files / 'nosuch.toml'}: no such file"
    assert not db.exists()


def test_bot_must_be_installed(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = files / "bot.toml"
    toml.write_text(GOOD.replace('bot = "echo"', 'bot = "nosuchbot"'))
    db = files / "x.db"
    err = run_err(["campaign", "run", str(toml), "--db", str(db)], capsys)
    assert err.startswith("voxgate campaign: bot 'nosuchbot' is not installed (installed: ")
    assert "echo" in err and "scripted" in err
    assert not db.exists()


def test_inputs_are_checked_before_the_database(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml, db = str(files / "c.toml"), files / "x.db"
    latin = files / "latin.csv"
    latin.write_bytes(b"phone,name\n+919800000001,Jos\xe9\n")
    err = run_err(["campaign", "run", toml, "--db", str(db), "--leads", str(latin)], capsys)
    assert err == f"voxgate campaign: {latin}: not UTF-8 text (byte 28)"
    dnc = files / "dnc.txt"
    dnc.write_bytes(b"\xff+919800000001\n")
    err = run_err(["campaign", "run", toml, "--db", str(db), "--dnc", str(dnc)], capsys)
    assert err == f"voxgate campaign: {dnc}: not UTF-8 text (byte 0)"
    nophone = files / "nophone.csv"
    nophone.write_text("tel;name\n+919800000001;A\n")
    err = run_err(["campaign", "run", toml, "--db", str(db), "--leads", str(nophone)], capsys)
    assert err == (
        f"voxgate campaign: {nophone}: lead CSV needs a 'phone' column; found header: 'tel;name'"
    )
    sim = files / "sim.toml"
    sim.write_text("[customers.default]\nanswer_probability = 'high'\n")
    err = run_err(["campaign", "run", toml, "--db", str(db), "--sim-config", str(sim)], capsys)
    assert err.startswith(f"voxgate campaign: --sim-config {sim}: ")
    assert "answer_probability" in err
    missing = files / "missing.toml"
    err = run_err(["campaign", "run", toml, "--db", str(db), "--sim-config", str(missing)], capsys)
    assert err == f"voxgate campaign: --sim-config {missing}: no such file"
    bad = files / "dialer.toml"
    bad.write_text("[dialer\n")
    err = run_err(["campaign", "run", toml, "--db", str(db), "--config", str(bad)], capsys)
    assert err.startswith(f"voxgate campaign: --config {bad}: not valid TOML: ")
    assert not db.exists()


def test_unusable_database_paths(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = str(files / "c.toml")
    err = run_err(["campaign", "run", toml, "--db", "/nonexistent/dir/x.db", "--emulator"], capsys)
    assert err == (
        "voxgate campaign: cannot open database /nonexistent/dir/x.db: no such directory "
        "'/nonexistent/dir'"
    )
    err = run_err(["campaign", "run", toml, "--db", str(files), "--emulator"], capsys)
    assert err == f"voxgate campaign: cannot open database {files}: is a directory"
    csv = files / "leads.csv"
    err = run_err(["campaign", "run", toml, "--db", str(csv), "--emulator"], capsys)
    assert err == f"voxgate campaign: cannot open database {csv}: file is not a database"
    err = run_err(["campaign", "status", "--db", str(csv)], capsys)
    assert err == f"voxgate campaign: cannot open database {csv}: file is not a database"
    assert csv.read_text() == "phone,name\n+919800000001,Asha\n"


def test_max_seconds_must_not_be_negative(files: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["campaign", "run", str(files / "c.toml"), "--db", "x.db", "--max-seconds", "-1"])
    assert info.value.code == 2


def test_status_of_an_empty_database(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = files / "empty.db"
    CampaignStore(str(db)).close()
    assert main(["campaign", "status", "--db", str(db)]) == 0
    assert capsys.readouterr().out == f"no campaigns in {db}\n"
    err = run_err(["campaign", "status", "nope", "--db", str(db)], capsys)
    assert err == "voxgate campaign: no campaign named 'nope'"


def test_export_out_must_be_writable(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = files / "c.db"
    store = CampaignStore(str(db))
    store.create_campaign(CampaignSpec("c"), time.time())
    store.close()
    err = run_err(
        ["campaign", "export", "c", "--db", str(db), "--out", "/nonexistent/o.csv"], capsys
    )
    assert err == "voxgate campaign: --out /nonexistent/o.csv: no such directory '/nonexistent'"
    err = run_err(["campaign", "export", "c", "--db", str(db), "--out", str(files)], capsys)
    assert err == f"voxgate campaign: --out {files}: is a directory"


def test_status_says_finished_when_every_lead_is(tmp_path: Path) -> None:
    store = CampaignStore(str(tmp_path / "f.db"))
    store.create_campaign(CampaignSpec("f", timezone=daytime_zone()), time.time())
    store.add_leads("f", [Lead("9800000001")], time.time())
    store.close()
    now = time.time()
    store = CampaignStore(str(tmp_path / "f.db"))
    claim = store.claim_next("f", now)
    assert claim is not None
    store.finish_attempt(
        claim.call_id, AttemptResult(Outcome.COMPLETED, "bot_completed", live=True), now
    )
    first = status_lines("f", store.stats("f", now), store.pending("f", now), now)[0]
    assert first.startswith("f: running, finished (")
    assert store.status("f") == "running"  # display only
    store.add_leads("f", [Lead("9800000002")], now)
    first = status_lines("f", store.stats("f", now), store.pending("f", now), now)[0]
    assert first.startswith("f: running (")
    empty = PendingLeads(0, 0, None)
    assert status_lines("f", store.stats("f", now), empty, now)[0].startswith("f: running (")
    store.close()


def test_run_on_a_paused_campaign_gives_a_hint(
    files: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXOTEL_API_BASE", raising=False)
    db = files / "p.db"
    store = CampaignStore(str(db))
    store.create_campaign(CampaignSpec("p", bot="echo"), time.time())
    store.set_status("p", "paused", time.time())
    store.close()
    assert main(["campaign", "run", "p", "--db", str(db), "--max-seconds", "0", "--emulator"]) == 0
    out = capsys.readouterr().out
    assert f"campaign p is paused: voxgate campaign resume p --db {db} to dial\n" in out


def test_run_reports_bad_dnc_lines_and_unused_stream_params(
    files: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXOTEL_API_BASE", raising=False)
    toml = files / "sp.toml"
    toml.write_text(GOOD.replace('bot = "echo"', 'bot = "echo"\nstream_params = ["name", "plan"]'))
    dnc = files / "dnc.txt"
    dnc.write_text("# list\n+919800000009 # asked\ncall me maybe\n")
    db = files / "sp.db"
    leads = str(files / "leads.csv")
    args = ["campaign", "run", str(toml), "--db", str(db), "--leads", leads, "--dnc", str(dnc),
            "--emulator"]
    store = CampaignStore(str(db))
    store.create_campaign(CampaignSpec("c", bot="echo"), time.time())
    store.set_status("c", "paused", time.time())  # so the run dials nothing
    store.close()
    assert main([*args, "--max-seconds", "0"]) == 0
    out = capsys.readouterr().out
    assert (
        f"  warning: stream_params field 'plan' is in none of the 1 leads of {leads}: the bot "
        "gets no value for it\n" in out
    )
    assert (
        f"do-not-call list: 1 number (1 bad line skipped)\n  {dnc} line 3: bad phone number "
        "'call me maybe'\n" in out
    )
    store = CampaignStore(str(db))
    assert store.on_dnc("+919800000009")
    store.close()


# --- voxgate demo --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--calls", "0"], "argument --calls: must be >= 1, got 0"),
        (["--concurrency", "0"], "argument --concurrency: must be >= 1, got 0"),
        (["--agents", "0"], "argument --agents: must be >= 1, got 0"),
        (["--ring", "0"], "argument --ring: must be >= 1, got 0"),
    ],
)
def test_demo_refuses_bad_counts(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", *args])
    assert info.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith(message)


def test_demo_checks_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "d.db")
    err = run_err(["demo", "--agents", "2", "--nailed", "3", "--db", db], capsys)
    assert err == "voxgate demo: --nailed 3 is more than --agents 2"
    err = run_err(["demo", "--bot", "nosuchbot", "--db", db], capsys)
    assert err.startswith("voxgate demo: bot 'nosuchbot' is not installed (installed: ")
    err = run_err(["demo", "--db", "/nonexistent/dir/d.db"], capsys)
    assert err == "voxgate demo: --db /nonexistent/dir/d.db: no such directory '/nonexistent/dir'"
    err = run_err(["demo", "--db", db, "--export", str(tmp_path)], capsys)
    assert err == f"voxgate demo: --export {tmp_path}: is a directory"
    err = run_err(["demo", "--db", db, "--export", "/nonexistent/o.csv"], capsys)
    assert err == "voxgate demo: --export /nonexistent/o.csv: no such directory '/nonexistent'"
    assert not Path(db).exists()
