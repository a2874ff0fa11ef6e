"""exotel_sim.pacer and tasks: one clock for many streams, failures contained."""

from __future__ import annotations

import asyncio

from exotel_sim.pacer import SLOTS, MediaPacer
from exotel_sim.tasks import SimClock, TaskSet


class Member:
    def __init__(self, chunk_ms: int, fail: bool = False) -> None:
        self.chunk_ms = chunk_ms
        self.fail = fail
        self.calls: list[float] = []
        self.failed: BaseException | None = None
        self.paced = asyncio.Event()

    async def pace(self, now_ms: float) -> None:
        self.calls.append(now_ms)
        self.paced.set()
        if self.fail:
            raise RuntimeError("boom")

    def pacer_failed(self, exc: BaseException) -> None:
        self.failed = exc


async def test_members_are_spread_over_the_phases_of_a_period() -> None:
    tasks = TaskSet("test")
    pacer = MediaPacer(SimClock(), tasks)
    members = [Member(20) for _ in range(2 * SLOTS)]
    dues = [pacer.add(m, 1000.0) for m in members]
    assert sorted({d % 20 for d in dues}) == [0, 4, 8, 12, 16]
    assert all(1000.0 < d <= 1020.0 for d in dues)
    await asyncio.wait_for(asyncio.gather(*(m.paced.wait() for m in members)), 5)
    for member in members:
        pacer.remove(member)
    await tasks.close()


async def test_a_failing_member_is_dropped_and_the_others_carry_on() -> None:
    tasks = TaskSet("test")
    pacer = MediaPacer(SimClock(), tasks)
    bad, good = Member(100, fail=True), Member(100)
    pacer.add(bad, 0.0)
    pacer.add(good, 0.0)
    await asyncio.wait_for(bad.paced.wait(), 5)
    good.paced.clear()
    await asyncio.wait_for(good.paced.wait(), 5)
    good.paced.clear()
    await asyncio.wait_for(good.paced.wait(), 5)  # still paced after the failure
    assert isinstance(bad.failed, RuntimeError) and len(bad.calls) == 1
    pacer.remove(good)
    pacer.remove(bad)  # removing twice is harmless
    await tasks.close()
    assert len(tasks) == 0


async def test_task_set_counts_failures_and_closes() -> None:
    tasks = TaskSet("test")

    async def boom() -> None:
        raise ValueError("x")

    forever = tasks.spawn(asyncio.Event().wait(), "forever")
    failing = tasks.spawn(boom(), "boom")
    await asyncio.gather(failing, return_exceptions=True)
    await asyncio.sleep(0)
    assert tasks.failures == 1 and len(tasks) == 1
    await tasks.close()
    assert forever.cancelled() and len(tasks) == 0
