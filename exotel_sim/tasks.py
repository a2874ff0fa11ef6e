"""Task tracking and the emulator's clock.

:class:`TaskSet` owns the tasks of one leg (or of the emulator): every task is tracked, a
failure is logged and counted (never silently lost, never spreads to other calls), and
:meth:`TaskSet.close` cancels and awaits them all. :class:`SimClock` gives milliseconds since
the emulator started, the one clock all timelines use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("exotel_sim")


class TaskSet:
    """Tracked tasks of one owner. Call :meth:`spawn` instead of ``asyncio.create_task``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failures = 0

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failures += 1
            log.error("task %s failed", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    def cancel_all(self, keep: set[asyncio.Task[Any]] | None = None) -> None:
        """Cancel every task except the caller's own and those in ``keep``."""
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current and (keep is None or task not in keep):
                task.cancel()

    async def close(self) -> None:
        """Cancel and await every task (but the caller's own)."""
        self.cancel_all()
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class SimClock:
    """Milliseconds since the emulator started (monotonic), plus the wall time of a reading."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._t0 = loop.time()
        self._epoch0 = time.time()

    def now_ms(self) -> float:
        return (self._loop.time() - self._t0) * 1000.0

    def epoch(self, ms: float | None = None) -> float:
        """Wall-clock seconds of sim time ``ms`` (now by default)."""
        return self._epoch0 + (self.now_ms() if ms is None else ms) / 1000.0

    async def sleep_until(self, ms: float) -> None:
        delay = (ms - self.now_ms()) / 1000.0
        await asyncio.sleep(max(0.0, delay))
