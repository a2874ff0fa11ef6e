"""``voxgate campaign check`` as a user runs it, in a child process: before a first run (the
database is not created), while another process runs the campaign (read through its write-ahead
log; the lease holder is named), and after it (not a byte of the database changes)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from campaign_process import CAMPAIGN_TOML, sim_env, start
from test_campaign_lease import sim_config
from test_campaign_signals import until_dialling

from dialer.campaign.store import CampaignStore
from exotel_sim.server import SimServer

LEADS = "phone,name\n" + "".join(f"+9199000004{i:02d},L{i}\n" for i in range(30))


async def check(args: list[str], env: dict[str, str]) -> tuple[int, list[str], str]:
    """``voxgate campaign check ARGS`` in a child process: exit code, output lines, stderr."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voxgate.cli",
        "campaign",
        "check",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await child.communicate()
    assert child.returncode is not None
    return child.returncode, out.decode().splitlines(), err.decode()


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in ``directory``: its bytes and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def no_exotel() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EXOTEL_")}


async def test_check_before_the_first_run_creates_no_database(tmp_path: Path) -> None:
    toml = tmp_path / "restart.toml"
    toml.write_text(CAMPAIGN_TOML)
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS + "099000 00400,national duplicate\nnot a phone,X\n")
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("09900000401\n")  # national, with the trunk prefix: L1's number
    db = tmp_path / "c.db"
    before = snapshot(tmp_path)
    args = [str(toml), "--leads", str(leads), "--dnc", str(dnc), "--db", str(db)]
    code, lines, err = await check(args, no_exotel())
    assert (code, err) == (1, "")
    assert lines[0] == (
        f"campaign restart ({toml}): bot_first, pacer bot_first, bot echo, 3 agents "
        "(0 nailed up), up to 3 lines"
    )
    assert lines[3:9] == [
        f"database {db}: does not exist yet; run creates it",
        f"{leads}: would import 30 new leads (0 already there, 1 duplicate row, 1 bad row)",
        "  line 33: bad phone number 'not a phone'",
        "do-not-call list: 1 number",
        "  on it: 1 new lead (never dialled)",
        "calling windows now: of the 29 new leads to dial, 29 inside their window, 0 waiting",
    ]
    assert lines[-1] == (
        f"result: usable; worth a look: 1 bad row in {leads}; 1 duplicate row in {leads}"
    )
    assert snapshot(tmp_path) == before


@pytest.mark.slow(10)
async def test_check_while_another_process_runs_the_campaign_and_after(tmp_path: Path) -> None:
    toml = tmp_path / "restart.toml"
    toml.write_text(CAMPAIGN_TOML)
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS)
    more = tmp_path / "more.csv"
    more.write_text("phone\n099000 00400\n+919900000499\n")  # L0 again (national), one new
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("+919900000429\n")  # the last lead: pending when the run stops
    db = tmp_path / "c.db"
    log = tmp_path / "run.log"
    args = ["restart", "--db", str(db), "--leads", str(more), "--dnc", str(dnc)]
    async with SimServer(sim_config()) as sim:
        env = sim_env(sim)
        run = await start(
            [str(toml), "--leads", str(leads), "--db", str(db), "--keep-running"], env, log
        )
        await until_dialling(db)
        code, lines, err = await check(args, env)
        run.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            stopped = await run.wait()
    assert stopped == 0, log.read_text()
    assert (code, err) == (1, ""), lines
    assert lines[0].startswith(f"campaign restart (stored in {db}): bot_first, ")
    assert lines[2] == f"  dials Exotel at {sim.api_base}; caller id +918000000000"
    assert lines[3] == f"database {db}: campaign restart is stored"
    assert lines[4].startswith("  restart: running (dialer active, updated ")
    assert any(
        line.startswith(f"  warning: campaign restart is already being run by pid {run.pid} ")
        and line.endswith("stop it first: run is refused until then")
        for line in lines
    ), lines
    assert f"{more}: would import 1 new lead (1 already there, 0 duplicate rows, 0 bad rows)" in (
        lines
    )
    assert "do-not-call list: 1 number" in lines
    assert lines[-1] == "result: usable; worth a look: another dialer runs it"
    store = CampaignStore(str(db))
    assert store.stats("restart", 0.0).leads == 30  # the check imported nothing
    assert not store.on_dnc("+919900000429")
    store.close()
    # the run has exited and closed the database: a check now writes nothing, beside it neither
    before = snapshot(tmp_path)
    assert not any(name.endswith(("-wal", "-shm")) for name in before), list(before)
    code, lines, err = await check(args, sim_env(sim))
    assert (code, err) == (0, ""), lines
    assert "  on it: 0 new leads, 1 pending lead of the campaign (never dialled)" in lines
    assert lines[-1] == "result: ready"
    assert snapshot(tmp_path) == before
