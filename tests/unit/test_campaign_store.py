"""The campaign store: claiming order, compliance on claim, results and retries, recovery."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialer.campaign.leads_csv import parse_leads
from dialer.campaign.model import AgentSpec, CampaignError, CampaignSpec, Lead, Limits, Outcome
from dialer.campaign.progress import HEARTBEAT_STALE_S, status_lines
from dialer.campaign.store import (
    LEAD_COLUMNS,
    AttemptResult,
    CampaignBusy,
    CampaignStore,
    Lease,
    pid_alive,
)

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp()


def make_store(url: str, **spec_kwargs: object) -> CampaignStore:
    store = CampaignStore(url)
    settings: dict[str, object] = {
        "limits": Limits(max_attempts=3, max_attempts_per_day=2),
        "retry": {"busy": 60.0, "no_answer": 600.0, "interrupted": 30.0},
        "agents": (AgentSpec("a1", "+919800000001", ("sales",)),),
    }
    settings.update(spec_kwargs)
    spec = CampaignSpec("c1", **settings)  # type: ignore[arg-type]
    store.create_campaign(spec, NOON)
    return store


def test_campaign_settings_agents_and_status(store_url: str) -> None:
    store = make_store(store_url)
    assert store.campaigns() == ["c1"]
    assert store.campaign("c1").retry["busy"] == 60.0
    assert store.agents("c1") == [AgentSpec("a1", "+919800000001", ("sales",))]
    assert store.status("c1") == "running"
    store.set_status("c1", "paused", NOON)
    assert store.status("c1") == "paused"
    with pytest.raises(CampaignError):
        store.set_status("c1", "sleeping", NOON)
    with pytest.raises(CampaignError):
        store.set_status("nope", "paused", NOON)
    with pytest.raises(CampaignError):
        store.status("nope")
    with pytest.raises(CampaignError):
        store.campaign("nope")


def test_claims_follow_priority_then_due_and_commit_the_attempt_first(store_url: str) -> None:
    store = make_store(store_url)
    added = store.add_leads(
        "c1",
        [Lead("9800000010"), Lead("9800000011", priority=5), Lead("9800000012", priority=5)],
        NOON,
    )
    assert added == 3
    assert store.add_leads("c1", [Lead("9800000010")], NOON) == 0  # same phone: skipped
    claims = [store.claim_next("c1", NOON) for _ in range(4)]
    assert [c.phone if c else None for c in claims] == [
        "+919800000011",
        "+919800000012",
        "+919800000010",
        None,
    ]
    first = claims[0]
    assert first is not None and first.call_id == f"c1-{first.lead_id}-1"
    # a second connection sees the attempt committed before any dial
    other = CampaignStore(store.path)
    assert [a["state"] for a in other.attempts("c1")] == ["dialing"] * 3
    assert set(other.in_flight("c1")) == {c.call_id for c in claims if c}


def test_dnc_is_scrubbed_at_claim_time_and_window_makes_leads_wait(store_url: str) -> None:
    store = make_store(store_url)
    store.add_leads(
        "c1",
        [Lead("9800000020"), Lead("+14155550100", timezone="America/Los_Angeles")],
        NOON - 7200,
    )
    store.add_dnc(["+919800000020"], NOON, "asked")
    # noon in India is 22:30 in California: outside its window
    assert store.claim_next("c1", NOON) is None
    leads = {lead["phone"]: lead for lead in store.leads("c1")}
    assert leads["+919800000020"]["state"] == "dnc"
    waiting = leads["+14155550100"]
    assert waiting["state"] == "pending" and waiting["due_at"] > NOON
    claim = store.claim_next("c1", waiting["due_at"])
    assert claim is not None and claim.timezone == "America/Los_Angeles"


def test_results_schedule_retries_and_end_leads(store_url: str) -> None:
    store = make_store(store_url)
    store.add_leads("c1", [Lead("9800000030", custom={"plan": "gold"})], NOON)
    claim = store.claim_next("c1", NOON)
    assert claim is not None and claim.custom == {"plan": "gold"}
    store.finish_attempt(claim.call_id, AttemptResult(Outcome.BUSY, "busy"), NOON + 5)
    lead = store.leads("c1")[0]
    assert (lead["state"], lead["due_at"], lead["last_outcome"]) == ("pending", NOON + 65, "busy")
    assert store.claim_next("c1", NOON + 10) is None  # not due yet
    second = store.claim_next("c1", NOON + 70)
    assert second is not None and second.attempt_no == 2
    # two attempts today: the daily limit holds the lead until tomorrow's window
    store.finish_attempt(second.call_id, AttemptResult(Outcome.BUSY, "busy"), NOON + 75)
    assert store.claim_next("c1", NOON + 200) is None
    tomorrow = store.leads("c1")[0]["due_at"]
    assert tomorrow > NOON + 12 * 3600
    third = store.claim_next("c1", tomorrow)
    assert third is not None and third.attempt_no == 3
    record = {"call_id": third.call_id, "disposition": "bot_completed"}
    result = AttemptResult(Outcome.COMPLETED, "bot_completed", live=True, record=record)
    store.finish_attempt(third.call_id, result, tomorrow + 60)
    store.finish_attempt(third.call_id, result, tomorrow + 61)  # recorded twice: no-op
    lead = store.leads("c1")[0]
    assert (lead["state"], lead["final_reason"]) == ("done", "completed")
    assert store.call_record(third.call_id) == record
    assert store.call_record("nope") is None
    with pytest.raises(CampaignError):
        store.finish_attempt("nope", result, NOON)


def test_attempt_limit_and_final_outcomes(store_url: str) -> None:
    store = make_store(store_url, limits=Limits(max_attempts=1))
    store.add_leads("c1", [Lead("9800000040"), Lead("9800000041")], NOON)
    a = store.claim_next("c1", NOON)
    b = store.claim_next("c1", NOON)
    assert a is not None and b is not None
    store.finish_attempt(a.call_id, AttemptResult(Outcome.BUSY, "busy"), NOON)
    store.finish_attempt(b.call_id, AttemptResult(Outcome.MACHINE, "machine"), NOON)
    reasons = {lead["phone"]: lead["final_reason"] for lead in store.leads("c1")}
    assert reasons == {"+919800000040": "max_attempts", "+919800000041": "machine"}


def test_recover_settles_dialing_attempts_from_records_or_as_interrupted(store_url: str) -> None:
    store = make_store(store_url)
    store.add_leads("c1", [Lead("9800000050"), Lead("9800000051")], NOON)
    a = store.claim_next("c1", NOON)
    b = store.claim_next("c1", NOON)
    assert a is not None and b is not None
    store.close()  # the process dies here

    reopened = CampaignStore(store_url)
    known = {a.call_id: AttemptResult(Outcome.ESCALATED, "agent_handled", live=True)}
    found, lost = reopened.recover("c1", NOON + 100, known.get)
    assert (found, lost) == (1, 1)
    assert reopened.in_flight("c1") == []
    states = {x["call_id"]: (x["state"], x["outcome"]) for x in reopened.attempts("c1")}
    assert states == {a.call_id: ("done", "escalated"), b.call_id: ("interrupted", "interrupted")}
    # the interrupted lead comes back as a new attempt, never the same one
    again = reopened.claim_next("c1", NOON + 200)
    assert again is not None and again.lead_id == b.lead_id and again.attempt_no == 2


def test_stats_and_ledger_count_live_answers_and_abandons(store_url: str) -> None:
    store = make_store(store_url)
    store.add_leads("c1", [Lead(f"98000000{i:02d}") for i in range(60, 64)], NOON)
    outcomes = [
        AttemptResult(Outcome.COMPLETED, "bot_completed", live=True),
        AttemptResult(Outcome.ESCALATED, "agent_handled", live=True, escalated=True),
        AttemptResult(Outcome.ABANDONED, "abandoned", live=True, abandoned=True),
        AttemptResult(Outcome.MACHINE, "machine"),
    ]
    for result in outcomes:
        claim = store.claim_next("c1", NOON)
        assert claim is not None
        store.finish_attempt(claim.call_id, result, NOON + 1)
    stats = store.stats("c1", NOON + 2)
    assert (stats.leads, stats.attempts, stats.answered, stats.escalated, stats.abandoned) == (
        4,
        4,
        3,
        1,
        1,
    )
    assert stats.rate_24h == pytest.approx(1 / 3) and stats.rate_30d == pytest.approx(1 / 3)
    assert stats.done == 4 and stats.pending == 0  # abandoned has no retry delay here: final
    assert store.ledger("c1", NOON + 40 * 86400).view(NOON + 40 * 86400).live_30d == 0
    exported = store.export_csv("c1").splitlines()
    assert exported[0].startswith("phone,name,timezone,priority,state,attempts,last_outcome")
    assert len(exported) == 5


def test_nailed_agents_round_trip_and_old_databases_gain_the_column(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE agents (campaign TEXT NOT NULL, id TEXT NOT NULL, number TEXT "
        "NOT NULL, skills TEXT NOT NULL DEFAULT '', PRIMARY KEY (campaign, id))"
    )
    old.execute("INSERT INTO agents VALUES ('c', 'a0', '+919800000009', '')")
    old.commit()
    old.close()
    store = CampaignStore(path)
    spec = CampaignSpec(
        "c",
        agents=(
            AgentSpec("n1", "+919800000001", ("sales",), nailed=True),
            AgentSpec("a2", "+919800000002"),
        ),
    )
    store.create_campaign(spec, 0.0)
    agents = {a.id: a for a in store.agents("c")}
    assert agents["n1"].nailed and not agents["a2"].nailed
    assert "a0" not in agents  # not in the spec any more: the table matches the spec
    assert store.campaign("c").agents == spec.agents
    store.close()


def at(day: int, hour: int, minute: int = 0, zone: str = "Asia/Kolkata") -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()


def test_pending_leads_split_into_due_now_and_waiting(store_url: str) -> None:
    store = make_store(store_url)  # Asia/Kolkata, window 09:00-21:00 in each lead's zone
    store.add_leads(
        "c1",
        [
            Lead("9800000070"),
            Lead("+14155550170", timezone="America/Los_Angeles"),
            Lead("9800000071"),
            Lead("9800000072"),
        ],
        NOON,
    )
    la_opening = at(21, 9, zone="America/Los_Angeles")  # noon in India is 22:30 there
    # before the dialer has looked at any lead: the window alone makes the US lead wait
    split = store.pending("c1", NOON)
    assert (split.due_now, split.waiting, split.next_due_at) == (3, 1, la_opening)
    first = store.claim_next("c1", NOON)
    assert first is not None and first.phone == "+919800000070"
    store.finish_attempt(first.call_id, AttemptResult(Outcome.BUSY, "busy"), NOON + 5)
    second = store.claim_next("c1", NOON + 6)  # the claim moves the US lead's due time
    assert second is not None and second.phone == "+919800000071"
    assert store.leads("c1")[1]["due_at"] == la_opening
    # a retry delay (busy: 60 s) and a calling window; a lead in flight is not pending
    split = store.pending("c1", NOON + 10)
    assert (split.due_now, split.waiting, split.next_due_at) == (1, 2, NOON + 65)
    assert split.pending == store.stats("c1", NOON + 10).pending == 3
    # 23:00 in India, 09:30 in California: the US lead is due, the Indian ones wait for 09:00
    night = at(21, 23)
    split = store.pending("c1", night)
    assert (split.due_now, split.waiting, split.next_due_at) == (1, 2, at(22, 9))
    assert store.pending("c1", at(22, 9)).due_now == 3
    # reading the split changes nothing
    assert [lead["due_at"] for lead in store.leads("c1")] == [NOON + 65, la_opening, NOON, NOON]


def test_heartbeat_says_whether_a_dialer_is_attached(store_url: str) -> None:
    store = make_store(store_url)
    stats = store.stats("c1", NOON)
    assert (stats.heartbeat_at, stats.last_seen_at) == (None, None)  # never run
    store.heartbeat("c1", NOON)
    store.heartbeat("c1", NOON + 2)
    other = CampaignStore(store.path)  # what `voxgate campaign status` opens
    stats = other.stats("c1", NOON + 3)
    assert (stats.heartbeat_at, stats.last_seen_at) == (NOON + 2, NOON + 2)
    store.detach("c1", NOON + 4)  # a clean exit
    stats = other.stats("c1", NOON + 5)
    assert (stats.heartbeat_at, stats.last_seen_at) == (None, NOON + 4)
    assert stats.status == "running"  # the intent is unchanged


OLD_CAMPAIGNS = """CREATE TABLE campaigns (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)"""


def test_a_database_from_before_the_heartbeat_gains_its_columns(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    old = sqlite3.connect(path)
    old.execute(OLD_CAMPAIGNS)
    old.execute(
        "INSERT INTO campaigns VALUES ('c', ?, 'paused', ?, ?)",
        ('{"name": "c", "timezone": "Asia/Kolkata"}', NOON, NOON),
    )
    old.commit()
    old.close()
    store = CampaignStore(path)
    columns = [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(campaigns)")]
    assert columns[-5:] == ["heartbeat_at", "last_seen_at", "owner_id", "owner_pid", "owner_host"]
    stats = store.stats("c", NOON)
    assert (stats.status, stats.heartbeat_at, stats.last_seen_at) == ("paused", None, None)
    assert store.campaign("c").timezone == "Asia/Kolkata"
    assert status_lines("c", stats, store.pending("c", NOON), NOON)[0].startswith(
        "c: paused (never run); leads 0 "
    )
    store.heartbeat("c", NOON + 1)
    store.close()
    again = CampaignStore(path)  # opening a migrated database again changes nothing
    assert again.stats("c", NOON + 2).heartbeat_at == NOON + 1
    again.close()


def test_exports_give_times_in_iso_utc_and_keep_their_columns(
    store_url: str, new_store_url: Callable[[], str]
) -> None:
    store = make_store(store_url)
    store.add_leads("c1", [Lead("9800000080", name="Asha"), Lead("9800000081")], NOON)
    a = store.claim_next("c1", NOON)
    b = store.claim_next("c1", NOON)
    assert a is not None and b is not None
    store.add_leads("c1", [Lead("9800000082")], 0.0)  # no due time
    answered = AttemptResult(Outcome.COMPLETED, "bot_completed", live=True, answered_at=NOON + 7)
    store.finish_attempt(a.call_id, answered, NOON + 40)
    store.finish_attempt(b.call_id, AttemptResult(Outcome.BUSY, "busy"), NOON + 9)
    assert store.export_csv("c1").splitlines() == [
        "phone,name,timezone,priority,state,attempts,last_outcome,final_reason,due_at,lead_id,"
        "final_outcome,bot_outcome",
        "+919800000080,Asha,,0,done,1,completed,completed,2026-11-21T06:30:00Z,1,completed,",
        "+919800000081,,,0,pending,1,busy,,2026-11-21T06:31:09Z,2,,",
        "+919800000082,,,0,pending,0,,,,3,,",
    ]
    assert store.export_attempts_csv("c1").splitlines() == [
        "id,campaign,lead_id,attempt_no,call_id,local_day,claimed_at,state,outcome,live,"
        "abandoned,escalated,answered_at,ended_at,connected",
        "1,c1,1,1,c1-1-1,2026-11-21,2026-11-21T06:30:00Z,done,completed,1,0,0,"
        "2026-11-21T06:30:07Z,2026-11-21T06:30:40Z,0",
        "2,c1,2,1,c1-2-1,2026-11-21,2026-11-21T06:30:00Z,done,busy,0,0,0,,2026-11-21T06:30:09Z,0",
    ]
    assert make_store(new_store_url()).export_attempts_csv("c1").splitlines() == [
        "id,campaign,lead_id,attempt_no,call_id,local_day,claimed_at,state,outcome,live,"
        "abandoned,escalated,answered_at,ended_at,connected",
    ]


def test_agents_removed_from_the_spec_leave_the_table(store_url: str) -> None:
    store = make_store(
        store_url,
        agents=(AgentSpec("a1", "+919800000001"), AgentSpec("a2", "+919800000002", nailed=True)),
    )
    assert [a.id for a in store.agents("c1")] == ["a1", "a2"]
    changed = CampaignSpec(
        "c1", agents=(AgentSpec("a2", "+919800000022", ("billing",)), AgentSpec("a3", "+9198003"))
    )
    store.create_campaign(changed, NOON + 1)  # the TOML was edited: a1 gone, a2 changed
    assert store.agents("c1") == list(changed.agents)
    store.create_campaign(CampaignSpec("c1"), NOON + 2)  # no agents at all
    assert store.agents("c1") == []


def test_lead_export_keeps_custom_fields_as_extra_columns(store_url: str) -> None:
    store = make_store(store_url)
    store.add_leads(
        "c1",
        [
            Lead("9800000090", name="Asha", custom={"plan": "gold", "city": "Pune"}),
            Lead("9800000091", custom={"plan": "silver", "note": 'a, "quoted" note'}),
            Lead("9800000092", custom={"ended_at": "not a time"}),
        ],
        0.0,
    )
    rows = list(csv.DictReader(io.StringIO(store.export_csv("c1"))))
    assert list(rows[0]) == [*LEAD_COLUMNS, "city", "ended_at", "note", "plan"]
    assert [(r["phone"], r["city"], r["note"], r["plan"], r["ended_at"]) for r in rows] == [
        ("+919800000090", "Pune", "", "gold", ""),
        ("+919800000091", "", 'a, "quoted" note', "silver", ""),
        ("+919800000092", "", "", "", "not a time"),
    ]
    # and back in: the custom fields come back as they were
    again = parse_leads(store.export_csv("c1"))
    customs = {lead.phone: dict(lead.custom) for lead in again.leads}
    assert customs["+919800000090"]["plan"] == "gold"
    assert customs["+919800000091"]["note"] == 'a, "quoted" note'
    assert customs["+919800000092"]["ended_at"] == "not a time"
    # the export's progress columns are where the lead stands, not lead data: not imported
    assert customs["+919800000090"] == {"plan": "gold", "city": "Pune"}
    assert {lead.name for lead in again.leads} == {"Asha", ""}


def test_the_lease_lets_one_dialer_run_a_campaign(store_url: str) -> None:
    store = make_store(store_url)
    other = CampaignStore(store.path)  # another process's connection
    first = Lease("run-1", 1234, "h1")
    store.acquire("c1", first, NOON)
    assert store.owner("c1") == "run-1"
    stats = other.stats("c1", NOON)
    assert (stats.owner_pid, stats.owner_host, stats.heartbeat_at) == (1234, "h1", NOON)
    # a second runner elsewhere is refused while the first one's heartbeat is fresh
    with pytest.raises(CampaignBusy) as busy:
        other.acquire("c1", Lease("run-2", 99, "h2"), NOON + 3, alive=lambda pid: False)
    assert str(busy.value) == (
        "campaign c1 is already being run by pid 1234 on host h1 (heartbeat 3 s ago); stop it first"
    )
    # ... and on the same host while that process lives
    with pytest.raises(CampaignBusy):
        other.acquire("c1", Lease("run-2", 99, "h1"), NOON + 3, alive=lambda pid: pid == 1234)
    assert store.owner("c1") == "run-1"
    # the refused runner can neither claim nor renew the lease
    store.add_leads("c1", [Lead("9800000095")], NOON)
    with pytest.raises(CampaignBusy):
        other.claim_next("c1", NOON + 4, owner="run-2")
    assert not other.heartbeat("c1", NOON + 4, owner="run-2")
    assert store.heartbeat("c1", NOON + 5, owner="run-1")
    assert store.stats("c1", NOON + 5).heartbeat_at == NOON + 5
    claim = store.claim_next("c1", NOON + 5, owner="run-1")
    assert claim is not None
    # the same host, the owner's process gone (killed): taken over at once
    other.acquire("c1", Lease("run-2", 99, "h1"), NOON + 6, alive=lambda pid: False)
    assert other.owner("c1") == "run-2"
    assert not store.heartbeat("c1", NOON + 7, owner="run-1")  # run-1 has lost it
    with pytest.raises(CampaignBusy):
        store.claim_next("c1", NOON + 7, owner="run-1")
    store.detach("c1", NOON + 8, owner="run-1")  # leaves run-2's lease alone
    assert other.owner("c1") == "run-2"
    assert other.stats("c1", NOON + 8).heartbeat_at == NOON + 6
    # another host, its heartbeat stale: taken over
    stale = NOON + 6 + HEARTBEAT_STALE_S
    with pytest.raises(CampaignBusy):
        store.acquire("c1", Lease("run-3", 5, "h3"), stale - 1)
    store.acquire("c1", Lease("run-3", 5, "h3"), stale)
    assert store.owner("c1") == "run-3"
    store.detach("c1", stale + 1, owner="run-3")  # a clean exit releases it
    stats = other.stats("c1", stale + 2)
    assert (stats.owner_pid, stats.heartbeat_at, stats.last_seen_at) == (None, None, stale + 1)
    other.acquire("c1", Lease("run-4", 6, "h4"), stale + 2)  # free: anyone takes it
    assert other.owner("c1") == "run-4"
    with pytest.raises(CampaignError):
        other.acquire("nope", Lease("run-4", 6, "h4"), stale + 2)


def test_a_dialer_of_an_older_version_holds_the_campaign_by_its_heartbeat(store_url: str) -> None:
    store = make_store(store_url)
    store.heartbeat("c1", NOON)  # no owner: what an older runner writes
    with pytest.raises(CampaignBusy, match="by a dialer of an older version"):
        store.acquire("c1", Lease.here("new"), NOON + 1)
    store.acquire("c1", Lease.here("new"), NOON + HEARTBEAT_STALE_S)
    assert store.owner("c1") == "new"


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0)
    assert not pid_alive(-1)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not pid_alive(int(child.stdout))  # exited and reaped (its pid is rarely reused)


def test_escalated_counts_calls_that_needed_an_agent_and_connected_those_that_got_one(
    store_url: str,
) -> None:
    from dialer.campaign.runner import attempt_result
    from dialer.records import CallRecord

    asked = CallRecord("a", "+911", "bot_first", answered=True, escalated=True, bridged=False,
                       disposition="customer_hangup")
    got = CallRecord("b", "+912", "bot_first", answered=True, escalated=True, bridged=True,
                     disposition="agent_handled")
    agent_first = CallRecord("c", "+913", "agent_first", answered=True, abandoned=True,
                             disposition="abandoned")
    chat = CallRecord("d", "+914", "bot_first", answered=True, disposition="bot_completed")
    results = [attempt_result(r) for r in (asked, got, agent_first, chat)]
    assert [(r.escalated, r.connected) for r in results] == [
        (True, False), (True, True), (True, False), (False, False)]
    store = make_store(store_url)
    store.add_leads("c1", [Lead(f"+9198000000{i}") for i in range(4)], NOON)
    for result in results:
        claim = store.claim_next("c1", NOON)
        assert claim is not None
        store.finish_attempt(claim.call_id, result, NOON + 30)
    stats = store.stats("c1", NOON + 60)
    assert (stats.escalated, stats.connected) == (3, 1)
    # abandoned: the agent-first call, and the bot-first customer who asked and got nobody
    assert (stats.abandoned_24h, stats.live_24h) == (2, 4)
    assert "escalated 3 (bridged to an agent 1)" in status_lines(
        "c1", stats, store.pending("c1", NOON + 60), NOON + 60)[0]
    assert [a["connected"] for a in store.attempts("c1")] == [0, 1, 0, 0]


def test_wrap_up_is_kept_with_the_campaign_only_when_set(tmp_path: Path) -> None:
    store = make_store(str(tmp_path / "c.db"), limits=Limits(wrap_up_s=12.5))
    assert store.campaign("c1").limits.wrap_up_s == 12.5
    (tmp_path / "plain").mkdir()
    plain = make_store(str(tmp_path / "plain" / "c.db"))
    assert plain.campaign("c1").limits.wrap_up_s == 0.0
    raw = sqlite3.connect(tmp_path / "plain" / "c.db").execute(
        "SELECT spec FROM campaigns").fetchone()[0]
    assert "wrap_up_s" not in raw  # an older voxgate still reads a campaign that does not use it


def test_a_bot_first_escalation_that_never_reached_an_agent_is_abandoned() -> None:
    from dialer.campaign.runner import attempt_result
    from dialer.records import CallRecord

    def escalation(bridged: bool, wait_ms: float | None) -> CallRecord:
        return CallRecord("x", "+911", "bot_first", answered=True, escalated=True,
                          bridged=bridged, latencies={"escalation_to_bridge": wait_ms})

    assert not attempt_result(escalation(True, 1500.0)).abandoned
    assert not attempt_result(escalation(True, 25_000.0)).abandoned  # late: a service level
    assert attempt_result(escalation(False, None)).abandoned  # never bridged
    chat = CallRecord("y", "+912", "bot_first", answered=True)
    assert not attempt_result(chat).abandoned
