"""Lead selection: which of the due, legal leads to dial now, and when to retry one.

The caller (the store's claim, or the simulator) filters the candidates first: calling window,
attempt limits and do-not-call (:func:`dialer.campaign.compliance.check_dial`). Selection only
orders what it is given, so it can never pick an illegal lead. The order (:func:`rank`):

1. **SLA deadlines whose slack is short**: a lead with a call-by or promised-callback time
   whose slack (deadline minus now, minus the time the dialler needs to reach it behind the
   earlier deadlines at the expected dial capacity, times ``safety``) is under ``margin_s``
   goes first, earliest deadline first (EDF);
2. **CRM priority tiers**, higher first;
3. the **index score** ``p_now * (p_now / p_best)``: the live-answer probability now, weighted
   by how close now is to the lead's best remaining legal hour. A lead whose good hour is now
   is called now; one whose good hour comes later today or this week waits for it (it is
   merely outranked: if the floor needs the dials, it is still called). Deadline leads whose
   slack is ample sit in their tier like any other lead.

Ties keep the candidates' given order (import order). Pure: no clock, no I/O.

:func:`next_try` puts a retry into the lead's likely hours inside its legal window, not at a
fixed delay, never sooner than the campaign's minimum retry gap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dialer.leads.pickup import LeadRef, PickupModel

__all__ = ["Candidate", "index_score", "next_try", "rank", "select"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A due, compliance-legal lead with its model figures.

    ``p_now``: P(live) dialled now; ``p_best``: the best P(live) over its remaining legal hours
    (up to its deadline, if any); ``deadline``: epoch call-by time or ``None``."""

    lead: LeadRef
    p_now: float
    p_best: float
    priority: int = 0
    deadline: float | None = None

    def __post_init__(self) -> None:
        if not (0.0 <= self.p_now <= 1.0 and 0.0 <= self.p_best <= 1.0):
            raise ValueError(f"probabilities must be within 0..1: {self!r}")


def index_score(p_now: float, p_best: float) -> float:
    """``p_now`` weighted by how close now is to the best remaining hour (1 at the best)."""
    best = max(p_now, p_best)
    return p_now * (p_now / best) if best > 0 else 0.0


def urgent(
    candidates: Iterable[Candidate],
    *,
    now: float,
    dials_per_s: float,
    margin_s: float = 900.0,
    safety: float = 2.0,
) -> list[Candidate]:
    """The deadline leads to dial first, earliest deadline first: those whose slack against
    the expected capacity (``dials_per_s``) is under ``margin_s``."""
    dated = sorted(
        (c for c in candidates if c.deadline is not None), key=lambda c: c.deadline or 0.0
    )
    rate = max(dials_per_s, 1e-6)
    chosen = []
    for position, cand in enumerate(dated):
        reach = safety * (position + 1) / rate  # seconds until the dialler gets to it
        if (cand.deadline or 0.0) - now - reach < margin_s:
            chosen.append(cand)
    return chosen


def rank(
    candidates: Sequence[Candidate],
    *,
    now: float,
    dials_per_s: float,
    margin_s: float = 900.0,
) -> list[Candidate]:
    """All ``candidates`` in dial order (see the module docstring)."""
    first = urgent(candidates, now=now, dials_per_s=dials_per_s, margin_s=margin_s)
    taken = {id(c) for c in first}
    rest = [c for c in candidates if id(c) not in taken]
    order = {id(c): i for i, c in enumerate(rest)}
    rest.sort(key=lambda c: (-c.priority, -index_score(c.p_now, c.p_best), order[id(c)]))
    return first + rest


def select(
    candidates: Sequence[Candidate],
    count: int,
    *,
    now: float,
    dials_per_s: float,
    margin_s: float = 900.0,
) -> list[Candidate]:
    """The ``count`` leads to dial now (fewer if there are fewer candidates)."""
    if count <= 0:
        return []
    return rank(candidates, now=now, dials_per_s=dials_per_s, margin_s=margin_s)[:count]


def next_try(
    model: PickupModel,
    lead: LeadRef,
    *,
    after: float,
    open_spans: Iterable[tuple[float, float]],
    hour_of: Callable[[float], int],
    min_gap_s: float,
    later_penalty: float = 0.02,
    step_s: float = 3600.0,
) -> float | None:
    """When to try ``lead`` again after an attempt that ended at ``after``: the start of the
    hour, within the legal ``open_spans`` (epoch ``(start, end)`` intervals of its calling
    window, e.g. the next week's, in order) and no sooner than ``after + min_gap_s``, where
    its P(live) is highest, discounted by ``later_penalty`` per day of waiting (among hours
    nearly as good, the sooner wins). ``hour_of`` maps an epoch time to the lead's local
    hour of week. ``None`` when no open span is left."""
    earliest = after + min_gap_s
    best: tuple[float, float] | None = None
    for start, end in open_spans:
        t = max(start, earliest)
        while t < end:
            days = (t - earliest) / 86_400.0
            score = model.p_live(lead, hour_of(t)) * (1.0 - later_penalty * days)
            if best is None or score > best[0]:
                best = (score, t)
            t = (t // step_s + 1) * step_s  # the next hour boundary
    return None if best is None else best[1]
