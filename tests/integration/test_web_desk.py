"""The agent desk (issue 18) over real sockets: the dashboard of ``voxgate dialer run`` (the
site of test_web_dashboard: a stored agent-first campaign ``c1``, agents a1 and a2, agent user
``ann`` bound to a1). Pause takes the agent out of the pool and ready puts it back; after a
call the desk holds the wrap-up until a disposition is saved (in the campaign database, audited)
and ready is clicked; an agent reaches only its own desk. Before, the desk was a placeholder:
none of ``/ui/api/desk/...`` existed (404)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from test_web_dashboard import anext_event, client, site
from web_helpers import log_in, page_csrf

from dialer.agents import AgentState
from dialer.campaign.store.desk import DeskDispositions


def _next_noon_in_india() -> float:
    """A time inside the campaign's calling window (09:00-21:00, Asia/Kolkata), after now."""
    now = time.time()
    ist_day = (now + 5.5 * 3600) // 86400 * 86400
    return ist_day + 86400 + 12 * 3600 - 5.5 * 3600


async def test_pause_ready_and_a_disposition_from_the_desk(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        await log_in(s, st.base, "ann")
        csrf = await page_csrf(s, f"{st.base}/ui/desk/a1")
        desk = f"{st.base}/ui/api/desk/a1"
        h = {"X-CSRF-Token": csrf}
        pool = st.dialer.pool
        async with s.get(f"{desk}/state") as r:
            assert r.status == 200
            view = await r.json()
        assert view["agent"]["state"] == "ready" and view["call"] is None
        assert pool.get("a1").desk_wrap_s == 120.0  # the agent's own desk attached it
        async with s.post(f"{desk}/pause", json={"reason": "lunch"}) as r:
            assert r.status == 403  # no CSRF token
        async with s.post(f"{desk}/pause", json={"reason": "<b>"}, headers=h) as r:
            assert r.status == 400
        async with s.get(f"{desk}/feed") as feed:
            first = await anext_event(feed)
            assert first["agent"]["state"] == "ready"
            async with s.post(f"{desk}/pause", json={"reason": "lunch"}, headers=h) as r:
                assert r.status == 200 and (await r.json())["state"] == "paused"
            paused = await anext_event(feed)  # at once, pushed by the pool's change
            assert (paused["agent"]["state"], paused["agent"]["reason"]) == ("paused", "lunch")
        # paused: never offered a call (a2 is; a1 is not even when a2 is taken)
        assert st.dialer.reserve((), ("a2",), "x0") is None
        async with s.post(f"{desk}/ready", headers=h) as r:
            assert r.status == 200 and (await r.json())["state"] == "idle"
        # a call of the campaign reaches a1 and ends: wrap-up until disposition + ready
        claim = st.campaigns.store.claim_next("c1", _next_noon_in_india())
        assert claim is not None
        assert st.dialer.reserve((), ("a2",), claim.call_id) is pool.get("a1")
        st.dialer.agent_answered("a1")
        async with s.get(f"{desk}/state") as r:
            view = await r.json()
        assert view["agent"]["state"] == "talking"
        assert (view["call"]["call_id"], view["call"]["number"]) == (claim.call_id,
                                                                     "+919900000001")
        st.dialer.release_agent("a1", wrap_up=True)
        assert pool.get("a1").state is AgentState.WRAP_UP
        async with s.post(f"{desk}/ready", headers=h) as r:
            assert r.status == 409 and "disposition" in (await r.json())["error"]
        async with s.get(f"{desk}/state") as r:
            view = await r.json()
        assert view["last"]["call_id"] == claim.call_id and view["needs_disposition"]
        assert "sale" in view["codes"]
        body = {"call_id": claim.call_id, "code": "bogus", "notes": ""}
        async with s.post(f"{desk}/disposition", json=body, headers=h) as r:
            assert r.status == 400
        body = {"call_id": "c1-other", "code": "sale", "notes": ""}
        async with s.post(f"{desk}/disposition", json=body, headers=h) as r:
            assert r.status == 409
        body = {"call_id": claim.call_id, "code": "callback", "notes": "after 6 pm"}
        async with s.post(f"{desk}/disposition", json=body, headers=h) as r:
            assert r.status == 200
        stored = DeskDispositions(st.campaigns.store._database).get(claim.call_id)
        assert stored is not None
        assert (stored.agent_id, stored.code, stored.notes) == ("a1", "callback", "after 6 pm")
        assert pool.get("a1").state is AgentState.WRAP_UP  # still: ready ends the wrap-up
        async with s.post(f"{desk}/ready", headers=h) as r:
            assert r.status == 200 and (await r.json())["state"] == "idle"
        assert st.dialer.reserve((), ("a2",), "x1") is pool.get("a1")  # offered again
    audit = [json.loads(line) for line in st.audit.read_text().splitlines()]
    assert [(e["user"], e["action"]) for e in audit] == [
        ("ann", "pause_agent"), ("ann", "ready"), ("ann", "disposition"), ("ann", "ready")]
    assert audit[2]["target"] == claim.call_id
    assert audit[2]["after"] == {"agent": "a1", "code": "callback"}


async def test_an_agent_cannot_reach_another_agents_desk(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        await log_in(s, st.base, "ann")
        csrf = await page_csrf(s, f"{st.base}/ui/desk/a1")
        h = {"X-CSRF-Token": csrf}
        other = f"{st.base}/ui/api/desk/a2"
        for path in ("/state", "/feed"):
            async with s.get(other + path) as r:
                assert r.status == 403, path
        for path, body in (("/pause", {"reason": "x"}), ("/ready", {}),
                           ("/disposition", {"call_id": "c", "code": "sale"})):
            async with s.post(other + path, json=body, headers=h) as r:
                assert r.status == 403, path
        assert st.dialer.pool.get("a2").state is AgentState.IDLE
        assert st.dialer.pool.get("a2").desk_wrap_s is None
        # a supervisor may open any desk, without attaching it
        async with client() as sup:
            await log_in(sup, st.base, "sup")
            async with sup.get(f"{other}/state") as r:
                assert r.status == 200 and (await r.json())["agent"]["id"] == "a2"
            async with sup.get(f"{st.base}/ui/desk/a2") as r:
                assert r.status == 200 and "desk.js" in await r.text()
        assert st.dialer.pool.get("a2").desk_wrap_s is None
