"""``voxgate demo`` end to end, as a process: a short bot-first campaign on loopback (emulator,
gateway, dialer), its live view, its summary, its database, and a quiet console."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from dialer.campaign.store import CampaignStore
from dialer.records import RecordStore


@pytest.mark.slow(25)
async def test_demo_runs_a_bot_first_campaign_and_sums_it_up(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    # 7 leads: every kind once or twice (chat, human x2, early, busy, no answer, machine);
    # short talk, ring and retry times keep it quick (the defaults make it about a minute).
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "demo", "--calls", "7", "--agents", "2",
        "--nailed", "1", "--talk", "0.5", "--ring", "3", "--retry-after", "0.5",
        "--bot", "echo", "--seed", "7", "--db", str(db),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out_b, err_b = await proc.communicate()
    out, err = out_b.decode(), err_b.decode()
    assert proc.returncode == 0, out + err
    assert err == ""  # WARNING by default and nothing went wrong: no log lines at all
    assert out.splitlines()[0] == "mode: emulator"  # always, with no flag
    # the live view (a pipe: one line per second) and the closing summary
    views = [line for line in out.splitlines() if line.startswith("[demo ")]
    assert len(views) >= 2 and "leads done 7/7" in views[-1]
    assert "in flight" in views[0] and "agent occupancy" in views[0]
    match = re.search(r"campaign demo: 7/7 leads done in (\d+) attempts", out)
    assert match is not None, out
    attempts = int(match.group(1))
    assert attempts == 9  # busy and no-answer leads were retried once
    for disposition in ("agent_handled", "busy", "no_answer", "machine", "customer_hangup"):
        assert re.search(rf"^  {disposition} +\d+$", out, re.M), (disposition, out)
    assert "escalation -> bridge" in out and "answer -> stream started" in out
    # the campaign and the call records are in the database
    store = CampaignStore(str(db))
    try:
        leads = store.leads("demo")
        assert len(leads) == 7 and all(lead["state"] == "done" for lead in leads)
        assert len(store.attempts("demo")) == attempts
    finally:
        store.close()
    records = RecordStore(str(db))
    try:
        recs = list(records.records())
    finally:
        records.close()
    assert len(recs) == attempts
    assert {r.custom["kind"] for r in recs} == {
        "chat", "human", "early", "busy", "no_answer", "machine"
    }
    machine = [r for r in recs if r.custom["kind"] == "machine"]
    assert machine and all(r.disposition == "machine" for r in machine)
    humans = [r for r in recs if r.custom["kind"] == "human"]
    assert humans and all(r.bridged for r in humans)


async def test_demo_refuses_an_existing_database(tmp_path: Path) -> None:
    db = tmp_path / "taken.db"
    db.write_text("not mine")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "demo", "--db", str(db),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    assert proc.returncode == 2 and b"exists" in err
    assert db.read_text() == "not mine"
