"""The runner's lead intelligence (issue 19): the campaign's pickup model loaded at start,
updated at each settled attempt (live or not at the lead's local hour of week), saved every
:data:`REFRESH_S` and at stop, the claim's ranks and due-soon deadlines refreshed as often,
the retry time of each settled attempt (:meth:`CampaignModel.retry_at`), and the pacer's
per-dial probabilities (``PacerState.ringing_live``: each ringing dial's P(live) at its claim;
``next_live``: the mean of the next leads'). Every store call runs off the loop (the runner's
:class:`~dialer.store_calls.StoreCalls`); a store without lead intelligence (a test double)
leaves all of it off.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from dialer.campaign.lead_model import CampaignModel
from dialer.campaign.live_calls import LiveCall
from dialer.campaign.model import CampaignSpec
from dialer.campaign.store.intel import LeadIntelStore
from dialer.campaign.store.types import AttemptResult, Claim
from dialer.pacing.types import PacerState
from dialer.store_calls import StoreCalls

log = logging.getLogger("dialer.campaign")

__all__ = ["REFRESH_S", "RunnerLeads"]

REFRESH_S = 30.0
"""Seconds between rank refreshes and model saves (wall clock)."""
NEXT_N = 20


class RunnerLeads:
    """One runner's lead intelligence (see the module docstring)."""

    def __init__(self, store: Any, campaign: str, spec: CampaignSpec, calls: StoreCalls) -> None:
        database = getattr(store, "_database", None)
        self.store = None if database is None else LeadIntelStore(database)
        self.campaign = campaign
        self.calls = calls
        self.model = CampaignModel(spec)
        self._p: dict[str, float] = {}  # call id -> P(live) at its claim
        self._next: float | None = None
        self._next_refresh = 0.0
        self._dirty = False

    async def start(self) -> None:
        """Load the stored model (a bad one is logged and replaced by a new one)."""
        if self.store is None:
            return
        body = await self.calls.run(self.store.load_model, self.campaign)
        try:
            self.model = CampaignModel.from_json(self.model.spec, body)
        except ValueError as exc:
            log.warning("campaign %s: stored pickup model not usable (%s): a new one",
                        self.campaign, exc)

    def claimed(self, claim: Claim, wall: float) -> None:
        self._p[claim.call_id] = self.model.p_live(claim.lead_id, claim.timezone, claim.custom,
                                                   wall)

    def settled(self, claim: Claim, result: AttemptResult, placed: float, wall: float
                ) -> AttemptResult:
        """Count the attempt (placed at wall time ``placed``) and give its retry time."""
        self._p.pop(claim.call_id, None)
        if self.store is None:
            return result
        self.model.observe(claim.lead_id, claim.timezone, claim.custom, placed, result.live)
        self._dirty = True
        delay = self.model.spec.retry.get(result.outcome.value)
        if delay is None or result.live:
            return result
        at = self.model.retry_at(claim.lead_id, claim.timezone, claim.custom, after=wall,
                                 min_gap_s=delay)
        return result if at is None else dataclasses.replace(result, retry_at=at)

    def fill(self, state: PacerState, live: Mapping[str, LiveCall]) -> PacerState:
        """``state`` with the ringing dials' probabilities (when the model is in use)."""
        if len(self._p) > 2 * len(live) + 100:  # calls that failed to run never settled
            self._p = {k: p for k, p in self._p.items() if k in live}
        if not self.model.active:
            return state
        ringing = tuple(self._p.get(call_id, self.model.model.mean_rate())
                        for call_id, c in live.items() if c.answered is None)
        if len(ringing) != len(state.ringing):
            return state
        return dataclasses.replace(state, ringing_live=ringing, next_live=self._next)

    async def tick(self, wall: float) -> None:
        """Every :data:`REFRESH_S`: ranks and deadlines refreshed, the model saved."""
        if self.store is None or wall < self._next_refresh:
            return
        self._next_refresh = wall + REFRESH_S
        model = self.model  # a copy ranks on a thread of its own while this one learns
        frozen = CampaignModel.from_json(model.spec, model.model.to_json())
        due = await self.calls.run(self.store.due_rows, self.campaign, wall)
        ranks = await asyncio.to_thread(frozen.rank, due, wall)  # off the store's connection
        await self.calls.run(self.store.write_ranks, due, ranks)
        rows = await self.calls.run(self.store.next_leads, self.campaign, wall, NEXT_N)
        ps = [model.p_live(r.id, r.timezone, r.custom, wall) for r in rows]
        self._next = sum(ps) / len(ps) if ps and model.active else None
        await self.save(wall)

    async def save(self, wall: float) -> None:
        if self.store is None or not self._dirty:
            return
        self._dirty = False
        await self.calls.run(self.store.save_model, self.campaign, self.model.model.to_json(),
                             wall)
