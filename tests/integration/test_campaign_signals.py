"""``voxgate campaign run`` in a child process stopped by a signal: the first SIGINT or SIGTERM
stops new dials and lets calls in flight finish, a second one quits at once (the next run
settles what was in flight); and a second ``run`` refused by the lease changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
from pathlib import Path

import pytest
from campaign_process import CAMPAIGN_TOML, attempt_states, sim_env, start
from test_campaign_lease import sim_config

from dialer.campaign.store import CampaignStore
from exotel_sim.server import SimServer

LEADS = "phone,name\n" + "".join(f"+9199000005{i:02d},L{i}\n" for i in range(12))


async def until_dialling(db: Path) -> None:
    """Until the child has an attempt in flight (another process's state: polled)."""
    async with asyncio.timeout(30):
        while True:
            if "dialing" in attempt_states(db).values():
                return
            await asyncio.sleep(0.05)


def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    toml, leads = tmp_path / "restart.toml", tmp_path / "leads.csv"
    toml.write_text(CAMPAIGN_TOML)
    leads.write_text(LEADS)
    return toml, leads, tmp_path / "c.db"


async def test_a_signal_stops_new_dials_and_lets_calls_in_flight_finish(tmp_path: Path) -> None:
    toml, leads, db = files(tmp_path)
    log = tmp_path / "run.log"
    async with SimServer(sim_config()) as sim:
        child = await start([str(toml), "--leads", str(leads), "--db", str(db)], sim_env(sim), log)
        await until_dialling(db)
        child.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await child.wait()
    text = log.read_text()
    assert code == 0, text
    assert "SIGTERM: no new dials; calls in flight finish" in text, text
    assert "(stopped by SIGTERM)" in text and "Traceback" not in text, text
    store = CampaignStore(str(db))
    attempts = store.attempts("restart")
    assert attempts and {a["state"] for a in attempts} == {"done"}  # none left to recover
    stats = store.stats("restart", 0.0)
    assert stats.pending > 0  # it stopped dialling: leads are left for the next run
    assert store.owner("restart") is None  # the lease is released


async def test_a_second_signal_quits_at_once_and_the_next_run_settles_the_calls(
    tmp_path: Path,
) -> None:
    toml, leads, db = files(tmp_path)
    log = tmp_path / "run.log"
    async with SimServer(sim_config()) as sim:
        env = sim_env(sim)
        child = await start([str(toml), "--leads", str(leads), "--db", str(db)], env, log)
        await until_dialling(db)
        child.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):  # signals are not queued: one at a time
            while True:
                if "SIGINT: no new dials" in log.read_text():
                    break
                await asyncio.sleep(0.02)
        child.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            code = await child.wait()
        text = log.read_text()
        assert code == 130, text
        assert "SIGINT: quitting now" in text and "Traceback" not in text, text
        assert "dialing" in attempt_states(db).values()  # left in flight
        again = await start(["restart", "--db", str(db), "--max-seconds", "0"], env, log)
        async with asyncio.timeout(60):
            assert await again.wait() == 0, log.read_text()
    assert "dialing" not in attempt_states(db).values()  # settled by the next run


@pytest.mark.slow(5)
async def test_a_refused_run_does_not_change_the_campaign(tmp_path: Path) -> None:
    toml, leads, db = files(tmp_path)
    more = tmp_path / "more.csv"
    more.write_text("phone\n+919900000499\n")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    async with SimServer(sim_config()) as sim:
        env = sim_env(sim)
        # --keep-running: the first run holds the lease however long the second takes to start
        # (under load it used to finish its 12 leads and let the second one in)
        first = await start([str(toml), "--leads", str(leads), "--db", str(db), "--keep-running"],
                            env, first_log)
        await until_dialling(db)
        edited = tmp_path / "edited.toml"
        edited.write_text(CAMPAIGN_TOML.replace("max_lines = 3", "max_lines = 1"))
        second = await start([str(edited), "--leads", str(more), "--db", str(db)], env, second_log)
        async with asyncio.timeout(60):
            refused = await second.wait()
            first.send_signal(signal.SIGTERM)
            await first.wait()
    assert refused == 2, second_log.read_text()
    assert "is already being run by pid" in second_log.read_text()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        phones = {row[0] for row in conn.execute("SELECT phone FROM leads")}
    assert "+919900000499" not in phones and len(phones) == 12
    assert CampaignStore(str(db)).campaign("restart").limits.max_lines == 3
