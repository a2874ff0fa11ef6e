"""The dashboard's pure parts (issue 18): password hashes, sessions' idle and absolute expiry,
login throttling, the live snapshot's figures, the users file's mode, and the agent pool's
logout."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dialer.agents import AgentPool, AgentState
from dialer.campaign.progress import CampaignSnapshot
from dialer.campaign.store.types import CampaignStats
from dialer.web.sessions import SessionStore, Throttle
from dialer.web.snapshot import CampaignView, live_snapshot
from dialer.web.users import User, UsersError, check_password, hash_password, load_users, save_users


def test_passwords_are_salted_scrypt_hashes() -> None:
    one, two = hash_password("a long password"), hash_password("a long password")
    assert one != two and one.startswith("scrypt$") and "a long password" not in one
    assert check_password(one, "a long password") and not check_password(one, "a long passwore")
    assert not check_password("plain", "plain") and not check_password("scrypt$x$y", "x")
    with pytest.raises(UsersError, match="at least 8"):
        hash_password("short")


def test_users_file_is_private_and_roles_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    save_users(path, {"sup": User("sup", "supervisor", "h"), "ann": User("ann", "agent", "h",
                                                                        "a1")})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_users(path)["ann"].agent_id == "a1"
    with pytest.raises(UsersError, match="agent-id"):
        User("bob", "agent", "h")
    with pytest.raises(UsersError, match="role"):
        User("bob", "admin", "h")
    path.write_text("{not json")
    with pytest.raises(UsersError, match="cannot read"):
        load_users(path)


def test_sessions_expire_when_idle_and_absolutely() -> None:
    now = [0.0]
    store = SessionStore(lambda: now[0], idle_s=10, absolute_s=25)
    s = store.create("sup", "supervisor")
    assert s.sid != s.csrf and len(s.sid) >= 40
    now[0] = 9
    assert store.get(s.sid) is s
    now[0] = 18  # 9 s idle: still alive
    assert store.get(s.sid) is s
    now[0] = 26  # past the absolute limit although active
    assert store.get(s.sid) is None
    idle = store.create("sup", "supervisor")
    now[0] = 37
    assert store.get(idle.sid) is None and len(store) == 0
    assert store.get("made-up") is None


def test_throttle_locks_a_key_after_repeated_failures() -> None:
    t = Throttle(max_failures=3, window_s=60, lockout_s=100)
    keys = ("user:sup", "ip:1.2.3.4")
    for at in (0, 1):
        t.failed(keys, at)
    assert t.locked(keys, 2) == 0
    t.failed(keys, 2)
    assert t.locked(keys, 2) == 100 and t.locked(("user:sup",), 50) == 52
    assert t.locked(("user:other",), 50) == 0
    assert t.locked(keys, 102) == 0
    t.failed(("user:x",), 0)
    t.failed(("user:x",), 61)  # the first is out of the window
    t.failed(("user:x",), 62)
    assert t.locked(("user:x",), 62) == 0


def test_a_logged_out_agent_is_not_offered_until_logged_in() -> None:
    pool = AgentPool(wrap_up_seconds=5)
    pool.add("a1", "+1")
    pool.add("a2", "+2")
    assert pool.log_out("a1") is AgentState.IDLE and pool.get("a1").state is AgentState.OFFLINE
    got = pool.acquire((), call_id="c", now=1)
    assert got is not None and got.agent_id == "a2"
    pool.log_out("a2")  # on a call: offline once released, not wrap-up
    assert pool.get("a2").state is AgentState.RINGING
    pool.release("a2", wrap_up=True, now=2)
    assert pool.get("a2").state is AgentState.OFFLINE and pool.acquire((), now=3) is None
    assert pool.log_in("a1", now=4) and pool.acquire((), now=5) is pool.get("a1")


def _stats(**kw: object) -> CampaignStats:
    base = dict(status="paused", leads=10, pending=6, in_flight=0, done=4, attempts=8,
                answered=6, escalated=2, abandoned=1, rate_24h=0.05, rate_30d=0.01,
                connected=1)
    base.update(kw)
    return CampaignStats(**base)  # type: ignore[arg-type]


def test_the_live_snapshot_figures() -> None:
    pool = AgentPool()
    pool.add("a1", "+1", now=0)
    pool.add("a2", "+2", now=0)
    pool.add("n1", "+3", nailed=True, now=0)
    pool.acquire((), call_id="c1", now=100)
    pool.mark_talking("a1", now=100)
    live = CampaignSnapshot(campaign="run", status="running", elapsed_s=3600, leads=20, done=5,
                            pending=15, in_flight=3, attempts=10, answered=4, escalated=2,
                            bridged=1, abandoned=0, abandon_rate_24h=0.01,
                            abandon_rate_30d=0.02, occupancy=0.5, waiting_for_agent=1,
                            longest_wait_s=3.25)
    snap = live_snapshot(
        campaigns=[CampaignView("run", 0.03, "predictive", live=live, aim=0.02),
                   CampaignView("old", 0.03, "progressive", stats=_stats())],
        agents=pool.agents, since={"a1": 100.0}, paused={"a2": "lunch"},
        stages=["bridged", "bot", "bridged"], now=1900.0, started=100.0, wall=1e9)
    run, old = snap["campaigns"]
    assert run["running"] and run["aim"] == 0.02 and run["progress"] == 0.25
    assert run["answer_rate"] == 0.4 and run["dial_level"] == 3.0  # a1 only is logged in
    assert run["escalation_wait_s"] == 3.2 and not run["over_cap"]
    assert run["talk_min_per_agent_hour"] == 60.0  # a1 talked all 30 min of 0.5 agent hours
    assert old["status"] == "paused" and old["bridged"] == 1 and old["over_cap"]
    assert old["answer_rate"] == 0.75 and old["dial_level"] == 0.0
    rows = {a["id"]: a for a in snap["agents"]}
    assert rows["a1"]["state"] == "talking" and rows["a1"]["seconds"] == 1800
    assert rows["a1"]["call_id"] == "c1" and rows["a1"]["talk_s"] == 1800.0
    assert rows["a2"]["state"] == "paused" and rows["a2"]["reason"] == "lunch"
    assert rows["n1"]["state"] == "offline" and rows["n1"]["nailed"]
    assert rows["a2"]["seconds"] == 1800  # since the start when no change was seen
    assert snap["stages"] == {"bot": 1, "bridged": 2} and snap["logged_in"] == 1


def test_users_cli_reads_the_password_from_stdin_never_argv(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from voxgate.cli import main

    path = tmp_path / "users.json"
    monkeypatch.setenv("VOXGATE_USERS", str(path))
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret password\n"))
    assert main(["users", "add", "ann", "--role", "agent", "--agent-id", "a1"]) == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "s3cret" not in path.read_text()
    assert check_password(load_users(path)["ann"].password_hash, "s3cret password")
    monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
    assert main(["users", "add", "bob", "--role", "agent"]) == 1  # no agent id
    assert "agent-id" in capsys.readouterr().err
    assert main(["users", "list"]) == 0
    assert capsys.readouterr().out.split() == ["ann", "agent", "a1"]
    assert main(["users", "remove", "ann"]) == 0 and load_users(path) == {}


def test_sessions_and_throttle_stay_bounded() -> None:
    now = [0.0]
    store = SessionStore(lambda: now[0], idle_s=10, absolute_s=100)
    for _ in range(50):
        store.create("sup", "supervisor")
    now[0] = 20
    store.create("sup", "supervisor")
    assert len(store) == 1  # the 50 nobody came back for are gone
    t = Throttle(max_failures=3, window_s=60, lockout_s=100, max_keys=100)
    for i in range(1000):  # a guesser cycling addresses
        t.failed((f"ip:10.0.{i // 250}.{i % 250}",), float(i))
    assert len(t._failures) + len(t._locked_until) <= 100
    for _ in range(3):
        t.failed(("user:sup",), 1000.0)
    assert t.locked(("user:sup",), 1000.0) == 100  # still locks
