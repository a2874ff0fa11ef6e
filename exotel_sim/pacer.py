"""One media clock for all streams: a timer per chunk period instead of one per stream.

Every stream with the same chunk period (20 ms mu-law, 100 ms PCM) joins one group; the
group's task wakes at each tick of the emulator's clock grid and asks each member to send what
has fallen due (:meth:`Paced.pace`). This keeps 500 streams at real-time pace with one timer
wake-up per tick rather than 500. A member that fails is logged, dropped from the group and
told so; the others carry on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Protocol

from exotel_sim.tasks import SimClock, TaskSet

log = logging.getLogger("exotel_sim.pacer")


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
    members: dict[Paced, None] = field(default_factory=dict)
    running: bool = False


class MediaPacer:
    """Groups of paced streams by chunk period; call :meth:`add` / :meth:`remove`."""

    def __init__(self, clock: SimClock, tasks: TaskSet) -> None:
        self.clock = clock
        self.tasks = tasks
        self._groups: dict[int, _Group] = {}
        self.ticks = 0

    @staticmethod
    def first_due(start_ms: float, chunk_ms: int) -> float:
        """The first grid tick after ``start_ms``: when a stream's first chunk is due."""
        return (math.floor(start_ms / chunk_ms) + 1) * chunk_ms

    def add(self, member: Paced) -> None:
        group = self._groups.setdefault(member.chunk_ms, _Group(member.chunk_ms))
        group.members[member] = None
        if not group.running:
            group.running = True
            self.tasks.spawn(self._run(group), f"pacer:{group.chunk_ms}ms")

    def remove(self, member: Paced) -> None:
        group = self._groups.get(member.chunk_ms)
        if group is not None:
            group.members.pop(member, None)

    async def _run(self, group: _Group) -> None:
        clock, chunk_ms = self.clock, group.chunk_ms
        try:
            while group.members:
                await clock.sleep_until(self.first_due(clock.now_ms(), chunk_ms))
                self.ticks += 1
                now = clock.now_ms()
                for member in list(group.members):
                    try:
                        await member.pace(now)
                    except Exception as exc:  # one stream's failure never stops the others
                        log.exception("paced stream failed")
                        group.members.pop(member, None)
                        member.pacer_failed(exc)
        finally:
            group.running = False
