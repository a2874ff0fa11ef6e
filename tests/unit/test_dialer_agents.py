"""The agent pool: longest idle first, skills, wrap-up, nailed-up legs."""

from __future__ import annotations

import pytest

from dialer.agents import AgentPool, AgentState


def test_longest_idle_with_skills_first() -> None:
    pool = AgentPool()
    pool.add("a1", "+1", {"sales"}, now=5.0)
    pool.add("a2", "+2", {"sales", "hindi"}, now=1.0)
    pool.add("a3", "+3", set(), now=0.0)
    assert pool.acquire({"sales"}, now=10.0).agent_id == "a2"  # type: ignore[union-attr]
    assert pool.acquire({"sales"}, now=10.0).agent_id == "a1"  # type: ignore[union-attr]
    assert pool.acquire({"sales"}, now=10.0) is None
    assert pool.acquire((), exclude=("a3",)) is None
    assert pool.counts()["ringing"] == 2


def test_release_and_wrap_up() -> None:
    pool = AgentPool(wrap_up_seconds=3.0)
    seen: list[str] = []
    pool.subscribe(lambda a: seen.append(a.state.value))
    pool.add("a1", "+1")
    a = pool.acquire((), call_id="c1", now=1.0)
    assert a is not None and a.call_id == "c1"
    pool.mark_talking("a1", now=2.0)
    assert not pool.release("a1", wrap_up=True, now=12.0)  # wrap-up first
    assert pool.get("a1").state is AgentState.WRAP_UP
    assert pool.tick(13.0) == []
    assert [x.agent_id for x in pool.tick(15.0)] == ["a1"]
    assert pool.get("a1").talk_seconds == 10.0 and pool.get("a1").calls_handled == 1
    assert seen == ["ringing", "talking", "wrap_up", "idle"]
    assert not pool.release("a1", wrap_up=False)  # already idle
    assert not pool.release("nobody", wrap_up=False)


def test_an_agent_with_its_own_wrap_up_takes_it_instead_of_the_pools() -> None:
    """A campaign's agents join a shared pool with the campaign's wrap-up (``wrap_up_s``);
    the others keep the pool's (the dialer's ``wrap_up_seconds``); an explicit 0 is none."""
    pool = AgentPool(wrap_up_seconds=2.0)
    pool.add("own", "+1", wrap_up_s=30.0)
    pool.add("svc", "+2")
    pool.add("none", "+3", wrap_up_s=0)
    for agent_id in ("own", "svc", "none"):
        pool.acquire((), exclude={"own", "svc", "none"} - {agent_id}, call_id="c", now=1.0)
        pool.mark_talking(agent_id, now=1.0)
    assert not pool.release("own", wrap_up=True, now=10.0)
    assert not pool.release("svc", wrap_up=True, now=10.0)
    assert pool.release("none", wrap_up=True, now=10.0)  # idle at once
    assert [a.agent_id for a in pool.tick(12.0)] == ["svc"]
    assert pool.get("own").state is AgentState.WRAP_UP
    assert pool.tick(39.9) == []
    assert [a.agent_id for a in pool.tick(40.0)] == ["own"]
    assert not pool.release("own", wrap_up=False, now=41.0)  # idle already: nothing to give


def test_the_pool_needs_its_ticker_once_any_agent_has_a_wrap_up() -> None:
    pool = AgentPool()
    pool.add("a", "+1")
    assert not pool.has_wrap_up
    pool.add("b", "+2", wrap_up_s=0.5)
    assert pool.has_wrap_up
    for bad in (-1.0, float("nan"), float("inf"), True, "5"):
        with pytest.raises(ValueError, match="wrap_up_s"):
            pool.add(f"x{bad}", "+3", wrap_up_s=bad)  # type: ignore[arg-type]


def test_failed_attempt_returns_agent_idle_at_once() -> None:
    pool = AgentPool(wrap_up_seconds=3.0)
    pool.add("a1", "+1")
    pool.acquire(())
    assert pool.release("a1", wrap_up=False, now=4.0)
    assert pool.idle_count() == 1 and pool.get("a1").idle_since == 4.0


def test_nailed_agent_available_only_with_live_leg() -> None:
    pool = AgentPool()
    pool.add("n1", "+1", nailed=True)
    assert pool.get("n1").state is AgentState.OFFLINE
    assert pool.acquire(()) is None
    assert pool.set_nailed_leg("n1", "LEG1", now=1.0)
    assert not pool.set_nailed_leg("n1", "LEG1", now=1.0)  # already up
    a = pool.acquire(())
    assert a is not None and a.nailed_leg_sid == "LEG1" and a.state is AgentState.TALKING
    assert pool.release("n1", wrap_up=True, now=5.0)
    pool.set_nailed_leg("n1", "", now=6.0)
    assert pool.get("n1").state is AgentState.OFFLINE
    pool.set_nailed_leg("n1", "LEG2", now=7.0)
    pool.acquire(())
    pool.set_nailed_leg("n1", "", now=8.0)  # dropped mid-call: stays talking until released
    assert pool.get("n1").state is AgentState.TALKING
    assert not pool.release("n1", wrap_up=True, now=9.0)
    assert pool.get("n1").state is AgentState.OFFLINE


def test_validation() -> None:
    pool = AgentPool()
    pool.add("a1", "+1")
    with pytest.raises(ValueError):
        pool.add("a1", "+1")
    with pytest.raises(ValueError):
        pool.add("", "+1")
    with pytest.raises(ValueError):
        AgentPool(wrap_up_seconds=-1)
    assert len(pool) == 1 and [a.agent_id for a in pool] == ["a1"]


def test_a_free_nailed_agent_goes_before_an_on_demand_agent_idle_longer() -> None:
    """QA #5: the longest-idle rule rang an on-demand agent (6.3 s of hold) while a nailed-up
    agent, bridged in ~47 ms, waited."""
    pool = AgentPool()
    pool.add("a1", "+1", {"sales"}, now=0.0)  # idle since the start
    pool.add("n1", "+2", {"sales"}, nailed=True, now=0.0)
    pool.add("n2", "+3", {"sales"}, nailed=True, now=0.0)
    pool.set_nailed_leg("n2", "LEG2", now=30.0)
    pool.set_nailed_leg("n1", "LEG1", now=50.0)
    picked = [pool.acquire({"sales"}, now=60.0) for _ in range(3)]
    assert [a.agent_id for a in picked if a] == ["n2", "n1", "a1"]  # nailed longest idle first
    assert pool.acquire({"sales"}, now=60.0) is None


def test_why_nobody_was_free() -> None:
    pool = AgentPool()
    assert pool.unavailable_reason(()) == "skill"  # nobody at all
    pool.add("a1", "+1", {"sales"})
    pool.add("n1", "+2", {"sales", "hindi"}, nailed=True)  # offline, but has the skills
    assert pool.unavailable_reason({"billing"}) == "skill"
    assert pool.unavailable_reason({"hindi"}) == "busy"  # n1 may come back
    assert pool.unavailable_reason({"sales"}, ("a1",)) == "tried"
    pool.acquire({"sales"})
    assert pool.unavailable_reason({"sales"}, ("a1",)) == "busy"
