"""The live feed's snapshot: campaigns and agents as JSON-ready dicts (pure: no I/O).

:func:`live_snapshot` takes what the dialer and the campaign runners already compute (a
running campaign's :class:`~dialer.campaign.progress.CampaignSnapshot`, a stopped one's
:class:`~dialer.campaign.store.types.CampaignStats`, the pacer's aim, the agent pool, the stage
of every call in flight) and returns the dict ``GET /ui/api/live`` sends. Figures:

* per campaign: ``status``, ``running``, progress (``leads``, ``done``, ``pending``,
  ``progress`` 0..1), ``in_flight``, ``dial_level`` (calls in flight per logged-in agent),
  ``answer_rate`` (live answers per attempt), ``abandon_24h``/``abandon_30d`` against ``cap``
  (the campaign's legal ``abandon_target``), ``aim`` (the pacer's abandonment aim, ``None`` for
  a pacer without one), ``occupancy``, ``waiting_for_agent`` and ``escalation_wait_s`` (the
  longest wait now), ``talk_min_per_agent_hour`` (the pool's talk time since the dashboard
  started per logged-in agent hour);
* ``stages``: the dialer's calls in flight by call-flow stage;
* per agent: ``state`` (``ready``, ``ringing``, ``talking``, ``wrap_up``, ``paused`` with its
  ``reason``, ``offline``), ``seconds`` in it, ``nailed`` and ``nailed_leg`` (its live
  pre-dialled leg), ``call_id``, ``calls``, ``talk_s``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dialer.agents import Agent, AgentState
from dialer.campaign.progress import CampaignSnapshot
from dialer.campaign.store.types import CampaignStats

__all__ = ["CampaignView", "agent_row", "campaign_row", "live_snapshot"]

_STATE_NAMES = {AgentState.IDLE: "ready", AgentState.RINGING: "ringing",
                AgentState.TALKING: "talking", AgentState.WRAP_UP: "wrap_up",
                AgentState.OFFLINE: "offline", AgentState.PAUSED: "paused"}


@dataclass(frozen=True, slots=True)
class CampaignView:
    """One campaign's inputs: ``live`` for a running one, ``stats`` otherwise."""

    name: str
    cap: float
    pacer: str
    live: CampaignSnapshot | None = None
    stats: CampaignStats | None = None
    aim: float | None = None


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def campaign_row(view: CampaignView, logged_in: int, talk_rate: float) -> dict[str, Any]:
    """The live feed's figures of one campaign (see the module docstring)."""
    row: dict[str, Any] = {"name": view.name, "cap": view.cap, "aim": view.aim,
                           "pacer": view.pacer, "running": view.live is not None}
    if view.live is not None:
        s = view.live
        row.update(status=s.status, leads=s.leads, done=s.done, pending=s.pending,
                   in_flight=s.in_flight, attempts=s.attempts, answered=s.answered,
                   escalated=s.escalated, bridged=s.bridged, abandoned=s.abandoned,
                   abandon_24h=s.abandon_rate_24h, abandon_30d=s.abandon_rate_30d,
                   occupancy=s.occupancy, waiting_for_agent=s.waiting_for_agent,
                   escalation_wait_s=round(s.longest_wait_s, 1),
                   dial_level=round(_ratio(s.in_flight, logged_in), 2),
                   talk_min_per_agent_hour=round(talk_rate, 1))
    else:
        t = view.stats
        assert t is not None, "a campaign view has live figures or stored stats"
        row.update(status=t.status, leads=t.leads, done=t.done, pending=t.pending,
                   in_flight=t.in_flight, attempts=t.attempts, answered=t.answered,
                   escalated=t.escalated, bridged=t.connected, abandoned=t.abandoned,
                   abandon_24h=t.rate_24h, abandon_30d=t.rate_30d, occupancy=0.0,
                   waiting_for_agent=0, escalation_wait_s=0.0, dial_level=0.0,
                   talk_min_per_agent_hour=0.0)
    row["progress"] = round(_ratio(row["done"], row["leads"]), 4)
    row["answer_rate"] = round(_ratio(row["answered"], row["attempts"]), 4)
    row["over_cap"] = row["abandon_24h"] > view.cap or row["abandon_30d"] > view.cap
    return row


def agent_row(agent: Agent, since: float, now: float, paused: str | None) -> dict[str, Any]:
    """One agent's line: ``paused`` is the pause reason of an agent on pause (else None)."""
    state = _STATE_NAMES[agent.state]
    if paused is None and agent.state is AgentState.PAUSED:  # paused from its desk
        paused = agent.pause_reason
    if paused is not None and agent.state in (AgentState.IDLE, AgentState.OFFLINE):
        state = "paused"
    talk = agent.talk_seconds
    if agent.state is AgentState.TALKING and agent.talk_started:
        talk += max(0.0, now - agent.talk_started)
    return {"id": agent.agent_id, "state": state, "reason": paused or "",
            "seconds": round(max(0.0, now - since)), "nailed": agent.nailed,
            "nailed_leg": agent.nailed_leg_sid, "call_id": agent.call_id,
            "calls": agent.calls_handled, "talk_s": round(talk, 1)}


def live_snapshot(*, campaigns: Iterable[CampaignView], agents: Iterable[Agent],
                  since: Mapping[str, float], paused: Mapping[str, str],
                  stages: Iterable[str], now: float, started: float,
                  wall: float) -> dict[str, Any]:
    """The feed's snapshot. ``since``: when each agent entered its state (``now``'s clock;
    missing: ``started``); ``paused``: pause reasons by agent id; ``stages``: the stage of each
    call in flight; ``started``: when the figures began (talk minutes per agent hour)."""
    pool = list(agents)
    rows = [agent_row(a, since.get(a.agent_id, started), now, paused.get(a.agent_id))
            for a in pool]
    logged_in = sum(1 for r in rows if r["state"] not in ("offline", "paused"))
    talk_s = sum(r["talk_s"] for r in rows)
    hours = max(now - started, 1.0) / 3600.0
    talk_rate = _ratio(talk_s / 60.0, logged_in * hours)
    return {
        "at": wall,
        "campaigns": [campaign_row(v, logged_in, talk_rate) for v in campaigns],
        "agents": rows,
        "stages": dict(sorted(Counter(stages).items())),
        "logged_in": logged_in,
    }
