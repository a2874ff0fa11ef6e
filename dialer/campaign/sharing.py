"""A campaign shared by several dialers: what each member does at its heartbeat besides renewing
it (:class:`~dialer.campaign.runner.CampaignRunner` calls :func:`take_over` and
:func:`sync_agents`; the store side is :mod:`dialer.campaign.store.members`).

* **Take-over**: members whose heartbeat is older than the stale bound (or whose process on this
  host is gone) are marked reaped by this member (one reaper wins each row). For each, its live
  calls (``live_calls(owner=its dialer id)`` in the shared records store) are settled by
  :func:`dialer.restart.reconcile`'s rule (ended: the record from Exotel's data; live: the
  apology, then hung up; never dialled again), then its ``dialing`` attempts are settled from
  those records (else ``interrupted``), its row goes and its agents pass to this member.
  Logged at WARNING.
* **Agents**: the member dials for the agents it holds (the agents table's ``dialer``): agents
  newly given to it are added to (or logged back into) its pool, agents moved away are logged
  out (at once when idle, else when their call ends).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dialer import restart
from dialer.campaign.model import AgentSpec
from dialer.campaign.outcomes import attempt_result
from dialer.campaign.store import CampaignStoreProtocol, Lease
from dialer.service import Dialer
from dialer.store_calls import StoreCalls

log = logging.getLogger("dialer.campaign.runner")

__all__ = ["sync_agents", "take_over"]


async def take_over(
    dialer: Dialer,
    store: CampaignStoreProtocol,
    calls: StoreCalls,
    campaign: str,
    owner: str,
    wall: Callable[[], float],
    stale_s: float,
    apology_s: float = 3.0,
) -> int:
    """Take over the campaign's dead members (see the module docstring); returns how many."""
    run = calls.run
    taken = await run(store.take_stale, campaign, Lease.here(owner), wall(), stale_s=stale_s)
    mine = str(getattr(dialer.store, "owner", ""))
    for member in taken:
        reconciled = 0
        if member.dialer_id == mine:
            pass  # this dialer's own live calls: its restart reconcile settled them
        elif member.dialer_id:
            left = await run(dialer.store.live_calls, member.dialer_id)
            reconciled = await restart.reconcile(
                dialer.store, dialer.client, apology_s=apology_s, states=left, calls=calls
            )
        else:
            log.warning(
                "campaign %s: the dead dialer (%s) had no dialer id: its live calls cannot be "
                "told from others' and are left to its restart",
                campaign,
                member.describe(),
            )
        dialing = await run(store.dialing_of, campaign, member.member)
        results = {}
        for call_id in dialing:
            record = await run(dialer.store.get, call_id)
            if record is not None:
                results[call_id] = attempt_result(record)
        found, lost = await run(
            store.settle_member, campaign, member.member, wall(), results.get, owner
        )
        log.warning(
            "campaign %s: took over dead dialer %s (heartbeat %.0f s ago): %d live call(s) "
            "settled from Exotel, %d attempt(s) settled from call records, %d as interrupted; "
            "its leads go to the dialers left, its agents to this one",
            campaign,
            member.describe(),
            wall() - member.heartbeat_at,
            reconciled,
            found,
            lost,
        )
    return len(taken)


async def sync_agents(
    dialer: Dialer,
    store: CampaignStoreProtocol,
    calls: StoreCalls,
    campaign: str,
    owner: str,
    add: Callable[[AgentSpec], None],
    share: int | None = None,
) -> set[str]:
    """Take unassigned agents (at most ``share`` more), then make the pool match what this
    member holds: new ones added (``add``) or logged back in, moved ones logged out. Returns
    the ids held."""
    held = set(await calls.run(store.assign_agents, campaign, owner, share))
    specs = {a.id: a for a in await calls.run(store.agents, campaign)}
    in_pool = {a.agent_id: a for a in dialer.pool}
    now = dialer.clock()
    for agent_id in sorted(held):
        agent = in_pool.get(agent_id)
        if agent is None and agent_id in specs:
            add(specs[agent_id])
            log.info("campaign %s: agent %s now dials from this dialer", campaign, agent_id)
        elif agent is not None and agent.logged_out:
            dialer.pool.log_in(agent_id, now)
            log.info("campaign %s: agent %s is back on this dialer", campaign, agent_id)
    for agent_id, agent in in_pool.items():
        if agent_id in specs and agent_id not in held and not agent.logged_out:
            dialer.pool.log_out(agent_id)
            log.warning(
                "campaign %s: agent %s moved to another dialer: logged out here (%s)",
                campaign,
                agent_id,
                "now" if agent.state.value == "offline" else "when its call ends",
            )
    return held
