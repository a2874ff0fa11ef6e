"""Several dialers on one campaign, at the store (issue 17), on SQLite and PostgreSQL: joining,
only fresh members claim, a dead member reaped by one of the others (its dialing attempts
settled from the records or as interrupted, its row and agents freed), agents assigned and
moved, and the abandonment ledger rebuilt from every dialer's attempts. Before, a second dialer
could not run the campaign at all (acquire refused it and claims checked the one owner)."""

from __future__ import annotations

import pytest
from test_campaign_store import NOON, make_store

from dialer.campaign.model import AgentSpec, CampaignError, Lead, Outcome, campaign_from_toml
from dialer.campaign.progress import HEARTBEAT_STALE_S
from dialer.campaign.store import AttemptResult, CampaignBusy, CampaignStore, Lease
from dialer.campaign.store.members import HeartbeatLate

AGENTS = tuple(AgentSpec(f"a{i}", f"+91980000000{i}") for i in range(1, 5))


def _two(url: str) -> tuple[CampaignStore, CampaignStore]:
    store = make_store(url, agents=AGENTS)
    store.add_leads("c1", [Lead(f"+9199000001{i:02d}") for i in range(6)], NOON)
    return store, CampaignStore(store.path)


def _joined(url: str) -> tuple[CampaignStore, CampaignStore]:
    """Two stores (dialers) on ``url``, members m1 (dialer d1) and m2 (d2) of c1."""
    store, other = _two(url)
    store.join("c1", Lease("m1", 11, "h1"), NOON, "d1")
    other.join("c1", Lease("m2", 22, "h2"), NOON, "d2")
    return store, other


def test_dialers_join_and_each_claims_different_leads(store_url: str) -> None:
    store, other = _two(store_url)
    store.acquire("c1", Lease("m1", 11, "h1"), NOON, dialer_id="d1")
    # exclusive stays the default: a second exclusive start is refused while m1 is fresh
    with pytest.raises(CampaignBusy):
        other.acquire("c1", Lease("m2", 22, "h2"), NOON + 1)
    other.join("c1", Lease("m2", 22, "h2"), NOON + 1, "d2")
    assert [(m.member, m.dialer_id) for m in store.members("c1")] == [("m1", "d1"), ("m2", "d2")]
    one = store.claim_next("c1", NOON + 2, owner="m1")
    two = other.claim_next("c1", NOON + 2, owner="m2")
    assert one is not None and two is not None and one.lead_id != two.lead_id
    dialers = {a["call_id"]: a for a in store.attempts("c1")}
    assert store.dialing_of("c1", "m2") == [two.call_id]
    assert len(dialers) == 2
    # an exclusive start is refused while a joined dialer lives, even with the lease free
    store.detach("c1", NOON + 3, owner="m1")
    with pytest.raises(CampaignBusy, match="join it or stop them"):
        store.acquire("c1", Lease("m3", 33, "h3"), NOON + 3)
    # a stranger, and a member whose heartbeat is old, claim nothing
    with pytest.raises(CampaignBusy):
        store.claim_next("c1", NOON + 3, owner="m1")
    with pytest.raises(HeartbeatLate):
        other.claim_next("c1", NOON + 1 + HEARTBEAT_STALE_S / 2, owner="m2")
    assert other.heartbeat("c1", NOON + 20, owner="m2")
    assert other.claim_next("c1", NOON + 20, owner="m2") is not None
    store.close()
    other.close()


