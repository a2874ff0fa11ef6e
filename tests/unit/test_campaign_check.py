"""``voxgate campaign check``: run's checks and a report of what run would do, with exit 0 (ready),
1 (usable, worth a look) or 2 (an error run would stop on), creating and changing nothing."""

from __future__ import annotations

import re
import time
from datetime import datetime
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from calling_time import daytime_zone

from dialer.campaign.compliance import next_window_open
from dialer.campaign.model import CallingWindow, CampaignSpec, Lead, campaign_from_toml
from dialer.campaign.progress import iso_utc
from dialer.campaign.store import CampaignStore, Lease
from voxgate.cli import main


def night_zone() -> str:
    """An ``Etc/GMT`` zone where it is between 00:00 and 06:00: the default window (09:00-21:00)
    is closed there and opens within 3 to 9 hours."""
    for offset in range(-12, 15):
        zone = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"
        if datetime.now(ZoneInfo(zone)).time() < clock(6):
            return zone
    raise AssertionError("unreachable: some UTC offset is always in the small hours")


@pytest.fixture(autouse=True)
def emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dialer settings of a machine with no Exotel account: the embedded emulator."""
    for var in ("EXOTEL_API_BASE", "EXOTEL_EXOPHONE"):
        monkeypatch.delenv(var, raising=False)


def check(args: list[str], capsys: pytest.CaptureFixture[str], code: int) -> list[str]:
    """``voxgate campaign check ARGS``: its exit ``code`` and its output lines (no stderr)."""
    assert main(["campaign", "check", *args]) == code
    out, err = capsys.readouterr()
    assert err == ""
    return out.splitlines()


def error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line ``voxgate campaign check ARGS`` fails with (exit 2, no traceback)."""
    assert main(["campaign", "check", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


def files(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def test_a_new_campaign_from_its_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day, night = daytime_zone(), night_zone()
    toml = tmp_path / "us.toml"
    toml.write_text(
        f'name = "us"\nbot = "echo"\ndefault_country = "+1"\ntimezone = "{day}"\n'
        'stream_params = ["name"]\n[[agents]]\nid = "a1"\nnumber = "212 555 0001"\n'
    )
    leads = tmp_path / "leads.csv"
    leads.write_text(
        f"phone,name,timezone\n(212) 555-0101,A,{night}\n212 555 0102,B,{night}\n"
        f"415 555 0103,C,{day}\n+1 212 555 0101,A again,\nnot a number,D,\n"
    )
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("1 212 555 0102\n")
    db = tmp_path / "us.db"
    before = files(tmp_path)
    args = [str(toml), "--leads", str(leads), "--dnc", str(dnc), "--db", str(db)]
    lines = check(args, capsys, 1)
    assert lines[:3] == [
        f"campaign us ({toml}): bot_first, pacer bot_first, bot echo, 1 agent (0 nailed up), "
        "up to 20 lines",
        f"  calling window 09:00-21:00 in each lead's time zone (campaign timezone {day}); "
        "numbers written nationally get +1",
        "  dials the embedded emulator (EXOTEL_API_BASE unset); caller id the emulator default",
    ]
    assert lines[3:8] == [
        f"database {db}: does not exist yet; run creates it",
        f"{leads}: would import 3 new leads (0 already there, 1 duplicate row, 1 bad row)",
        "  line 6: bad phone number 'not a number'",
        "do-not-call list: 1 number",
        "  on it: 1 new lead (never dialled)",  # +12125550102, written nationally in both
    ]
    opens = iso_utc(next_window_open(time.time(), night, CallingWindow()))
    head = (
        "calling windows now: of the 2 new leads to dial, 1 inside their window, 1 waiting (the "
        f"first window opens {opens}, in "
    )
    assert lines[8].startswith(head) and re.fullmatch(r"\d+h\d\dm\)", lines[8][len(head) :])
    waiting = rf"  {re.escape(night)}: 1 lead waiting \(\d\d:\d\d there; it opens {opens}, in "
    assert re.fullmatch(waiting + r"\d+h\d\dm\)", lines[9]), lines[9]
    inside = rf"  {re.escape(day)}: 1 lead inside the window \(\d\d:\d\d there\)"
    assert re.fullmatch(inside, lines[10]), lines[10]
    assert lines[11:] == [
        f"result: usable; worth a look: 1 bad row in {leads}; 1 duplicate row in {leads}"
    ]
    assert files(tmp_path) == before  # no database, nothing else


def daytime_campaign(directory: Path) -> Path:
    """A campaign file in ``directory``: campaign ``c``, where it is midday."""
    toml = directory / "c.toml"
    toml.write_text(f'name = "c"\nbot = "echo"\ntimezone = "{daytime_zone()}"\n')
    return toml


def test_ready_when_nothing_deserves_a_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = daytime_campaign(tmp_path)
    leads = tmp_path / "leads.csv"
    leads.write_text(f"phone,timezone\n98123 45678,{daytime_zone()}\n")
    lines = check([str(toml), "--leads", str(leads)], capsys, 0)
    assert "database: none given (--db): every lead counts as new" in lines
    headline = f"{leads}: would import 1 new lead (0 already there, 0 duplicate rows, 0 bad rows)"
    assert headline in lines
    assert lines[-1] == "result: ready"


def stored(db: Path, spec: CampaignSpec, leads: list[Lead]) -> None:
    store = CampaignStore(str(db))
    store.create_campaign(spec, time.time())
    store.add_leads(spec.name, leads, time.time())
    store.close()


def test_a_stored_campaign_is_read_and_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zone = daytime_zone()
    db = tmp_path / "c.db"
    spec = CampaignSpec("c", bot="echo", timezone=zone, default_country="1")
    stored(db, spec, [Lead("+12125550101"), Lead("+12125550102"), Lead("+12125550103")])
    store = CampaignStore(str(db))
    store.add_dnc(["+12125550104"], time.time())  # on the database's list before the import
    store.set_status("c", "paused", time.time())
    store.close()
    leads = tmp_path / "leads.csv"
    leads.write_text(  # a zone of their own: New York's window is not the test's
        "".join(f"{n},{zone}\n" for n in ("phone", *(f"212 555 010{i}" for i in (1, 4, 5, 6))))
        .replace(f"phone,{zone}", "phone,timezone")
    )
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("# the campaign's country: +1\n212 555 0102\n212 555 0106\n")
    before = files(tmp_path)
    lines = check(["c", "--db", str(db), "--leads", str(leads), "--dnc", str(dnc)], capsys, 1)
    assert lines[0].startswith(f"campaign c (stored in {db}): bot_first, ")
    assert lines[1].endswith("numbers written nationally get +1")
    assert lines[3] == f"database {db}: campaign c is stored"
    assert lines[4].startswith("  c: paused (never run); leads 3 (pending 3, in flight 0, ")
    assert lines[5] == "    pending 3: due now 3, waiting 0"
    there = datetime.now(ZoneInfo(zone)).strftime("%H:%M")
    assert lines[6:] == [
        f"  warning: campaign c is paused: voxgate campaign resume c --db {db} to dial",
        f"{leads}: would import 3 new leads (1 already there, 0 duplicate rows, 0 bad rows)",
        "do-not-call list: 2 numbers",
        "  on it: 1 new lead, 1 pending lead of the campaign (never dialled)",
        f"do-not-call list in {db}: 1 new lead on it already (never dialled)",
        "calling windows now: of the 1 new lead to dial, 1 inside their window, 0 waiting",
        f"  {zone}: 1 lead inside the window ({there} there)",
        "result: usable; worth a look: paused",
    ]
    assert files(tmp_path) == before  # not a byte written, no -wal or -shm beside it


def test_what_stands_in_a_runs_way(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "c.db"
    stored(db, CampaignSpec("c", bot="echo", default_country="44"), [])
    store = CampaignStore(str(db))
    store.acquire("c", Lease("other", 4242, "elsewhere"), time.time())  # another dialer runs it
    store.close()
    toml = tmp_path / "c.toml"
    toml.write_text(
        'name = "c"\nbot = "echo"\nmode = "agent_first"\n'
        '[[agents]]\nid = "a1"\nnumber = "+919800000001"\n'
        '[[agents]]\nid = "n1"\nnumber = "+919800000002"\nnailed = true\n'
    )
    lines = check([str(toml), "--db", str(db)], capsys, 1)
    assert lines[0].endswith("bot echo, 2 agents (1 nailed up), up to 20 lines")
    assert (
        "  warning: agent-first with agents not nailed up (a1): each is dialled once a customer "
        "answers, and many calls pass the 2 s abandonment limit (nailed = true keeps an agent "
        "on the line)" in lines
    )
    assert lines[4] == (
        f"database {db}: campaign c is stored; run updates its settings from the file"
    )
    assert lines[5].startswith("  c: running (dialer active, updated ")
    assert re.fullmatch(
        r"  warning: campaign c is already being run by pid 4242 on host elsewhere \(heartbeat "
        r"\d s ago\); stop it first: run is refused until then",
        lines[7],
    )
    assert lines[8:] == [
        "  warning: default_country changes from +44 to +91: the leads already stored keep their "
        "numbers",
        "result: usable; worth a look: agents not nailed up; another dialer runs it; "
        "default_country changes",
    ]


def test_no_caller_id_for_exotel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXOTEL_API_BASE", "https://api.exotel.example")
    toml = tmp_path / "c.toml"
    toml.write_text('name = "c"\nbot = "echo"\n')
    lines = check([str(toml)], capsys, 1)
    assert lines[2] == (
        "  warning: dials Exotel at https://api.exotel.example with no caller id: set exophone in "
        "the campaign file or EXOTEL_EXOPHONE"
    )
    assert lines[-1] == "result: usable; worth a look: no caller id"
    monkeypatch.setenv("EXOTEL_EXOPHONE", "080 4711 2233")
    lines = check([str(toml)], capsys, 0)
    assert lines[2] == "  dials Exotel at https://api.exotel.example; caller id 08047112233"


def test_many_bad_rows_and_lines_are_counted_after_the_first_20(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = daytime_campaign(tmp_path)
    leads = tmp_path / "leads.csv"
    leads.write_text("phone\n" + "bad\n" * 25 + "98123 45678\n")
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("x\n" * 22)
    lines = check([str(toml), "--leads", str(leads), "--dnc", str(dnc)], capsys, 1)
    assert lines.count("  line 2: bad phone number 'bad'") == 1
    assert "  line 21: bad phone number 'bad'" in lines
    assert "  line 22: bad phone number 'bad'" not in lines
    assert "  ... and 5 more bad rows" in lines
    assert "do-not-call list: 0 numbers (22 bad lines skipped)" in lines
    assert "  ... and 2 more bad lines" in lines
    assert lines[-1] == (
        f"result: usable; worth a look: 25 bad rows in {leads}; 22 bad lines in {dnc}"
    )


def test_errors_are_run_s_and_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('name = "c"\nbot = "echo"\ndefault_country = "USA"\n')
    db = tmp_path / "c.db"
    err = error([str(toml), "--db", str(db)], capsys)
    assert err == (
        f'voxgate campaign: {toml}: default_country: must be a country calling code such as "1" '
        "or \"+44\" (a string of 1-3 digits), got 'USA'"
    )
    assert main(["campaign", "run", str(toml), "--db", str(db)]) == 2
    assert capsys.readouterr().err == err + "\n"  # the same line as run's
    toml.write_text('name = "c"\nbot = "echo"\n')
    err = error([str(toml), "--leads", str(tmp_path / "none.csv")], capsys)
    assert err == f"voxgate campaign: {tmp_path / 'none.csv'}: no such file"
    err = error(["c"], capsys)
    assert err == (
        "voxgate campaign: c: no such campaign file (the name of a stored campaign needs --db)"
    )
    err = error(["c", "--db", str(db)], capsys)
    assert err.startswith(f"voxgate campaign: no campaign database at {db} (CAMPAIGN is ")
    err = error([str(toml), "--db", "/nonexistent/dir/c.db"], capsys)
    assert err == (
        "voxgate campaign: cannot open database /nonexistent/dir/c.db: no such directory "
        "'/nonexistent/dir'"
    )
    err = error([str(toml), "--db", str(toml)], capsys)
    assert err == f"voxgate campaign: cannot open database {toml}: file is not a database"
    stored(db, campaign_from_toml('name = "other"'), [])
    err = error(["c", "--db", str(db)], capsys)
    assert err == "voxgate campaign: no campaign named 'c'"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db", "c.toml"]


def test_agents_and_their_skills(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "c.toml"
    agent = '[[agents]]\nid = "a1"\nnumber = "+919800000001"\nskills = ["sales"]\nnailed = true\n'
    toml.write_text('name = "c"\nbot = "echo"\nskills = ["billing"]\n' + agent)
    lines = check([str(toml)], capsys, 1)
    assert (
        "  warning: no agent has the skills billing asked for by the campaign's skills (press 0, "
        "bot failure, a transfer naming none); agents: a1 (sales): each such escalation fails "
        "(no_agent:skill), the customer hears the fallback and the call counts as abandoned"
    ) in lines
    assert lines[-1] == "result: usable; worth a look: no agent has the skills billing"
    toml.write_text('name = "c"\nbot = "echo"\nskills = ["sales"]\n' + agent)
    assert check([str(toml)], capsys, 0)[-1] == "result: ready"
    toml.write_text('name = "c"\nbot = "echo"\nmode = "agent_first"\npacer = "progressive"\n')
    lines = check([str(toml)], capsys, 1)
    assert lines[-1] == "result: usable; worth a look: no agents"
    toml.write_text('name = "c"\nbot = "echo"\n')  # a bot-first campaign may be the bot's alone
    assert check([str(toml)], capsys, 0)[-1] == "result: ready"
