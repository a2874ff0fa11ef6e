"""``voxgate campaign run`` in a child process against an emulator the test runs: shared by the
campaign tests that kill, restart or double-start the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from exotel_sim.server import SimServer

CAMPAIGN_TOML = """
name = "restart"
mode = "bot_first"
bot = "echo"
pacer = "bot_first"
amd = false
[window]
start = "00:00"
end = "24:00"
[limits]
max_attempts = 3
max_attempts_per_day = 3
max_lines = 3
[retry]
busy = 0.5
interrupted = 0.5
[[agents]]
id = "a1"
number = "+919800000001"
[[agents]]
id = "a2"
number = "+919800000002"
[[agents]]
id = "a3"
number = "+919800000003"
"""
"""A bot-first campaign named ``restart``: calls at any hour, three agents, three lines."""


def first_run(tmp_path: Path, phones: list[str]) -> tuple[list[str], Path, Path]:
    """The ``restart`` campaign's TOML and a CSV of ``phones`` written in ``tmp_path``: the
    first run's arguments, its database and its log."""
    toml = tmp_path / "restart.toml"
    toml.write_text(CAMPAIGN_TOML)
    leads = tmp_path / "leads.csv"
    leads.write_text("phone,name\n" + "".join(f"{p},L{i}\n" for i, p in enumerate(phones)))
    db = tmp_path / "campaign.db"
    return [str(toml), "--leads", str(leads), "--db", str(db)], db, tmp_path / "run.log"


def sim_env(sim: SimServer) -> dict[str, str]:
    """The environment that points a child ``voxgate`` at ``sim``."""
    return {
        **os.environ,
        "EXOTEL_API_BASE": sim.api_base,
        "EXOTEL_ACCOUNT_SID": sim.account_sid,
        "EXOTEL_API_KEY": sim.api_key,
        "EXOTEL_API_TOKEN": sim.api_token,
        "EXOTEL_EXOPHONE": "+918000000000",
    }


async def start(args: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """``voxgate campaign run ARGS`` in a child process, its output appended to ``log``."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "voxgate.cli",
            "--log-level",
            "WARNING",
            "campaign",
            "run",
            *args,
            env=env,
            stdout=out,
            stderr=out,
        )


async def kill(process: asyncio.subprocess.Process, db: Path) -> list[str]:
    """SIGKILL ``process``; returns the call ids of the attempts it left ``dialing``."""
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    return [call_id for call_id, state in attempt_states(db).items() if state == "dialing"]


async def rerun(db: Path, env: dict[str, str], log: Path) -> int:
    """``voxgate campaign run restart --db DB`` to its end; returns its exit code."""
    second = await start(["restart", "--db", str(db)], env, log)
    async with asyncio.timeout(60):
        return await second.wait()


async def until(ready: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Poll ``ready`` (another process's state: there is no event to wait on)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if ready():
                return
            await asyncio.sleep(0.02)


def attempt_states(db: Path) -> dict[str, str]:
    """Call id -> attempt state, read from another process's database (empty before it exists)."""
    if not db.exists():
        return {}
    # closed here, not left to the garbage collector: a connection still open in this process
    # keeps the -wal and -shm files beside the database after the other process closed it
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        try:
            return dict(conn.execute("SELECT call_id, state FROM attempts").fetchall())
        except sqlite3.OperationalError:  # schema not created yet
            return {}