def test_a_dead_member_is_reaped_once_and_its_attempts_settled(store_url: str) -> None:
    store, other = _joined(store_url)
    assert store.assign_agents("c1", "m1", 2) == ["a1", "a2"]
    assert other.assign_agents("c1", "m2") == ["a3", "a4"]
    answered = other.claim_next("c1", NOON + 1, owner="m2")
    lost = other.claim_next("c1", NOON + 1, owner="m2")
    assert answered is not None and lost is not None
    # m2 stops beating; m1 beats on. Not yet stale: nobody is reaped
    later = NOON + HEARTBEAT_STALE_S + 5
    assert store.heartbeat("c1", later - 10, owner="m1")
    assert store.take_stale("c1", Lease("m1", 11, "h1"), later - 10) == []
    taken = store.take_stale("c1", Lease("m1", 11, "h1"), later)
    assert [m.member for m in taken] == ["m2"]
    # a second reaper finds nothing to take; the reaped member can neither beat nor claim
    assert other.take_stale("c1", Lease("m3", 33, "h3"), later) == []
    assert not other.heartbeat("c1", later, owner="m2")
    with pytest.raises(CampaignBusy):
        other.claim_next("c1", later, owner="m2")
    record = AttemptResult(Outcome.COMPLETED, "customer_hangup", live=True, answered_at=NOON + 2)
    found = store.settle_member(
        "c1", "m2", later, lambda c: record if c == answered.call_id else None, heir="m1")
    assert found == (1, 1)
    states = {a["call_id"]: a["state"] for a in store.attempts("c1")}
    assert states == {answered.call_id: "done", lost.call_id: "interrupted"}
    assert [m.member for m in store.members("c1")] == ["m1"]
    assert store.held_agents("c1", "m1") == ["a1", "a2", "a3", "a4"]  # m2's pass to its reaper
    # the process of a member on the reaper's host is gone: reaped at once, not after the bound
    other.join("c1", Lease("m4", 44, "h1"), later, "d4")
    gone = store.take_stale("c1", Lease("m1", 11, "h1"), later + 1, alive=lambda pid: pid != 44)
    assert [m.member for m in gone] == ["m4"]
    # ... and by that reaper only: another on the host skips it while m1 works on it
    assert other.take_stale("c1", Lease("m2", 22, "h1"), later + 2, alive=lambda p: p != 44) == []
    # m1 dies before it settles m4: once m1's mark is stale, another reaper takes m4
    again = other.take_stale("c1", Lease("m5", 55, "h2"), later + 1 + HEARTBEAT_STALE_S)
    assert "m4" in [m.member for m in again]
    store.close()
    other.close()


def test_agents_move_between_dialers(store_url: str) -> None:
    store, other = _joined(store_url)
    store.assign_agents("c1", "m1")
    assert other.assign_agents("c1", "m2") == []
    assert store.move_agent("c1", "a3", "d2") == "m1"  # by dialer id
    assert other.held_agents("c1", "m2") == ["a3"]
    assert store.held_agents("c1", "m1") == ["a1", "a2", "a4"]
    with pytest.raises(CampaignError, match="no dialer"):
        store.move_agent("c1", "a1", "nobody")
    with pytest.raises(CampaignError, match="no agent"):
        store.move_agent("c1", "zz", "d2")
    store.close()
    other.close()


def test_the_ledger_counts_every_dialers_abandons(store_url: str) -> None:
    store, other = _joined(store_url)
    mine = store.claim_next("c1", NOON + 1, owner="m1")
    theirs = other.claim_next("c1", NOON + 1, owner="m2")
    assert mine is not None and theirs is not None
    store.finish_attempt(mine.call_id, AttemptResult(
        Outcome.COMPLETED, "customer_hangup", live=True, answered_at=NOON + 2), NOON + 5)
    other.finish_attempt(theirs.call_id, AttemptResult(
        Outcome.ABANDONED, "abandoned", live=True, abandoned=True, answered_at=NOON + 2),
        NOON + 5)
    view = store.ledger("c1", NOON + 6).view(NOON + 6)
    assert (view.live_24h, view.abandoned_24h) == (2, 1)
    store.close()
    other.close()


def test_a_shared_campaign_keeps_its_setting(store_url: str) -> None:
    store = make_store(store_url, shared=True)
    assert store.campaign("c1").shared
    assert campaign_from_toml('name = "s"\nshared = true').shared
    assert not campaign_from_toml('name = "s"').shared
    with pytest.raises(CampaignError, match="shared"):
        campaign_from_toml('name = "s"\nshared = "yes"')
    store.close()


def test_an_exclusive_start_over_dead_members_settles_them_first(store_url: str) -> None:
    store, other = _joined(store_url)
    left = other.claim_next("c1", NOON + 1, owner="m2")
    assert left is not None
    later = NOON + HEARTBEAT_STALE_S + 1
    store.acquire("c1", Lease("x", 7, "h9"), later, dialer_id="dx")  # both members are stale
    with pytest.raises(CampaignBusy):  # overridden: no member any more
        other.claim_next("c1", later, owner="m2")
    assert not other.heartbeat("c1", later, owner="m2")
    # the exclusive runner takes them over first (live calls, then their attempts)
    taken = store.take_stale("c1", Lease("x", 7, "h9"), later + 1)
    assert sorted(m.member for m in taken) == ["m1", "m2"]
    store.settle_member("c1", "m2", later + 1, lambda c: None, heir="x")
    assert store.dialing_of("c1", "m2") == []
    # an exclusive start is not refused by members being taken over
    store.detach("c1", later + 2, owner="x")
    other.acquire("c1", Lease("y", 8, "h8"), later + 3)
    store.close()
    other.close()
