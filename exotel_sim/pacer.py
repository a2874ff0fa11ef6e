"""One media clock for all streams: a timer per chunk period instead of one per stream.

Every stream with the same chunk period (20 ms mu-law, 100 ms PCM) joins one group. The
period is cut into ``SLOTS`` phases and each stream gets the least busy phase, so the sends
of 500 streams are spread over the period instead of bursting on one tick (real Exotel
streams have independent phases too). The group's task wakes once per phase tick and asks
the members of that phase to send what has fallen due (:meth:`Paced.pace`): one timer
wake-up per tick rather than one per stream. A member that fails is logged, dropped from the
group and told so; the others carry on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Protocol

from exotel_sim.tasks import SimClock, TaskSet

log = logging.getLogger("exotel_sim.pacer")

SLOTS = 5


class Paced(Protocol):
    """A stream driven by the pacer."""

    chunk_ms: int

    async def pace(self, now_ms: float) -> None:
        """Send every chunk due by ``now_ms``."""

    def pacer_failed(self, exc: BaseException) -> None:
        """``pace`` raised: the stream should end."""


@dataclass(eq=False)
class _Group:
    chunk_ms: int
    slots: list[dict[Paced, None]] = field(default_factory=lambda: [{} for _ in range(SLOTS)])
    where: dict[Paced, int] = field(default_factory=dict)
    running: bool = False

    @property
    def tick_ms(self) -> float:
        return self.chunk_ms / SLOTS


class MediaPacer:
    """Groups of paced streams by chunk period; call :meth:`add` / :meth:`remove`."""

    def __init__(self, clock: SimClock, tasks: TaskSet) -> None:
        self.clock = clock
        self.tasks = tasks
        self._groups: dict[int, _Group] = {}
        self.ticks = 0

    def add(self, member: Paced, start_ms: float) -> float:
        """Join ``member``; returns when its first chunk is due (after ``start_ms``)."""
        group = self._groups.setdefault(member.chunk_ms, _Group(member.chunk_ms))
        slot = min(range(SLOTS), key=lambda n: len(group.slots[n]))
        group.slots[slot][member] = None
        group.where[member] = slot
        if not group.running:
            group.running = True
            self.tasks.spawn(self._run(group), f"pacer:{group.chunk_ms}ms")
        phase = slot * group.tick_ms
        c = group.chunk_ms
        return (math.floor((start_ms - phase) / c) + 1) * c + phase

    def remove(self, member: Paced) -> None:
        group = self._groups.get(member.chunk_ms)
        if group is not None and member in group.where:
            del group.slots[group.where.pop(member)][member]

    async def _run(self, group: _Group) -> None:
        clock, tick_ms = self.clock, group.tick_ms
        try:
            k = math.floor(clock.now_ms() / tick_ms) + 1
            while group.where:
                await clock.sleep_until(k * tick_ms)  # behind schedule: no sleep, no skip
                self.ticks += 1
                for member in list(group.slots[k % SLOTS]):
                    try:
                        await member.pace(clock.now_ms())
                    except Exception as exc:  # one stream's failure never stops the others
                        log.exception("paced stream failed")
                        self.remove(member)
                        member.pacer_failed(exc)
                k += 1
        finally:
            group.running = False
