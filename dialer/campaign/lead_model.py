"""A campaign's pickup model as the runner, the CRM API and ``campaign explain`` use it: the
:class:`~dialer.leads.pickup.PickupModel` with the campaign's segments (the lead's zone, its
``source`` field and the campaign's ``segment_fields``), its calling window and lead order.
Pure: times are given, no I/O (the store keeps the model's JSON, :mod:`.store.intel`).

* :meth:`CampaignModel.observe`: a settled attempt, live or not, at the lead's local hour;
* :meth:`CampaignModel.rank`: the leads' index scores (``p_now`` against the best legal hour of
  the next day, :func:`~dialer.leads.select.index_score`) for the claim's ``pick_rank``;
* :meth:`CampaignModel.retry_at`: the next try in the lead's likely hours inside the window
  after the retry delay (:func:`~dialer.leads.select.next_try`);
* :meth:`CampaignModel.explain`: why a lead is where it is, as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dialer.campaign.compliance import in_window
from dialer.campaign.model import CampaignSpec
from dialer.campaign.store.intel import LeadRow
from dialer.leads.pickup import LeadRef, PickupModel, describe_hour, hour_of_week, segment_of
from dialer.leads.select import index_score, next_try

__all__ = ["MIN_ATTEMPTS", "CampaignModel"]

HOUR = 3600.0
LOOKAHEAD_H = 24
"""Hours ahead in which a lead's best legal hour is looked for (ranking)."""
RETRY_DAYS = 7
MIN_ATTEMPTS = 50
"""Attempts the model counts (this campaign's and any imported history) before it is used."""


class CampaignModel:
    """The campaign ``spec``'s pickup model (a new one when ``model`` is ``None``)."""

    def __init__(self, spec: CampaignSpec, model: PickupModel | None = None) -> None:
        self.spec = spec
        self.model = model or PickupModel()
        self._open: dict[tuple[str, float], dict[float, int]] = {}

    def _open_hours(self, zone: str, start: float) -> dict[float, int]:
        """The :data:`RETRY_DAYS` x 24 hours from ``start`` (an hour's start) inside the calling
        window in ``zone``: each hour's start -> its local hour of week. Every retry settled in
        the same hour asks for the same ones: kept for the last few (zone, hour)s."""
        key = (zone, start)
        hours = self._open.get(key)
        if hours is None:
            if len(self._open) >= 64:
                self._open.clear()
            hours = self._open[key] = {
                t: hour_of_week(t, zone) for t in (start + i * HOUR for i in range(RETRY_DAYS * 24))
                if in_window(t + HOUR / 2, zone, self.spec.window)}
        return hours

    @classmethod
    def from_json(cls, spec: CampaignSpec, body: Mapping[str, Any] | None) -> CampaignModel:
        """From the stored JSON (``None``: a new model); ``ValueError`` for another format."""
        return cls(spec, None if body is None else PickupModel.from_json(body))

    @property
    def attempts(self) -> int:
        """Attempts the model has counted."""
        return round(sum(self.model.total.dials))

    @property
    def active(self) -> bool:
        """Whether it orders leads, times retries and gives the pacer its probabilities:
        ``lead_order = "model"`` and it has counted :data:`MIN_ATTEMPTS` attempts (before, a
        few outcomes would move retries by hours on noise: today's order and delays)."""
        return self.spec.lead_order == "model" and self.attempts >= MIN_ATTEMPTS

    def zone(self, timezone: str) -> str:
        return (timezone or self.spec.timezone).split()[0]

    def ref(self, lead_id: int, timezone: str, custom: Mapping[str, str]) -> LeadRef:
        keys = ("zone", "source", *self.spec.segment_fields)
        return LeadRef(str(lead_id), segment_of({**custom, "zone": self.zone(timezone)}, keys))

    def observe(self, lead_id: int, timezone: str, custom: Mapping[str, str], at: float,
                live: bool) -> None:
        self.model.observe(self.ref(lead_id, timezone, custom),
                           hour_of_week(at, self.zone(timezone)), live)

    def p_live(self, lead_id: int, timezone: str, custom: Mapping[str, str], at: float) -> float:
        return self.model.p_live(self.ref(lead_id, timezone, custom),
                                 hour_of_week(at, self.zone(timezone)))

    def _legal_hours(self, timezone: str, now: float, cache: dict[str, list[int]]) -> list[int]:
        zone = self.zone(timezone)
        if zone not in cache:
            start = (now // HOUR) * HOUR
            cache[zone] = [hour_of_week(t, zone) for t in
                           (start + i * HOUR for i in range(LOOKAHEAD_H))
                           if in_window(t + HOUR / 2, zone, self.spec.window)]
        return cache[zone]

    def _scores(self, row: LeadRow, now: float, cache: dict[str, list[int]]
                ) -> tuple[float, float, int | None]:
        ref = self.ref(row.id, row.timezone, row.custom)
        p_now = self.model.p_live(ref, hour_of_week(now, self.zone(row.timezone)))
        best = self.model.best_hours(ref, self._legal_hours(row.timezone, now, cache), 1)
        return p_now, best[0][1] if best else p_now, best[0][0] if best else None

    def rank(self, rows: Sequence[LeadRow], now: float) -> list[float]:
        """The claim's ``pick_rank`` of ``rows`` (0 for all when not :attr:`active`)."""
        if not self.active:
            return [0.0] * len(rows)
        cache: dict[str, list[int]] = {}
        return [round(index_score(*self._scores(r, now, cache)[:2]), 6) for r in rows]

    def retry_at(self, lead_id: int, timezone: str, custom: Mapping[str, str], *,
                 after: float, min_gap_s: float) -> float | None:
        """The next try's time (``None``: not :attr:`active`, or no open hour this week)."""
        if not self.active:
            return None
        zone = self.zone(timezone)
        hours = self._open_hours(zone, ((after + min_gap_s) // HOUR) * HOUR)

        def hour_of(t: float) -> int:  # an hour's start is in hours; the first try may not be
            return hours[t] if t in hours else hour_of_week(t, zone)

        return next_try(self.model, self.ref(lead_id, timezone, custom), after=after,
                        open_spans=[(t, t + HOUR) for t in hours], hour_of=hour_of,
                        min_gap_s=min_gap_s)

    def explain(self, row: LeadRow, now: float, position: int | None = None) -> dict[str, Any]:
        """Why ``row`` is where it is (its place in the order, when given)."""
        p_now, p_best, best = self._scores(row, now, {})
        ref = self.ref(row.id, row.timezone, row.custom)
        urgent = row.sla_at < 1e17
        return {
            "position": position,
            "phone": row.phone,
            "lead_id": row.id,
            "because": "deadline due soon" if urgent else
            ("priority, then the model's rank" if self.active else "priority, then due time"),
            "deadline": row.deadline,
            "deadline_first": urgent,
            "priority": row.priority,
            "rank": row.rank,
            "p_now": round(p_now, 4),
            "p_best": round(p_best, 4),
            "best_hour": describe_hour(best) if best is not None else None,
            "attempts": row.attempts,
            "segment": ref.segment,
            "model": self.model.explain(ref, hour_of_week(now, self.zone(row.timezone))),
            "lead_order": self.spec.lead_order if self.active else "priority (no model yet)",
        }
