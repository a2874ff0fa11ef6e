"""A synthetic lead population with known pickup truth, for the simulator and the tests.

Each segment has an answer-rate curve over the hours of the day (a Gaussian bump over a floor:
answer rates that vary ``swing``-fold over the day, e.g. 2.5x), a base rate and a share of the
leads; each lead has a propensity factor drawn from a Beta distribution scaled to mean 1
(``concentration``: lower spreads the leads more), a CRM priority tier and, for a share of
leads, an SLA deadline (a call-by time that arrives during the run). The truth
``true_p(lead, hour)`` is ``min(0.9, base * shape(hour) * factor)``; only the simulator reads
it: the model sees outcomes drawn from it. Pure: seeded :class:`random.Random`, no I/O.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

__all__ = ["SHAPES", "Population", "SegmentSpec", "SimLead", "generate", "parse_segment"]

SHAPES: dict[str, tuple[float, float]] = {
    # name: (peak hour, width in hours)
    "morning": (9.5, 2.0),
    "lunch": (13.0, 1.5),
    "evening": (19.0, 2.0),
    "flat": (14.0, 100.0),
}


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    """One segment: its name, share of the leads, curve shape, base rate and day swing."""

    name: str
    share: float
    shape: str
    base: float
    swing: float = 2.5

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown curve shape {self.shape!r} (one of {sorted(SHAPES)})")
        if self.share <= 0 or not 0 < self.base < 1 or self.swing < 1:
            raise ValueError(f"bad segment {self!r}")

    def shape_at(self, hour: float) -> float:
        """The curve's multiplier at a local hour of day: 1 at the floor, ``swing`` at the
        peak (a flat shape stays near 1)."""
        peak, width = SHAPES[self.shape]
        if width >= 100:
            return 1.0
        return 1.0 + (self.swing - 1.0) * math.exp(-(((hour - peak) / width) ** 2))


def parse_segment(text: str) -> SegmentSpec:
    """``name:share:shape:base[:swing]`` (the bench's ``--segment``)."""
    parts = text.split(":")
    if len(parts) not in (4, 5):
        raise ValueError(f"segment {text!r}: expected name:share:shape:base[:swing]")
    swing = float(parts[4]) if len(parts) == 5 else 2.5
    return SegmentSpec(parts[0], float(parts[1]), parts[2], float(parts[3]), swing)


@dataclass(slots=True)
class SimLead:
    """A simulated lead and its campaign bookkeeping (attempts, due time, outcome)."""

    id: int
    segment: SegmentSpec
    factor: float
    priority: int = 0
    arrives: float = 0.0
    deadline: float | None = None
    due: float = 0.0
    attempts: int = 0
    attempts_today: int = 0
    day: int = -1
    first_dial: float | None = None
    contacted: bool = False

    def true_p(self, hour: float) -> float:
        """The simulation's truth: P(live) at a local hour of day. Never shown to the model."""
        return min(0.9, self.segment.base * self.segment.shape_at(hour) * self.factor)


@dataclass(slots=True)
class Population:
    leads: list[SimLead] = field(default_factory=list)


def generate(
    segments: list[SegmentSpec],
    count: int,
    *,
    seed: int,
    concentration: float = 4.0,
    priority_share: float = 0.1,
    deadline_share: float = 0.05,
    deadline_s: tuple[float, float] = (1800.0, 10_800.0),
    opens: list[tuple[float, float]],
) -> Population:
    """``count`` leads over ``segments`` (by share). Deadline leads arrive at a random moment
    inside the calling spans ``opens`` (epoch-like seconds of the run) and must be dialled
    within ``deadline_s`` (uniform) of their arrival, before their span closes."""
    if count < 1 or concentration <= 0 or not segments:
        raise ValueError("count >= 1, concentration > 0 and at least one segment")
    rng = random.Random(f"{seed}:leads")
    total = sum(s.share for s in segments)
    open_s = sum(b - a for a, b in opens)
    leads = []
    for i in range(count):
        u, acc = rng.random() * total, 0.0
        seg = segments[-1]
        for spec in segments:
            acc += spec.share
            if u < acc:
                seg = spec
                break
        factor = rng.betavariate(concentration / 2, concentration / 2) * 2.0  # mean 1
        lead = SimLead(i, seg, factor, priority=int(rng.random() < priority_share))
        if rng.random() < deadline_share and open_s > 0:
            at = rng.random() * open_s
            for a, b in opens:
                if at < b - a:
                    lead.arrives = a + at
                    # call-by inside the same window, at least a quarter hour after arrival
                    lead.deadline = min(b, lead.arrives + rng.uniform(*deadline_s))
                    lead.arrives = min(lead.arrives, lead.deadline - 900.0)
                    break
                at -= b - a
            lead.due = lead.arrives
        leads.append(lead)
    return Population(leads)
